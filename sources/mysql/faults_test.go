package mysql_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/internal/testdb"
)

// task returns the status of the rig's one task.
func (r *rig) task() connect.TaskStatus {
	r.t.Helper()
	st, err := r.rt.Status("rt")
	if err != nil || len(st.Tasks) != 1 {
		r.t.Fatalf("status: %+v, %v", st, err)
	}
	return st.Tasks[0]
}

// waitTask polls the task's status until cond holds, for up to limit.
func (r *rig) waitTask(what string, limit time.Duration, cond func(connect.TaskStatus) bool) connect.TaskStatus {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ts := r.task()
		if cond(ts) {
			return ts
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("waiting for %s: task %+v", what, ts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ids counts the ids of a topic's create and snapshot records.
func (r *rig) ids(topic string) map[int64]int {
	out := map[int64]int{}
	for _, v := range r.values(topic) {
		if v != nil {
			out[int64(v["id"].(float64))]++
		}
	}
	return out
}

// TestFaultNetworkCut streams through a TCP proxy that the test cuts
// twice: once resetting every connection, once as a black hole that keeps
// them open and silent. Each time the task stays RUNNING with a retriable
// error in its status while the network is down; once it is back, capture
// goes on, and every row is in the topic exactly once.
func TestFaultNetworkCut(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE f; CREATE TABLE f.t (id int PRIMARY KEY, n int)`)
	px := testdb.StartProxy(t, m.Addr())
	r := &rig{t: t, dir: t.TempDir()}
	r.start(fmt.Sprintf("addr: %s\nuser: root\npassword: sluice\ntables: [f.t]\nserver_id: 7501\nheartbeat_interval: 500ms\n", px.Addr()))
	defer r.stop()
	next := 0
	insert := func(n int) {
		var sql strings.Builder
		for range n {
			next++
			fmt.Fprintf(&sql, "INSERT INTO f.t VALUES (%d, %d);", next, next)
		}
		m.Exec(t, sql.String())
	}
	caughtUp := func() {
		r.waitFor(fmt.Sprintf("%d rows", next), "rt.f.t", func(vs []map[string]any) bool { return len(vs) >= next })
	}
	insert(10)
	caughtUp()
	for _, hole := range []bool{false, true} {
		before := r.task().Details["last_error"]
		px.Cut(hole)
		insert(5) // written while sluice cannot see the server
		ts := r.waitTask("a retriable error while the network is cut", time.Minute, func(ts connect.TaskStatus) bool {
			return ts.Details["last_error"] != nil && ts.Details["last_error"] != before
		})
		t.Logf("network cut (black hole %v): task %s, last error %v", hole, ts.State, ts.Details["last_error"])
		if ts.State != connect.StateRunning {
			t.Errorf("task while the network is cut: %+v; want RUNNING and retrying", ts)
		}
		px.Restore()
		insert(5)
		caughtUp()
	}
	ids := r.ids("rt.f.t")
	for id := int64(1); id <= int64(next); id++ {
		if ids[id] != 1 {
			t.Errorf("row %d is in the topic %d times, want once", id, ids[id])
		}
	}
	if len(ids) != next {
		t.Errorf("%d ids in the topic, want %d", len(ids), next)
	}
}

// TestFaultTableDroppedOrRenamed captures f.* and f.fixed by name. A
// table of the pattern renamed within it goes on in its new topic; one
// renamed out of it, or dropped, stops being captured while the others
// stream on; and a table named in config.tables that is dropped while
// sluice is stopped is captured again once it is created.
func TestFaultTableDroppedOrRenamed(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE f; CREATE DATABASE g;
		CREATE TABLE f.a (id int PRIMARY KEY, n int); CREATE TABLE f.b (id int PRIMARY KEY, n int);
		CREATE TABLE f.c (id int PRIMARY KEY, n int); CREATE TABLE g.fixed (id int PRIMARY KEY, n int);
		INSERT INTO f.a VALUES (1, 1); INSERT INTO f.b VALUES (1, 1); INSERT INTO f.c VALUES (1, 1); INSERT INTO g.fixed VALUES (1, 1);`)
	blk := "addr: " + m.Addr() + "\nuser: root\npassword: sluice\ntables: [f.*, g.fixed]\nserver_id: 7502\nheartbeat_interval: 500ms\n"
	r := &rig{t: t, dir: t.TempDir()}
	r.start(blk)
	r.waitFor("the snapshot", "rt.g.fixed", func(vs []map[string]any) bool { return len(vs) == 1 })
	m.Exec(t, `RENAME TABLE f.b TO f.b2; INSERT INTO f.b2 VALUES (2, 2);
		RENAME TABLE f.c TO g.c_old; INSERT INTO g.c_old VALUES (2, 2);
		DROP TABLE f.a; INSERT INTO g.fixed VALUES (2, 2);`)
	r.waitFor("the row after the drop", "rt.g.fixed", func(vs []map[string]any) bool { return len(vs) == 2 })
	if ids := r.ids("rt.f.b2"); ids[2] != 1 {
		t.Errorf("rows of f.b renamed to f.b2: %v, want id 2 in rt.f.b2", ids)
	}
	if ids := r.ids("rt.g.c_old"); len(ids) != 0 {
		t.Errorf("a table renamed out of the captured ones was captured: %v", ids)
	}
	if ts := r.task(); ts.State != connect.StateRunning {
		t.Fatalf("task after the renames and the drop: %+v", ts)
	}
	// The drop and the renames are schema changes: the history has
	// tombstones for f.a, f.b and f.c, and a record for f.b2.
	r.stop()
	r.start(blk)
	m.Exec(t, `INSERT INTO f.b2 VALUES (3, 3)`)
	r.waitFor("a row after a restart", "rt.f.b2", func(vs []map[string]any) bool { return len(vs) == 2 })

	// A table named in config.tables that is gone at a start is
	// captured again once it is created.
	r.stop()
	m.Exec(t, `DROP TABLE g.fixed`)
	r.start(blk)
	m.Exec(t, `CREATE TABLE g.fixed (id int PRIMARY KEY, s varchar(10)); INSERT INTO g.fixed VALUES (3, 'three')`)
	vs := r.waitFor("the re-created table's row", "rt.g.fixed", func(vs []map[string]any) bool { return len(vs) == 3 })
	if vs[2]["s"] != "three" || vs[2]["id"] != 3.0 {
		t.Errorf("the re-created table's row: %v", vs[2])
	}
	if ts := r.task(); ts.State != connect.StateRunning {
		t.Errorf("task after the named table was dropped and created again: %+v", ts)
	}
	r.stop()
}

// TestFaultUnreachable opens against a closed port: a retriable error
// naming the address; and with a wrong password: a fatal one naming the
// user and password settings.
func TestFaultUnreachable(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE f; CREATE TABLE f.t (id int PRIMARY KEY)`)
	_, err := openAt(t, "addr: 127.0.0.1:1\nuser: root\npassword: sluice\ntables: [f.t]\n", nil, connecttest.Env(t))
	if err == nil || connect.Class(err) != "retriable" || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Open at a closed port: %v (class %s), want retriable naming the address", err, connect.Class(err))
	}
	_, err = openAt(t, fmt.Sprintf("addr: %s\nuser: root\npassword: wrong\ntables: [f.t]\n", m.Addr()), nil, connecttest.Env(t))
	if err == nil || connect.Class(err) != "fatal" || !strings.Contains(err.Error(), "config.password") {
		t.Errorf("Open with a wrong password: %v (class %s), want fatal naming config.password", err, connect.Class(err))
	}
}

// TestXA captures XA transactions: a prepared one's rows come at its XA
// PREPARE, once, and its XA COMMIT moves the stream on; a one-phase XA
// commit is an ordinary transaction. Before, the rows of every XA
// transaction were lost.
func TestXA(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE x; CREATE TABLE x.t (id int PRIMARY KEY, n int)`)
	src := mustOpen(t, block(m, "x.t"), nil, connecttest.Env(t))
	readTx(t, src, true)
	m.Exec(t, `XA START 'two'; INSERT INTO x.t VALUES (1, 1), (2, 2); XA END 'two'; XA PREPARE 'two'; XA COMMIT 'two';
		XA START 'one'; INSERT INTO x.t VALUES (3, 3); XA END 'one'; XA COMMIT 'one' ONE PHASE;
		INSERT INTO x.t VALUES (4, 4);`)
	got := state{}
	var ids []int64
	for len(got) < 4 {
		evs, _, pos := readTx(t, src, false)
		for _, ev := range evs {
			got.apply(ev)
			ids = append(ids, ev.After[0].Int)
		}
		if pos == nil {
			t.Fatal("a transaction's batch without a position")
		}
	}
	if fmt.Sprint(ids) != "[1 2 3 4]" {
		t.Errorf("rows in order %v, want [1 2 3 4] once each", ids)
	}
	if want := tableState(t, m, "x.t"); got.String() != want.String() {
		t.Errorf("rebuilt %s, table %s", got, want)
	}
}
