package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeFlags are the flags of "sluice consume".
type consumeFlags struct {
	kafka         kafkaFlags
	fromBeginning bool
	offset        int64
	group         string
	partition     int32
	max           int64
	follow        bool
}

func consumeCmd(g *globals) *cobra.Command {
	var f consumeFlags
	cmd := &cobra.Command{
		Use:   "consume TOPIC [--from-beginning | --offset N | --group G] [--partition P] [--max N] [--follow]",
		Short: "Print a topic's records as JSON lines",
		Long: `Consume reads a topic through the node's Kafka API and prints one JSON object
per record on stdout:

  {"topic":"orders","partition":0,"offset":41,"timestamp":"2025-01-02T03:04:05.678Z",
   "timestamp_ms":1735787045678,"key":"k1","value":"{\"id\":1}","headers":[{"key":"h","value":"v"}]}

(on one line). A key, value or header value that is not valid UTF-8 is
printed in base64 and marked "key_encoding":"base64" (or "value_encoding",
or the header's "value_encoding"); a null key or value (a tombstone) is null.

Where it starts, in every partition (or only in --partition P):
  (default)         the end: only records written from now on
  --from-beginning  the earliest retained offset
  --offset N        offset N (the earliest retained one if N is older, the end if N is beyond it)
  --group G         consume as a member of consumer group G: each partition starts at
                    the group's committed offset, or, for a partition without one, at the
                    end (at the earliest offset with --from-beginning). Offsets of printed
                    records are committed after each batch is printed.

Where it stops: without --follow, once it has printed every record below the
high watermark each partition had when consume started, so
"sluice consume T --from-beginning" prints the whole topic and exits 0;
with --follow it waits for new records until interrupted (SIGINT, SIGTERM),
then exits 0. --max N stops after N records either way.`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			offsetSet := cmd.Flags().Changed("offset")
			switch {
			case f.fromBeginning && offsetSet:
				return usageError("consume: --from-beginning and --offset are alternatives; give one")
			case offsetSet && f.offset < 0:
				return usageError("consume: --offset %d: must be 0 or more", f.offset)
			case f.group != "" && offsetSet:
				return usageError("consume: --offset cannot be used with --group: a group member starts at the group's committed offsets")
			case f.group != "" && f.partition >= 0:
				return usageError("consume: --partition cannot be used with --group: the group assigns the partitions")
			case f.partition < -1:
				return usageError("consume: --partition %d: must be 0 or more", f.partition)
			case f.max < 0:
				return usageError("consume: --max %d: must be 0 (no limit) or more", f.max)
			}
			if !offsetSet {
				f.offset = -1
			}
			return consume(cmd, g, &f, args[0])
		}),
	}
	addKafkaFlags(cmd, &f.kafka)
	fl := cmd.Flags()
	fl.BoolVar(&f.fromBeginning, "from-beginning", false, "start at the earliest retained offset (with --group: for partitions without a committed offset)")
	fl.Int64Var(&f.offset, "offset", 0, "start at this offset, in every partition or in --partition")
	fl.StringVar(&f.group, "group", "", "consume as a member of this consumer group and commit the offsets of printed records")
	fl.Int32Var(&f.partition, "partition", -1, "read only this partition; -1 reads every partition")
	fl.Int64Var(&f.max, "max", 0, "stop after this many records; 0 means no limit")
	fl.BoolVar(&f.follow, "follow", false, "keep waiting for new records until interrupted, instead of stopping at the end")
	return cmd
}

// consumedRecord is one line of consume's output.
type consumedRecord struct {
	Topic         string         `json:"topic"`
	Partition     int32          `json:"partition"`
	Offset        int64          `json:"offset"`
	Timestamp     string         `json:"timestamp"`
	TimestampMs   int64          `json:"timestamp_ms"`
	Key           *string        `json:"key"`
	KeyEncoding   string         `json:"key_encoding,omitempty"`
	Value         *string        `json:"value"`
	ValueEncoding string         `json:"value_encoding,omitempty"`
	Headers       []dumpedHeader `json:"headers"`
}

func newConsumedRecord(r *kgo.Record) consumedRecord {
	c := consumedRecord{
		Topic:       r.Topic,
		Partition:   r.Partition,
		Offset:      r.Offset,
		Timestamp:   r.Timestamp.UTC().Format(time.RFC3339Nano),
		TimestampMs: r.Timestamp.UnixMilli(),
		Headers:     []dumpedHeader{},
	}
	c.Key, c.KeyEncoding = dumpBytes(r.Key)
	c.Value, c.ValueEncoding = dumpBytes(r.Value)
	for _, h := range r.Headers {
		dh := dumpedHeader{Key: h.Key}
		dh.Value, dh.ValueEncoding = dumpBytes(h.Value)
		c.Headers = append(c.Headers, dh)
	}
	return c
}

// progress says, for a run without --follow, when every partition consume
// reads has reached the high watermark it had at the start. Group
// callbacks and the poll loop update it concurrently.
type progress struct {
	end    map[int32]int64 // the high watermark of each partition at the start
	follow bool
	stop   context.CancelFunc // called once every assigned partition reached its end

	mu struct {
		sync.Mutex
		assigned map[int32]bool
		next     map[int32]int64 // next offset to print; absent until known
	}
}

func newProgress(end map[int32]int64, follow bool, stop context.CancelFunc) *progress {
	p := &progress{end: end, follow: follow, stop: stop}
	p.mu.assigned = map[int32]bool{}
	p.mu.next = map[int32]int64{}
	return p
}

// assign records that partitions are read (their start not known yet).
func (p *progress) assign(parts []int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, part := range parts {
		p.mu.assigned[part] = true
	}
}

// revoke records that partitions are no longer read by this member.
func (p *progress) revoke(parts []int32) {
	p.mu.Lock()
	for _, part := range parts {
		delete(p.mu.assigned, part)
		delete(p.mu.next, part)
	}
	p.mu.Unlock()
	p.check()
}

// at records that the next record to print in part has offset next.
func (p *progress) at(part int32, next int64) {
	p.mu.Lock()
	p.mu.next[part] = next
	p.mu.Unlock()
	p.check()
}

// beyondEnd reports whether offset is at or past part's end at the start:
// a run without --follow does not print it.
func (p *progress) beyondEnd(part int32, offset int64) bool {
	end, ok := p.end[part]
	return !p.follow && (!ok || offset >= end)
}

// check stops the poll loop when every assigned partition is done.
func (p *progress) check() {
	if p.follow {
		return
	}
	p.mu.Lock()
	done := len(p.mu.assigned) > 0
	for part := range p.mu.assigned {
		next, known := p.mu.next[part]
		if !known || next < p.end[part] {
			done = false
			break
		}
	}
	p.mu.Unlock()
	if done {
		p.stop()
	}
}

func consume(cmd *cobra.Command, g *globals, f *consumeFlags, topic string) error {
	ctx := cmd.Context()
	k, err := connectKafka(ctx, cmd, g, &f.kafka)
	if err != nil {
		return err
	}
	defer k.Close()
	t, err := oneTopic(ctx, k, topic, false)
	if err != nil {
		return err
	}
	var parts []int32
	switch {
	case f.partition >= int32(len(t.partitions)):
		return usageError("consume: topic %q has partitions 0 to %d, not %d", topic, len(t.partitions)-1, f.partition)
	case f.partition >= 0:
		parts = []int32{f.partition}
	default:
		for p := range t.partitions {
			parts = append(parts, int32(p))
		}
	}
	if len(parts) == 0 {
		return fmt.Errorf("topic %q has no partitions", topic)
	}
	earliest, err := listOffsets(ctx, k, topic, parts, listEarliest)
	if err != nil {
		return err
	}
	end, err := listOffsets(ctx, k, topic, parts, listLatest)
	if err != nil {
		return err
	}

	// Polls end when ctx does (an interrupt) or when stop is called
	// (every partition reached its end).
	pollCtx, stop := context.WithCancel(ctx)
	defer stop()
	prog := newProgress(end, f.follow, stop)

	var opts []kgo.Opt
	if f.group == "" {
		start := map[int32]kgo.Offset{}
		prog.assign(parts)
		for _, p := range parts {
			off := end[p]
			switch {
			case f.fromBeginning:
				off = earliest[p]
			case f.offset >= 0 && f.offset < earliest[p]:
				fmt.Fprintf(g.stderr, "sluice: topic %q partition %d: offset %d is no longer retained; starting at the earliest, %d\n", topic, p, f.offset, earliest[p])
				off = earliest[p]
			case f.offset > end[p]:
				fmt.Fprintf(g.stderr, "sluice: topic %q partition %d: offset %d is beyond the end, %d; starting at the end\n", topic, p, f.offset, end[p])
			case f.offset >= 0:
				off = f.offset
			}
			start[p] = kgo.NewOffset().At(off)
			prog.at(p, off)
		}
		if pollCtx.Err() != nil {
			return nil // every partition is at its end already
		}
		opts = append(opts,
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	} else {
		reset := kgo.NewOffset().AtEnd()
		if f.fromBeginning {
			reset = kgo.NewOffset().AtStart()
		}
		opts = append(opts,
			kgo.ConsumerGroup(f.group),
			kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(reset),
			kgo.DisableAutoCommit(),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				prog.assign(m[topic])
			}),
			kgo.AdjustFetchOffsetsFn(func(_ context.Context, m map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
				for p, o := range m[topic] {
					switch at := o.EpochOffset().Offset; {
					case at >= 0:
						prog.at(p, at)
					case at == listEarliest:
						prog.at(p, earliest[p])
					default: // the end, as the node lists it now
						prog.at(p, end[p])
					}
				}
				return m, nil
			}),
			kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				prog.revoke(m[topic])
			}),
			kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
				prog.revoke(m[topic])
			}),
		)
	}
	cl, err := k.client(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return pollLoop(ctx, pollCtx, cl, k, f, prog, g.stdout)
}

// pollLoop prints records until pollCtx ends or --max is reached, and, in a
// group, commits the offsets of the printed records after each poll.
func pollLoop(ctx, pollCtx context.Context, cl *kgo.Client, k *kafkaConn, f *consumeFlags, prog *progress, stdout io.Writer) error {
	out := bufio.NewWriter(stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	var printed int64
	for {
		fs := cl.PollFetches(pollCtx)
		var fetchErr error
		fs.EachError(func(topic string, p int32, err error) {
			if fetchErr == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed) {
				fetchErr = fmt.Errorf("consume topic %q partition %d: %w", topic, p, err)
			}
		})
		// The last printed record of each partition, to commit.
		last := map[int32]*kgo.Record{}
		var writeErr error
		full := false
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if writeErr != nil || full {
				return
			}
			for _, r := range fp.Records {
				if prog.beyondEnd(r.Partition, r.Offset) {
					continue
				}
				if f.max > 0 && printed >= f.max {
					full = true
					break
				}
				if writeErr = enc.Encode(newConsumedRecord(r)); writeErr != nil {
					return
				}
				printed++
				last[r.Partition] = r
			}
			if writeErr == nil {
				writeErr = out.Flush()
			}
		})
		if writeErr != nil {
			return fmt.Errorf("write records: %w", writeErr)
		}
		if f.group != "" && len(last) > 0 {
			recs := make([]*kgo.Record, 0, len(last))
			for _, r := range last {
				recs = append(recs, r)
			}
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.timeout)
			err := cl.CommitRecords(cctx, recs...)
			cancel()
			if err != nil {
				return fmt.Errorf("group %q: commit the offsets of the printed records: %w; the next run of the group may print them again", f.group, err)
			}
		}
		// Progress after the commit: stop may end the loop.
		for p, r := range last {
			prog.at(p, r.Offset+1)
		}
		if fetchErr != nil {
			return fetchErr
		}
		if full || (f.max > 0 && printed >= f.max) || pollCtx.Err() != nil {
			return nil
		}
	}
}
