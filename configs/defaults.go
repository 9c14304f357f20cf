package configs

import "gopkg.in/yaml.v3"

// defaults fills every value the file did not give (see the field comments
// in config.go). It runs after decoding and before validation, so that a
// value written as 0 is reported rather than replaced.
func (d *decoder) defaults(c *Config) {
	setInt := func(path string, v *int, def int) {
		if !d.set(path) {
			*v = def
		}
	}
	setStr := func(path string, v *string, def string) {
		if !d.set(path) {
			*v = def
		}
	}

	setInt("node.id", &c.Node.ID, defaultNodeID)
	setStr("node.data_dir", &c.Node.DataDir, defaultDataDir)
	setStr("node.kafka_listen", &c.Node.KafkaListen, defaultKafkaListen)
	setStr("node.admin_listen", &c.Node.AdminListen, defaultAdminListen)

	l := &c.Log
	setStr("log.fsync", &l.Fsync, defaultFsync)
	if !d.set("log.fsync_interval") {
		l.FsyncInterval = defaultFsyncInterval
	}
	if !d.set("log.auto_create_topics") {
		l.AutoCreateTopics = true
	}
	setInt("log.default_partitions", &l.DefaultPartitions, 1)
	setInt("log.default_replication_factor", &l.DefaultReplicationFactor, 1)
	if !d.set("log.cleaner_interval") {
		l.CleanerInterval = defaultCleanerInterval
	}
	if l.TopicDefaults == nil {
		l.TopicDefaults = map[string]string{}
	}

	for i := range c.Topics {
		t, p := &c.Topics[i], index("topics", i)
		setInt(p+".partitions", &t.Partitions, l.DefaultPartitions)
		setInt(p+".replication_factor", &t.ReplicationFactor, l.DefaultReplicationFactor)
		if t.Config == nil {
			t.Config = map[string]string{}
		}
	}

	for i := range c.Connectors {
		cn, p := &c.Connectors[i], index("connectors", i)
		setStr(p+".converter", &cn.Converter, defaultConverter)
		setInt(p+".tasks_max", &cn.TasksMax, 1)
		setStr(p+".errors.tolerance", &cn.Errors.Tolerance, defaultTolerance)
		setInt(p+".errors.retries", &cn.Errors.Retries, -1)
		setStr(p+".start_from", &cn.StartFrom, "earliest")
		if cn.Config == nil {
			// An empty block where the connector is, so that positions work.
			cn.Config = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			if n := d.values[p]; n != nil {
				cn.Config.Line, cn.Config.Column = n.Line, n.Column
			}
		}
	}
}
