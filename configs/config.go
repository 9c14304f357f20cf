package configs

import (
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// Version is the config format version this package reads.
const Version = 1

// Config is a sluice config file, version 1. The YAML key of each field is
// given in its comment; the names are a contract (see DESIGN.md). After Parse
// every field holds either the value written in the file or its default.
type Config struct {
	Version    int         // version: required, must be 1
	Node       Node        // node:
	Cluster    *Cluster    // cluster: nil when absent, which means a single node
	Log        Log         // log:
	Topics     []Topic     // topics: topics to create at start
	Connectors []Connector // connectors:
}

// Node is this process: who it is and where it listens.
type Node struct {
	ID          int    // id: this node's ID, ≥ 1, one of cluster.peers in a cluster. Default: 1.
	DataDir     string // data_dir: pebble and everything durable. Default: "./data".
	KafkaListen string // kafka_listen: HOST:PORT of the Kafka wire API. Default: "127.0.0.1:9092".
	AdminListen string // admin_listen: HOST:PORT of REST, /healthz, /readyz, /metrics. Default: "127.0.0.1:8083".
	// KafkaAdvertise is the HOST:PORT Kafka clients are told to connect
	// to (Kafka's advertised.listeners), when it differs from
	// kafka_listen — behind NAT or in a container. Default: kafka_listen,
	// with 127.0.0.1 for an unspecified host.
	KafkaAdvertise string // kafka_advertise
}

// Cluster lists the nodes of a replicated cluster.
type Cluster struct {
	Peers []Peer // peers: written as "ID@HOST:PORT", e.g. "2@127.0.0.2:9192"; at least one, IDs and addresses unique
}

// Peer is one node of the cluster.
type Peer struct {
	ID   int    // ≥ 1
	Addr string // HOST:PORT where the node's cluster traffic is served
}

// String returns the peer as written in a config file, "ID@HOST:PORT".
func (p Peer) String() string { return fmt.Sprintf("%d@%s", p.ID, p.Addr) }

// Log configures the embedded log.
type Log struct {
	// Fsync is "always" (every acknowledged write is fsynced, with group
	// commit) or "interval" (fsync every FsyncInterval). Key fsync. Default: "always".
	Fsync string
	// FsyncInterval is how often to fsync when Fsync is "interval".
	// Key fsync_interval. Default: 1s.
	FsyncInterval time.Duration
	// AutoCreateTopics creates a topic on first produce or fetch.
	// Key auto_create_topics. Default: true.
	AutoCreateTopics bool
	// DefaultPartitions is the partition count of auto-created topics and of
	// topics that do not give one. Key default_partitions. Default: 1.
	DefaultPartitions int
	// DefaultReplicationFactor is the replica count of auto-created topics
	// and of topics that do not give one; at most the number of nodes.
	// Key default_replication_factor. Default: 1.
	DefaultReplicationFactor int
	// CleanerInterval is how often retention and compaction run.
	// Key cleaner_interval. Default: 30s.
	CleanerInterval time.Duration
	// TopicDefaults holds Kafka topic config keys ("retention.ms") that apply
	// to every topic not setting the key itself. Values are kept as strings
	// even when written as YAML numbers. Key topic_defaults. Default: empty.
	TopicDefaults map[string]string
}

// Topic is a topic to create at start.
type Topic struct {
	Name              string            // name: Kafka topic name, [A-Za-z0-9._-]{1,249}; required, unique
	Partitions        int               // partitions: ≥ 1. Default: log.default_partitions.
	ReplicationFactor int               // replication_factor: ≥ 1, at most the number of nodes. Default: log.default_replication_factor.
	Config            map[string]string // config: Kafka topic config keys, values as strings. Default: empty.
}

// Connector is one source or sink. Its kind decides what its Config block
// holds; this package keeps that block as a YAML node and leaves checking it
// to the connector (see Options.CheckConnector and Connector.Decode).
type Connector struct {
	Name string // name: [A-Za-z0-9._-]+, used in file names and URLs; required, unique
	Kind string // kind: e.g. "postgres-source", "file-sink"; required

	// Topics are the topics a sink reads. Key topics.
	Topics []string
	// TopicsRegex selects the topics a sink reads by a Go regular expression
	// matched against the whole topic name, instead of Topics (as Kafka
	// Connect's topics.regex). Key topics_regex.
	TopicsRegex string
	// Converter turns change events into records: "json" (Debezium's
	// envelope), "json-schema" (with Debezium's schema wrapper) or "raw".
	// Key converter. Default: "json".
	Converter string
	// TasksMax is the most tasks the connector may run. Key tasks_max. Default: 1.
	TasksMax int
	// StartFrom is where a sink starts reading a partition that has no
	// committed offset yet: "earliest" (replay everything retained) or
	// "latest" (only new records). Key start_from. Default: "earliest".
	StartFrom string
	// TombstonesOnDelete follows each delete event of a source with a
	// tombstone (same key, null value), so compaction can drop the key.
	// Key tombstones_on_delete. Default: true (nil means the default).
	TombstonesOnDelete *bool
	// Transforms are single-message transforms, applied in order; each is
	// a mapping kept as written for the transform registry to check.
	// Key transforms.
	Transforms []*yaml.Node
	// Errors says what to do with a record that fails. Key errors.
	Errors ErrorPolicy
	// Config is the kind-specific config block as a YAML mapping node, with
	// the positions of the file as written. Never nil after Parse: an absent
	// block is an empty mapping. Key config.
	Config *yaml.Node

	file string // the config file's name, for Decode's errors
}

// ErrorPolicy is a connector's error handling, after Kafka Connect's
// errors.tolerance, errors.retry.* and errors.deadletterqueue.topic.name.
type ErrorPolicy struct {
	// Tolerance is "none" (a failing record stops the task) or "all" (it is
	// skipped, or sent to DeadLetterTopic). Key tolerance. Default: "none".
	Tolerance string
	// Retries is how many times a retriable failure (a database or sink
	// that is unreachable for a while) is retried, with exponential
	// backoff, before the task fails or Tolerance applies; -1 retries
	// forever. Key retries. Default: -1.
	Retries int
	// DeadLetterTopic receives the records that fail when Tolerance is
	// "all". Key dead_letter_topic. Default: none.
	DeadLetterTopic string
}

// Decode decodes the connector's config block into v, a pointer to a value
// with yaml struct tags, as yaml.v3's Node.Decode does (${VAR} references are
// already substituted). Decode does not reject unknown keys; the connector's
// check, run by Parse through Options.CheckConnector, reports those with
// their positions (see CheckKeys).
func (c Connector) Decode(v any) error {
	if c.Config == nil {
		return nil
	}
	if err := c.Config.Decode(v); err != nil {
		return fmt.Errorf("%s: connector %q: config: %w", c.file, c.Name, err)
	}
	return nil
}

// Defaults, as documented on the fields above.
const (
	defaultNodeID          = 1
	defaultDataDir         = "./data"
	defaultKafkaListen     = "127.0.0.1:9092"
	defaultAdminListen     = "127.0.0.1:8083"
	defaultFsync           = "always"
	defaultFsyncInterval   = time.Second
	defaultCleanerInterval = 30 * time.Second
	defaultConverter       = "json"
	defaultTolerance       = "none"
)

// Enumerations.
var (
	fsyncModes = []string{"always", "interval"}
	converters = []string{"json", "json-schema", "raw"}
	tolerances = []string{"none", "all"}
)
