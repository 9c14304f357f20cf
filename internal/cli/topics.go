package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicsFlags are the flags of "sluice topics" and its subcommands.
type topicsFlags struct {
	kafka kafkaFlags
	json  bool
}

func topicsCmd(g *globals) *cobra.Command {
	f := &topicsFlags{}
	cmd := &cobra.Command{
		Use:   "topics",
		Short: "List, describe, create, delete and alter topics through the Kafka API",
		Long: `The topics commands talk to a running node through its Kafka API: --bootstrap
HOST:PORT, or by default the node of the config file (node.kafka_advertise or
node.kafka_listen of --config, default sluice.yaml, when it exists), else
` + defaultBootstrap + `.`,
		Args: cobra.ArbitraryArgs,
		RunE: action(func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return usageError("unknown command %q for %q; the topics commands are list, describe, create, delete and alter", args[0], cmd.CommandPath())
		}),
	}
	addKafkaFlags(cmd, &f.kafka)
	cmd.AddCommand(topicsListCmd(g, f), topicsDescribeCmd(g, f), topicsCreateCmd(g, f), topicsDeleteCmd(g, f), topicsAlterCmd(g, f))
	return cmd
}

func topicsListCmd(g *globals, f *topicsFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the topics with their partitions and replication factor",
		Long: `List prints one line per topic, sorted by name, under a header:

  NAME    PARTITIONS  REPLICATION-FACTOR
  orders  3           1

With --json it prints one JSON array instead:
[{"name":"orders","partitions":3,"replication_factor":1}]`,
		Args: cobra.NoArgs,
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			k, err := connectKafka(cmd.Context(), cmd, g, &f.kafka)
			if err != nil {
				return err
			}
			defer k.Close()
			ts, err := metadata(cmd.Context(), k, nil, false)
			if err != nil {
				return err
			}
			slices.SortFunc(ts, func(a, b topicMeta) int { return strings.Compare(a.name, b.name) })
			return printTopicList(g.stdout, ts, f.json)
		}),
	}
	cmd.Flags().BoolVar(&f.json, "json", false, "print JSON instead of a table")
	return cmd
}

type listedTopic struct {
	Name              string `json:"name"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
}

func printTopicList(w io.Writer, ts []topicMeta, asJSON bool) error {
	if asJSON {
		out := []listedTopic{}
		for _, t := range ts {
			out = append(out, listedTopic{t.name, len(t.partitions), t.replicationFactor()})
		}
		return writeJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPARTITIONS\tREPLICATION-FACTOR")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", t.name, len(t.partitions), t.replicationFactor())
	}
	return tw.Flush()
}

func topicsDescribeCmd(g *globals, f *topicsFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe TOPIC",
		Short: "Show a topic's partitions, offsets and the configs set on it",
		Long: `Describe prints the topic, the configs set on it (the others have their
defaults: see docs/config.md), and one line per partition with its leader,
replicas, in-sync replicas, log start offset (the earliest offset retained)
and high watermark (the offset the next record will get, as consumers see it):

  Topic: orders
  Partitions: 3
  Replication factor: 1
  Configs: cleanup.policy=compact, retention.ms=86400000

  PARTITION  LEADER  REPLICAS  ISR  LOG-START  HIGH-WATERMARK
  0          1       1         1    0          120

With --json it prints one JSON object:
{"name":"orders","partitions":[{"partition":0,"leader":1,"leader_epoch":0,
"replicas":[1],"isr":[1],"log_start_offset":0,"high_watermark":120}],
"replication_factor":1,"configs":{"cleanup.policy":"compact"}}`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			k, err := connectKafka(ctx, cmd, g, &f.kafka)
			if err != nil {
				return err
			}
			defer k.Close()
			d, err := describeTopic(ctx, k, args[0])
			if err != nil {
				return err
			}
			if f.json {
				return writeJSON(g.stdout, d)
			}
			return printTopicDescription(g.stdout, d)
		}),
	}
	cmd.Flags().BoolVar(&f.json, "json", false, "print JSON instead of text")
	return cmd
}

type describedTopic struct {
	Name              string               `json:"name"`
	Partitions        []describedPartition `json:"partitions"`
	ReplicationFactor int                  `json:"replication_factor"`
	Configs           map[string]string    `json:"configs"`
}

type describedPartition struct {
	Partition      int32   `json:"partition"`
	Leader         int32   `json:"leader"`
	LeaderEpoch    int32   `json:"leader_epoch"`
	Replicas       []int32 `json:"replicas"`
	ISR            []int32 `json:"isr"`
	LogStartOffset int64   `json:"log_start_offset"`
	HighWatermark  int64   `json:"high_watermark"`
}

func describeTopic(ctx context.Context, k *kafkaConn, topic string) (*describedTopic, error) {
	t, err := oneTopic(ctx, k, topic, false)
	if err != nil {
		return nil, err
	}
	parts := make([]int32, len(t.partitions))
	for i := range parts {
		parts[i] = int32(i)
	}
	start, err := listOffsets(ctx, k, topic, parts, listEarliest)
	if err != nil {
		return nil, err
	}
	end, err := listOffsets(ctx, k, topic, parts, listLatest)
	if err != nil {
		return nil, err
	}
	d := &describedTopic{Name: topic, ReplicationFactor: t.replicationFactor(), Partitions: []describedPartition{}, Configs: map[string]string{}}
	for _, p := range t.partitions {
		d.Partitions = append(d.Partitions, describedPartition{
			Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: nonNil(p.Replicas), ISR: nonNil(p.ISR),
			LogStartOffset: start[p.Partition], HighWatermark: end[p.Partition],
		})
	}

	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	req.Resources = append(req.Resources, rr)
	resp, err := request(ctx, k, fmt.Sprintf("describe the configs of topic %q", topic), req)
	if err != nil {
		return nil, err
	}
	for _, r := range resp.Resources {
		if err := kafkaError(topic, r.ErrorCode, r.ErrorMessage); err != nil {
			return nil, err
		}
		for _, c := range r.Configs {
			if c.Source != kmsg.ConfigSourceDynamicTopicConfig || c.Value == nil {
				continue // a default, not set on the topic
			}
			d.Configs[c.Name] = *c.Value
		}
	}
	return d, nil
}

func nonNil(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return s
}

func printTopicDescription(w io.Writer, d *describedTopic) error {
	var cfg []string
	for _, k := range slices.Sorted(maps.Keys(d.Configs)) {
		cfg = append(cfg, k+"="+d.Configs[k])
	}
	configs := strings.Join(cfg, ", ")
	if len(cfg) == 0 {
		configs = "none set; every config has its default"
	}
	fmt.Fprintf(w, "Topic: %s\nPartitions: %d\nReplication factor: %d\nConfigs: %s\n\n", d.Name, len(d.Partitions), d.ReplicationFactor, configs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tLEADER\tREPLICAS\tISR\tLOG-START\tHIGH-WATERMARK")
	for _, p := range d.Partitions {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\t%d\n", p.Partition, p.Leader, joinIDs(p.Replicas), joinIDs(p.ISR), p.LogStartOffset, p.HighWatermark)
	}
	return tw.Flush()
}

// joinIDs renders broker ids as "1,2,3".
func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}

// createFlags are the flags of "sluice topics create".
type createFlags struct {
	partitions        int32
	replicationFactor int16
	set               []string
}

func topicsCreateCmd(g *globals, f *topicsFlags) *cobra.Command {
	var cf createFlags
	cmd := &cobra.Command{
		Use:   "create TOPIC [--partitions N] [--replication-factor R] [--set KEY=VALUE]...",
		Short: "Create a topic",
		Long: `Create creates a topic and prints

  created topic "orders": 3 partitions, replication factor 1

--partitions and --replication-factor default to the node's
log.default_partitions and log.default_replication_factor. Topic configs
use Kafka's keys (cleanup.policy, retention.ms, ...; see docs/config.md):
--set cleanup.policy=compact --set retention.ms=86400000. A topic that
exists already is an error (exit 1).`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			if cf.partitions < -1 || cf.partitions == 0 || cf.replicationFactor < -1 || cf.replicationFactor == 0 {
				return usageError("topics create: --partitions and --replication-factor must be at least 1")
			}
			set, err := parseSettings("--set", cf.set)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			k, err := connectKafka(ctx, cmd, g, &f.kafka)
			if err != nil {
				return err
			}
			defer k.Close()
			topic := args[0]
			req := kmsg.NewPtrCreateTopicsRequest()
			req.TimeoutMillis = int32(k.timeout.Milliseconds())
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, cf.partitions, cf.replicationFactor
			for _, s := range set {
				c := kmsg.NewCreateTopicsRequestTopicConfig()
				c.Name, c.Value = s.key, kmsg.StringPtr(s.value)
				rt.Configs = append(rt.Configs, c)
			}
			req.Topics = append(req.Topics, rt)
			resp, err := request(ctx, k, fmt.Sprintf("create topic %q", topic), req)
			if err != nil {
				return err
			}
			if len(resp.Topics) != 1 {
				return fmt.Errorf("create topic %q: the node answered for %d topics, not 1", topic, len(resp.Topics))
			}
			t := resp.Topics[0]
			if err := kafkaError(topic, t.ErrorCode, t.ErrorMessage); err != nil {
				return err
			}
			parts, rf := t.NumPartitions, t.ReplicationFactor
			if parts < 0 || rf < 0 { // CreateTopics before v5 does not say
				if m, err := oneTopic(ctx, k, topic, false); err == nil {
					parts, rf = int32(len(m.partitions)), int16(m.replicationFactor())
				}
			}
			_, err = fmt.Fprintf(g.stdout, "created topic %q: %s, replication factor %d\n", topic, plural(int(parts), "partition"), rf)
			return err
		}),
	}
	fl := cmd.Flags()
	fl.Int32Var(&cf.partitions, "partitions", -1, "number of partitions; -1 takes the node's log.default_partitions")
	fl.Int16Var(&cf.replicationFactor, "replication-factor", -1, "number of replicas of each partition; -1 takes the node's log.default_replication_factor")
	fl.StringArrayVar(&cf.set, "set", nil, "a topic config KEY=VALUE, such as cleanup.policy=compact; repeat for several")
	return cmd
}

func topicsDeleteCmd(g *globals, f *topicsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete TOPIC...",
		Short: "Delete topics and every record in them",
		Long: `Delete deletes each named topic with its records and prints

  deleted topic "orders"

for each. A topic that does not exist is an error; the others are deleted
all the same, and the command exits 1 after naming every failure.`,
		Args: cobra.MinimumNArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			k, err := connectKafka(ctx, cmd, g, &f.kafka)
			if err != nil {
				return err
			}
			defer k.Close()
			req := kmsg.NewPtrDeleteTopicsRequest()
			req.TimeoutMillis = int32(k.timeout.Milliseconds())
			for _, name := range args {
				req.TopicNames = append(req.TopicNames, name)
				t := kmsg.NewDeleteTopicsRequestTopic()
				t.Topic = kmsg.StringPtr(name)
				req.Topics = append(req.Topics, t)
			}
			resp, err := request(ctx, k, "delete topics "+quoteAll(args), req)
			if err != nil {
				return err
			}
			failed := map[string]error{}
			answered := map[string]bool{}
			for _, t := range resp.Topics {
				if t.Topic == nil {
					continue
				}
				answered[*t.Topic] = true
				if err := kafkaError(*t.Topic, t.ErrorCode, t.ErrorMessage); err != nil {
					failed[*t.Topic] = err
				}
			}
			var errs []error
			for _, name := range args {
				switch {
				case !answered[name]:
					errs = append(errs, fmt.Errorf("topic %q: the node did not answer for it; check with \"sluice topics list\"", name))
				case failed[name] != nil:
					errs = append(errs, failed[name])
				default:
					fmt.Fprintf(g.stdout, "deleted topic %q\n", name)
				}
			}
			if len(errs) == 1 {
				return errs[0]
			}
			for _, err := range errs {
				fmt.Fprintf(g.stderr, "sluice: %v\n", err)
			}
			if len(errs) > 0 {
				return &exitError{code: ExitFailure, err: errReported}
			}
			return nil
		}),
	}
}

// alterFlags are the flags of "sluice topics alter".
type alterFlags struct {
	set        []string
	del        []string
	partitions int32
}

func topicsAlterCmd(g *globals, f *topicsFlags) *cobra.Command {
	var af alterFlags
	cmd := &cobra.Command{
		Use:   "alter TOPIC [--set KEY=VALUE]... [--delete KEY]... [--partitions N]",
		Short: "Change a topic's configs or add partitions",
		Long: `Alter sets configs on a topic (--set KEY=VALUE), removes them so that they
take their defaults again (--delete KEY), and grows the topic to N partitions
(--partitions N; partitions are never removed, and keys hash to other
partitions afterwards). It prints what it changed:

  altered topic "orders": set retention.ms=86400000; deleted cleanup.policy

Nothing is changed when a config is invalid (exit 1).`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			if len(af.set) == 0 && len(af.del) == 0 && af.partitions == 0 {
				return usageError("topics alter: nothing to change; give --set KEY=VALUE, --delete KEY or --partitions N")
			}
			if af.partitions < 0 {
				return usageError("topics alter: --partitions %d: must be at least 1", af.partitions)
			}
			set, err := parseSettings("--set", af.set)
			if err != nil {
				return err
			}
			for _, key := range af.del {
				if key == "" || strings.Contains(key, "=") {
					return usageError("--delete %q: give the config key alone, such as --delete retention.ms", key)
				}
			}
			ctx := cmd.Context()
			k, err := connectKafka(ctx, cmd, g, &f.kafka)
			if err != nil {
				return err
			}
			defer k.Close()
			topic := args[0]
			var done []string
			if len(set) > 0 || len(af.del) > 0 {
				if err := alterTopicConfigs(ctx, k, topic, set, af.del); err != nil {
					return err
				}
				if len(set) > 0 {
					var s []string
					for _, kv := range set {
						s = append(s, kv.key+"="+kv.value)
					}
					done = append(done, "set "+strings.Join(s, ", "))
				}
				if len(af.del) > 0 {
					done = append(done, "deleted "+strings.Join(af.del, ", "))
				}
			}
			if af.partitions > 0 {
				if err := createPartitions(ctx, k, topic, af.partitions); err != nil {
					return err
				}
				done = append(done, fmt.Sprintf("now %s", plural(int(af.partitions), "partition")))
			}
			_, err = fmt.Fprintf(g.stdout, "altered topic %q: %s\n", topic, strings.Join(done, "; "))
			return err
		}),
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&af.set, "set", nil, "set a topic config KEY=VALUE; repeat for several")
	fl.StringArrayVar(&af.del, "delete", nil, "remove a topic config KEY so that it takes its default; repeat for several")
	fl.Int32Var(&af.partitions, "partitions", 0, "grow the topic to this many partitions")
	return cmd
}

func alterTopicConfigs(ctx context.Context, k *kafkaConn, topic string, set []setting, del []string) error {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	for _, s := range set {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = s.key, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(s.value)
		r.Configs = append(r.Configs, c)
	}
	for _, key := range del {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op = key, kmsg.IncrementalAlterConfigOpDelete
		r.Configs = append(r.Configs, c)
	}
	req.Resources = append(req.Resources, r)
	resp, err := request(ctx, k, fmt.Sprintf("alter the configs of topic %q", topic), req)
	if err != nil {
		return err
	}
	if len(resp.Resources) != 1 {
		return fmt.Errorf("alter the configs of topic %q: the node answered for %d resources, not 1", topic, len(resp.Resources))
	}
	return kafkaError(topic, resp.Resources[0].ErrorCode, resp.Resources[0].ErrorMessage)
}

func createPartitions(ctx context.Context, k *kafkaConn, topic string, count int32) error {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = int32(k.timeout.Milliseconds())
	t := kmsg.NewCreatePartitionsRequestTopic()
	t.Topic, t.Count = topic, count
	req.Topics = append(req.Topics, t)
	resp, err := request(ctx, k, fmt.Sprintf("add partitions to topic %q", topic), req)
	if err != nil {
		return err
	}
	if len(resp.Topics) != 1 {
		return fmt.Errorf("add partitions to topic %q: the node answered for %d topics, not 1", topic, len(resp.Topics))
	}
	return kafkaError(topic, resp.Topics[0].ErrorCode, resp.Topics[0].ErrorMessage)
}

// setting is one KEY=VALUE of --set.
type setting struct{ key, value string }

// parseSettings splits KEY=VALUE flag values, in order; a key given twice
// keeps its last value.
func parseSettings(flag string, kvs []string) ([]setting, error) {
	var out []setting
	for _, kv := range kvs {
		key, value, ok := strings.Cut(kv, "=")
		if !ok || key == "" {
			return nil, usageError("%s %q: must be KEY=VALUE, such as cleanup.policy=compact", flag, kv)
		}
		out = slices.DeleteFunc(out, func(s setting) bool { return s.key == key })
		out = append(out, setting{key, value})
	}
	return out, nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
