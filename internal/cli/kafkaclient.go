package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// defaultBootstrap is where the Kafka commands look for a node when neither
// --bootstrap nor a config file says otherwise: node.kafka_listen's
// default.
const defaultBootstrap = "127.0.0.1:9092"

// kafkaFlags are the flags of the commands that talk to a node through its
// Kafka API (topics, consume, produce).
type kafkaFlags struct {
	bootstrap  string
	configPath string
	timeout    time.Duration
}

// addKafkaFlags registers the Kafka connection flags on cmd and, as
// persistent flags, on its subcommands.
func addKafkaFlags(cmd *cobra.Command, f *kafkaFlags) {
	fl := cmd.PersistentFlags()
	fl.StringVar(&f.bootstrap, "bootstrap", "", "HOST:PORT of the node's Kafka API (several separated by commas); default: node.kafka_advertise or node.kafka_listen of --config, else "+defaultBootstrap)
	fl.StringVarP(&f.configPath, "config", "c", defaultConfigPath, "config file whose node.kafka_advertise or node.kafka_listen is the default --bootstrap (read when it exists or is given)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long to wait for the node: to connect, for each request, for a produced record's acknowledgement")
}

// resolveBootstrap returns the brokers to dial and where they came from,
// for messages: --bootstrap when given; else the node of the config file
// (node.kafka_advertise, or node.kafka_listen with 127.0.0.1 for an
// unspecified host) when the file exists or was named explicitly; else
// 127.0.0.1:9092.
func resolveBootstrap(f *kafkaFlags, configSet bool) (seeds []string, source string, err error) {
	if f.bootstrap != "" {
		for _, s := range strings.Split(f.bootstrap, ",") {
			s = strings.TrimSpace(s)
			if _, _, err := net.SplitHostPort(s); err != nil {
				return nil, "", usageError("--bootstrap %q: %q is not HOST:PORT", f.bootstrap, s)
			}
			seeds = append(seeds, s)
		}
		return seeds, "--bootstrap", nil
	}
	if _, err := os.Stat(f.configPath); errors.Is(err, fs.ErrNotExist) && !configSet {
		return []string{defaultBootstrap}, "the default; there is no " + f.configPath + " here", nil
	}
	cfg, err := loadConfig(f.configPath)
	if err != nil {
		if strings.Contains(f.configPath, "=") && errors.Is(err, fs.ErrNotExist) {
			return nil, "", usageError("--config %q: no such file; --config names the sluice config file (topic configs are set with --set KEY=VALUE)", f.configPath)
		}
		return nil, "", fmt.Errorf("cannot find the node's Kafka address in %s: %w; fix the file, or pass --bootstrap HOST:PORT", f.configPath, err)
	}
	if a := cfg.Node.KafkaAdvertise; a != "" {
		return []string{a}, "node.kafka_advertise in " + f.configPath, nil
	}
	host, port, err := net.SplitHostPort(cfg.Node.KafkaListen)
	if err != nil {
		return nil, "", fmt.Errorf("node.kafka_listen %q in %s: %w; pass --bootstrap HOST:PORT", cfg.Node.KafkaListen, f.configPath, err)
	}
	if port == "0" {
		return nil, "", fmt.Errorf("node.kafka_listen in %s has port 0, so the node picks a free port when it starts; pass --bootstrap with the address \"sluice run\" logged (\"kafka API listening\")", f.configPath)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return []string{net.JoinHostPort(host, port)}, "node.kafka_listen in " + f.configPath, nil
}

// kafkaConn is a Kafka client connected to a node, with what the commands
// need to say where it is and how long to wait.
type kafkaConn struct {
	cl      *kgo.Client
	addr    string // the brokers dialled, for messages
	source  string // where addr came from, for messages
	timeout time.Duration
	base    []kgo.Opt // options every client of this command gets
}

// connectKafka builds a client with opts and checks, within --timeout,
// that the node answers. An unreachable node is an error that names the
// address, where it came from and what to do.
func connectKafka(ctx context.Context, cmd *cobra.Command, g *globals, f *kafkaFlags, opts ...kgo.Opt) (*kafkaConn, error) {
	logger, err := g.logger()
	if err != nil {
		return nil, err
	}
	if f.timeout <= 0 {
		return nil, usageError("--timeout %s: must be positive", f.timeout)
	}
	seeds, source, err := resolveBootstrap(f, cmd.Flags().Changed("config"))
	if err != nil {
		return nil, err
	}
	k := &kafkaConn{addr: strings.Join(seeds, ","), source: source, timeout: f.timeout}
	k.base = []kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("sluice-cli"),
		kgo.DialTimeout(f.timeout),
		kgo.RetryTimeout(f.timeout),
	}
	if logger.Enabled(ctx, slog.LevelDebug) {
		k.base = append(k.base, kgo.WithLogger(kgoLogger{logger}))
	}
	k.cl, err = k.client(opts...)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	if err := k.cl.Ping(pctx); err != nil {
		k.cl.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if pctx.Err() != nil {
			err = fmt.Errorf("no answer within %s (--timeout)", f.timeout)
		}
		return nil, fmt.Errorf("cannot reach the Kafka API at %s (%s): %w; start the node with \"sluice run\", or point --bootstrap at a running one", k.addr, k.source, err)
	}
	return k, nil
}

// client builds another client to the same node with opts added.
func (k *kafkaConn) client(opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), k.base...), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("new Kafka client for %s: %w", k.addr, err)
	}
	return cl, nil
}

func (k *kafkaConn) Close() { k.cl.Close() }

// request sends req and waits for the response for at most --timeout. A
// failure names what was asked (what) and the node.
func request[R kmsg.Response](ctx context.Context, k *kafkaConn, what string, req interface {
	RequestWith(context.Context, kmsg.Requestor) (R, error)
}) (R, error) {
	rctx, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	resp, err := req.RequestWith(rctx, k.cl)
	if err != nil {
		if ctx.Err() != nil {
			return resp, ctx.Err()
		}
		if rctx.Err() != nil {
			return resp, fmt.Errorf("%s: no answer from the Kafka API at %s within %s (--timeout): %w", what, k.addr, k.timeout, err)
		}
		return resp, fmt.Errorf("%s: Kafka API at %s: %w", what, k.addr, err)
	}
	return resp, nil
}

// topicMeta is what Metadata says about one topic.
type topicMeta struct {
	name       string
	partitions []kmsg.MetadataResponseTopicPartition // in partition order
}

// replicationFactor is the number of replicas of the topic's first
// partition.
func (t topicMeta) replicationFactor() int {
	if len(t.partitions) == 0 {
		return 0
	}
	return len(t.partitions[0].Replicas)
}

// metadata asks the node about topics (all of them when topics is nil).
// autoCreate lets the node create missing topics when its
// log.auto_create_topics allows it. A topic's error code is an error.
func metadata(ctx context.Context, k *kafkaConn, topics []string, autoCreate bool) ([]topicMeta, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = autoCreate
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
	}
	resp, err := request(ctx, k, "list topics", req)
	if err != nil {
		return nil, err
	}
	var out []topicMeta
	for _, t := range resp.Topics {
		name := ""
		if t.Topic != nil {
			name = *t.Topic
		}
		if err := kafkaError(name, t.ErrorCode, nil); err != nil {
			return nil, err
		}
		parts := t.Partitions
		// Partition order, whatever order the node answered in.
		sorted := make([]kmsg.MetadataResponseTopicPartition, len(parts))
		for _, p := range parts {
			if p.Partition < 0 || int(p.Partition) >= len(parts) {
				return nil, fmt.Errorf("topic %q: the node listed partition %d of %d; its metadata is inconsistent", name, p.Partition, len(parts))
			}
			sorted[p.Partition] = p
		}
		out = append(out, topicMeta{name: name, partitions: sorted})
	}
	return out, nil
}

// oneTopic returns the metadata of topic.
func oneTopic(ctx context.Context, k *kafkaConn, topic string, autoCreate bool) (topicMeta, error) {
	ts, err := metadata(ctx, k, []string{topic}, autoCreate)
	if err != nil {
		return topicMeta{}, err
	}
	for _, t := range ts {
		if t.name == topic {
			return t, nil
		}
	}
	return topicMeta{}, kafkaError(topic, kerr.UnknownTopicOrPartition.Code, nil)
}

// List offset timestamps with special meanings (Kafka's ListOffsets).
const (
	listEarliest = -2 // the log start offset
	listLatest   = -1 // the high watermark
)

// listOffsets returns, for each partition of topic, the offset ListOffsets
// answers for ts (listEarliest or listLatest).
func listOffsets(ctx context.Context, k *kafkaConn, topic string, partitions []int32, ts int64) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, ts
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := request(ctx, k, fmt.Sprintf("list the offsets of topic %q", topic), req)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(partitions))
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kafkaError(t.Topic, p.ErrorCode, nil); err != nil {
				return nil, fmt.Errorf("partition %d: %w", p.Partition, err)
			}
			out[p.Partition] = p.Offset
		}
	}
	for _, p := range partitions {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("topic %q partition %d: the node did not answer for it when listing offsets", topic, p)
		}
	}
	return out, nil
}

// kafkaErr is an error code of a Kafka response, said for a person.
type kafkaErr struct {
	topic  string
	code   *kerr.Error
	server string // the server's error message, if any
}

// kafkaError returns nil for code 0, else an error about topic that says
// what the code means, with the server's message when it sent one. It
// wraps the *kerr.Error, so errors.Is(err, kerr.TopicAlreadyExists) holds.
func kafkaError(topic string, code int16, serverMsg *string) error {
	if code == 0 {
		return nil
	}
	e := &kafkaErr{topic: topic, code: kerr.TypedErrorForCode(code)}
	if e.code == kerr.UnknownServerError && code != kerr.UnknownServerError.Code {
		e.code = &kerr.Error{Message: "ERROR_CODE_" + strconv.Itoa(int(code)), Code: code, Description: "an error code this client does not know"}
	}
	if serverMsg != nil {
		e.server = *serverMsg
	}
	return e
}

func (e *kafkaErr) Error() string {
	var what string
	switch e.code.Code {
	case kerr.TopicAlreadyExists.Code:
		return fmt.Sprintf("topic %q already exists", e.topic)
	case kerr.UnknownTopicOrPartition.Code:
		return fmt.Sprintf("topic %q does not exist; \"sluice topics list\" shows the topics there are", e.topic)
	case kerr.InvalidTopicException.Code:
		what = "invalid topic name"
	case kerr.InvalidConfig.Code:
		what = "invalid config"
	case kerr.InvalidPartitions.Code:
		what = "invalid number of partitions"
	case kerr.InvalidReplicationFactor.Code:
		what = "invalid replication factor"
	default:
		what = e.code.Message
	}
	// The server's message says what was wrong better than the code.
	if e.server != "" {
		return fmt.Sprintf("topic %q: %s", e.topic, e.server)
	}
	return fmt.Sprintf("topic %q: %s: %s", e.topic, what, strings.TrimSuffix(e.code.Description, "."))
}

func (e *kafkaErr) Unwrap() error { return e.code }

// kgoLogger sends the Kafka client's messages to the command's logger; it is
// used with --log-level debug only.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelDebug }

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	sl := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		sl = slog.LevelError
	case kgo.LogLevelWarn:
		sl = slog.LevelWarn
	case kgo.LogLevelInfo:
		sl = slog.LevelInfo
	}
	k.l.Log(context.Background(), sl, "kafka client: "+msg, keyvals...)
}
