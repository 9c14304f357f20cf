package connect_test

import (
	"bytes"
	"context"
	"math"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/embedded"
	sluicelog "github.com/sluice-cdc/sluice/log"
)

// imgSource is a source whose batches the test hands it one by one; its
// kind asks for previous images.
type imgSource struct{ h *imgHarness }

func (s *imgSource) Open(ctx context.Context, pos connect.Position) error { return nil }
func (s *imgSource) Read(ctx context.Context) (connect.SourceBatch, error) {
	select {
	case b := <-s.h.batches:
		return b, nil
	case <-ctx.Done():
		return connect.SourceBatch{}, ctx.Err()
	}
}
func (s *imgSource) Ack(ctx context.Context, pos connect.Position) error {
	s.h.mu.Lock()
	s.h.acked = string(pos)
	s.h.mu.Unlock()
	return nil
}
func (s *imgSource) Close() error { return nil }

type imgKind struct {
	h    *imgHarness
	want bool
}

// PreviousImagesOf: the harness's tables (all when nil) get a key index.
func (k imgKind) PreviousImagesOf(t *connect.Table) bool {
	return k.h.tables == nil || k.h.tables[t.Name]
}

func (imgKind) Name() string                               { return "img-source" }
func (imgKind) Role() connect.Role                         { return connect.RoleSource }
func (imgKind) Check(*configs.Connector) []configs.Problem { return nil }
func (imgKind) Tasks(*configs.Connector) int               { return 1 }
func (k imgKind) PreviousImages() bool                     { return k.want }
func (k imgKind) NewSource(_ *configs.Connector, env connect.Env) (connect.Source, error) {
	k.h.mu.Lock()
	k.h.previous = env.Previous
	k.h.mu.Unlock()
	return &imgSource{h: k.h}, nil
}

// imgHarness runs one img-source connector over a real runtime and
// embedded log.
type imgHarness struct {
	t       testing.TB
	log     *sluicelog.Log
	rt      *connect.Runtime
	batches chan connect.SourceBatch
	n       int // batches written

	tables   map[string]bool // PreviousImagesOf; nil: every table
	mu       sync.Mutex
	acked    string
	previous func(context.Context, *connect.ChangeEvent) ([]connect.Value, bool, error)
}

// newImgHarness starts connector "img" (config: the connector's YAML
// fields after name and kind) and, before it, runs pre on the log.
func newImgHarness(t testing.TB, config string, want bool, pre func(*sluicelog.Log)) *imgHarness {
	return openImgHarness(t, t.TempDir(), config, want, pre)
}

// plainLog is a connect.Log without the optional features (no
// KeyLookup), as an external Kafka cluster would be.
type plainLog struct{ connect.Log }

func openImgHarness(t testing.TB, dir, config string, want bool, pre func(*sluicelog.Log)) *imgHarness {
	return openImgHarnessOver(t, dir, config, want, pre, nil)
}

func openImgHarnessOver(t testing.TB, dir, config string, want bool, pre func(*sluicelog.Log), wrap func(connect.Log) connect.Log) *imgHarness {
	l, err := sluicelog.Open(dir, sluicelog.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if pre != nil {
		pre(l)
	}
	h := &imgHarness{t: t, log: l, batches: make(chan connect.SourceBatch)}
	reg := connect.NewRegistry()
	reg.Register(imgKind{h: h, want: want})
	var cl connect.Log = embedded.New(l, 3, 1)
	if wrap != nil {
		cl = wrap(cl)
	}
	h.rt = connect.NewRuntime(cl, reg, connect.RuntimeOptions{Logger: quiet(), MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	t.Cleanup(h.close)
	cfg, err := configs.Parse("test.yaml", []byte("version: 1\nconnectors:\n  - name: img\n    kind: img-source\n"+config), configs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.rt.Start(cfg.Connectors); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the source to open", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.acked != "" || h.previous != nil || !want || wrap != nil
	})
	return h
}

// waitFor polls cond until it holds or 20 s pass (eventually, for
// benchmarks too).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *imgHarness) close() {
	if h.rt != nil {
		h.rt.Close()
		h.log.Close()
		h.rt = nil
	}
}

// write hands the source a batch of events and waits until it is durable.
func (h *imgHarness) write(evs ...connect.ChangeEvent) {
	h.t.Helper()
	h.n++
	pos := strconv.Itoa(h.n)
	h.batches <- connect.SourceBatch{Events: evs, Position: connect.Position(pos)}
	waitFor(h.t, "batch "+pos+" to be durable", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.acked == pos
	})
}

func (h *imgHarness) prev(ev connect.ChangeEvent) ([]connect.Value, bool) {
	h.t.Helper()
	h.mu.Lock()
	p := h.previous
	h.mu.Unlock()
	if p == nil {
		h.t.Fatal("Env.Previous is nil")
	}
	after, found, err := p(context.Background(), &ev)
	if err != nil {
		h.t.Fatalf("Previous: %v", err)
	}
	return after, found
}

// everyKind is a table with a column of every kind the json converter
// writes and reads back.
var everyKind = &connect.Table{Database: "shop", Schema: "public", Name: "every",
	Columns: []connect.Column{
		{Name: "id", Kind: connect.KindInt64},
		{Name: "b", Kind: connect.KindBool, Optional: true},
		{Name: "i16", Kind: connect.KindInt16, Optional: true},
		{Name: "i32", Kind: connect.KindInt32, Optional: true},
		{Name: "u64", Kind: connect.KindUint64, Optional: true},
		{Name: "f32", Kind: connect.KindFloat32, Optional: true},
		{Name: "f64", Kind: connect.KindFloat64, Optional: true},
		{Name: "nan", Kind: connect.KindFloat64, Optional: true},
		{Name: "dec", Kind: connect.KindDecimal, Precision: 10, Scale: 4, Optional: true},
		{Name: "s", Kind: connect.KindString, Optional: true},
		{Name: "by", Kind: connect.KindBytes, Optional: true},
		{Name: "d", Kind: connect.KindDate, Optional: true},
		{Name: "t", Kind: connect.KindTime, Prec: 3, Optional: true},
		{Name: "ttz", Kind: connect.KindTimeTZ, Prec: 6, Optional: true},
		{Name: "ts", Kind: connect.KindTimestamp, Prec: 6, Optional: true},
		{Name: "tstz", Kind: connect.KindTimestampTZ, Prec: 3, Optional: true},
		{Name: "iv", Kind: connect.KindInterval, Optional: true},
		{Name: "u", Kind: connect.KindUUID, Optional: true},
		{Name: "j", Kind: connect.KindJSON, Optional: true},
		{Name: "e", Kind: connect.KindEnum, Enum: []string{"red", "green"}, Optional: true},
		{Name: "set", Kind: connect.KindSet, Enum: []string{"a", "b"}, Optional: true},
		{Name: "bits", Kind: connect.KindBits, Length: 12, Optional: true},
		{Name: "geo", Kind: connect.KindGeometry, Optional: true},
		{Name: "arr", Kind: connect.KindArray, Elem: connect.KindInt32, Optional: true},
		{Name: "arr2", Kind: connect.KindArray, Elem: connect.KindString, Optional: true},
		{Name: "big", Kind: connect.KindString, Optional: true}, // a TOASTed text
	},
	Key: []int{0}}

// rowOf returns a row of everyKind with key id and values that change
// with n (n = 0: every column but the key null).
func rowOf(id int64, n int) []connect.Value {
	if n == 0 {
		row := make([]connect.Value, len(everyKind.Columns))
		for i, c := range everyKind.Columns {
			row[i] = connect.Null(c.Kind)
		}
		row[0] = connect.Int64(id)
		return row
	}
	k := int64(n)
	return []connect.Value{
		connect.Int64(id),
		connect.Bool(n%2 == 1),
		{Kind: connect.KindInt16, Int: -k},
		connect.Int32(int32(k * 1000)),
		connect.Uint64(math.MaxUint64 - uint64(k)),
		{Kind: connect.KindFloat32, Float: float64(float32(k) / 3)},
		connect.Float64(float64(k) / 7),
		connect.Float64(math.Inf(-1)),
		connect.Decimal(strconv.FormatInt(k, 10) + ".0500"),
		connect.String("row \"" + strconv.Itoa(n) + "\"\n\u2028 é <&>"),
		connect.Bytes([]byte{byte(n), 0, 0xff}),
		{Kind: connect.KindDate, Int: -719528 + k},
		{Kind: connect.KindTime, Int: 12*3600e6 + k*1000, Prec: 3},
		{Kind: connect.KindTimeTZ, Int: 3600e6 + k, Prec: 6, Offset: 19800},
		{Kind: connect.KindTimestamp, Int: -86400e6 + k, Prec: 6},
		{Kind: connect.KindTimestampTZ, Int: 1_714_564_800_000_000 + k*1000, Prec: 3},
		{Kind: connect.KindInterval, Str: "P" + strconv.Itoa(n) + "DT1.5S"},
		{Kind: connect.KindUUID, Str: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1" + strconv.Itoa(n%10)},
		connect.JSON(`{"n": ` + strconv.Itoa(n) + `, "a": [true, null]}`),
		{Kind: connect.KindEnum, Str: "green"},
		{Kind: connect.KindSet, Str: "a,b"},
		{Kind: connect.KindBits, Int: 12, Bytes: []byte{0x0a, byte(n)}},
		{Kind: connect.KindGeometry, Bytes: []byte{1, 1, 0, 0, 0, byte(n)}},
		{Kind: connect.KindArray, List: []connect.Value{connect.Int32(int32(k)), connect.Null(connect.KindInt32)}},
		{Kind: connect.KindArray, List: []connect.Value{{Kind: connect.KindArray, List: []connect.Value{connect.String("x")}}, {Kind: connect.KindArray, List: []connect.Value{}}}},
		connect.String(string(bytes.Repeat([]byte{'t'}, 3000+n))),
	}
}

func everyEvent(op connect.Op, before, after []connect.Value) connect.ChangeEvent {
	return connect.ChangeEvent{Op: op, Table: everyKind, Topic: "pg.public.every", Before: before, After: after,
		Source: connect.SourceInfo{Connector: "postgresql", Name: "pg", Database: "shop", Schema: "public", Table: "every", TxID: "42"}}
}

// toastUpdate is an update of row id whose big text is unchanged and
// unknown (null here), the event the postgres source asks Previous about.
func toastUpdate(id int64, n int) connect.ChangeEvent {
	after := rowOf(id, n)
	after[len(after)-1] = connect.Null(connect.KindString)
	return everyEvent(connect.OpUpdate, nil, after)
}

// sameRow compares images value for value: floats by their bits, empty
// and nil bytes alike.
func sameRow(t *testing.T, got, want []connect.Value) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("image of %d values, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameValue(got[i], want[i]) {
			t.Errorf("column %s: %#v, want %#v", everyKind.Columns[i].Name, got[i], want[i])
		}
	}
}

func sameValue(a, b connect.Value) bool {
	if a.Kind != b.Kind || a.Null != b.Null {
		return false
	}
	if a.Null {
		return true
	}
	if a.Int != b.Int || a.Uint != b.Uint || math.Float64bits(a.Float) != math.Float64bits(b.Float) || a.Str != b.Str ||
		!bytes.Equal(a.Bytes, b.Bytes) || a.Prec != b.Prec || a.Offset != b.Offset || len(a.List) != len(b.List) || (a.Struct == nil) != (b.Struct == nil) {
		return false
	}
	for i := range a.List {
		if !sameValue(a.List[i], b.List[i]) {
			return false
		}
	}
	return true
}

// withoutSRID is a row as it reads back: a geometry's SRID is not
// written (see AppendJSON).
func withoutSRID(row []connect.Value) []connect.Value {
	out := append([]connect.Value(nil), row...)
	for i := range out {
		if out[i].Kind == connect.KindGeometry {
			out[i].Int = 0
		}
	}
	return out
}

// TestPreviousRoundTrip writes rows through a real runtime and embedded
// log and reads each row's last image back with Env.Previous, value for
// value, for every converter and with the unwrap transform.
func TestPreviousRoundTrip(t *testing.T) {
	for _, tc := range []struct{ name, config string }{
		{"json", ""},
		{"json-schema", "    converter: json-schema\n"},
		{"raw", "    converter: raw\n"},
		{"unwrap", "    transforms: [{type: unwrap, delete_handling: rewrite}]\n"},
		{"unwrap json-schema", "    converter: json-schema\n    transforms: [{type: unwrap, delete_handling: rewrite, add_fields: [op, table, lsn]}]\n"},
		{"filter and route", "    transforms: [{type: filter, tables: [public.every]}, {type: route, regex: '^pg\\.(.*)$', replacement: 'r.$1'}]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newImgHarness(t, tc.config, true, nil)
			if _, found := h.prev(toastUpdate(1, 9)); found {
				t.Fatal("found a row never written")
			}
			// Several rows (the topic has 3 partitions), each updated.
			h.write(everyEvent(connect.OpRead, nil, rowOf(1, 1)), everyEvent(connect.OpCreate, nil, rowOf(2, 0)), everyEvent(connect.OpCreate, nil, rowOf(3, 3)))
			h.write(everyEvent(connect.OpUpdate, rowOf(1, 1), rowOf(1, 4)), everyEvent(connect.OpUpdate, nil, rowOf(3, 5)))
			h.write(everyEvent(connect.OpUpdate, rowOf(1, 4), rowOf(1, 6)))
			for id, want := range map[int64][]connect.Value{1: rowOf(1, 6), 2: rowOf(2, 0), 3: rowOf(3, 5)} {
				got, found := h.prev(toastUpdate(id, 7))
				if !found {
					t.Fatalf("row %d not found", id)
				}
				sameRow(t, got, withoutSRID(want))
			}

			// A key change: the row is found under its old key.
			got, found := h.prev(everyEvent(connect.OpUpdate, rowOf(3, 0), rowOf(30, 8)))
			if !found {
				t.Fatal("old key of a key change not found")
			}
			sameRow(t, got, withoutSRID(rowOf(3, 5)))

			// A delete: the row is gone (its tombstone, or with unwrap the
			// rewritten delete, is the latest record).
			h.write(everyEvent(connect.OpDelete, rowOf(1, 6), nil))
			if _, found := h.prev(toastUpdate(1, 7)); found {
				t.Fatal("deleted row found")
			}
			if _, found := h.prev(everyEvent(connect.OpDelete, rowOf(2, 0), nil)); !found {
				t.Fatal("Previous of a delete: the row's image not found")
			}
			// Written again, it is found again.
			h.write(everyEvent(connect.OpCreate, nil, rowOf(1, 10)))
			got, found = h.prev(toastUpdate(1, 11))
			if !found {
				t.Fatal("re-created row not found")
			}
			sameRow(t, got, withoutSRID(rowOf(1, 10)))
		})
	}
}

// TestPreviousUnwrapDropsDeletes shows the documented gap: unwrap's default
// delete handling leaves no trace of a delete in the log.
func TestPreviousUnwrapDropsDeletes(t *testing.T) {
	h := newImgHarness(t, "    transforms: [{type: unwrap}]\n", true, nil)
	h.write(everyEvent(connect.OpCreate, nil, rowOf(1, 1)))
	h.write(everyEvent(connect.OpDelete, rowOf(1, 1), nil))
	if _, found := h.prev(toastUpdate(1, 2)); !found {
		t.Fatal("with unwrap dropping deletes, the last image before the delete is the latest record")
	}
}

func TestPreviousNotFound(t *testing.T) {
	t.Run("a column dropped", func(t *testing.T) {
		h := newImgHarness(t, "    transforms: [{type: drop, columns: [public.every.s]}]\n", true, nil)
		h.write(everyEvent(connect.OpCreate, nil, rowOf(1, 1)))
		if _, found := h.prev(toastUpdate(1, 2)); found {
			t.Fatal("found an image whose column s a transform dropped")
		}
	})
	t.Run("a column masked", func(t *testing.T) {
		h := newImgHarness(t, "    transforms: [{type: mask, columns: [big], hash: sha256}]\n", true, nil)
		h.write(everyEvent(connect.OpCreate, nil, rowOf(1, 1)))
		if _, found := h.prev(toastUpdate(1, 2)); found {
			t.Fatal("found an image whose column big is masked")
		}
	})
	t.Run("a column of another table masked", func(t *testing.T) {
		h := newImgHarness(t, "    transforms: [{type: mask, columns: [public.other.big]}]\n", true, nil)
		h.write(everyEvent(connect.OpCreate, nil, rowOf(1, 1)))
		if _, found := h.prev(toastUpdate(1, 2)); !found {
			t.Fatal("a mask of another table's column hid this one's image")
		}
	})
	t.Run("a filter drops the row", func(t *testing.T) {
		h := newImgHarness(t, "    transforms: [{type: filter, expression: 'after.id != 1'}]\n", true, nil)
		h.write(everyEvent(connect.OpCreate, nil, rowOf(1, 1)), everyEvent(connect.OpCreate, nil, rowOf(2, 1)))
		if _, found := h.prev(toastUpdate(1, 2)); found {
			t.Fatal("found a filtered row")
		}
		if _, found := h.prev(toastUpdate(2, 2)); !found {
			t.Fatal("row 2 not found")
		}
	})
	t.Run("a keyless table", func(t *testing.T) {
		h := newImgHarness(t, "", true, nil)
		ev := everyEvent(connect.OpCreate, nil, rowOf(1, 1))
		ev.Table = &connect.Table{Database: "shop", Schema: "public", Name: "every", Columns: everyKind.Columns}
		h.write(ev)
		if _, found := h.prev(ev); found {
			t.Fatal("found a row of a table without a key")
		}
		if info, err := h.log.Topic("pg.public.every"); err != nil || info.KeyIndex {
			t.Fatalf("a keyless topic got a key index: %+v %v", info, err)
		}
	})
}

// TestPreviousIndexesExistingTopics: topics created without a key index
// (before the kind asked for previous images, or by hand) get one when the
// task first writes to them or first looks a row up.
func TestPreviousIndexesExistingTopics(t *testing.T) {
	t.Run("first write", func(t *testing.T) {
		h := newImgHarness(t, "", true, func(l *sluicelog.Log) {
			if _, err := l.CreateTopic(sluicelog.TopicSpec{Name: "pg.public.every", Partitions: 3, Config: map[string]string{"cleanup.policy": "compact"}}); err != nil {
				t.Fatal(err)
			}
		})
		h.write(everyEvent(connect.OpCreate, nil, rowOf(1, 1)))
		got, found := h.prev(toastUpdate(1, 2))
		if !found {
			t.Fatal("row not found in a topic created without a key index")
		}
		sameRow(t, got, withoutSRID(rowOf(1, 1)))
	})
	t.Run("first lookup after a restart", func(t *testing.T) {
		dir := t.TempDir()
		h := openImgHarness(t, dir, "", false, nil) // the kind did not ask yet
		h.write(everyEvent(connect.OpCreate, nil, rowOf(1, 1)), everyEvent(connect.OpCreate, nil, rowOf(2, 2)))
		h.write(everyEvent(connect.OpUpdate, nil, rowOf(1, 3)))
		h.close()
		h = openImgHarness(t, dir, "", true, nil)
		for id, want := range map[int64][]connect.Value{1: rowOf(1, 3), 2: rowOf(2, 2)} {
			got, found := h.prev(toastUpdate(id, 4))
			if !found {
				t.Fatalf("row %d not found after the restart", id)
			}
			sameRow(t, got, withoutSRID(want))
		}
		if info, _ := h.log.Topic("pg.public.every"); !info.KeyIndex {
			t.Fatalf("topic not indexed: %+v", info)
		}
	})
}

// TestPreviousOnlyForTablesThatAsk: with TablePreviousImager only the
// topics of the tables it names get a key index; a lookup in another
// table's topic gives that topic one then.
func TestPreviousOnlyForTablesThatAsk(t *testing.T) {
	h := newImgHarness(t, "", true, nil)
	h.tables = map[string]bool{"every": true} // read when topics are created: before the first write
	other := *everyKind
	other.Name = "other"
	ev := everyEvent(connect.OpCreate, nil, rowOf(1, 1))
	ev.Table, ev.Topic = &other, "pg.public.other"
	h.write(everyEvent(connect.OpCreate, nil, rowOf(1, 1)), ev)
	if info, _ := h.log.Topic("pg.public.every"); !info.KeyIndex {
		t.Fatalf("every: %+v, want a key index", info)
	}
	if info, _ := h.log.Topic("pg.public.other"); info.KeyIndex {
		t.Fatalf("other: %+v, want no key index", info)
	}
	up := toastUpdate(1, 2)
	up.Table, up.Topic = &other, "pg.public.other"
	got, found := h.prev(up)
	if !found {
		t.Fatal("a row of the other table not found")
	}
	sameRow(t, got, withoutSRID(rowOf(1, 1)))
	if info, _ := h.log.Topic("pg.public.other"); !info.KeyIndex {
		t.Fatalf("other after a lookup: %+v, want a key index", info)
	}
}

// TestPreviousNeedsKeyLookup: over a Log without KeyLookup, Previous is
// nil, and topics are created as ever.
func TestPreviousNeedsKeyLookup(t *testing.T) {
	h := openImgHarnessOver(t, t.TempDir(), "", true, nil, func(l connect.Log) connect.Log { return plainLog{l} })
	h.write(everyEvent(connect.OpCreate, nil, rowOf(1, 1)))
	h.mu.Lock()
	p := h.previous
	h.mu.Unlock()
	if p != nil {
		t.Fatal("Env.Previous set over a log without KeyLookup")
	}
}

// TestPreviousOnlyForKindsThatAsk: a kind that does not implement
// PreviousImager (or says false) gets no Previous and no key index.
func TestPreviousOnlyForKindsThatAsk(t *testing.T) {
	h := newImgHarness(t, "", false, nil)
	h.write(everyEvent(connect.OpCreate, nil, rowOf(1, 1)))
	h.mu.Lock()
	p := h.previous
	h.mu.Unlock()
	if p != nil {
		t.Fatal("Env.Previous set for a kind that did not ask")
	}
	if info, err := h.log.Topic("pg.public.every"); err != nil || info.KeyIndex {
		t.Fatalf("topic %+v %v: want no key index", info, err)
	}
}

// BenchmarkPrevious measures Env.Previous end to end on rows of
// everyKind (26 columns of every kind, one a 3 KB text): envelope,
// transforms, key encoding, the key index lookup, reading the JSON back.
// The rows were written 10 to a batch.
func BenchmarkPrevious(b *testing.B) {
	for _, tc := range []struct{ name, config string }{
		{"json", ""},
		{"json-schema", "    converter: json-schema\n"},
		{"unwrap", "    transforms: [{type: unwrap}]\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := newImgHarness(b, tc.config, true, nil)
			const rows = 1000
			for i := 0; i < rows; i += 10 {
				var evs []connect.ChangeEvent
				for j := i; j < i+10; j++ {
					evs = append(evs, everyEvent(connect.OpCreate, nil, rowOf(int64(j), j+1)))
				}
				h.write(evs...)
			}
			evs := make([]connect.ChangeEvent, rows)
			for i := range evs {
				evs[i] = toastUpdate(int64(i), i+2)
			}
			h.mu.Lock()
			prev := h.previous
			h.mu.Unlock()
			ctx := context.Background()
			b.ResetTimer()
			start, cpu := time.Now(), cpuSeconds()
			for i := 0; i < b.N; i++ {
				if _, found, err := prev(ctx, &evs[(i*7)%rows]); err != nil || !found {
					b.Fatalf("row %d: %v %v", (i*7)%rows, found, err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lookups/s")
			b.ReportMetric((cpuSeconds()-cpu)/float64(b.N)*1e6, "cpu-µs/lookup")
		})
	}
}

// cpuSeconds is the process's CPU time, user and system: on a busy
// machine a steadier measure of cost than the wall clock.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
