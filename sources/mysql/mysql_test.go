package mysql_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/internal/testdb"
	"github.com/sluice-cdc/sluice/sources/mysql"
)

var dbSeq atomic.Int64

// instance is one harness instance: its database and next row id.
type instance struct {
	db   string
	next int
}

func TestAcceptance(t *testing.T) {
	m := testdb.StartMariaDB(t)
	var instances sync.Map // *testing.T → *instance
	connecttest.RunSource(t, connecttest.SourceHarness{
		Kind: mysql.New(),
		Config: func(t *testing.T) string {
			n := dbSeq.Add(1)
			db := fmt.Sprintf("acc%d", n)
			m.CreateDatabase(t, db)
			m.Exec(t, "CREATE TABLE "+db+".items (id bigint PRIMARY KEY, n int, note text)")
			instances.Store(t, &instance{db: db, next: 1})
			return fmt.Sprintf("addr: %s\nuser: root\npassword: sluice\ntables: [%s.items]\nserver_id: %d\n", m.Addr(), db, 6000+n)
		},
		Produce: func(t *testing.T, n int) {
			v, ok := instances.Load(t)
			if !ok {
				t.Fatal("Produce before Config")
			}
			in := v.(*instance)
			var sql strings.Builder
			for i := 0; i < n; i++ {
				if i%5 == 0 {
					sql.WriteString("BEGIN;\n")
				}
				fmt.Fprintf(&sql, "INSERT INTO %s.items VALUES (%d, %d, 'row %d');\n", in.db, in.next, in.next*10, in.next)
				in.next++
				if i%5 == 4 || i == n-1 {
					sql.WriteString("COMMIT;\n")
				}
			}
			m.Exec(t, sql.String())
		},
		Identity: func(ev connect.ChangeEvent) string {
			row := ev.After
			if row == nil {
				row = ev.Before
			}
			return fmt.Sprintf("%s/%c/%d/%d", ev.Table.Name, ev.Op, row[0].Int, row[1].Int)
		},
		BadConfigs: map[string]string{
			"user: u\ntables: [a.b]":                                         "addr",
			"addr: nohost\nuser: u\ntables: [a.b]":                           "addr",
			"addr: h:99999\nuser: u\ntables: [a.b]":                          "addr",
			"addr: h:3306\ntables: [a.b]":                                    "user",
			"addr: h:3306\nuser: u":                                          "tables",
			"addr: h:3306\nuser: u\ntables: a.b":                             "tables",
			"addr: h:3306\nuser: u\ntables: []":                              "tables",
			"addr: h:3306\nuser: u\ntables: [items]":                         "tables[0]",
			"addr: h:3306\nuser: u\ntables: [a.b, a.b.c]":                    "tables[1]",
			"addr: h:3306\nuser: u\ntables: [a.b]\nsnapshot: x":              "snapshot",
			"addr: h:3306\nuser: u\ntables: [a.b]\nserver_id: 0":             "server_id",
			"addr: h:3306\nuser: u\ntables: [a.b]\nserver_id: x":             "server_id",
			"addr: h:3306\nuser: u\ntables: [a.b]\nheartbeat_interval: soon": "heartbeat_interval",
			"addr: h:3306\nuser: u\ntables: [a.b]\nsnapshot_chunk_size: 0":   "snapshot_chunk_size",
			"addr: h:3306\nuser: u\ntables: [a.b]\ntopic_prefix: a/b":        "topic_prefix",
			"addr: h:3306\nuser: u\ntables: [a.b]\nbogus: 1":                 "bogus",
		},
		Unreachable: func(t *testing.T) string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			return fmt.Sprintf("addr: %s\nuser: root\ntables: [x.items]\n", addr)
		},
		Timeout: 30 * time.Second,
	})
}

// block returns a config block for tables on m.
func block(m *testdb.MariaDB, tables string, extra ...string) string {
	return fmt.Sprintf("addr: %s\nuser: root\npassword: sluice\ntables: [%s]\nserver_id: %d\n", m.Addr(), tables, 7000+dbSeq.Add(1)) + strings.Join(extra, "")
}

// openAt opens a source of block at pos with env.
func openAt(t *testing.T, block string, pos connect.Position, env connect.Env) (connect.Source, error) {
	t.Helper()
	k := mysql.New()
	src, err := k.NewSource(connecttest.Connector(t, k, block), env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := src.Open(ctx, pos); err != nil {
		return nil, err
	}
	t.Cleanup(func() { src.Close() })
	return src, nil
}

// mustOpen opens a source or fails the test.
func mustOpen(t *testing.T, block string, pos connect.Position, env connect.Env) connect.Source {
	t.Helper()
	src, err := openAt(t, block, pos, env)
	if err != nil {
		t.Fatalf("Open at %q: %v", pos, err)
	}
	return src
}

// readTx reads batches until one carries a position with events or
// messages (or any position when empty is true), and returns what it read.
func readTx(t *testing.T, src connect.Source, empty bool) ([]connect.ChangeEvent, []connect.Message, connect.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var evs []connect.ChangeEvent
	var msgs []connect.Message
	for {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		evs = append(evs, b.Events...)
		msgs = append(msgs, b.Messages...)
		if b.Position != nil && (empty || len(evs)+len(msgs) > 0) {
			return evs, msgs, b.Position
		}
	}
}

func TestStream(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE shop; CREATE TABLE shop.items (id bigint PRIMARY KEY, n int, note varchar(20));
		INSERT INTO shop.items VALUES (1, 10, 'one'), (2, 20, 'two');
		CREATE TABLE shop.other (id int PRIMARY KEY);`)
	src := mustOpen(t, block(m, "shop.items"), nil, connecttest.Env(t))

	snap, msgs, pos := readTx(t, src, true)
	if len(snap) != 2 || snap[0].Op != connect.OpRead || snap[0].Source.Snapshot != "true" || snap[1].Source.Snapshot != "last" {
		t.Fatalf("snapshot: %d events %+v", len(snap), snap)
	}
	if len(msgs) != 1 || msgs[0].Topic != "__sluice.schema_history.acceptance" {
		t.Errorf("snapshot: messages %+v, want the schema history of shop.items", msgs)
	}
	t.Logf("snapshot position %s", pos)

	m.Exec(t, `BEGIN;
		INSERT INTO shop.items VALUES (3, 30, 'three');
		UPDATE shop.items SET n = 11 WHERE id = 1;
		DELETE FROM shop.items WHERE id = 2;
		INSERT INTO shop.other VALUES (1);
		COMMIT;
		BEGIN; INSERT INTO shop.items VALUES (99, 0, 'rolled back'); ROLLBACK;
		INSERT INTO shop.items VALUES (4, 40, 'four');`)
	evs, _, pos := readTx(t, src, false)
	if len(evs) != 3 {
		t.Fatalf("got %d events, want 3: %+v", len(evs), evs)
	}
	c, u, d := evs[0], evs[1], evs[2]
	if c.Op != connect.OpCreate || c.Before != nil || c.After[0].Int != 3 || c.After[2].Str != "three" {
		t.Errorf("create: %c %v %v", c.Op, c.Before, c.After)
	}
	if u.Op != connect.OpUpdate || u.Before[1].Int != 10 || u.After[0].Int != 1 || u.After[1].Int != 11 {
		t.Errorf("update: %c %v %v", u.Op, u.Before, u.After)
	}
	if d.Op != connect.OpDelete || d.After != nil || d.Before[0].Int != 2 {
		t.Errorf("delete: %c %v %v", d.Op, d.Before, d.After)
	}
	for i, ev := range evs {
		if ev.Transaction == nil || ev.Transaction.TotalOrder != int64(i+1) || ev.Transaction.ID != evs[0].Transaction.ID || ev.Transaction.ID == "" {
			t.Errorf("event %d: transaction %+v", i, ev.Transaction)
		}
		if ev.Topic != "acceptance.shop.items" || len(ev.Table.Key) != 1 || ev.Table.Columns[2].Name != "note" {
			t.Errorf("event %d: topic %q key %v", i, ev.Topic, ev.Table.Key)
		}
		if ev.Source.Snapshot != "false" || ev.Source.Database != "shop" || ev.Source.TsMs == 0 {
			t.Errorf("event %d: source %+v", i, ev.Source)
		}
	}
	if !strings.Contains(string(pos), " gtid=0-1-") {
		t.Errorf("position %q has no MariaDB GTID", pos)
	}
	evs, _, _ = readTx(t, src, false)
	if len(evs) != 1 || evs[0].After[0].Int != 4 {
		t.Errorf("after the rollback: %d events %+v, want only row 4", len(evs), evs)
	}
	if err := src.Ack(t.Context(), pos); err != nil {
		t.Errorf("Ack: %v", err)
	}
	st := src.(connect.Status).Status()
	if st["acked_position"] != string(pos) || st["schema_history_tables"] != 1 {
		t.Errorf("status %v, want acked_position %q and one table in the history", st, pos)
	}
	if per, _ := st["events_per_table"].(map[string]any); per["shop.items"] != int64(4) {
		t.Errorf("status events_per_table %v, want shop.items: 4", st["events_per_table"])
	}
}

// TestBatching checks snapshot chunks of snapshot_chunk_size rows, each
// positioned with the progress, and transactions of more than 1000 rows in
// batches of at most 1000, positioned only at their end.
func TestBatching(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE big; USE big; CREATE TABLE big.a (id int PRIMARY KEY, s varchar(10));
		CREATE TABLE big.b (k varchar(10) PRIMARY KEY);
		INSERT INTO big.a SELECT seq, CONCAT('r', seq) FROM seq_1_to_250;
		INSERT INTO big.b SELECT CONCAT('k', seq) FROM seq_1_to_30;
		CREATE TABLE big.c (n int, s varchar(10) CHARACTER SET latin1, PRIMARY KEY (n, s));
		INSERT INTO big.c SELECT seq % 3, CONCAT('é', seq) FROM seq_1_to_250;`)
	src := mustOpen(t, block(m, "big.*", "snapshot_chunk_size: 100\n"), nil, connecttest.Env(t))
	check := func(what string, want []int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		var sizes []int
		seen := map[string]bool{}
		for {
			b, err := src.Read(ctx)
			if err != nil {
				t.Fatalf("%s: Read: %v", what, err)
			}
			sizes = append(sizes, len(b.Events))
			for _, ev := range b.Events {
				id := fmt.Sprint(ev.Table.Name, ev.After)
				if seen[id] {
					t.Errorf("%s: row %s twice", what, id)
				}
				seen[id] = true
			}
			if b.Position != nil && !strings.Contains(string(b.Position), " snapshot=") {
				break
			}
			if b.Position == nil && what == "snapshot" {
				t.Errorf("%s: a snapshot batch without a position", what)
			}
		}
		if fmt.Sprint(sizes) != fmt.Sprint(want) {
			t.Errorf("%s: batch sizes %v, want %v", what, sizes, want)
		}
	}
	check("snapshot", []int{100, 100, 50, 30, 100, 100, 50})
	m.Exec(t, `USE big; INSERT INTO big.a SELECT seq, "x" FROM seq_1001_to_3500;`)
	check("transaction", []int{1000, 1000, 500})
}

func TestPreflight(t *testing.T) {
	t.Run("binlog_format", func(t *testing.T) {
		m := testdb.StartMariaDB(t, testdb.MariaDBSetting("binlog_format", "STATEMENT"))
		m.Exec(t, "CREATE DATABASE p; CREATE TABLE p.t (id int PRIMARY KEY)")
		_, err := openAt(t, block(m, "p.t"), nil, connecttest.Env(t))
		if err == nil || connect.Class(err) != "fatal" || !strings.Contains(err.Error(), "SET GLOBAL binlog_format = 'ROW'") || !strings.Contains(err.Error(), "binlog_format=ROW") {
			t.Errorf("Open: %v (class %s), want a fatal error naming SET GLOBAL binlog_format = 'ROW' and the my.cnf line", err, connect.Class(err))
		}
	})
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE p; CREATE TABLE p.t (id int PRIMARY KEY);
		CREATE USER 'reader'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON *.* TO 'reader'@'%';
		CREATE USER 'cdc'@'%' IDENTIFIED BY 'pw'; GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'cdc'@'%';`)
	t.Run("enough", func(t *testing.T) {
		b := fmt.Sprintf("addr: %s\nuser: cdc\npassword: pw\ntables: [p.t]\nserver_id: 4242\n", m.Addr())
		src := mustOpen(t, b, nil, connecttest.Env(t))
		readTx(t, src, true)
		m.Exec(t, "INSERT INTO p.t VALUES (1)")
		if evs := readEvents(t, src); len(evs) != 1 {
			t.Errorf("with REPLICATION SLAVE, REPLICATION CLIENT and SELECT: %d events", len(evs))
		}
	})
	t.Run("privileges", func(t *testing.T) {
		b := fmt.Sprintf("addr: %s\nuser: reader\npassword: pw\ntables: [p.t]\n", m.Addr())
		_, err := openAt(t, b, nil, connecttest.Env(t))
		if err == nil || connect.Class(err) != "fatal" || !strings.Contains(err.Error(), "GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'reader'@'%'") {
			t.Errorf("Open: %v (class %s), want a fatal error naming the GRANT", err, connect.Class(err))
		}
	})
	t.Run("server_id", func(t *testing.T) {
		b := fmt.Sprintf("addr: %s\nuser: root\npassword: sluice\ntables: [p.t]\nserver_id: 1\n", m.Addr())
		_, err := openAt(t, b, nil, connecttest.Env(t))
		if err == nil || connect.Class(err) != "fatal" || !strings.Contains(err.Error(), "server_id 1 is the server's own") {
			t.Errorf("Open: %v (class %s), want a fatal server id clash", err, connect.Class(err))
		}
	})
	t.Run("password", func(t *testing.T) {
		b := fmt.Sprintf("addr: %s\nuser: root\npassword: wrong\ntables: [p.t]\n", m.Addr())
		_, err := openAt(t, b, nil, connecttest.Env(t))
		if err == nil || connect.Class(err) != "fatal" {
			t.Errorf("Open with a wrong password: %v (class %s), want fatal", err, connect.Class(err))
		}
	})
}

// TestSnapshotModes checks never (no snapshot rows, the stream from now)
// and initial_only (the snapshot, then nothing).
func TestSnapshotModes(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE sm; CREATE TABLE sm.t (id int PRIMARY KEY); INSERT INTO sm.t VALUES (1), (2)`)
	t.Run("never", func(t *testing.T) {
		src := mustOpen(t, block(m, "sm.t", "snapshot: never\n"), nil, connecttest.Env(t))
		m.Exec(t, `INSERT INTO sm.t VALUES (3)`)
		evs, _, _ := readTx(t, src, false)
		for len(evs) == 0 {
			evs, _, _ = readTx(t, src, false)
		}
		if len(evs) != 1 || evs[0].Op != connect.OpCreate || evs[0].After[0].Int != 3 {
			t.Errorf("never: %d events %v, want only the insert of 3", len(evs), evs)
		}
	})
	t.Run("initial_only", func(t *testing.T) {
		src := mustOpen(t, block(m, "sm.t", "snapshot: initial_only\n"), nil, connecttest.Env(t))
		snap, _, pos := readTx(t, src, true)
		if len(snap) != 3 || strings.Contains(string(pos), "snapshot=") {
			t.Fatalf("initial_only: snapshot of %d rows, position %q", len(snap), pos)
		}
		m.Exec(t, `INSERT INTO sm.t VALUES (4)`)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if b, err := src.Read(ctx); err == nil {
			t.Errorf("initial_only streamed %d events after the snapshot", len(b.Events))
		}
	})
}

// TestSavepointAndMyISAM checks statements inside a transaction that are
// not row changes (SAVEPOINT, ROLLBACK TO) and a non-transactional
// engine's transaction, which ends with a COMMIT query event.
func TestSavepointAndMyISAM(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE sp; CREATE TABLE sp.t (id int PRIMARY KEY); CREATE TABLE sp.my (id int PRIMARY KEY) ENGINE=MyISAM`)
	src := mustOpen(t, block(m, "sp.*"), nil, connecttest.Env(t))
	readTx(t, src, true)
	m.Exec(t, `BEGIN; SAVEPOINT a; INSERT INTO sp.t VALUES (1); SAVEPOINT b; INSERT INTO sp.t VALUES (2); ROLLBACK TO SAVEPOINT b; INSERT INTO sp.t VALUES (3); COMMIT;
		INSERT INTO sp.my VALUES (7);`)
	evs := readEvents(t, src)
	var ids []int64
	for _, ev := range evs {
		ids = append(ids, ev.After[0].Int)
	}
	if fmt.Sprint(ids) != "[1 3]" {
		t.Errorf("transaction with savepoints: rows %v, want [1 3]", ids)
	}
	evs = readEvents(t, src)
	if len(evs) != 1 || evs[0].Table.Name != "my" || evs[0].After[0].Int != 7 {
		t.Errorf("MyISAM: %d events %v, want row 7 of my", len(evs), evs)
	}
}
