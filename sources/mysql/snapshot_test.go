package mysql_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/internal/testdb"
)

// TestSnapshotParallel snapshots four tables on three connections while a
// writer changes all of them. The snapshot's batches interleave the
// tables (they are read at once), and each table rebuilt from the
// snapshot and the stream after it equals the real one: the three
// transactions saw the same binlog position. A user without RELOAD gets
// the same tables read one at a time, and a warning in the status.
func TestSnapshotParallel(t *testing.T) {
	m := testdb.StartMariaDB(t)
	tables := []string{"p.a", "p.b", "p.c", "p.d"}
	var ddl strings.Builder
	ddl.WriteString("CREATE DATABASE p; USE p;")
	for _, tb := range tables {
		fmt.Fprintf(&ddl, "CREATE TABLE %s (id int PRIMARY KEY, n int); INSERT INTO %s SELECT seq, seq FROM seq_1_to_1000;", tb, tb)
	}
	ddl.WriteString("CREATE USER 'noreload'@'%' IDENTIFIED BY 'pw'; GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'noreload'@'%';")
	m.Exec(t, ddl.String())

	run := func(t *testing.T, blk string, base int, wantParallel bool) {
		src := mustOpen(t, blk, nil, connecttest.Env(t))
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // changes while the snapshot is read
			defer wg.Done()
			for i := range 20 {
				var sql strings.Builder
				for _, tb := range tables {
					fmt.Fprintf(&sql, "UPDATE %s SET n = n + 1000 WHERE id %% 20 = %d; DELETE FROM %s WHERE id = %d; INSERT INTO %s VALUES (%d, 7);", tb, i, tb, base+500+i, tb, base+2000+i)
				}
				m.Exec(t, sql.String())
			}
			m.Exec(t, fmt.Sprintf("INSERT INTO p.a VALUES (%d, 9999)", base+9999)) // the fence
		}()
		got := map[string]state{}
		for _, tb := range tables {
			got[tb] = state{}
		}
		var order []string // the table of each snapshot batch
		for done := false; !done; {
			evs, _, _ := readTx(t, src, false)
			for _, ev := range evs {
				id := ev.Table.Database + "." + ev.Table.Name
				got[id].apply(ev)
				if ev.Op == connect.OpRead && (len(order) == 0 || order[len(order)-1] != id) {
					order = append(order, id)
				}
				if id == "p.a" && ev.After != nil && ev.After[0].Int == int64(base+9999) {
					done = true
				}
			}
		}
		wg.Wait()
		for _, tb := range tables {
			if want := tableState(t, m, tb); got[tb].String() != want.String() {
				t.Errorf("%s rebuilt from the snapshot and the stream differs from the table:\ngot  %s\nwant %s", tb, got[tb], want)
			}
		}
		t.Logf("snapshot batches by table: %v", order)
		if interleaved := len(order) > len(tables); interleaved != wantParallel {
			t.Errorf("snapshot batches by table %v: interleaved %v, want %v", order, interleaved, wantParallel)
		}
		st := src.(interface{ Status() map[string]any }).Status()
		if _, warned := st["snapshot_warning"]; warned == wantParallel {
			t.Errorf("status %v: snapshot_warning present %v, want %v", st, warned, !wantParallel)
		}
	}
	t.Run("parallel", func(t *testing.T) {
		run(t, block(m, "p.*", "snapshot_parallelism: 3\nsnapshot_chunk_size: 50\n"), 0, true)
	})
	t.Run("no RELOAD", func(t *testing.T) {
		run(t, fmt.Sprintf("addr: %s\nuser: noreload\npassword: pw\ntables: [p.*]\nserver_id: 7601\nsnapshot_parallelism: 3\nsnapshot_chunk_size: 50\n", m.Addr()), 100, false)
	})
}
