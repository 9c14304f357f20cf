package datagen_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/sources/datagen"
)

// seqOf returns an event's sequence number from its source block.
func seqOf(ev connect.ChangeEvent) int64 {
	for _, f := range ev.Source.Extra {
		if f.Name == "seq" {
			return f.Value.Int
		}
	}
	return -1
}

func TestAcceptance(t *testing.T) {
	connecttest.RunSource(t, connecttest.SourceHarness{
		Kind: datagen.New(),
		Config: func(t *testing.T) string {
			return "rate: 0\nbatch_size: 7\nrows: 5\nops: {u: 2, d: 1}\n"
		},
		BadConfigs: map[string]string{
			"rate: -1":                               "rate",
			"rate: fast":                             "rate",
			"batch_size: 0":                          "batch_size",
			"batch_size: 2000000":                    "batch_size",
			"rows: -3":                               "rows",
			"max_events: -1":                         "max_events",
			"seed: x":                                "seed",
			"bogus: 1":                               "bogus",
			"table: a/b":                             "table",
			"topic_prefix: ''":                       "topic_prefix",
			"columns: {}":                            "columns",
			"columns: []":                            "columns",
			"columns:\n  - {name: id, type: integr}": "columns[0].type",
			"columns:\n  - {type: int}":              "columns[0].name",
			"columns:\n  - {name: id, type: bigint, key: true}\n  - {name: id, type: text}": "columns[1].name",
			"columns:\n  - {name: flag, type: bool, key: true}":                             "columns[0].type",
			"columns:\n  - {name: flag, type: bool}":                                        "columns[0].type",
			"columns:\n  - {name: id, type: int, key: yes please}":                          "columns[0].key",
			"columns:\n  - {name: id, type: int, size: 4}":                                  "columns[0].size",
			"rows: 0\ncolumns:\n  - {name: id, type: int}":                                  "rows",
			"ops: {u: 0, d: 0}": "ops",
			"ops: {c: 1, u: 1}": "ops.c",
			"ops: {u: -1}":      "ops.u",
			"ops: {x: 1}":       "ops.x",
			"ops: [u, d]":       "ops",
		},
		Identity: func(ev connect.ChangeEvent) string { return fmt.Sprintf("seq=%d", seqOf(ev)) },
	})
}

// open builds and opens a source of config block at pos.
func open(t testing.TB, block string, pos connect.Position) *datagen.Source {
	t.Helper()
	c := connecttest.Connector(t, datagen.New(), block)
	src, err := datagen.New().NewSource(c, connect.Env{Name: c.Name})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Open(context.Background(), pos); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src.(*datagen.Source)
}

// read reads n events from src, as JSON, one per event.
func read(t testing.TB, src connect.Source, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for len(out) < n {
		b, err := src.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range b.Events {
			j, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, j)
		}
	}
	return out[:n]
}

const mixed = "rate: 0\nbatch_size: 13\nrows: 50\nops: {u: 3, d: 2}\nseed: 7\ncolumns:\n" +
	"  - {name: id, type: uuid, key: true}\n  - {name: n, type: int}\n  - {name: b, type: bigint}\n" +
	"  - {name: u, type: uint64}\n  - {name: t, type: text}\n  - {name: d, type: decimal}\n" +
	"  - {name: ok, type: bool}\n  - {name: ts, type: timestamptz}\n  - {name: day, type: date}\n" +
	"  - {name: doc, type: json}\n  - {name: raw, type: bytes}\n  - {name: ref, type: uuid}\n"

func TestDeterministic(t *testing.T) {
	a := read(t, open(t, mixed, nil), 2000)
	b := read(t, open(t, mixed, nil), 2000)
	for i := range a {
		if string(a[i]) != string(b[i]) {
			t.Fatalf("event %d differs between two sources of the same seed:\n%s\n%s", i, a[i], b[i])
		}
	}
}

func TestSeedChangesStream(t *testing.T) {
	a := read(t, open(t, "rate: 0\nseed: 1", nil), 50)
	b := read(t, open(t, "rate: 0\nseed: 2", nil), 50)
	same := 0
	for i := range a {
		if string(a[i]) == string(b[i]) {
			same++
		}
	}
	if same == len(a) {
		t.Fatal("seeds 1 and 2 gave the same stream")
	}
}

func TestResumeEqualsTail(t *testing.T) {
	const total = 1500
	full := read(t, open(t, mixed, nil), total)
	// Positions at transaction boundaries, and ones inside a transaction
	// (a batch_size changed between runs): event n is event n.
	for _, n := range []uint64{0, 13, 26, 650, 1001, 1499} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			tail := read(t, open(t, mixed, datagen.Position(n)), total-int(n))
			for i, j := range tail {
				if string(j) != string(full[int(n)+i]) {
					t.Fatalf("resumed at seq=%d, event %d differs from the full run's:\n%s\n%s", n, int(n)+i, j, full[int(n)+i])
				}
			}
		})
	}
}

func TestBatchesAndPositions(t *testing.T) {
	src := open(t, "rate: 0\nbatch_size: 10\nmax_events: 25", datagen.Position(4))
	want := []struct {
		n   int
		pos string
	}{{6, "seq=10"}, {10, "seq=20"}, {5, "seq=25"}}
	for i, w := range want {
		b, err := src.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Events) != w.n || string(b.Position) != w.pos {
			t.Fatalf("batch %d: %d events ending at %q, want %d at %q", i, len(b.Events), b.Position, w.n, w.pos)
		}
		last := b.Events[len(b.Events)-1]
		if last.Transaction.TotalOrder != int64((seqOf(last))%10+1) || last.Transaction.ID != fmt.Sprint(seqOf(last)/10) {
			t.Errorf("batch %d: last event's transaction %+v", i, *last.Transaction)
		}
	}
	// After max_events, Read waits for ctx.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if b, err := src.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read after max_events: %d events, %v; want it to wait for ctx", len(b.Events), err)
	}
	if err := src.Ack(context.Background(), datagen.Position(25)); err != nil {
		t.Fatal(err)
	}
	st := src.Status()
	if st["next_seq"] != uint64(25) || st["acked_seq"] != int64(25) {
		t.Errorf("Status = %v", st)
	}
}

func TestBadPosition(t *testing.T) {
	c := connecttest.Connector(t, datagen.New(), "")
	for _, pos := range []string{"", "seq=", "seq=-1", "seq=+1", "seq=01", "seq=1x", "lsn=1", "seq=99999999999999999999", " seq=1"} {
		src, err := datagen.New().NewSource(c, connect.Env{Name: "gen"})
		if err != nil {
			t.Fatal(err)
		}
		err = src.Open(context.Background(), connect.Position(pos))
		if !errors.Is(err, connect.ErrFatal) || !errors.Is(err, datagen.ErrBadPosition) {
			t.Errorf("Open(%q) = %v, want a fatal ErrBadPosition", pos, err)
		}
		if err := src.Ack(context.Background(), connect.Position(pos)); !errors.Is(err, connect.ErrFatal) {
			t.Errorf("Ack(%q) = %v, want fatal", pos, err)
		}
	}
}

func TestParsePosition(t *testing.T) {
	for _, n := range []uint64{0, 1, 10, 12345, 1<<64 - 1} {
		got, err := datagen.ParsePosition(datagen.Position(n))
		if err != nil || got != n {
			t.Errorf("ParsePosition(Position(%d)) = %d, %v", n, got, err)
		}
	}
}

func FuzzParsePosition(f *testing.F) {
	f.Add([]byte("seq=12"))
	f.Add([]byte("seq=007"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := datagen.ParsePosition(b)
		if err != nil {
			return
		}
		if string(datagen.Position(n)) != string(b) {
			t.Fatalf("ParsePosition accepted %q, which is not Position(%d)", b, n)
		}
	})
}

func TestRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := open(t, "rate: 100\nbatch_size: 10", nil)
		start := time.Now()
		n := 0
		for n < 200 {
			b, err := src.Read(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			n += len(b.Events)
		}
		// Event 199 is due at 1.99s; the fake clock makes this exact.
		if d := time.Since(start); d < 1990*time.Millisecond || d > 2*time.Second {
			t.Errorf("200 events at 100/s took %v, want 1.99s", d)
		}
	})
}

func TestRateSmallBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 20/s with transactions of 100: Reads return two events at a
		// time, and only the one ending a transaction has a position.
		src := open(t, "rate: 20\nbatch_size: 100", nil)
		positions := 0
		for n := 0; n < 200; {
			b, err := src.Read(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Events) != 2 {
				t.Fatalf("Read returned %d events, want 2", len(b.Events))
			}
			n += len(b.Events)
			if b.Position != nil {
				positions++
				if want := datagen.Position(uint64(n)); string(b.Position) != string(want) || n%100 != 0 {
					t.Fatalf("position %q after %d events", b.Position, n)
				}
			}
		}
		if positions != 2 {
			t.Errorf("%d positions in 200 events of transactions of 100", positions)
		}
	})
}

func TestRateCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := open(t, "rate: 0.1\nbatch_size: 1", nil)
		if _, err := src.Read(t.Context()); err != nil { // event 0 is due at once
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		if _, err := src.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Read = %v, want the ctx's deadline", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("Read returned after %v, want 1s (the ctx deadline)", d)
		}
	})
}

func BenchmarkDatagen(b *testing.B) {
	src := open(b, "rate: 0\nbatch_size: 1000", nil)
	ctx := context.Background()
	events := 0
	b.ReportAllocs()
	for b.Loop() {
		batch, err := src.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		events += len(batch.Events)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
}
