package connect

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// slowJSON is what the general path writes: Envelope, then the json
// converter.
func slowJSON(t *testing.T, ev *ChangeEvent) (key, value []byte, err error) {
	t.Helper()
	k, v := Envelope(ev)
	return jsonConverter{}.Encode(&Message{Topic: ev.Topic, Key: k, Value: v, Event: ev})
}

func checkSameJSON(t *testing.T, what string, ev *ChangeEvent) {
	t.Helper()
	var enc eventEncoder
	checkSameJSONWith(t, &enc, what, ev)
}

func checkSameJSONWith(t *testing.T, enc *eventEncoder, what string, ev *ChangeEvent) {
	t.Helper()
	wk, wv, werr := slowJSON(t, ev)
	gk, gv, gerr := enc.encode(ev)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("%s: error %v, the general path's %v", what, gerr, werr)
	}
	if werr != nil {
		return
	}
	if !bytes.Equal(gk, wk) || (gk == nil) != (wk == nil) {
		t.Fatalf("%s: key\n%s\nwant\n%s", what, gk, wk)
	}
	if !bytes.Equal(gv, wv) {
		t.Fatalf("%s: value\n%s\nwant\n%s", what, gv, wv)
	}
}

// TestEventJSONMatchesEnvelope checks the no-transform fast path writes
// byte for byte what Envelope and the json converter write.
func TestEventJSONMatchesEnvelope(t *testing.T) {
	for _, op := range []Op{OpCreate, OpUpdate, OpDelete, OpRead, OpTruncate} {
		ev := customerEvent(op)
		checkSameJSON(t, "customer "+op.String(), &ev)
	}
	// Sparse source, no transaction, no key, a short image, a text txId,
	// a null without a kind.
	ev := customerEvent(OpCreate)
	ev.Source = SourceInfo{Connector: "mysql", Name: "m", TxID: "0-1-55"}
	ev.Transaction = nil
	ev.Table = &Table{Name: "log", Columns: customers.Columns}
	ev.After = ev.After[:2]
	checkSameJSON(t, "sparse", &ev)
	ev.After = []Value{{Null: true}, String("x")}
	checkSameJSON(t, "null without kind", &ev)

	// Random rows of every kind, through one encoder whose source block
	// cache sees events that share their Extra (as a snapshot chunk's
	// do) with other fields changed, and records that must stay intact
	// after later ones are written.
	r := rand.New(rand.NewSource(7))
	var enc eventEncoder
	var prevExtra []Field
	type written struct {
		key, value, wantKey, wantValue []byte
	}
	var kept []written
	for i := range 3000 {
		n := 1 + r.Intn(6)
		tab := &Table{Database: "d", Schema: "s", Name: "t"}
		before, after := make([]Value, n), make([]Value, n)
		for c := range n {
			after[c] = genValue(r, 2)
			before[c] = genValue(r, 2)
			tab.Columns = append(tab.Columns, Column{Name: fmt.Sprintf("c\"%d\u2028", c), Kind: after[c].Kind, Optional: true})
		}
		if r.Intn(2) == 0 {
			tab.Key = []int{r.Intn(n)}
		}
		op := []Op{OpCreate, OpUpdate, OpDelete, OpRead}[r.Intn(4)]
		ev := ChangeEvent{Op: op, Table: tab, Topic: "p.s.t", TsMs: r.Int63(),
			Source: SourceInfo{Connector: "postgresql", Name: "p", Version: "v", TsMs: r.Int63(), Database: "d", Schema: "s", Table: "t",
				Snapshot: []string{"", "true", "incremental"}[r.Intn(3)], TxID: fmt.Sprint(r.Intn(1000)),
				Extra: []Field{{Name: "lsn", Value: genValue(r, 0), Optional: true}}}}
		if r.Intn(2) == 0 {
			// Fields from small ranges: the next event often shares
			// the first one or two (as a binlog rows event's rows do).
			ev.Source.TsMs, ev.Source.TxID = 9, "9"
			ev.Source.Extra = []Field{
				{Name: "file", Value: String([]string{"a", "b"}[r.Intn(2)])},
				{Name: "pos", Value: Int64(int64(r.Intn(2)))},
				{Name: "row", Value: Int32(int32(r.Intn(3)))},
				{Name: "gtid", Value: []Value{Null(KindString), String("g")}[r.Intn(2)], Optional: true},
			}
		}
		if prevExtra != nil && r.Intn(3) == 0 {
			ev.Source.Extra = prevExtra
			if r.Intn(2) == 0 {
				ev.Source.TsMs, ev.Source.Snapshot = 5, "last"
			}
		}
		prevExtra = ev.Source.Extra
		if r.Intn(2) == 0 {
			ev.Transaction = &Transaction{ID: "x", TotalOrder: r.Int63(), DataCollectionOrder: 3}
		}
		switch op {
		case OpCreate, OpRead:
			ev.After = after
		case OpUpdate:
			ev.Before, ev.After = before, after
		case OpDelete:
			ev.Before = before
		}
		if r.Intn(50) == 0 && ev.After != nil {
			// A large value: larger than the encoder's room.
			ev.After = append([]Value{String(strings.Repeat("x", 100_000))}, ev.After[1:]...)
			ev.Table.Columns[0].Kind = KindString
		}
		checkSameJSONWith(t, &enc, fmt.Sprint("random event ", i), &ev)
		k, v, _ := enc.encode(&ev)
		wk, wv, _ := slowJSON(t, &ev)
		kept = append(kept, written{k, v, wk, wv})
	}
	for i, w := range kept {
		if !bytes.Equal(w.key, w.wantKey) || !bytes.Equal(w.value, w.wantValue) {
			t.Fatalf("record %d changed after later records were written:\n%s\nwant\n%s", i, w.value, w.wantValue)
		}
	}
}

func BenchmarkEventJSON(b *testing.B) {
	ev := customerEvent(OpUpdate)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		var enc eventEncoder
		for range b.N {
			enc.encode(&ev)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("envelope", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			k, v := Envelope(&ev)
			jsonConverter{}.Encode(&Message{Topic: ev.Topic, Key: k, Value: v})
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
