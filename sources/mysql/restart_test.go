package mysql_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/internal/testdb"
)

// state is a table of (id, n) rebuilt from events.
type state map[int64]int64

func (st state) apply(ev connect.ChangeEvent) {
	switch ev.Op {
	case connect.OpRead, connect.OpCreate, connect.OpUpdate:
		if ev.Before != nil {
			delete(st, ev.Before[0].Int) // an update may change the key
		}
		st[ev.After[0].Int] = ev.After[1].Int
	case connect.OpDelete:
		delete(st, ev.Before[0].Int)
	case connect.OpTruncate:
		clear(st)
	}
}

// tableState reads (id, n) of a table from MariaDB.
func tableState(t *testing.T, m *testdb.MariaDB, table string) state {
	t.Helper()
	st := state{}
	out := m.Query(t, "SELECT id, n FROM "+table)
	if out == "" {
		return st
	}
	for _, line := range strings.Split(out, "\n") {
		id, n, _ := strings.Cut(line, "\t")
		i, err1 := strconv.ParseInt(id, 10, 64)
		v, err2 := strconv.ParseInt(n, 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("row %q", line)
		}
		st[i] = v
	}
	return st
}

func (st state) String() string { return fmt.Sprint(map[int64]int64(st)) }

// TestSnapshotResumes interrupts the snapshot after its first chunk,
// changes rows on both sides of where it stopped, and opens again at the
// stored position: the rest is read without the first chunk again, and the
// table rebuilt from all events equals the real one. With a signal table
// the rest is an incremental snapshot merged with the stream, so no
// streamed change comes after the snapshot row of its key (without one, a
// newer snapshot row may come before the older changes).
func TestSnapshotResumes(t *testing.T) {
	for _, signal := range []bool{false, true} {
		t.Run(map[bool]string{false: "new snapshot", true: "incremental"}[signal], func(t *testing.T) { snapshotResumes(t, signal) })
	}
}

func snapshotResumes(t *testing.T, signal bool) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE r; USE r; CREATE TABLE r.t (id int PRIMARY KEY, n int);
		CREATE TABLE r.sig (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL);
		INSERT INTO r.t SELECT seq, seq FROM seq_1_to_250;`)
	extra := "snapshot_chunk_size: 100\n"
	if signal {
		extra += "signal_table: r.sig\n"
	}
	b := block(m, "r.t", extra)
	st := newStore(t)
	src := mustOpen(t, b, nil, st.env(t, nil))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	first, err := src.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.add(first)
	if len(first.Events) != 100 || !strings.Contains(string(first.Position), `"after":["100"]`) {
		t.Fatalf("first chunk: %d events, position %q", len(first.Events), first.Position)
	}
	rows := state{}
	for _, ev := range first.Events {
		rows.apply(ev)
	}
	src.Close()
	m.Exec(t, `UPDATE r.t SET n = -50 WHERE id = 50; UPDATE r.t SET n = -150 WHERE id = 150;
		DELETE FROM r.t WHERE id = 220; INSERT INTO r.t VALUES (300, 300);`)

	src = mustOpen(t, b, first.Position, st.env(t, first.Position))
	seen := map[int64]bool{}
	for {
		evs, _, pos := st.read(t, src)
		for _, ev := range evs {
			id := ev.Before
			if id == nil {
				id = ev.After
			}
			if ev.Op == connect.OpRead {
				if id := ev.After[0].Int; id <= 100 || seen[id] {
					t.Errorf("snapshot row %d read again", id)
				} else {
					seen[id] = true
				}
				if want := "true"; signal {
					want = "incremental"
					if ev.Source.Snapshot != want {
						t.Errorf("snapshot row %d: source.snapshot %q, want %q", ev.After[0].Int, ev.Source.Snapshot, want)
					}
				}
			} else if signal && seen[id[0].Int] {
				t.Errorf("a change of row %d after its snapshot row", id[0].Int)
			}
			rows.apply(ev)
		}
		if want := tableState(t, m, "r.t"); rows.String() == want.String() && !strings.Contains(string(pos), "snapshot=") {
			break
		}
	}
}

// TestLargeTransactionReplay reads part of a transaction of 2500 rows,
// whose first batches have no position, and opens again at the position
// before it: the same batches come again.
func TestLargeTransactionReplay(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE l; CREATE TABLE l.t (id int PRIMARY KEY, n int)`)
	b := block(m, "l.t")
	src := mustOpen(t, b, nil, connecttest.Env(t))
	_, _, p := readTx(t, src, true)
	m.Exec(t, `USE l; INSERT INTO l.t SELECT seq, seq FROM seq_1_to_2500; INSERT INTO l.t VALUES (9999, 1)`)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	b1, err := src.Read(ctx)
	if err != nil || b1.Position != nil || len(b1.Events) != 1000 {
		t.Fatalf("first batch: %d events, position %q, %v", len(b1.Events), b1.Position, err)
	}
	src.Close()
	src = mustOpen(t, b, p, connecttest.Env(t))
	var sizes []int
	var ids []int64
	for len(ids) < 2501 {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Events) == 0 {
			continue // the schema history of today (no ReadTopic here)
		}
		sizes = append(sizes, len(b.Events))
		for _, ev := range b.Events {
			ids = append(ids, ev.After[0].Int)
		}
		if len(ids) < 2500 && b.Position != nil {
			t.Errorf("a position inside the transaction after %d rows", len(ids))
		}
	}
	if fmt.Sprint(sizes) != "[1000 1000 500 1]" || ids[0] != b1.Events[0].After[0].Int || ids[999] != b1.Events[999].After[0].Int || ids[2500] != 9999 {
		t.Errorf("replay: batches %v, first %d", sizes, ids[0])
	}
}

// masterPos reads the server's current file and offset.
func masterPos(t testing.TB, m *testdb.MariaDB) (string, int) {
	f := strings.Fields(m.Query(t, "SHOW MASTER STATUS"))
	n, _ := strconv.Atoi(f[1])
	return f[0], n
}

var posRE = regexp.MustCompile(`^file=(\S+) pos=(\d+)`)

// TestHeartbeat checks that writes to tables that are not captured, and an
// idle server, still move the stored position.
func TestHeartbeat(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE h; CREATE TABLE h.a (id int PRIMARY KEY); CREATE TABLE h.b (id int PRIMARY KEY)`)
	src := mustOpen(t, block(m, "h.a", "heartbeat_interval: 200ms\n"), nil, connecttest.Env(t))
	readTx(t, src, true)
	for i := 1; i <= 5; i++ {
		m.Exec(t, fmt.Sprintf("INSERT INTO h.b VALUES (%d)", i))
	}
	file, off := masterPos(t, m)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("Read: %v (the position never reached %s:%d)", err, file, off)
		}
		if len(b.Events) != 0 {
			t.Fatalf("%d events of a table that is not captured", len(b.Events))
		}
		if b.Position == nil {
			continue
		}
		mm := posRE.FindStringSubmatch(string(b.Position))
		if n, _ := strconv.Atoi(mm[2]); mm[1] == file && n >= off {
			t.Logf("heartbeat position %s", b.Position)
			return
		}
	}
}

// TestPurged opens at a position whose binlog was purged: resync-needed
// with initial, a new snapshot with when_needed.
func TestPurged(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE g; CREATE TABLE g.t (id int PRIMARY KEY, n int); INSERT INTO g.t VALUES (1, 1)`)
	b := block(m, "g.t")
	src := mustOpen(t, b, nil, connecttest.Env(t))
	_, _, pos := readTx(t, src, true)
	src.Close()
	m.Exec(t, `INSERT INTO g.t VALUES (2, 2); FLUSH BINARY LOGS; INSERT INTO g.t VALUES (3, 3)`)
	file, _ := masterPos(t, m)
	// MariaDB keeps a binlog until InnoDB has made its commits durable
	// (its binlog checkpoint); PURGE leaves it until then.
	for i := 0; ; i++ {
		m.Exec(t, "PURGE BINARY LOGS TO '"+file+"'")
		if !strings.Contains(m.Query(t, "SHOW BINARY LOGS"), "binlog.000001") {
			break
		}
		if i == 100 {
			t.Fatal("binlog.000001 was never purged")
		}
		time.Sleep(100 * time.Millisecond)
	}

	_, err := openAt(t, b, pos, connecttest.Env(t))
	if err == nil || connect.Class(err) != "resync-needed" || !strings.Contains(err.Error(), `run "sluice connectors reset acceptance"`) {
		t.Errorf("Open at a purged position: %v (class %s), want resync-needed naming the reset", err, connect.Class(err))
	}
	src = mustOpen(t, b+"snapshot: when_needed\n", pos, connecttest.Env(t))
	snap, _, _ := readTx(t, src, true)
	if len(snap) != 3 || snap[0].Op != connect.OpRead {
		t.Errorf("when_needed: a new snapshot of %d events, want 3", len(snap))
	}
}

// TestGTIDResume opens at a position whose file is not on the server (as
// after a failover to another server of the topology) but whose GTID set
// is: the stream goes on after it.
func TestGTIDResume(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE f; CREATE TABLE f.t (id int PRIMARY KEY, n int)`)
	b := block(m, "f.t")
	src := mustOpen(t, b, nil, connecttest.Env(t))
	readTx(t, src, true)
	m.Exec(t, `INSERT INTO f.t VALUES (1, 1); INSERT INTO f.t VALUES (2, 2)`)
	_, _, pos := readTx(t, src, false)
	src.Close()
	moved := connect.Position(posRE.ReplaceAllString(string(pos), "file=other-server-bin.000042 pos=12345"))
	src = mustOpen(t, b, moved, connecttest.Env(t))
	evs := readEvents(t, src)
	if len(evs) != 1 || evs[0].After[0].Int != 2 {
		t.Errorf("resumed by GTID at %q: %d events %v, want row 2", moved, len(evs), evs)
	}
}

// TestServerRestart restarts MariaDB under a streaming source, cleanly and
// after kill -9: Read fails with a retriable error, and a source opened
// again at the last position goes on with no gap and no duplicate.
func TestServerRestart(t *testing.T) {
	for _, kill := range []bool{false, true} {
		t.Run(map[bool]string{false: "clean", true: "kill"}[kill], func(t *testing.T) { serverRestart(t, kill) })
	}
}

func serverRestart(t *testing.T, kill bool) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE s; CREATE TABLE s.t (id int PRIMARY KEY, n int)`)
	b := block(m, "s.t")
	src := mustOpen(t, b, nil, connecttest.Env(t))
	_, _, pos := readTx(t, src, true)
	m.Exec(t, `INSERT INTO s.t VALUES (1, 1)`)
	_, _, pos = readTx(t, src, false)
	if kill {
		m.Kill()
	}
	m.Restart(t)
	m.Exec(t, `INSERT INTO s.t VALUES (2, 2)`)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	count := map[int64]int{}
	for failed := false; !failed; {
		b, err := src.Read(ctx)
		switch {
		case err != nil && connect.Class(err) != "retriable":
			t.Fatalf("Read after a server restart: %v (class %s), want retriable", err, connect.Class(err))
		case err != nil:
			t.Logf("Read after a server restart: %v", err)
			failed = true
		default:
			// Row 2 may come before the source notices the restart.
			for _, ev := range b.Events {
				count[ev.After[0].Int]++
			}
			if b.Position != nil {
				pos = b.Position
			}
		}
	}
	src.Close()
	m.Exec(t, `INSERT INTO s.t VALUES (3, 3)`)
	src = mustOpen(t, b, pos, connecttest.Env(t))
	for count[3] == 0 {
		evs, _, _ := readTx(t, src, false)
		for _, ev := range evs {
			count[ev.After[0].Int]++
		}
	}
	if count[2] != 1 || count[3] != 1 || count[1] != 0 {
		t.Errorf("rows read after the restart (id: times): %v, want 2 and 3 once", count)
	}
}

// readEvents reads until a positioned batch with events.
func readEvents(t *testing.T, src connect.Source) []connect.ChangeEvent {
	t.Helper()
	for {
		if evs, _, _ := readTx(t, src, false); len(evs) > 0 {
			return evs
		}
	}
}

// TestFailover captures from a primary, then opens at the stored position
// against its replica (another server of the same GTID topology, with its
// own binlog offsets): the stream goes on at the next transaction.
func TestFailover(t *testing.T) {
	a := testdb.StartMariaDB(t)
	r := testdb.StartMariaDB(t, testdb.MariaDBSetting("server_id", "2"))
	r.Exec(t, fmt.Sprintf(`CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='root', MASTER_PASSWORD='sluice', MASTER_USE_GTID=slave_pos; START SLAVE;`, a.Port))
	a.Exec(t, `CREATE DATABASE fo; CREATE TABLE fo.t (id int PRIMARY KEY, n int); INSERT INTO fo.t VALUES (1, 1)`)
	st := newStore(t)
	src := mustOpen(t, block(a, "fo.t"), nil, st.env(t, nil))
	st.read(t, src)
	a.Exec(t, `INSERT INTO fo.t VALUES (2, 2)`)
	_, _, pos := st.read(t, src)
	src.Close()
	a.Exec(t, `ALTER TABLE fo.t ADD COLUMN s varchar(5); INSERT INTO fo.t VALUES (3, 3, 'x')`)
	for i := 0; r.Query(t, "SELECT COUNT(*) FROM fo.t") != "3"; i++ {
		if i == 200 {
			t.Fatalf("the replica did not catch up: %s", r.Query(t, "SHOW SLAVE STATUS"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("position %s; on the replica: %s", pos, r.Query(t, "SHOW MASTER STATUS"))
	src = mustOpen(t, block(r, "fo.t"), pos, st.env(t, pos))
	evs, msgs, _ := st.read(t, src)
	if len(evs) != 0 || len(msgs) != 2 {
		t.Errorf("after the failover: the ALTER came as %d events and %d messages, want 2 messages", len(evs), len(msgs))
	}
	evs, _, _ = st.read(t, src)
	if len(evs) != 1 || evs[0].After[0].Int != 3 || len(evs[0].After) != 3 || evs[0].After[2].Str != "x" {
		t.Errorf("after the failover: %d events %v, want row 3 with s = x", len(evs), evs)
	}
}
