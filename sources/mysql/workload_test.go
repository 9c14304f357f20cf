package mysql_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/internal/testdb"
)

// TestWorkload runs a randomized workload — multi-statement transactions,
// rollbacks, ALTER TABLE adding, dropping and modifying columns — while the
// source is closed and opened again now and then at an earlier stored
// position, with the log cut back to it (as if sluice had crashed before
// storing more). The table rebuilt
// from the events equals the real one. SLUICE_MYSQL_WORKLOAD_SEED replays
// a run.
func TestWorkload(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SLUICE_MYSQL_WORKLOAD_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (replay with SLUICE_MYSQL_WORKLOAD_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 1))

	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE w; CREATE TABLE w.t (id int PRIMARY KEY, a varchar(20));
		CREATE TABLE w.fence (id int PRIMARY KEY);
		INSERT INTO w.t VALUES (1, 'one'), (2, 'two'), (3, NULL), (4, 'four'), (5, ''), (6, 'six'), (7, 'seven'), (8, NULL), (9, 'nine');`)
	b := block(m, "w.t, w.fence", "snapshot_chunk_size: 2\n")
	st := newStore(t)
	src := mustOpen(t, b, nil, st.env(t, nil))

	rows := map[int64]map[string]string{} // id → column → value text
	var positions []connect.Position
	apply := func(ev connect.ChangeEvent) {
		if ev.Table.Name != "t" {
			return
		}
		img := ev.After
		k := ev.Table.Key[0] // id, wherever columns added FIRST put it
		if ev.Op == connect.OpDelete {
			delete(rows, ev.Before[k].Int)
			return
		}
		r := map[string]string{}
		for i, c := range ev.Table.Columns {
			v := img[i]
			switch {
			case v.Null:
				r[c.Name] = "NULL"
			case v.Kind == connect.KindString:
				r[c.Name] = v.Str
			default:
				r[c.Name] = strconv.FormatInt(v.Int, 10)
			}
		}
		if ev.Before != nil {
			delete(rows, ev.Before[k].Int)
		}
		rows[img[k].Int] = r
	}
	fence := 0
	// catchUp commits a fence row and reads until its event.
	catchUp := func() {
		fence++
		m.Exec(t, fmt.Sprintf("INSERT INTO w.fence VALUES (%d)", fence))
		for {
			evs, _, pos, err := st.tryRead(t, src)
			if err != nil {
				// As the runtime does: a retriable error opens the
				// source again at the last stored position.
				if connect.Class(err) != "retriable" {
					t.Fatalf("Read: %v (class %s)", err, connect.Class(err))
				}
				t.Logf("Read: %v: reopening at the last position", err)
				src.Close()
				last := positions[len(positions)-1]
				st.rewind(last)
				src = mustOpen(t, b, last, st.env(t, last))
				continue
			}
			positions = append(positions, pos)
			done := false
			for _, ev := range evs {
				apply(ev)
				if ev.Table.Name == "fence" && ev.After != nil && ev.After[0].Int == int64(fence) {
					done = true
				}
			}
			if done {
				return
			}
		}
	}
	catchUp()

	cols := []string{"a"} // columns besides id
	next := 100
	for round := 0; round < 40; round++ {
		var sql strings.Builder
		switch p := rng.IntN(10); {
		case p == 0 && len(cols) < 5:
			c := fmt.Sprintf("c%d", round)
			pos := ""
			if rng.IntN(2) == 0 {
				pos = " FIRST"
			} else if len(cols) > 0 {
				pos = " AFTER " + cols[rng.IntN(len(cols))]
			}
			fmt.Fprintf(&sql, "ALTER TABLE w.t ADD COLUMN %s int DEFAULT %d%s;", c, round, pos)
			cols = append(cols, c)
		case p == 1 && len(cols) > 1:
			i := 1 + rng.IntN(len(cols)-1) // never a
			fmt.Fprintf(&sql, "ALTER TABLE w.t DROP COLUMN %s;", cols[i])
			cols = slices.Delete(cols, i, i+1)
		case p == 2:
			fmt.Fprintf(&sql, "ALTER TABLE w.t MODIFY a varchar(%d);", 20+round)
		default:
			sql.WriteString("BEGIN;")
			for range 1 + rng.IntN(5) {
				switch rng.IntN(3) {
				case 0:
					next++
					fmt.Fprintf(&sql, "INSERT INTO w.t (id, a) VALUES (%d, 'r%d');", next, next)
				case 1:
					fmt.Fprintf(&sql, "UPDATE w.t SET a = 'u%d' WHERE id %% 7 = %d;", round, rng.IntN(7))
				case 2:
					fmt.Fprintf(&sql, "DELETE FROM w.t WHERE id = %d;", 100+rng.IntN(next-99))
				}
			}
			if rng.IntN(8) == 0 {
				sql.WriteString("INSERT INTO w.t (id, a) VALUES (99999, 'rolled back');")
				sql.WriteString("ROLLBACK;")
			} else {
				sql.WriteString("COMMIT;")
			}
		}
		m.Exec(t, sql.String())
		if rng.IntN(6) == 0 {
			catchUp()
			// Open again at an earlier position: the events after it come
			// again, in order, with the schema of their time.
			src.Close()
			i := rng.IntN(len(positions))
			pos := positions[i]
			positions = positions[:i+1]
			st.rewind(pos) // the log as if sluice had stored no more
			t.Logf("round %d: reopening at %s", round, pos)
			src = mustOpen(t, b, pos, st.env(t, pos))
			if strings.Contains(string(pos), "snapshot=") {
				// The snapshot's transaction holds a metadata lock on
				// the tables it read until it ends: DDL would wait for
				// it, and it only ends when its chunks are read.
				catchUp()
			}
		}
	}
	catchUp()

	want := map[int64]map[string]string{}
	header := currentColumns(t, m)
	for _, line := range strings.Split(m.Query(t, "SELECT * FROM w.t"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		r := map[string]string{}
		for i, c := range header {
			r[c] = f[i]
		}
		id, _ := strconv.ParseInt(r["id"], 10, 64)
		want[id] = r
	}
	// A row keeps the columns of its last event: compare those the table
	// still has (a column added since has no value in it yet).
	for id, r := range rows {
		if w, ok := want[id]; ok {
			for c := range r {
				if _, ok := w[c]; !ok {
					delete(r, c)
				}
			}
			for c := range w {
				if _, ok := r[c]; !ok {
					delete(w, c)
				}
			}
		}
	}
	if got, exp := show(rows), show(want); got != exp {
		t.Errorf("rebuilt table differs from the real one\ngot:  %s\nwant: %s", got, exp)
	}
}

// currentColumns lists w.t's columns in order.
func currentColumns(t *testing.T, m *testdb.MariaDB) []string {
	return strings.Split(m.Query(t, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'w' AND TABLE_NAME = 't' ORDER BY ORDINAL_POSITION"), "\n")
}

func show(rows map[int64]map[string]string) string {
	ids := make([]int64, 0, len(rows))
	for id := range rows {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	for _, id := range ids {
		r := rows[id]
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "%d{", id)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%s ", k, r[k])
		}
		b.WriteString("} ")
	}
	return b.String()
}
