package connecttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connect"
)

// DefaultTopic is the topic of the records RunSink writes, unless
// SinkHarness.Topic says otherwise.
const DefaultTopic = "connecttest.acceptance"

// SinkHarness describes a sink kind to RunSink.
type SinkHarness struct {
	Kind connect.SinkKind
	// Config returns a valid config block (the YAML under "config:", see
	// the package doc) for a fresh, isolated destination.
	Config func(t *testing.T) string
	// BadConfigs maps config blocks to the field the problem must name.
	BadConfigs map[string]string
	// ReadBack returns what the instance's destination holds, as the
	// records' values (or a form that compares equal to what Record
	// returned: a file sink gives back the JSON it embedded), in delivery
	// order.
	ReadBack func(t *testing.T) [][]byte
	// Break, when set, makes the instance's destination fail in a way
	// that may clear (disk full, database down); the next Write must fail
	// with a retriable error.
	Break func(t *testing.T)
	// Idempotent says that delivering a record again leaves the
	// destination as it was (upsert by key). Otherwise the sink is
	// expected to append the redelivered records once more.
	Idempotent bool
	// Unordered says that ReadBack's order means nothing (a table read
	// back by key): the suite compares the records as sets.
	Unordered bool
	// Topic is the topic of the records. Default: DefaultTopic.
	Topic string
	// Record returns the key and value of the record at offset of
	// partition; values must differ from each other. Default: small JSON
	// objects, {"id":N} and {"partition":P,"offset":O,"text":"..."}.
	Record func(partition int32, offset int64) (key, value []byte)
}

// RunSink runs the acceptance suite against h (see the package doc).
func RunSink(t *testing.T, h SinkHarness) {
	if h.Kind == nil || h.Config == nil || h.ReadBack == nil {
		t.Fatal("SinkHarness needs Kind, Config and ReadBack")
	}
	if h.Topic == "" {
		h.Topic = DefaultTopic
	}
	if h.Record == nil {
		h.Record = defaultRecord
	}
	t.Run("config/valid", func(t *testing.T) { checkValidConfig(t, h.Kind, h.Config(t)) })
	checkBadConfigs(t, h.Kind, h.BadConfigs)
	t.Run("write_read_back", func(t *testing.T) { sinkWriteReadBack(t, h) })
	if h.Break != nil {
		t.Run("broken", func(t *testing.T) { sinkBroken(t, h) })
	}
}

func defaultRecord(partition int32, offset int64) (key, value []byte) {
	key = fmt.Appendf(nil, `{"id":%d}`, int64(partition)*1_000_000+offset)
	value = fmt.Appendf(nil, `{"partition":%d,"offset":%d,"text":"row %d \"quoted\" \\ ünïcode ✓"}`, partition, offset, offset)
	return key, value
}

// partitionPlan is the order in which the suite's records interleave their
// two partitions, and batchEnds where its batches end.
var (
	partitionPlan = []int32{0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 1}
	batchEnds     = []int{5, 6, 12}
	firstOffsets  = [2]int64{100, 7}
)

// batches returns the records the suite writes, in batches.
func (h SinkHarness) batches() [][]connect.SinkRecord {
	next := firstOffsets
	all := make([]connect.SinkRecord, len(partitionPlan))
	for i, p := range partitionPlan {
		off := next[p]
		next[p]++
		key, value := h.Record(p, off)
		all[i] = connect.SinkRecord{
			Topic:     h.Topic,
			Partition: p,
			Offset:    off,
			Timestamp: 1_700_000_000_000 + int64(i),
			Key:       key,
			Value:     value,
			Headers:   []connect.Header{{Key: "connecttest", Value: fmt.Appendf(nil, "%d", i)}},
		}
	}
	var out [][]connect.SinkRecord
	start := 0
	for _, end := range batchEnds {
		out = append(out, all[start:end])
		start = end
	}
	return out
}

// newSink builds and opens an instance of the harness's kind from block.
func newSink(t *testing.T, ctx context.Context, h SinkHarness, block string) connect.Sink {
	t.Helper()
	c := Connector(t, h.Kind, block)
	c.Topics = []string{h.Topic}
	s, err := h.Kind.NewSink(c, Env(t))
	if err != nil {
		t.Fatalf("NewSink: %v", err)
	}
	if err := s.Open(ctx); err != nil {
		t.Fatalf("Open: %v (class %s)", err, connect.Class(err))
	}
	return s
}

// expectation is what a destination should show: per partition, the
// values in order.
type expectation map[int32][][]byte

func (e expectation) add(records []connect.SinkRecord) {
	for _, r := range records {
		e[r.Partition] = append(e[r.Partition], r.Value)
	}
}

// check compares ReadBack's result with e.
func (h SinkHarness) check(t *testing.T, when string, e expectation) {
	t.Helper()
	got := h.ReadBack(t)
	partOf := map[string]int32{}
	want := 0
	for p, vs := range e {
		for _, v := range vs {
			partOf[string(v)] = p
		}
		want += len(vs)
	}
	if len(got) != want {
		t.Errorf("%s: ReadBack returned %d records, want %d", when, len(got), want)
	}
	if h.Unordered {
		var all [][]byte
		for _, vs := range e {
			all = append(all, vs...)
		}
		sortBytes(all)
		sorted := slices.Clone(got)
		sortBytes(sorted)
		if !slices.EqualFunc(sorted, all, bytes.Equal) {
			t.Errorf("%s: ReadBack differs from what was written\ngot:  %s\nwant: %s", when, show(sorted), show(all))
		}
		return
	}
	gotByPart := map[int32][][]byte{}
	for i, v := range got {
		p, ok := partOf[string(v)]
		if !ok {
			t.Errorf("%s: ReadBack's record %d is not one that was written: %s", when, i, v)
			continue
		}
		gotByPart[p] = append(gotByPart[p], v)
	}
	for p, vs := range e {
		if !slices.EqualFunc(gotByPart[p], vs, bytes.Equal) {
			t.Errorf("%s: partition %d read back differs (each partition must keep offset order)\ngot:  %s\nwant: %s", when, p, show(gotByPart[p]), show(vs))
		}
	}
}

func sortBytes(vs [][]byte) { slices.SortFunc(vs, bytes.Compare) }

func show(vs [][]byte) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = string(v)
		if len(parts[i]) > 60 {
			parts[i] = parts[i][:57] + "..."
		}
	}
	return "[" + strings.Join(parts, " | ") + "]"
}

func sinkWriteReadBack(t *testing.T, h SinkHarness) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	block := h.Config(t)
	batches := h.batches()
	seen := map[string]bool{}
	for _, b := range batches {
		for _, r := range b {
			if r.Value == nil || seen[string(r.Value)] {
				t.Fatalf("harness Record returned a nil or repeated value for partition %d offset %d", r.Partition, r.Offset)
			}
			seen[string(r.Value)] = true
		}
	}

	s := newSink(t, ctx, h, block)
	want := expectation{}
	for i, b := range batches {
		if err := s.Write(ctx, b); err != nil {
			t.Fatalf("Write of batch %d (%d records): %v (class %s)", i, len(b), err, connect.Class(err))
		}
		want.add(b)
	}
	if err := s.Write(ctx, nil); err != nil {
		t.Errorf("Write of an empty batch: %v", err)
	}
	h.check(t, "after Write, before Close (Write returns only once delivered)", want)
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	h.check(t, "after Close", want)

	// A restart, and the last batch again: the runtime redelivers what
	// it had not committed.
	last := batches[len(batches)-1]
	s = newSink(t, ctx, h, block)
	if err := s.Write(ctx, last); err != nil {
		t.Fatalf("Write of a redelivered batch after a restart: %v (class %s)", err, connect.Class(err))
	}
	if !h.Idempotent {
		want.add(last)
	}
	what := "after a restart and a redelivered batch (appended once more)"
	if h.Idempotent {
		what = "after a restart and a redelivered batch (idempotent: unchanged)"
	}
	h.check(t, what, want)
	if err := s.Close(); err != nil {
		t.Errorf("Close after redelivery: %v", err)
	}
}

func sinkBroken(t *testing.T, h SinkHarness) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s := newSink(t, ctx, h, h.Config(t))
	defer s.Close()
	h.Break(t)
	err := s.Write(ctx, h.batches()[0])
	switch {
	case err == nil:
		t.Fatal("Write to a broken destination succeeded")
	case ctx.Err() != nil:
		t.Fatalf("Write to a broken destination was still trying at the deadline: %v", err)
	case !errors.Is(err, connect.ErrRetriable):
		t.Errorf("Write to a broken destination: error %q is classed %s; want it marked connect.Retriable (the failure may clear)", err, connect.Class(err))
	}
	t.Logf("broken: %v", err)
}
