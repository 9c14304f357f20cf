package mysql_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/internal/testdb"
	"github.com/sluice-cdc/sluice/sources/mysql"
)

// TestIncrementalSnapshot streams i.t (no initial snapshot: its rows are
// only known through the ad-hoc snapshot), asks for an ad-hoc snapshot of
// it while a writer updates, deletes, inserts and re-keys rows, and
// restarts the source twice in the middle; and inside every window, the
// window's first row is updated after the select read it. The table rebuilt from the
// snapshot's rows and the stream equals the real one: no change is lost
// and no stale snapshot row overwrites a newer change. Signal rows are
// never events, and the watermarks are deleted after their window.
func TestIncrementalSnapshot(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE i; USE i; CREATE TABLE t (id int PRIMARY KEY, n int);
		CREATE TABLE sig (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL);
		INSERT INTO t SELECT seq, seq FROM seq_1_to_3000;`)
	blk := block(m, "i.t", "snapshot: never\nsignal_table: i.sig\nsnapshot_chunk_size: 100\nheartbeat_interval: 200ms\n")
	src := mustOpen(t, blk, nil, connecttest.Env(t))
	_, _, pos := readTx(t, src, true)

	// A change inside every window, to its first row: the stream brings
	// it between the watermarks, after the select read the row.
	mysql.SetAfterWindowSelect(func(table, key string) {
		m.Exec(t, "UPDATE i.t SET n = n + 500000 WHERE id = "+key)
	})
	defer mysql.SetAfterWindowSelect(nil)
	ctx := context.Background()
	if err := src.(connect.Snapshotter).RequestSnapshot(ctx, []string{"i.t"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the concurrent writer
		defer wg.Done()
		rng := rand.New(rand.NewPCG(7, 7))
		for i := range 60 {
			var sql strings.Builder
			sql.WriteString("USE i; BEGIN;")
			for range 5 {
				id := 1 + rng.IntN(3000)
				switch rng.IntN(4) {
				case 0:
					fmt.Fprintf(&sql, "UPDATE t SET n = n + 100000 WHERE id = %d;", id)
				case 1:
					fmt.Fprintf(&sql, "DELETE FROM t WHERE id = %d;", id)
				case 2:
					fmt.Fprintf(&sql, "INSERT IGNORE INTO t VALUES (%d, 5);", 5000+i*10+rng.IntN(10))
				case 3:
					fmt.Fprintf(&sql, "UPDATE IGNORE t SET id = %d WHERE id = %d;", 9000+i*10+rng.IntN(10), id)
				}
			}
			sql.WriteString("COMMIT;")
			m.Exec(t, sql.String())
			time.Sleep(10 * time.Millisecond)
		}
		m.Exec(t, "INSERT INTO i.t VALUES (99999, 1)") // the fence
	}()

	got := state{}
	reads, restarts := 0, 0
	done := false
	for !done {
		evs, _, p := readTx(t, src, false)
		if p != nil {
			pos = p
		}
		for _, ev := range evs {
			if ev.Table.Name != "t" {
				t.Fatalf("an event of %s: signal rows must not be events", ev.Table.Name)
			}
			got.apply(ev)
			if ev.Op == connect.OpRead {
				reads++
				if ev.Source.Snapshot != "incremental" {
					t.Fatalf("snapshot row with source.snapshot %q", ev.Source.Snapshot)
				}
			}
			if ev.After != nil && ev.After[0].Int == 99999 {
				done = true
			}
		}
		if restarts < 2 && reads > 1000*(restarts+1) {
			restarts++
			src.Close()
			t.Logf("restart %d at %.200s", restarts, pos)
			if !strings.Contains(string(pos), `"mode":"incremental"`) {
				t.Fatalf("position without the incremental snapshot's progress: %s", pos)
			}
			src = mustOpen(t, blk, pos, connecttest.Env(t))
		}
	}
	wg.Wait()
	// The snapshot may still be reading: read until it is done.
	for deadline := time.Now().Add(time.Minute); strings.Contains(string(pos), "snapshot="); {
		if time.Now().After(deadline) {
			t.Fatalf("the incremental snapshot did not finish: %s", pos)
		}
		evs, _, p := readTx(t, src, true)
		if p != nil {
			pos = p
		}
		for _, ev := range evs {
			got.apply(ev)
		}
	}
	if want := tableState(t, m, "i.t"); got.String() != want.String() {
		var diff []string
		for id, n := range want {
			if g, ok := got[id]; !ok || g != n {
				diff = append(diff, fmt.Sprintf("%d: rebuilt %d (present %v), table %d", id, g, ok, n))
			}
		}
		for id, g := range got {
			if _, ok := want[id]; !ok {
				diff = append(diff, fmt.Sprintf("%d: rebuilt %d, not in the table", id, g))
			}
		}
		if len(diff) > 20 {
			diff = diff[:20]
		}
		t.Errorf("rebuilt table differs from the real one (%d snapshot rows, %d restarts):\n%s", reads, restarts, strings.Join(diff, "\n"))
	}
	if n := m.Query(t, "SELECT COUNT(*) FROM i.sig WHERE type LIKE 'snapshot-window-%'"); n != "0" {
		t.Errorf("%s watermark rows left in the signal table", n)
	}
	t.Logf("%d snapshot rows, %d restarts", reads, restarts)
}

// TestIncrementalSnapshotFloat: FLOAT columns arrive exact in an ad-hoc
// snapshot's rows, as in the initial snapshot and the stream (the server
// prints FLOAT with only 6 digits).
func TestIncrementalSnapshotFloat(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE i; USE i; CREATE TABLE t (id int PRIMARY KEY, f float, s varchar(10), g float);
		CREATE TABLE sig (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL);
		INSERT INTO t VALUES (1, 1.2345678, 'a', -0.1), (2, 3.4028234e38, NULL, NULL), (3, 1e-30, 'c', 7654321.5);`)
	want := map[int64][2]float64{
		1: {float64(float32(1.2345678)), float64(float32(-0.1))},
		2: {float64(float32(3.4028234e38)), 0},
		3: {float64(float32(1e-30)), float64(float32(7654321.5))},
	}
	blk := block(m, "i.t", "snapshot: never\nsignal_table: i.sig\nheartbeat_interval: 200ms\n")
	src := mustOpen(t, blk, nil, connecttest.Env(t))
	readTx(t, src, true)
	if err := src.(connect.Snapshotter).RequestSnapshot(context.Background(), []string{"i.t"}); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for deadline := time.Now().Add(time.Minute); seen < len(want); {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d snapshot rows after a minute", seen, len(want))
		}
		evs, _, _ := readTx(t, src, false)
		for _, ev := range evs {
			if ev.Op != connect.OpRead {
				continue
			}
			seen++
			w := want[ev.After[0].Int]
			if f := ev.After[1]; f.Kind != connect.KindFloat32 || f.Float != w[0] {
				t.Errorf("row %d: f = %v (%v), want %v", ev.After[0].Int, f.Float, f.Kind, w[0])
			}
			if g := ev.After[3]; ev.After[0].Int == 2 && !g.Null || ev.After[0].Int != 2 && g.Float != w[1] {
				t.Errorf("row %d: g = %+v, want %v", ev.After[0].Int, g, w[1])
			}
			if s := ev.After[2]; ev.After[0].Int == 1 && s.Str != "a" {
				t.Errorf("row 1: s = %+v, want a", s)
			}
		}
	}
}

// TestIncrementalSnapshotErrors: without signal_table the request names
// the key to set; a table the connector does not capture is refused; a
// missing signal table fails Open naming the CREATE TABLE.
func TestIncrementalSnapshotErrors(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE i; CREATE TABLE i.t (id int PRIMARY KEY)`)
	src := mustOpen(t, block(m, "i.t", "snapshot: never\n"), nil, connecttest.Env(t))
	err := src.(connect.Snapshotter).RequestSnapshot(context.Background(), []string{"i.t"})
	if err == nil || connect.Class(err) != "fatal" || !strings.Contains(err.Error(), "config.signal_table") {
		t.Errorf("without signal_table: %v", err)
	}
	_, err = openAt(t, block(m, "i.t", "signal_table: i.nosuch\n"), nil, connecttest.Env(t))
	if err == nil || connect.Class(err) != "fatal" || !strings.Contains(err.Error(), "CREATE TABLE `i`.`nosuch`") {
		t.Errorf("missing signal table: %v", err)
	}
	m.Exec(t, `CREATE TABLE i.sig (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL)`)
	src = mustOpen(t, block(m, "i.t", "snapshot: never\nsignal_table: i.sig\n"), nil, connecttest.Env(t))
	err = src.(connect.Snapshotter).RequestSnapshot(context.Background(), []string{"i.other"})
	if err == nil || connect.Class(err) != "fatal" || !strings.Contains(err.Error(), "not captured") {
		t.Errorf("a table not captured: %v", err)
	}
}
