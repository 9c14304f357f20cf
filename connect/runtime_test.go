package connect_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/embedded"
	sluicelog "github.com/sluice-cdc/sluice/log"
)

// counterSource emits events for table test.items: event n creates key
// n%keys (or updates it), in batches of batch events, each batch ending at
// position "n". Failures can be injected.
type counterSource struct {
	k    *testKinds
	next int
	max  int
}

var itemsTable = &connect.Table{Database: "test", Name: "items",
	Columns: []connect.Column{{Name: "id", Type: "bigint", Kind: connect.KindInt64}, {Name: "n", Type: "bigint", Kind: connect.KindInt64, Optional: true}},
	Key:     []int{0}}

func (s *counterSource) Open(ctx context.Context, pos connect.Position) error {
	s.k.mu.Lock()
	s.k.opens = append(s.k.opens, string(pos))
	fail := s.k.failOpen
	s.k.mu.Unlock()
	if fail != nil {
		return fail
	}
	if pos != nil {
		n, err := strconv.Atoi(string(pos))
		if err != nil {
			return connect.Fatal(fmt.Errorf("bad position %q", pos))
		}
		s.next = n
	}
	return nil
}

func (s *counterSource) Read(ctx context.Context) (connect.SourceBatch, error) {
	s.k.mu.Lock()
	failAt := s.k.failReadAt
	s.k.mu.Unlock()
	if s.next == s.max && s.k.truncate {
		s.next++
		return connect.SourceBatch{Events: []connect.ChangeEvent{{
			Op: connect.OpTruncate, Table: itemsTable, Topic: "cnt.test.items",
			Source: connect.SourceInfo{Connector: "counter", Name: "cnt", Database: "test", Table: "items", Snapshot: "false"},
		}}, Position: connect.Position(strconv.Itoa(s.next))}, nil
	}
	if s.next >= s.max {
		<-ctx.Done()
		return connect.SourceBatch{}, ctx.Err()
	}
	if failAt > 0 && s.next >= failAt {
		s.k.mu.Lock()
		s.k.failReadAt = 0
		s.k.mu.Unlock()
		return connect.SourceBatch{}, connect.Retriable(errors.New("connection reset"))
	}
	var b connect.SourceBatch
	for i := 0; i < 10 && s.next < s.max && (i == 0 || s.k.tx == 0 || s.next%s.k.tx != 0); i++ {
		n := s.next
		s.next++
		op := connect.OpCreate
		var before []connect.Value
		if n >= 5 {
			op = connect.OpUpdate
			before = []connect.Value{connect.Int64(int64(n % 5)), connect.Int64(int64(n - 5))}
		}
		table, topic := itemsTable, "cnt.test.items"
		if s.k.keyless {
			table, topic = keylessTable, "cnt.test.log"
		}
		b.Events = append(b.Events, connect.ChangeEvent{
			Op: op, Table: table, Topic: topic,
			Before: before, After: []connect.Value{connect.Int64(int64(n % 5)), connect.Int64(int64(n))},
			Source: connect.SourceInfo{Connector: "counter", Name: "cnt", Database: "test", Table: "items", Snapshot: "false"},
		})
	}
	if s.k.tx == 0 || s.next%s.k.tx == 0 || s.next == s.max {
		b.Position = connect.Position(strconv.Itoa(s.next))
	}
	if s.k.internal {
		b.Messages = append(b.Messages, connect.Message{Topic: "__sluice.history.cnt",
			Key:   &connect.Struct{Fields: []connect.Field{{Name: "k", Value: connect.String("items")}}},
			Value: &connect.Struct{Fields: []connect.Field{{Name: "n", Value: connect.Int64(int64(s.next))}}}})
	}
	return b, nil
}

func (s *counterSource) Ack(ctx context.Context, pos connect.Position) error {
	s.k.mu.Lock()
	s.k.acked = string(pos)
	s.k.mu.Unlock()
	return nil
}

func (s *counterSource) Close() error { return nil }

var keylessTable = &connect.Table{Database: "test", Name: "log",
	Columns: []connect.Column{{Name: "id", Type: "bigint", Kind: connect.KindInt64}, {Name: "n", Type: "bigint", Kind: connect.KindInt64, Optional: true}}}

// memSink records what it was given; it can fail.
type memSink struct{ k *testKinds }

func (s *memSink) Open(ctx context.Context) error { return nil }
func (s *memSink) Write(ctx context.Context, recs []connect.Record) error {
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	if s.k.sinkFailures > 0 {
		s.k.sinkFailures--
		return connect.Retriable(errors.New("sink unavailable"))
	}
	for _, r := range recs {
		if s.k.poison != "" && strings.Contains(string(r.Value), s.k.poison) {
			return connect.Fatal(errors.New("poison record"))
		}
	}
	s.k.delivered = append(s.k.delivered, recs...)
	return nil
}
func (s *memSink) Close() error { return nil }

// testKinds is the registry of the test connectors and their shared state.
type testKinds struct {
	mu           sync.Mutex
	opens        []string
	acked        string
	failOpen     error
	failReadAt   int
	max          int
	delivered    []connect.Record
	sinkFailures int
	poison       string
	keyless      bool
	tx           int         // when set, positions only every tx events: transactions of several batches
	env          connect.Env // the last Env a source was built with
	truncate     bool        // a truncate of the keyed table after max events
	internal     bool        // each batch also writes a message to an internal topic
}

type srcKind struct{ k *testKinds }

func (srcKind) Name() string                               { return "counter-source" }
func (srcKind) Role() connect.Role                         { return connect.RoleSource }
func (srcKind) Check(*configs.Connector) []configs.Problem { return nil }
func (srcKind) Tasks(*configs.Connector) int               { return 1 }
func (s srcKind) NewSource(_ *configs.Connector, env connect.Env) (connect.Source, error) {
	s.k.mu.Lock()
	s.k.env = env
	s.k.mu.Unlock()
	return &counterSource{k: s.k, max: s.k.max}, nil
}

type sinkKind struct{ k *testKinds }

func (sinkKind) Name() string                               { return "mem-sink" }
func (sinkKind) Role() connect.Role                         { return connect.RoleSink }
func (sinkKind) Check(*configs.Connector) []configs.Problem { return nil }
func (sinkKind) Tasks(c *configs.Connector) int             { return c.TasksMax }
func (s sinkKind) NewSink(*configs.Connector, connect.Env) (connect.Sink, error) {
	return &memSink{k: s.k}, nil
}

type rig struct {
	t   *testing.T
	dir string
	log *sluicelog.Log
	k   *testKinds
	rt  *connect.Runtime
}

func newRig(t *testing.T, k *testKinds) *rig {
	r := &rig{t: t, dir: t.TempDir(), k: k}
	r.open()
	t.Cleanup(func() { r.close() })
	return r
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (r *rig) open() {
	l, err := sluicelog.Open(r.dir, sluicelog.Options{Logger: quiet()})
	if err != nil {
		r.t.Fatal(err)
	}
	r.log = l
	reg := connect.NewRegistry()
	reg.Register(srcKind{r.k})
	reg.Register(sinkKind{r.k})
	r.rt = connect.NewRuntime(embedded.New(l, 2, 1), reg, connect.RuntimeOptions{Logger: quiet(), MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, Version: "v9.9.9-test"})
}

func (r *rig) close() {
	if r.rt != nil {
		r.rt.Close()
		r.rt = nil
	}
	if r.log != nil {
		r.log.Close()
		r.log = nil
	}
}

func (r *rig) start(yamlText string) {
	r.t.Helper()
	cfg, err := configs.Parse("test.yaml", []byte("version: 1\nconnectors:\n"+yamlText), configs.Options{})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.rt.Start(cfg.Connectors); err != nil {
		r.t.Fatal(err)
	}
}

// eventually polls cond until it holds or 20 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// topicValues returns the "after.n" of every record of a topic in offset
// order per partition, and the number of tombstones.
func (r *rig) topicRecords(topic string) []sluicelog.Record {
	r.t.Helper()
	info, err := r.log.Topic(topic)
	if err != nil {
		return nil
	}
	var out []sluicelog.Record
	for p := int32(0); p < info.Partitions; p++ {
		for off := int64(0); ; {
			res, err := r.log.Read(topic, p, off, sluicelog.ReadOptions{})
			if err != nil {
				r.t.Fatal(err)
			}
			if len(res.Batches) == 0 {
				break
			}
			for _, b := range res.Batches {
				recs, _ := b.Records()
				out = append(out, recs...)
				off = b.LastOffset + 1
			}
		}
	}
	return out
}

func afterN(t *testing.T, value []byte) int {
	var env struct {
		After struct{ N int } `json:"after"`
		Op    string          `json:"op"`
	}
	if err := json.Unmarshal(value, &env); err != nil {
		t.Fatalf("value %s: %v", value, err)
	}
	return env.After.N
}

// TestSourceExactlyOnceAcrossRestarts runs a source, restarts the runtime
// in the middle (as after a crash), and checks every event is in the log
// exactly once and the source reopened at the stored position.
func TestSourceExactlyOnceAcrossRestarts(t *testing.T) {
	k := &testKinds{max: 100}
	r := newRig(t, k)
	r.start("  - {name: cnt, kind: counter-source}\n")
	eventually(t, "some events", func() bool { return len(r.topicRecords("cnt.test.items")) >= 30 })
	r.close()
	k.mu.Lock()
	k.max = 200
	k.mu.Unlock()
	r.open()
	r.start("  - {name: cnt, kind: counter-source}\n")
	eventually(t, "all events", func() bool { return len(r.topicRecords("cnt.test.items")) >= 200 })
	seen := map[int]int{}
	for _, rec := range r.topicRecords("cnt.test.items") {
		seen[afterN(t, rec.Value)]++
	}
	for n := 0; n < 200; n++ {
		if seen[n] != 1 {
			t.Fatalf("event %d in the log %d times", n, seen[n])
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.opens) != 2 || k.opens[0] != "" || k.opens[1] == "" {
		t.Fatalf("source opened at %q; want a fresh start, then the stored position", k.opens)
	}
	if k.acked != "200" {
		t.Fatalf("last ack %q, want 200", k.acked)
	}
	info, _ := r.log.Topic("cnt.test.items")
	if !info.Config.Compact || info.Config.MinCompactionLagMs != 7*24*3600*1000 {
		t.Fatalf("CDC topic config %+v", info.Config)
	}
	// Keys: {"id":n%5}; every key's records are in one partition, in order.
	part := map[string]int32{}
	for p := int32(0); p < info.Partitions; p++ {
		res, _ := r.log.Read("cnt.test.items", p, 0, sluicelog.ReadOptions{MaxBytes: 1 << 30})
		for _, b := range res.Batches {
			recs, _ := b.Records()
			for _, rec := range recs {
				if q, ok := part[string(rec.Key)]; ok && q != p {
					t.Fatalf("key %s in partitions %d and %d", rec.Key, q, p)
				}
				part[string(rec.Key)] = p
			}
		}
	}
	if len(part) != 5 {
		t.Fatalf("%d keys, want 5: %v", len(part), part)
	}
}

func TestSourceRetriesRetriableErrors(t *testing.T) {
	k := &testKinds{max: 50, failReadAt: 20}
	r := newRig(t, k)
	r.start("  - {name: cnt, kind: counter-source}\n")
	eventually(t, "all events after the retry", func() bool { return len(r.topicRecords("cnt.test.items")) >= 50 })
	if n := len(r.topicRecords("cnt.test.items")); n != 50 {
		t.Fatalf("%d records, want 50 (a retry must not repeat events)", n)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.opens) != 2 || k.opens[1] != "20" {
		t.Fatalf("reopened at %q, want the durable position 20", k.opens)
	}
}

// TestSourceLargeTransactionNotRepeated fails a source in the middle of a
// transaction of three batches, after two were written without a
// position: the source replays the transaction from its start, and the
// runtime must drop what the log already has.
func TestSourceLargeTransactionNotRepeated(t *testing.T) {
	for _, failAt := range []int{20, 50} { // in the first transaction (no position stored yet), and in the second
		t.Run(strconv.Itoa(failAt), func(t *testing.T) {
			k := &testKinds{max: 60, tx: 30, failReadAt: failAt}
			r := newRig(t, k)
			r.start("  - {name: cnt, kind: counter-source}\n")
			eventually(t, "all events after the retry", func() bool { return len(r.topicRecords("cnt.test.items")) >= 60 })
			seen := map[int]int{}
			for _, rec := range r.topicRecords("cnt.test.items") {
				seen[afterN(t, rec.Value)]++
			}
			for n := 0; n < 60; n++ {
				if seen[n] != 1 {
					t.Fatalf("event %d in the log %d times", n, seen[n])
				}
			}
			k.mu.Lock()
			opens := k.opens
			k.mu.Unlock()
			want := []string{"", ""}
			if failAt > 30 {
				want[1] = "30"
			}
			if !slices.Equal(opens, want) {
				t.Fatalf("opened at %q, want %q", opens, want)
			}
			// A restart after the end finds nothing partial left.
			r.close()
			r.open()
			r.start("  - {name: cnt, kind: counter-source}\n")
			eventually(t, "reopened", func() bool { k.mu.Lock(); defer k.mu.Unlock(); return len(k.opens) == 3 })
			if n := len(r.topicRecords("cnt.test.items")); n != 60 {
				t.Fatalf("%d records after a clean restart, want 60", n)
			}
		})
	}
}

// TestTruncateOfKeyedTable writes a truncate of a table with a key into
// every partition of its compacted topic, with the empty key {}.
func TestTruncateOfKeyedTable(t *testing.T) {
	k := &testKinds{max: 10, truncate: true}
	r := newRig(t, k)
	r.start("  - {name: cnt, kind: counter-source}\n")
	eventually(t, "the truncate", func() bool { return len(r.topicRecords("cnt.test.items")) >= 12 })
	info, err := r.log.Topic("cnt.test.items")
	if err != nil || info.Partitions != 2 || !info.Config.Compact {
		t.Fatalf("topic %+v, %v", info, err)
	}
	for p := int32(0); p < info.Partitions; p++ {
		res, err := r.log.Read("cnt.test.items", p, 0, sluicelog.ReadOptions{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		b := res.Batches[len(res.Batches)-1]
		recs, _ := b.Records()
		last := recs[len(recs)-1]
		if string(last.Key) != "{}" || !strings.Contains(string(last.Value), `"op":"t"`) {
			t.Errorf("partition %d ends with key %s value %s, want the truncate", p, last.Key, last.Value)
		}
	}
}

// TestInternalTopicsSkipTransforms checks that a source's messages to
// internal topics are not routed away by a transform meant for its events.
func TestInternalTopicsSkipTransforms(t *testing.T) {
	k := &testKinds{max: 20, internal: true}
	r := newRig(t, k)
	r.start("  - {name: cnt, kind: counter-source, transforms: [{type: route, regex: '^(.*)$', replacement: 'moved.$1'}]}\n")
	eventually(t, "the events, routed", func() bool { return len(r.topicRecords("moved.cnt.test.items")) >= 20 })
	eventually(t, "the internal messages, not routed", func() bool { return len(r.topicRecords("__sluice.history.cnt")) >= 2 })
	if n := len(r.topicRecords("moved.__sluice.history.cnt")); n != 0 {
		t.Fatalf("%d internal messages were routed", n)
	}
}

// TestSourceVersion checks that change events whose source left
// source.version empty carry the runtime's release, on the fast JSON path
// (no transforms) and through the envelope (a transform).
func TestSourceVersion(t *testing.T) {
	k := &testKinds{max: 5}
	r := newRig(t, k)
	r.start("  - {name: cnt, kind: counter-source}\n" +
		"  - {name: cnt2, kind: counter-source, transforms: [{type: route, regex: '^cnt[.](.*)$', replacement: 'routed.$1'}]}\n")
	for _, topic := range []string{"cnt.test.items", "routed.test.items"} {
		eventually(t, topic, func() bool { return len(r.topicRecords(topic)) >= 5 })
		for _, rec := range r.topicRecords(topic) {
			if rec.Value != nil && !strings.Contains(string(rec.Value), `"version":"v9.9.9-test"`) {
				t.Fatalf("%s: %s has no source.version v9.9.9-test", topic, rec.Value)
			}
		}
	}
}

// TestReadTopic reads a topic back through the Env a source gets.
func TestReadTopic(t *testing.T) {
	k := &testKinds{max: 30}
	r := newRig(t, k)
	r.start("  - {name: cnt, kind: counter-source}\n")
	eventually(t, "all events", func() bool { return len(r.topicRecords("cnt.test.items")) >= 30 })
	k.mu.Lock()
	read := k.env.ReadTopic
	k.mu.Unlock()
	if read == nil {
		t.Fatal("Env.ReadTopic is nil")
	}
	seen := map[int]int{}
	err := read(t.Context(), "cnt.test.items", func(rec connect.Record) error {
		seen[afterN(t, rec.Value)]++
		return nil
	})
	if err != nil || len(seen) != 30 {
		t.Fatalf("read %d distinct events, err %v", len(seen), err)
	}
	n := 0
	if err := read(t.Context(), "no.such.topic", func(connect.Record) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("unknown topic: %d records, err %v", n, err)
	}
	stop := errors.New("stop")
	if err := read(t.Context(), "cnt.test.items", func(connect.Record) error { return stop }); err != stop {
		t.Fatalf("fn's error: got %v", err)
	}
}

func TestSourceFatalErrorFailsTask(t *testing.T) {
	k := &testKinds{max: 10, failOpen: connect.Fatal(errors.New("password authentication failed for user \"x\""))}
	r := newRig(t, k)
	r.start("  - {name: cnt, kind: counter-source}\n")
	eventually(t, "FAILED", func() bool {
		st, _ := r.rt.Status("cnt")
		return len(st.Tasks) == 1 && st.Tasks[0].State == connect.StateFailed
	})
	st, _ := r.rt.Status("cnt")
	if !strings.Contains(st.Tasks[0].Trace, "password authentication failed") || st.Connector.State != connect.StateFailed {
		t.Fatalf("status %+v", st)
	}
	k.mu.Lock()
	k.failOpen = nil
	k.mu.Unlock()
	if err := r.rt.Restart("cnt", true, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "RUNNING after restart", func() bool {
		st, _ := r.rt.Status("cnt")
		return st.Tasks[0].State == connect.StateRunning && len(r.topicRecords("cnt.test.items")) == 10
	})
}

func TestSinkDeliversCommitsAndResumes(t *testing.T) {
	k := &testKinds{max: 60}
	r := newRig(t, k)
	conf := "  - {name: cnt, kind: counter-source}\n  - {name: out, kind: mem-sink, topics: [cnt.test.items], tasks_max: 2}\n"
	r.start(conf)
	eventually(t, "delivery", func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		return len(k.delivered) >= 60
	})
	offs, _ := r.log.FetchOffsets("connect-out")
	var committed int64
	for _, o := range offs {
		committed += o.Offset
	}
	if committed != 60 {
		t.Fatalf("committed %d, want 60: %+v", committed, offs)
	}
	r.close()
	k.mu.Lock()
	k.delivered = nil
	k.max = 80
	k.mu.Unlock()
	r.open()
	r.start(conf)
	eventually(t, "new records", func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		return len(k.delivered) >= 20
	})
	k.mu.Lock()
	for _, rec := range k.delivered {
		if n := afterN(t, rec.Value); n < 60 {
			t.Fatalf("record %d delivered again after its offset was committed", n)
		}
	}
	k.mu.Unlock()

	// Stop, reset offsets, resume: the sink replays from offset 0.
	if err := r.rt.AlterOffsets("out", connect.Offsets{}); !errors.Is(err, connect.ErrConflict) {
		t.Fatalf("altering offsets of a running connector: %v", err)
	}
	if err := r.rt.Stop("out"); err != nil {
		t.Fatal(err)
	}
	if err := r.rt.ResetOffsets("out"); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	k.delivered = nil
	k.mu.Unlock()
	if err := r.rt.Resume("out"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "replay from 0", func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		return len(k.delivered) >= 80
	})
	o, err := r.rt.Offsets("out")
	if err != nil || len(o.Offsets) != 2 {
		t.Fatalf("offsets %+v %v", o, err)
	}
}

func TestPauseResume(t *testing.T) {
	k := &testKinds{max: 1 << 30}
	r := newRig(t, k)
	r.start("  - {name: cnt, kind: counter-source}\n")
	eventually(t, "running", func() bool { return len(r.topicRecords("cnt.test.items")) > 0 })
	if err := r.rt.Pause("cnt"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "PAUSED", func() bool {
		st, _ := r.rt.Status("cnt")
		return st.Connector.State == connect.StatePaused && st.Tasks[0].State == connect.StatePaused
	})
	st, _ := r.log.State("cnt.test.items", 0)
	st1, _ := r.log.State("cnt.test.items", 1)
	before := st.LogEndOffset + st1.LogEndOffset
	// While paused nothing more is written (give it a moment to prove it).
	time.Sleep(50 * time.Millisecond)
	st, _ = r.log.State("cnt.test.items", 0)
	st1, _ = r.log.State("cnt.test.items", 1)
	if after := st.LogEndOffset + st1.LogEndOffset; after != before {
		t.Fatalf("paused source wrote %d records", after-before)
	}
	if err := r.rt.Resume("cnt"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "more after resume", func() bool {
		st, _ := r.log.State("cnt.test.items", 0)
		st1, _ := r.log.State("cnt.test.items", 1)
		return st.LogEndOffset+st1.LogEndOffset > before
	})
	if _, err := r.rt.Status("nope"); !errors.Is(err, connect.ErrUnknownConnector) {
		t.Fatalf("unknown connector: %v", err)
	}
}

func TestSinkRetryAndDeadLetter(t *testing.T) {
	k := &testKinds{max: 20, sinkFailures: 3, poison: `"n":7}`}
	r := newRig(t, k)
	r.start("  - {name: cnt, kind: counter-source}\n" +
		"  - {name: out, kind: mem-sink, topics: [cnt.test.items], errors: {tolerance: all, retries: 5, dead_letter_topic: out.dlq}}\n")
	eventually(t, "dead-lettered batch", func() bool { return len(r.topicRecords("out.dlq")) > 0 })
	dlq := r.topicRecords("out.dlq")
	h := map[string]string{}
	for _, hd := range dlq[0].Headers {
		h[hd.Key] = string(hd.Value)
	}
	if h["__connect.errors.topic"] != "cnt.test.items" || h["__connect.errors.stage"] != "sink" ||
		!strings.Contains(h["__connect.errors.exception.message"], "poison") || h["__connect.errors.offset"] == "" {
		t.Fatalf("dead-letter headers %v", h)
	}
	// Nothing is lost: every record was delivered or dead-lettered.
	eventually(t, "all records accounted for", func() bool {
		k.mu.Lock()
		n := len(k.delivered)
		k.mu.Unlock()
		return n+len(r.topicRecords("out.dlq")) >= 20
	})
}

var _ = yaml.Node{}

// TestKeylessTableTopic checks that a table without a key gets a topic
// that is not compacted (null keys cannot be) and no tombstones.
func TestKeylessTableTopic(t *testing.T) {
	k := &testKinds{max: 20, keyless: true}
	r := newRig(t, k)
	r.start("  - {name: cnt, kind: counter-source}\n")
	eventually(t, "events", func() bool { return len(r.topicRecords("cnt.test.log")) >= 20 })
	info, err := r.log.Topic("cnt.test.log")
	if err != nil || info.Config.Compact || !info.Config.Delete {
		t.Fatalf("keyless topic config %+v (%v)", info.Config, err)
	}
	for _, rec := range r.topicRecords("cnt.test.log") {
		if rec.Key != nil || rec.Value == nil {
			t.Fatalf("keyless record %+v", rec)
		}
	}
}

// TestSinkStartFromLatest checks that a sink with start_from: latest and no
// committed offsets skips what the topic held before it started.
func TestSinkStartFromLatest(t *testing.T) {
	k := &testKinds{max: 30}
	r := newRig(t, k)
	r.start("  - {name: cnt, kind: counter-source}\n")
	eventually(t, "first events", func() bool { return len(r.topicRecords("cnt.test.items")) >= 30 })
	r.close()
	k.mu.Lock()
	k.max = 40
	k.mu.Unlock()
	r.open()
	r.start("  - {name: out, kind: mem-sink, topics: [cnt.test.items], start_from: latest}\n")
	eventually(t, "sink assigned", func() bool {
		st, _ := r.rt.Status("out")
		return len(st.Tasks) == 1 && st.Tasks[0].Details["partitions"] == 2
	})
	r.start("  - {name: cnt, kind: counter-source}\n")
	eventually(t, "new records delivered", func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		return len(k.delivered) >= 10
	})
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, rec := range k.delivered {
		if n := afterN(t, rec.Value); n < 30 {
			t.Fatalf("start_from latest delivered old record %d", n)
		}
	}
}
