package datagen

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"testing"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
)

func generatorOf(t *testing.T, block string) *generator {
	t.Helper()
	cfg, problems := ParseConfig(connecttest.Connector(t, New(), block))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	return newGenerator(cfg)
}

// keyOf renders an event's key columns.
func keyOf(ev connect.ChangeEvent) string {
	row := ev.After
	if row == nil {
		row = ev.Before
	}
	s := ""
	for _, i := range ev.Table.Key {
		s += row[i].GoString() + ","
	}
	return s
}

// TestStreamIsConsistent replays the stream against a table: creates only
// for keys without a row, updates and deletes only for keys with one, and
// Before always the row as it is.
func TestStreamIsConsistent(t *testing.T) {
	for _, tc := range []struct {
		block   string
		ops     map[connect.Op]bool // ops that must occur
		creates int                 // exact number of creates, or -1
	}{
		{"rows: 40", map[connect.Op]bool{'c': true, 'u': true}, 40},
		{"rows: 40\nops: {u: 3, d: 2}", map[connect.Op]bool{'c': true, 'u': true, 'd': true}, -1},
		{"rows: 40\nops: {u: 1, d: 50}", map[connect.Op]bool{'c': true, 'u': true, 'd': true}, -1},
		{"rows: 40\nops: {u: 0, d: 1}", map[connect.Op]bool{'c': true, 'd': true}, -1},
		{"rows: 1\nops: {u: 1, d: 1}", map[connect.Op]bool{'c': true, 'u': true, 'd': true}, -1},
		{"rows: 0", map[connect.Op]bool{'c': true}, 4000},
		{"rows: 7\ncolumns: [{name: k, type: text}, {name: v, type: json}]\nops: {u: 1, d: 1}", map[connect.Op]bool{'c': true, 'u': true, 'd': true}, -1},
	} {
		t.Run(tc.block, func(t *testing.T) {
			g := generatorOf(t, tc.block)
			rows := map[string][]connect.Value{}
			count := map[connect.Op]int{}
			for n := uint64(0); n < 4000; n++ {
				ev := g.event(n)
				k := keyOf(ev)
				row, exists := rows[k]
				count[ev.Op]++
				switch ev.Op {
				case connect.OpCreate:
					if exists || ev.Before != nil {
						t.Fatalf("event %d creates key %s, which has a row", n, k)
					}
					rows[k] = ev.After
				case connect.OpUpdate, connect.OpDelete:
					if !exists {
						t.Fatalf("event %d: %s of key %s, which has no row", n, ev.Op, k)
					}
					if !reflect.DeepEqual(ev.Before, row) {
						t.Fatalf("event %d: %s of key %s: Before = %v, the row is %v", n, ev.Op, k, ev.Before, row)
					}
					if ev.Op == connect.OpDelete {
						if ev.After != nil {
							t.Fatalf("event %d: a delete with After", n)
						}
						delete(rows, k)
					} else {
						rows[k] = ev.After
					}
				}
			}
			for op := range tc.ops {
				if count[op] == 0 {
					t.Errorf("no %q events in %v", op, count)
				}
			}
			for op, c := range count {
				if c > 0 && !tc.ops[op] {
					t.Errorf("%d unexpected %q events", c, op)
				}
			}
			if tc.creates >= 0 && count['c'] != tc.creates {
				t.Errorf("%d creates, want %d", count['c'], tc.creates)
			}
			t.Logf("ops: %v", count)
		})
	}
}

// TestCyclesTouchEveryKey: each run of rows events touches every key once.
func TestCyclesTouchEveryKey(t *testing.T) {
	for _, rows := range []uint64{1, 2, 3, 12, 97, 1000} {
		g := generatorOf(t, fmt.Sprintf("rows: %d", rows))
		for c := uint64(0); c < 5; c++ {
			seen := make([]bool, rows)
			for i := uint64(0); i < rows; i++ {
				k, v := g.touch(c*rows + i)
				if k >= rows || seen[k] || v != c {
					t.Fatalf("rows %d, cycle %d, place %d: key %d (seen %v), touch %d", rows, c, i, k, k < rows && seen[k], v)
				}
				seen[k] = true
			}
		}
	}
}

// TestDeletedMatchesRecurrence checks the walk-back against the recurrence
// del(v) = v > 0 ∧ draw(v) ∧ ¬del(v−1).
func TestDeletedMatchesRecurrence(t *testing.T) {
	g := generatorOf(t, "rows: 10\nops: {u: 1, d: 3}")
	for k := uint64(0); k < 10; k++ {
		prev := false
		for v := uint64(0); v < 300; v++ {
			want := v > 0 && g.draw(k, v) && !prev
			if got := g.deleted(k, v); got != want {
				t.Fatalf("key %d touch %d: deleted = %v, want %v", k, v, got, want)
			}
			prev = want
		}
	}
}

var (
	decimalRE = regexp.MustCompile(`^-?[0-9]+\.[0-9]{2}$`)
	uuidRE    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

func TestValues(t *testing.T) {
	g := generatorOf(t, "rows: 100\ncolumns:\n"+
		"  - {name: id, type: uuid, key: true}\n  - {name: n, type: int}\n  - {name: b, type: bigint}\n"+
		"  - {name: u, type: uint64}\n  - {name: t, type: text}\n  - {name: d, type: decimal}\n"+
		"  - {name: ok, type: bool}\n  - {name: ts, type: timestamptz}\n  - {name: day, type: date}\n"+
		"  - {name: doc, type: json}\n  - {name: raw, type: bytes}\n  - {name: ref, type: uuid}\n")
	wantKinds := []connect.Kind{connect.KindUUID, connect.KindInt32, connect.KindInt64, connect.KindUint64, connect.KindString,
		connect.KindDecimal, connect.KindBool, connect.KindTimestampTZ, connect.KindDate, connect.KindJSON, connect.KindBytes, connect.KindUUID}
	keys := map[string]bool{}
	bigUint := false
	for n := uint64(0); n < 500; n++ {
		ev := g.event(n)
		row := ev.After
		if row == nil {
			row = ev.Before
		}
		if n < 100 {
			if keys[row[0].Str] {
				t.Fatalf("uuid key %s repeats in the first cycle", row[0].Str)
			}
			keys[row[0].Str] = true
		}
		for i, v := range row {
			if v.Kind != wantKinds[i] || v.Kind != ev.Table.Columns[i].Kind {
				t.Fatalf("column %d: kind %s, want %s", i, v.Kind, wantKinds[i])
			}
		}
		if !uuidRE.MatchString(row[0].Str) || !uuidRE.MatchString(row[11].Str) {
			t.Fatalf("bad uuid %q or %q", row[0].Str, row[11].Str)
		}
		if !decimalRE.MatchString(row[5].Str) {
			t.Fatalf("bad decimal %q", row[5].Str)
		}
		if !json.Valid([]byte(row[9].Str)) {
			t.Fatalf("bad json %q", row[9].Str)
		}
		if len(row[10].Bytes) != 16 || row[1].Int < 0 || row[1].Int > 1<<31-1 {
			t.Fatalf("bad bytes or int: %v %v", row[10], row[1])
		}
		bigUint = bigUint || row[3].Uint > 1<<63
		if ev.Topic != "acceptance.datagen.events" || ev.Source.Name != "acceptance" || ev.Source.Snapshot != "false" || ev.Source.Connector != "datagen" {
			t.Fatalf("event %d: topic %q, source %+v", n, ev.Topic, ev.Source)
		}
	}
	if !bigUint {
		t.Error("no uint64 value above the int64 range")
	}
}

func TestCheckMessages(t *testing.T) {
	for _, tc := range []struct{ block, want string }{
		{"rate: -1", "config.rate: must not be negative, not -1; 0 means as fast as possible"},
		{"ratee: 1", `config.ratee: unknown key; did you mean "rate"?`},
		{"batch_size: \"10\"", `config.batch_size: expected an integer, got the string "10"; remove the quotes`},
		{"columns:\n  - {name: id, type: bigitn}", `config.columns[0].type: unknown column type "bigitn"; did you mean "bigint"?`},
		{"ops: {c: 1}", "config.ops.c: creates are not weighted"},
		{"rate:", "config.rate: expected a number, got nothing; give a value, or remove the key for the default"},
	} {
		problems := New().Check(connecttest.Connector(t, New(), tc.block))
		found := false
		for _, p := range problems {
			s := p.Path + ": " + p.Msg
			if p.Hint != "" {
				s += "; " + p.Hint
			}
			if len(s) >= len(tc.want) && s[:len(tc.want)] == tc.want {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: problems %v, want %q", tc.block, problems, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	cfg, problems := ParseConfig(connecttest.Connector(t, New(), ""))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	want := Config{TopicPrefix: "acceptance", Database: "datagen", Table: "events", Columns: DefaultColumns,
		Rows: 1000, Rate: 1000, BatchSize: 100, Ops: Ops{U: 1}, Seed: 1}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults = %+v\nwant %+v", cfg, want)
	}
}

// TestMergeKeys: values merged in with << count.
func TestMergeKeys(t *testing.T) {
	cfg, problems := ParseConfig(connecttest.Connector(t, New(), "<<: {rate: 5, rows: 3}\nrows: 4"))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if cfg.Rate != 5 || cfg.Rows != 4 {
		t.Errorf("rate %v rows %d, want 5 and 4", cfg.Rate, cfg.Rows)
	}
}
