package log

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Kafka topic config keys understood by the log.
const (
	ConfigCleanupPolicy          = "cleanup.policy"
	ConfigRetentionMs            = "retention.ms"
	ConfigRetentionBytes         = "retention.bytes"
	ConfigSegmentBytes           = "segment.bytes"
	ConfigSegmentMs              = "segment.ms"
	ConfigMinCompactionLagMs     = "min.compaction.lag.ms"
	ConfigMaxCompactionLagMs     = "max.compaction.lag.ms"
	ConfigDeleteRetentionMs      = "delete.retention.ms"
	ConfigMinCleanableDirtyRatio = "min.cleanable.dirty.ratio"
	ConfigMinInsyncReplicas      = "min.insync.replicas"
	ConfigMaxMessageBytes        = "max.message.bytes"
	ConfigMessageTimestampType   = "message.timestamp.type"
	ConfigCompressionType        = "compression.type"
)

// TopicConfig is a topic's resolved configuration: Kafka's defaults, then
// the node's topic defaults, then the topic's own overrides.
type TopicConfig struct {
	// Compact and Delete are the two halves of cleanup.policy.
	Compact, Delete bool
	// RetentionMs is -1 for unlimited.
	RetentionMs int64
	// RetentionBytes is -1 for unlimited.
	RetentionBytes         int64
	SegmentBytes           int64
	SegmentMs              int64
	MinCompactionLagMs     int64
	MaxCompactionLagMs     int64
	DeleteRetentionMs      int64
	MinCleanableDirtyRatio float64
	MinInsyncReplicas      int
	MaxMessageBytes        int
	// LogAppendTime is true when message.timestamp.type is LogAppendTime.
	LogAppendTime bool
}

// configDef describes one topic config key: its Kafka default and how to
// check and apply a value.
type configDef struct {
	def   string
	doc   string
	apply func(c *TopicConfig, v string) error
}

var configDefs = map[string]configDef{
	ConfigCleanupPolicy: {"delete", "delete, compact or compact,delete", func(c *TopicConfig, v string) error {
		c.Compact, c.Delete = false, false
		for _, p := range strings.Split(v, ",") {
			switch strings.TrimSpace(p) {
			case "delete":
				c.Delete = true
			case "compact":
				c.Compact = true
			default:
				return fmt.Errorf("cleanup.policy %q: want delete, compact or compact,delete", v)
			}
		}
		return nil
	}},
	ConfigRetentionMs:        {"604800000", "milliseconds, -1 for unlimited", intAtLeast(-1, func(c *TopicConfig, n int64) { c.RetentionMs = n })},
	ConfigRetentionBytes:     {"-1", "bytes per partition, -1 for unlimited", intAtLeast(-1, func(c *TopicConfig, n int64) { c.RetentionBytes = n })},
	ConfigSegmentBytes:       {"1073741824", "bytes", intAtLeast(14, func(c *TopicConfig, n int64) { c.SegmentBytes = n })},
	ConfigSegmentMs:          {"604800000", "milliseconds", intAtLeast(1, func(c *TopicConfig, n int64) { c.SegmentMs = n })},
	ConfigMinCompactionLagMs: {"0", "milliseconds", intAtLeast(0, func(c *TopicConfig, n int64) { c.MinCompactionLagMs = n })},
	ConfigMaxCompactionLagMs: {"9223372036854775807", "milliseconds", intAtLeast(1, func(c *TopicConfig, n int64) { c.MaxCompactionLagMs = n })},
	ConfigDeleteRetentionMs:  {"86400000", "milliseconds", intAtLeast(0, func(c *TopicConfig, n int64) { c.DeleteRetentionMs = n })},
	ConfigMinInsyncReplicas:  {"1", "replicas", intAtLeast(1, func(c *TopicConfig, n int64) { c.MinInsyncReplicas = int(n) })},
	ConfigMaxMessageBytes:    {"1048588", "bytes", intAtLeast(0, func(c *TopicConfig, n int64) { c.MaxMessageBytes = int(min(n, math.MaxInt32)) })},
	ConfigMinCleanableDirtyRatio: {"0.5", "a ratio from 0 to 1", func(c *TopicConfig, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return fmt.Errorf("min.cleanable.dirty.ratio %q: want a number from 0 to 1", v)
		}
		c.MinCleanableDirtyRatio = f
		return nil
	}},
	ConfigMessageTimestampType: {"CreateTime", "CreateTime or LogAppendTime", func(c *TopicConfig, v string) error {
		switch v {
		case "CreateTime":
			c.LogAppendTime = false
		case "LogAppendTime":
			c.LogAppendTime = true
		default:
			return fmt.Errorf("message.timestamp.type %q: want CreateTime or LogAppendTime", v)
		}
		return nil
	}},
	ConfigCompressionType: {"producer", "producer, uncompressed, gzip, snappy, lz4 or zstd; sluice stores batches uncompressed", func(c *TopicConfig, v string) error {
		switch v {
		case "producer", "none", "uncompressed", "gzip", "snappy", "lz4", "zstd":
			return nil
		}
		return fmt.Errorf("compression.type %q: want producer, none, gzip, snappy, lz4 or zstd", v)
	}},
}

// inert are Kafka topic configs that sluice accepts, stores and describes so
// that Kafka tools and clients that set them keep working, but that change
// nothing in sluice's log (it has no index files, page-cache flushing,
// tiered storage or throttles).
var inert = map[string]configDef{
	"compression.gzip.level":                  {"-1", "accepted; no effect", intAtLeast(-1, nil)},
	"compression.lz4.level":                   {"9", "accepted; no effect", intAtLeast(1, nil)},
	"compression.zstd.level":                  {"3", "accepted; no effect", intAtLeast(-131072, nil)},
	"file.delete.delay.ms":                    {"60000", "accepted; no effect", intAtLeast(0, nil)},
	"flush.messages":                          {"9223372036854775807", "accepted; no effect (see log.fsync)", intAtLeast(1, nil)},
	"flush.ms":                                {"9223372036854775807", "accepted; no effect (see log.fsync)", intAtLeast(0, nil)},
	"follower.replication.throttled.replicas": {"", "accepted; no effect", anyString},
	"index.interval.bytes":                    {"4096", "accepted; no effect", intAtLeast(0, nil)},
	"leader.replication.throttled.replicas":   {"", "accepted; no effect", anyString},
	"local.retention.bytes":                   {"-2", "accepted; no effect", intAtLeast(-2, nil)},
	"local.retention.ms":                      {"-2", "accepted; no effect", intAtLeast(-2, nil)},
	"message.downconversion.enable":           {"true", "accepted; no effect", boolString},
	"message.format.version":                  {"3.0-IV1", "accepted; no effect", anyString},
	"message.timestamp.after.max.ms":          {"9223372036854775807", "accepted; no effect", intAtLeast(0, nil)},
	"message.timestamp.before.max.ms":         {"9223372036854775807", "accepted; no effect", intAtLeast(0, nil)},
	"message.timestamp.difference.max.ms":     {"9223372036854775807", "accepted; no effect", intAtLeast(0, nil)},
	"preallocate":                             {"false", "accepted; no effect", boolString},
	"remote.storage.enable":                   {"false", "accepted; no effect", boolString},
	"segment.index.bytes":                     {"10485760", "accepted; no effect", intAtLeast(4, nil)},
	"segment.jitter.ms":                       {"0", "accepted; no effect", intAtLeast(0, nil)},
	"unclean.leader.election.enable":          {"false", "accepted; no effect", boolString},
}

func init() {
	for k, d := range inert {
		configDefs[k] = d
	}
}

func anyString(*TopicConfig, string) error { return nil }

func boolString(_ *TopicConfig, v string) error {
	if v != "true" && v != "false" {
		return fmt.Errorf("want true or false, got %q", v)
	}
	return nil
}

func intAtLeast(lo int64, set func(*TopicConfig, int64)) func(*TopicConfig, string) error {
	return func(c *TopicConfig, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < lo {
			return fmt.Errorf("want an integer ≥ %d, got %q", lo, v)
		}
		if set != nil {
			set(c, n)
		}
		return nil
	}
}

// ConfigKeys returns the topic config keys the log understands, sorted.
func ConfigKeys() []string {
	keys := make([]string, 0, len(configDefs))
	for k := range configDefs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ConfigDefault returns Kafka's default for a topic config key.
func ConfigDefault(key string) (string, bool) {
	d, ok := configDefs[key]
	return d.def, ok
}

// ValidateTopicConfig checks every key and value of a config map and
// returns an error naming each bad entry.
func ValidateTopicConfig(cfg map[string]string) error {
	var tc TopicConfig
	var errs []string
	for _, k := range sortedKeys(cfg) {
		d, ok := configDefs[k]
		if !ok {
			errs = append(errs, fmt.Sprintf("unknown topic config %q", k))
			continue
		}
		if err := d.apply(&tc, cfg[k]); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", k, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, strings.Join(errs, "; "))
	}
	return nil
}

// resolveConfig applies Kafka's defaults, then each layer in order.
func resolveConfig(layers ...map[string]string) (TopicConfig, map[string]string, error) {
	eff := make(map[string]string, len(configDefs))
	for k, d := range configDefs {
		eff[k] = d.def
	}
	for _, l := range layers {
		for k, v := range l {
			eff[k] = v
		}
	}
	if err := ValidateTopicConfig(eff); err != nil {
		return TopicConfig{}, nil, err
	}
	var tc TopicConfig
	for k, v := range eff {
		_ = configDefs[k].apply(&tc, v)
	}
	return tc, eff, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
