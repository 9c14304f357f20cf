package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxProduceLine is the longest line produce reads; a record also has to
// fit the topic's max.message.bytes (1048588 by default) with its framing.
const maxProduceLine = 1 << 20

// produceFlags are the flags of "sluice produce".
type produceFlags struct {
	kafka     kafkaFlags
	keyed     bool
	partition int32
}

func produceCmd(g *globals) *cobra.Command {
	var f produceFlags
	cmd := &cobra.Command{
		Use:   "produce TOPIC [--keyed] [--partition P]",
		Short: "Write one record per line of stdin to a topic",
		Long: `Produce reads stdin line by line and writes one record per line to the topic,
through the node's Kafka API, with acks=all and an idempotent producer (no
duplicates on retries). Without --keyed a line is the record's value and the
key is null; with --keyed a line is KEY<TAB>VALUE, split at the first TAB,
and a line without a TAB is an error. An empty line is a record with an
empty value (not a null one). A line may be up to 1 MiB; line ends (\n or
\r\n) are not part of the record.

Records go to the partition of their key's hash (murmur2, as Kafka's Java
client does, so a key always lands in the same partition), records without
a key are spread in sticky batches; --partition P sends every record to P.
A missing topic is created if the node's log.auto_create_topics allows it.

At the end it prints "produced N records" on stderr. The first record the
node refuses stops it: it reads no further, prints the error and exits 1.
An interrupt (SIGINT) stops reading too; what was read is still produced.`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			if f.partition < -1 {
				return usageError("produce: --partition %d: must be 0 or more", f.partition)
			}
			return produce(cmd, g, &f, args[0])
		}),
	}
	addKafkaFlags(cmd, &f.kafka)
	fl := cmd.Flags()
	fl.BoolVar(&f.keyed, "keyed", false, "each line is KEY<TAB>VALUE")
	fl.Int32Var(&f.partition, "partition", -1, "write every record to this partition; -1 partitions by key hash")
	return cmd
}

func produce(cmd *cobra.Command, g *globals, f *produceFlags, topic string) error {
	ctx := cmd.Context()
	partitioner := kgo.StickyKeyPartitioner(nil)
	if f.partition >= 0 {
		partitioner = kgo.ManualPartitioner()
	}
	k, err := connectKafka(ctx, cmd, g, &f.kafka,
		kgo.RecordPartitioner(partitioner),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.AllowAutoTopicCreation(),
		// Room for a record of a whole line; the node checks it against
		// the topic's max.message.bytes.
		kgo.ProducerBatchMaxBytes(maxProduceLine+4096),
		kgo.RecordDeliveryTimeout(f.kafka.timeout),
	)
	if err != nil {
		return err
	}
	defer k.Close()
	// Check the topic first: a clear error instead of retries.
	t, err := oneTopic(ctx, k, topic, true)
	if err != nil {
		return err
	}
	if f.partition >= int32(len(t.partitions)) {
		return usageError("produce: topic %q has partitions 0 to %d, not %d", topic, len(t.partitions)-1, f.partition)
	}

	// The first failure cancels prodCtx: records still buffered fail with
	// it, and reading stops. An interrupt stops reading only: what was
	// read is still produced.
	prodCtx, stopProd := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProd()
	readCtx, stopRead := context.WithCancel(ctx)
	defer stopRead()
	context.AfterFunc(prodCtx, stopRead)
	var (
		produced atomic.Int64
		mu       sync.Mutex
		failed   *failedRecord // the first record the node refused
	)
	fail := func(fr *failedRecord) {
		mu.Lock()
		if failed == nil {
			failed = fr
		}
		mu.Unlock()
		stopProd()
	}
	lines := stdinLines(readCtx, g.stdin)
	lineNo := 0
	var inputErr error
read:
	for {
		var line []byte
		select {
		case l, ok := <-lines:
			if !ok {
				break read
			}
			if l.err != nil {
				inputErr = l.err
				break read
			}
			line = l.text
		case <-readCtx.Done():
			break read
		}
		lineNo++
		r := &kgo.Record{Topic: topic, Value: line}
		if f.keyed {
			key, value, ok := bytes.Cut(line, []byte{'\t'})
			if !ok {
				inputErr = fmt.Errorf("stdin line %d has no TAB between key and value (--keyed)", lineNo)
				break read
			}
			r.Key, r.Value = key, value
		}
		if f.partition >= 0 {
			r.Partition = f.partition
		}
		n := lineNo
		k.cl.Produce(prodCtx, r, func(r *kgo.Record, err error) {
			if err != nil {
				if prodCtx.Err() == nil || !errors.Is(err, context.Canceled) {
					fail(&failedRecord{line: n, rec: r, err: err})
				}
				return
			}
			produced.Add(1)
		})
	}
	// Wait for what was sent; the delivery timeout bounds this.
	flushErr := k.cl.Flush(prodCtx)
	fmt.Fprintf(g.stderr, "produced %s\n", plural(int(produced.Load()), "record"))
	mu.Lock()
	fr := failed
	mu.Unlock()
	switch {
	case fr != nil:
		return fr.explain(ctx, k)
	case inputErr != nil:
		return inputErr
	case flushErr != nil:
		return fmt.Errorf("produce to topic %q: %w", topic, flushErr)
	}
	return nil
}

// failedRecord is a record the node refused.
type failedRecord struct {
	line int // of stdin
	rec  *kgo.Record
	err  error
}

// explain says which line failed and why, and, when the node refused the
// record as invalid, looks up the topic's configs for the likely reason:
// a compacted topic needs keys, and max.message.bytes bounds a record.
func (fr *failedRecord) explain(ctx context.Context, k *kafkaConn) error {
	topic := fr.rec.Topic
	hint := ""
	switch {
	case errors.Is(fr.err, kerr.InvalidRecord), errors.Is(fr.err, kerr.MessageTooLarge):
		hint = "; the node's log says why"
		cfg, err := topicConfigs(ctx, k, topic, "cleanup.policy", "max.message.bytes")
		if err != nil {
			break
		}
		size := len(fr.rec.Key) + len(fr.rec.Value)
		maxBytes, _ := strconv.Atoi(cfg["max.message.bytes"])
		if fr.rec.Key == nil && strings.Contains(cfg["cleanup.policy"], "compact") {
			hint = fmt.Sprintf("; topic %q is compacted (cleanup.policy=%s), so every record needs a key: give KEY<TAB>VALUE lines with --keyed", topic, cfg["cleanup.policy"])
		} else if maxBytes > 0 && size+recordFraming >= maxBytes {
			hint = fmt.Sprintf("; its key and value (%d bytes) with the record framing exceed the topic's max.message.bytes (%d): raise it with \"sluice topics alter %s --set max.message.bytes=N\"", size, maxBytes, topic)
		}
	case errors.Is(fr.err, kerr.UnknownTopicOrPartition):
		hint = "; the topic may have been deleted meanwhile"
	}
	err := fr.err
	if ke, ok := errors.AsType[*kerr.Error](err); ok {
		err = kafkaError(topic, ke.Code, nil)
	} else {
		err = fmt.Errorf("topic %q: %w", topic, err)
	}
	return fmt.Errorf("produce stdin line %d: %w%s", fr.line, err, hint)
}

// recordFraming is about what a single-record batch adds to its key and
// value: the batch header and the record's own lengths and deltas.
const recordFraming = 80

// topicConfigs returns the values of the named configs of topic, set or
// default.
func topicConfigs(ctx context.Context, k *kafkaConn, topic string, names ...string) (map[string]string, error) {
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, names
	req.Resources = append(req.Resources, rr)
	resp, err := request(ctx, k, fmt.Sprintf("describe the configs of topic %q", topic), req)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range resp.Resources {
		if err := kafkaError(topic, r.ErrorCode, r.ErrorMessage); err != nil {
			return nil, err
		}
		for _, c := range r.Configs {
			if c.Value != nil {
				out[c.Name] = *c.Value
			}
		}
	}
	return out, nil
}

// inputLine is one line of stdin, or the error that ended reading.
type inputLine struct {
	text []byte
	err  error
}

// stdinLines reads r line by line on a goroutine, so that an interrupt
// ends produce even while stdin blocks (a terminal). The channel closes
// at the end of input; a read error or an over-long line is its last
// value.
func stdinLines(ctx context.Context, r io.Reader) <-chan inputLine {
	ch := make(chan inputLine, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 64<<10), maxProduceLine+2) // the line, "\r\n"
		n := 0
		for sc.Scan() {
			n++
			line := sc.Bytes()
			if len(line) > maxProduceLine {
				select {
				case ch <- inputLine{err: fmt.Errorf("stdin line %d is longer than 1 MiB; produce reads one record of at most 1 MiB per line", n)}:
				case <-ctx.Done():
				}
				return
			}
			select {
			case ch <- inputLine{text: append([]byte{}, line...)}: // empty, not nil: an empty value
			case <-ctx.Done():
				return
			}
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = fmt.Errorf("stdin line %d is longer than 1 MiB; produce reads one record of at most 1 MiB per line", n+1)
			} else {
				err = fmt.Errorf("read stdin: %w", err)
			}
			select {
			case ch <- inputLine{err: err}:
			case <-ctx.Done():
			}
		}
	}()
	return ch
}
