package configs

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// validator checks a decoded config with its defaults filled, placing each
// problem at the node the decoder recorded for its path.
type validator struct {
	d    *decoder
	c    *Config
	opts Options
}

func (v *validator) report(path, msg, hint string) {
	if v.d.invalid[path] {
		return // already reported as undecodable
	}
	v.d.report(v.d.at(path), path, msg, hint)
}

// oneOf reports a value that is not one of allowed.
func (v *validator) oneOf(path, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		v.report(path, fmt.Sprintf("invalid value %q", clip(value)), unknownHint(value, allowed, "use one of"))
	}
}

func (v *validator) validate() {
	c := v.c
	switch {
	case !v.d.set("version"):
		v.report("version", "missing", `add "version: 1" at the top of the file`)
	case c.Version != Version:
		v.report("version", fmt.Sprintf("unsupported version %d", c.Version), fmt.Sprintf("this build of sluice reads version %d", Version))
	}
	v.node()
	nodes := v.cluster()
	v.log(nodes)
	v.topics(nodes)
	v.connectors()
}

func (v *validator) node() {
	n := v.c.Node
	if n.ID < 1 {
		v.report("node.id", fmt.Sprintf("invalid node ID %d", n.ID), "node IDs start at 1")
	}
	if strings.TrimSpace(n.DataDir) == "" {
		v.report("node.data_dir", "empty", `give a directory, e.g. "./data"`)
	}
	kafkaOK := v.listen("node.kafka_listen", n.KafkaListen, "127.0.0.1:9092")
	adminOK := v.listen("node.admin_listen", n.AdminListen, "127.0.0.1:8083")
	if n.KafkaAdvertise != "" {
		if msg := checkHostPort(n.KafkaAdvertise, false); msg != "" {
			v.report("node.kafka_advertise", fmt.Sprintf("invalid address %q: %s", clip(n.KafkaAdvertise), msg), `write the HOST:PORT clients reach, e.g. "sluice.example.com:9092"`)
		}
	}
	if kafkaOK && adminOK && sameListener(n.KafkaListen, n.AdminListen) {
		v.report("node.admin_listen", fmt.Sprintf("%s is the address of kafka_listen too", n.AdminListen), "give them different ports")
	}
}

func (v *validator) listen(path, addr, example string) bool {
	if msg := checkHostPort(addr, true); msg != "" {
		v.report(path, fmt.Sprintf("invalid address %q: %s", clip(addr), msg),
			fmt.Sprintf("write HOST:PORT, e.g. %q, or %q for every interface", example, example[strings.LastIndexByte(example, ':'):]))
		return false
	}
	return true
}

// checkHostPort returns what is wrong with a HOST:PORT address. A listen
// address may leave the host empty (every interface) and use port 0 (any
// free port); a peer address may not.
func checkHostPort(addr string, listen bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return ae.Err
		}
		return err.Error()
	}
	if strings.ContainsAny(host, " \t/") {
		return fmt.Sprintf("invalid host %q", host)
	}
	if host == "" && !listen {
		return "missing host"
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 || port == "" {
		return fmt.Sprintf("invalid port %q", port)
	}
	if p == 0 && !listen {
		return "port 0 is not an address to connect to"
	}
	return ""
}

// sameListener reports whether two valid listen addresses collide: the same
// port (not 0) on the same host, or on a host and every interface.
func sameListener(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	any := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || any(ha) || any(hb)
}

// cluster checks the peers and returns the number of nodes: 1 without a cluster.
func (v *validator) cluster() int {
	cl := v.c.Cluster
	if cl == nil {
		return 1
	}
	if len(cl.Peers) == 0 {
		v.report("cluster.peers", "a cluster needs its peers, this node among them", `list them as ID@HOST:PORT, or remove "cluster:" to run a single node`)
		return 1
	}
	ids, addrs := map[int]int{}, map[string]int{}
	self, malformed := false, false
	for i, p := range cl.Peers {
		if p.ID == 0 {
			malformed = true // reported by the decoder
			continue
		}
		path := index("cluster.peers", i)
		if j, dup := ids[p.ID]; dup {
			v.report(path, fmt.Sprintf("duplicate peer ID %d (first at line %d)", p.ID, v.line(index("cluster.peers", j))), "")
		} else {
			ids[p.ID] = i
		}
		if j, dup := addrs[p.Addr]; dup {
			v.report(path, fmt.Sprintf("duplicate peer address %s (first at line %d)", p.Addr, v.line(index("cluster.peers", j))), "")
		} else {
			addrs[p.Addr] = i
		}
		self = self || p.ID == v.c.Node.ID
	}
	if !self && !malformed {
		v.report("node.id", fmt.Sprintf("node %d is not one of cluster.peers", v.c.Node.ID), "set node.id to this node's ID in the peers list")
	}
	return len(cl.Peers)
}

func (v *validator) line(path string) int {
	if n := v.d.at(path); n != nil {
		return n.Line
	}
	return 0
}

func (v *validator) log(nodes int) {
	l := v.c.Log
	v.oneOf("log.fsync", l.Fsync, fsyncModes)
	if l.FsyncInterval <= 0 {
		v.report("log.fsync_interval", fmt.Sprintf("must be positive, not %s", l.FsyncInterval), durationHint)
	}
	if l.CleanerInterval <= 0 {
		v.report("log.cleaner_interval", fmt.Sprintf("must be positive, not %s", l.CleanerInterval), durationHint)
	}
	if l.DefaultPartitions < 1 {
		v.report("log.default_partitions", fmt.Sprintf("must be at least 1, not %d", l.DefaultPartitions), "")
	}
	v.replicationFactor("log.default_replication_factor", l.DefaultReplicationFactor, nodes)
	v.topicConfig("log.topic_defaults", l.TopicDefaults, l.DefaultReplicationFactor)
}

func (v *validator) replicationFactor(path string, rf, nodes int) {
	switch {
	case rf < 1:
		v.report(path, fmt.Sprintf("must be at least 1, not %d", rf), "")
	case rf > nodes && v.c.Cluster == nil:
		v.report(path, fmt.Sprintf("replication factor %d needs %d nodes; this is a single node", rf, rf), `use 1, or list the nodes under "cluster: peers:"`)
	case rf > nodes:
		v.report(path, fmt.Sprintf("replication factor %d is more than the %d nodes in cluster.peers", rf, nodes), "")
	}
}

// topicConfig checks Kafka topic config keys and values; rf is the
// replication factor they go with, for min.insync.replicas.
func (v *validator) topicConfig(path string, cfg map[string]string, rf int) {
	for _, key := range sortedKeys(cfg) {
		p := join(path, key)
		msg, hint, unknownKey := checkTopicConfig(key, cfg[key])
		switch {
		case unknownKey:
			v.d.report(v.d.keys[p], p, msg, hint)
		case msg != "":
			v.report(p, msg, hint)
		case key == "min.insync.replicas" && rf >= 1:
			if n, _ := strconv.Atoi(strings.TrimSpace(cfg[key])); n > rf {
				v.report(p, fmt.Sprintf("min.insync.replicas %d is more than the replication factor %d, so no write would be acknowledged", n, rf), "")
			}
		}
	}
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
	nameMsg = "may hold only letters, digits, '.', '_' and '-'"
)

// checkTopicName returns what is wrong with a Kafka topic name.
func checkTopicName(name string) string {
	switch {
	case name == "":
		return "empty topic name"
	case name == "." || name == "..":
		return fmt.Sprintf("topic name %q is not allowed", name)
	case len(name) > 249:
		return "topic name is longer than 249 characters"
	case !nameRE.MatchString(name):
		return fmt.Sprintf("invalid topic name %q: a topic name %s", clip(name), nameMsg)
	}
	return ""
}

func (v *validator) topics(nodes int) {
	first := map[string]int{}
	for i, t := range v.c.Topics {
		p := index("topics", i)
		if v.d.bad[p] {
			continue
		}
		switch {
		case !v.d.set(p + ".name"):
			v.report(p+".name", "missing", "every topic needs a name")
		case checkTopicName(t.Name) != "":
			v.report(p+".name", checkTopicName(t.Name), "")
		default:
			if j, dup := first[t.Name]; dup {
				v.report(p+".name", fmt.Sprintf("duplicate topic name %q (first defined at line %d)", t.Name, v.line(index("topics", j)+".name")), "")
			} else {
				first[t.Name] = i
			}
		}
		if v.d.set(p+".partitions") && t.Partitions < 1 {
			v.report(p+".partitions", fmt.Sprintf("must be at least 1, not %d", t.Partitions), "")
		}
		if v.d.set(p + ".replication_factor") {
			v.replicationFactor(p+".replication_factor", t.ReplicationFactor, nodes)
		}
		v.topicConfig(p+".config", t.Config, t.ReplicationFactor)
	}
}

func (v *validator) connectors() {
	first := map[string]int{}
	for i := range v.c.Connectors {
		cn, p := &v.c.Connectors[i], index("connectors", i)
		if v.d.bad[p] {
			continue
		}
		switch {
		case !v.d.set(p + ".name"):
			v.report(p+".name", "missing", "every connector needs a name, used in URLs and file names")
		case cn.Name == "." || cn.Name == ".." || !nameRE.MatchString(cn.Name):
			v.report(p+".name", fmt.Sprintf("invalid connector name %q", clip(cn.Name)), "a connector name is used in URLs and file names: it "+nameMsg)
		default:
			if j, dup := first[cn.Name]; dup {
				v.report(p+".name", fmt.Sprintf("duplicate connector name %q (first defined at line %d)", cn.Name, v.line(index("connectors", j)+".name")), "")
			} else {
				first[cn.Name] = i
			}
		}
		kindOK := true
		switch {
		case strings.TrimSpace(cn.Kind) == "":
			kindOK = false
			hint := "e.g. postgres-source or file-sink"
			if len(v.opts.Kinds) > 0 {
				hint = unknownHint("", v.opts.Kinds, "known kinds")
			}
			v.report(p+".kind", "missing", hint)
		case v.opts.Kinds != nil && !slices.Contains(v.opts.Kinds, cn.Kind):
			kindOK = false
			v.report(p+".kind", fmt.Sprintf("unknown connector kind %q", clip(cn.Kind)), unknownHint(cn.Kind, v.opts.Kinds, "known kinds"))
		}
		v.oneOf(p+".converter", cn.Converter, converters)
		v.oneOf(p+".start_from", cn.StartFrom, []string{"earliest", "latest"})
		if cn.TasksMax < 1 {
			v.report(p+".tasks_max", fmt.Sprintf("must be at least 1, not %d", cn.TasksMax), "")
		}
		for j, t := range cn.Topics {
			if msg := checkTopicName(t); msg != "" && t != "" {
				v.report(index(p+".topics", j), msg, "")
			}
		}
		if cn.TopicsRegex != "" {
			if _, err := regexp.Compile(cn.TopicsRegex); err != nil {
				v.report(p+".topics_regex", fmt.Sprintf("invalid regular expression: %s", strings.TrimPrefix(err.Error(), "error parsing regexp: ")), "")
			}
			if v.d.set(p + ".topics") {
				v.report(p+".topics_regex", "topics and topics_regex are both set", "keep one of them")
			}
		}
		v.errorPolicy(p+".errors", cn)
		if kindOK && v.opts.CheckConnector != nil {
			for _, pr := range v.opts.CheckConnector(cn) {
				full := p
				switch {
				case pr.Path == "":
				case strings.HasPrefix(pr.Path, "["):
					full += pr.Path
				default:
					full += "." + pr.Path
				}
				pr.Path = full
				if pr.Line == 0 {
					if n := v.d.at(full); n != nil {
						pr.Line, pr.Col = n.Line, n.Column
					}
				}
				v.d.problems = append(v.d.problems, pr)
			}
		}
	}
}

func (v *validator) errorPolicy(path string, cn *Connector) {
	e := cn.Errors
	v.oneOf(path+".tolerance", e.Tolerance, tolerances)
	if e.Retries < -1 {
		v.report(path+".retries", fmt.Sprintf("must be -1 (retry forever) or more, not %d", e.Retries), "")
	}
	if e.DeadLetterTopic == "" {
		return
	}
	p := path + ".dead_letter_topic"
	switch {
	case checkTopicName(e.DeadLetterTopic) != "":
		v.report(p, checkTopicName(e.DeadLetterTopic), "")
	case slices.Contains(cn.Topics, e.DeadLetterTopic):
		v.report(p, fmt.Sprintf("dead-letter topic %q is also one of the connector's topics", e.DeadLetterTopic), "use a topic of its own, e.g. "+strconv.Quote(cn.Name+".dlq"))
	case e.Tolerance == "none":
		v.report(p, "a dead-letter topic receives records only when errors.tolerance is all", "set errors.tolerance: all, or remove dead_letter_topic")
	}
}
