package configs

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Topic configs use Kafka's keys and value syntax (DESIGN.md, "Log
// semantics"). This file knows each key's kind of value and its smallest
// allowed value, so that typos and obviously wrong values are caught here;
// what a key means is the log's business.

type topicValueKind int

const (
	anyValue    topicValueKind = iota // free text
	longValue                         // a decimal integer ≥ min
	ratioValue                        // a decimal number in [0, 1]
	boolValue                         // true or false
	enumValue                         // one of enum
	policyValue                       // cleanup.policy: delete, compact or both, comma-separated
)

type topicConfigSpec struct {
	kind topicValueKind
	min  int64
	enum []string
	note string // what the smallest values mean, for the "below minimum" hint
}

var topicConfigs = map[string]topicConfigSpec{
	"cleanup.policy":                          {kind: policyValue},
	"compression.type":                        {kind: enumValue, enum: []string{"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}},
	"compression.gzip.level":                  {kind: longValue, min: -1},
	"compression.lz4.level":                   {kind: longValue, min: 1},
	"compression.zstd.level":                  {kind: longValue, min: -131072},
	"delete.retention.ms":                     {kind: longValue, min: 0},
	"file.delete.delay.ms":                    {kind: longValue, min: 0},
	"flush.messages":                          {kind: longValue, min: 1},
	"flush.ms":                                {kind: longValue, min: 0},
	"follower.replication.throttled.replicas": {kind: anyValue},
	"index.interval.bytes":                    {kind: longValue, min: 0},
	"leader.replication.throttled.replicas":   {kind: anyValue},
	"local.retention.bytes":                   {kind: longValue, min: -2, note: "-2 means retention.bytes"},
	"local.retention.ms":                      {kind: longValue, min: -2, note: "-2 means retention.ms"},
	"max.compaction.lag.ms":                   {kind: longValue, min: 1},
	"max.message.bytes":                       {kind: longValue, min: 0},
	"message.downconversion.enable":           {kind: boolValue},
	"message.format.version":                  {kind: anyValue},
	"message.timestamp.after.max.ms":          {kind: longValue, min: 0},
	"message.timestamp.before.max.ms":         {kind: longValue, min: 0},
	"message.timestamp.difference.max.ms":     {kind: longValue, min: 0},
	"message.timestamp.type":                  {kind: enumValue, enum: []string{"CreateTime", "LogAppendTime"}},
	"min.cleanable.dirty.ratio":               {kind: ratioValue},
	"min.compaction.lag.ms":                   {kind: longValue, min: 0},
	"min.insync.replicas":                     {kind: longValue, min: 1},
	"preallocate":                             {kind: boolValue},
	"remote.storage.enable":                   {kind: boolValue},
	"retention.bytes":                         {kind: longValue, min: -1, note: "-1 means no limit"},
	"retention.ms":                            {kind: longValue, min: -1, note: "-1 means forever"},
	"segment.bytes":                           {kind: longValue, min: 14},
	"segment.index.bytes":                     {kind: longValue, min: 4},
	"segment.jitter.ms":                       {kind: longValue, min: 0},
	"segment.ms":                              {kind: longValue, min: 1},
	"unclean.leader.election.enable":          {kind: boolValue},
}

// topicConfigKeys is the sorted list of the keys above.
var topicConfigKeys = func() []string {
	ks := make([]string, 0, len(topicConfigs))
	for k := range topicConfigs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}()

// checkTopicConfig returns what is wrong with a topic config key or its
// value: "" and "" when both are fine; unknownKey when the key is not a
// Kafka topic config key.
func checkTopicConfig(key, value string) (msg, hint string, unknownKey bool) {
	spec, ok := topicConfigs[key]
	if !ok {
		if h := DidYouMean(key, topicConfigKeys); h != "" {
			return "unknown topic config key", h, true
		}
		return "unknown topic config key", "topic configs use Kafka's keys, such as cleanup.policy and retention.ms", true
	}
	v := strings.TrimSpace(value)
	invalid := fmt.Sprintf("invalid value %q", clip(value))
	switch spec.kind {
	case policyValue:
		seen := map[string]bool{}
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p != "delete" && p != "compact" || seen[p] {
				hint := DidYouMean(p, []string{"delete", "compact"})
				if hint == "" {
					hint = `use delete, compact, or "compact,delete"`
				}
				return invalid, hint, false
			}
			seen[p] = true
		}
	case longValue:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return invalid + ": expected an integer", unitHint(key, v), false
		}
		if n < spec.min {
			hint := ""
			if spec.note != "" {
				hint = spec.note
			}
			return fmt.Sprintf("%s: the smallest allowed value is %d", invalid, spec.min), hint, false
		}
	case ratioValue:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return invalid + ": expected a number from 0 to 1", "", false
		}
	case boolValue:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return invalid + ": expected true or false", "", false
		}
	case enumValue:
		for _, e := range spec.enum {
			if strings.EqualFold(v, e) {
				return "", "", false
			}
		}
		return invalid, unknownHint(v, spec.enum, "use one of"), false
	}
	return "", "", false
}

// unitHint helps with a value written with a unit where Kafka wants plain
// milliseconds or bytes.
func unitHint(key, v string) string {
	switch {
	case strings.HasSuffix(key, ".ms"):
		var d time.Duration
		if days, err := strconv.ParseInt(strings.TrimSuffix(v, "d"), 10, 64); err == nil && strings.HasSuffix(v, "d") && days < 1e5 {
			d = time.Duration(days) * 24 * time.Hour
		} else if pd, err := time.ParseDuration(v); err == nil {
			d = pd
		} else {
			return "write milliseconds, e.g. 604800000 for 7 days"
		}
		return fmt.Sprintf("write milliseconds: %s is %d", v, d.Milliseconds())
	case strings.HasSuffix(key, ".bytes"):
		return "write bytes as an integer, e.g. 1073741824 for 1 GiB"
	}
	return ""
}

// TopicConfigKeys returns the Kafka topic config keys a config file may
// use, sorted. The log accepts the same set.
func TopicConfigKeys() []string { return append([]string(nil), topicConfigKeys...) }
