package postgres_test

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
	"github.com/sluice-cdc/sluice/sources/postgres"
)

var dbSeq atomic.Int64

// instance is one harness instance: its database and next row id.
type instance struct {
	db   string
	next int
}

func TestAcceptance(t *testing.T) {
	pg := testdb.StartPostgres(t)
	var instances sync.Map // *testing.T → *instance
	connecttest.RunSource(t, connecttest.SourceHarness{
		Kind: postgres.New(),
		Config: func(t *testing.T) string {
			db := fmt.Sprintf("acc%d", dbSeq.Add(1))
			pg.CreateDatabase(t, db)
			pg.Exec(t, db, "CREATE TABLE public.items (id bigint PRIMARY KEY, n int, note text)")
			instances.Store(t, &instance{db: db, next: 1})
			return fmt.Sprintf("dsn: %s\ntables: [public.items]\nslot: slot_%s\n", pg.DSN(db), db)
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
				fmt.Fprintf(&sql, "INSERT INTO public.items VALUES (%d, %d, 'row %d');\n", in.next, in.next*10, in.next)
				in.next++
				if i%5 == 4 || i == n-1 {
					sql.WriteString("COMMIT;\n")
				}
			}
			pg.Exec(t, in.db, sql.String())
		},
		Identity: func(ev connect.ChangeEvent) string {
			row := ev.After
			if row == nil {
				row = ev.Before
			}
			return fmt.Sprintf("%s/%c/%d/%d", ev.Table.Name, ev.Op, row[0].Int, row[1].Int)
		},
		BadConfigs: map[string]string{
			"tables: [public.items]":                                          "dsn",
			"dsn: postgres://u@h/db":                                          "tables",
			"dsn: postgres://u@h/db\ntables: public.items":                    "tables",
			"dsn: postgres://u@h/db\ntables: []":                              "tables",
			"dsn: postgres://u@h/db\ntables: [items]":                         "tables[0]",
			"dsn: postgres://u@h/db\ntables: [public.a, a.b.c]":               "tables[1]",
			"dsn: postgres://u@h/db\ntables: [p.a]\nsnapshot: x":              "snapshot",
			"dsn: postgres://u@h/db\ntables: [p.a]\nslot: Bad-1":              "slot",
			"dsn: postgres://u@h/db\ntables: [p.a]\npublication: 'a b'":       "publication",
			"dsn: postgres://u@h/db\ntables: [p.a]\nheartbeat_interval: soon": "heartbeat_interval",
			"dsn: postgres://u@h/db\ntables: [p.a]\nheartbeat_interval: -1s":  "heartbeat_interval",
			"dsn: postgres://u@h/db\ntables: [p.a]\ncreate_publication: 3":    "create_publication",
			"dsn: postgres://u@h/db\ntables: [p.a]\ntopic_prefix: a/b":        "topic_prefix",
			"dsn: postgres://u@h/db\ntables: [p.a]\nbogus: 1":                 "bogus",
		},
		Unreachable: func(t *testing.T) string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			return fmt.Sprintf("dsn: postgres://postgres@%s/x?sslmode=disable\ntables: [public.items]\n", addr)
		},
		Timeout: 30 * time.Second,
	})
}

// open opens a source on db of pg reading tables.
func open(t *testing.T, pg *testdb.Postgres, db, tables string) connect.Source {
	t.Helper()
	block := fmt.Sprintf("dsn: %s\ntables: [%s]\nslot: slot_%s\n", pg.DSN(db), tables, db)
	k := postgres.New()
	src, err := k.NewSource(connecttest.Connector(t, k, block), connecttest.Env(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := src.Open(ctx, nil); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// readTx reads batches until one carries a position, and returns the
// events read and that position.
func readTx(t *testing.T, src connect.Source) ([]connect.ChangeEvent, connect.Position, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var evs []connect.ChangeEvent
	batches := 0
	for {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		batches++
		evs = append(evs, b.Events...)
		if b.Position != nil {
			return evs, b.Position, batches
		}
	}
}

func TestStream(t *testing.T) {
	pg := testdb.StartPostgres(t)

	t.Run("transaction", func(t *testing.T) {
		pg.CreateDatabase(t, "txdb")
		pg.Exec(t, "txdb", `CREATE TABLE public.items (id bigint PRIMARY KEY, n int, note text);
			INSERT INTO public.items VALUES (1, 10, 'one'), (2, 20, 'two');`)
		src := open(t, pg, "txdb", "public.*")

		snap, pos, _ := readTx(t, src)
		if len(snap) != 2 || snap[0].Op != connect.OpRead || snap[0].Source.Snapshot != "true" || snap[1].Source.Snapshot != "last" {
			t.Fatalf("snapshot: %d events %+v", len(snap), snap)
		}
		if _, err := postgres.ParsePosition(pos); err != nil {
			t.Fatalf("snapshot position: %v", err)
		}

		pg.Exec(t, "txdb", `BEGIN;
			INSERT INTO public.items VALUES (3, 30, 'three');
			UPDATE public.items SET n = 11 WHERE id = 1;
			DELETE FROM public.items WHERE id = 2;
			COMMIT;`)
		evs, pos, batches := readTx(t, src)
		if batches != 1 {
			t.Errorf("the transaction came in %d batches, want 1", batches)
		}
		if len(evs) != 3 {
			t.Fatalf("got %d events, want 3", len(evs))
		}
		c, u, d := evs[0], evs[1], evs[2]
		if c.Op != connect.OpCreate || c.Before != nil || c.After[0].Int != 3 || c.After[2].Str != "three" {
			t.Errorf("create: %c %v %v", c.Op, c.Before, c.After)
		}
		if u.Op != connect.OpUpdate || u.After[0].Int != 1 || u.After[1].Int != 11 {
			t.Errorf("update: %c %v %v", u.Op, u.Before, u.After)
		}
		if d.Op != connect.OpDelete || d.After != nil || d.Before[0].Int != 2 {
			t.Errorf("delete: %c %v %v", d.Op, d.Before, d.After)
		}
		for i, ev := range evs {
			if ev.Transaction == nil || ev.Transaction.TotalOrder != int64(i+1) || ev.Transaction.ID != evs[0].Transaction.ID {
				t.Errorf("event %d: transaction %+v", i, ev.Transaction)
			}
			if ev.Topic != "acceptance.public.items" {
				t.Errorf("event %d: topic %q", i, ev.Topic)
			}
			if len(ev.Table.Key) != 1 || ev.Table.Key[0] != 0 {
				t.Errorf("event %d: key %v", i, ev.Table.Key)
			}
		}
		if _, err := postgres.ParsePosition(pos); err != nil {
			t.Fatalf("position: %v", err)
		}
		if err := src.Ack(t.Context(), pos); err != nil {
			t.Errorf("Ack: %v", err)
		}
		pg.Exec(t, "txdb", `TRUNCATE public.items`)
		if evs, _, _ := readTx(t, src); len(evs) != 1 || evs[0].Op != connect.OpTruncate || evs[0].Table.Name != "items" {
			t.Errorf("truncate: got %d events %+v", len(evs), evs)
		}

		// The slot's confirmed position follows the acknowledged one.
		want := strings.TrimPrefix(string(pos), "lsn=")
		var got string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got = pg.Query(t, "txdb", "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'slot_txdb'"); got == want {
				break
			}
		}
		if got != want {
			t.Errorf("slot confirmed_flush_lsn = %q after Ack(%q), want %q", got, pos, want)
		}
	})

	t.Run("types", func(t *testing.T) {
		pg.CreateDatabase(t, "typedb")
		const row = `'12345.67890', '2024-01-02 03:04:05.123456+02', '\xdeadbeef', '{"a": [1, 2]}', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', NULL, '', '1 year 2 mons 3 days 04:05:06.5', '10:11:12.5+05:30', '2024-02-29', '23:59:59.999999', '2024-02-29 10:00:00.25', 1.5, '{1,2,NULL}', '{"a b","c\"d",NULL,"NULL",x}', 'happy', '{ok,NULL,sad}', B'1000000011', B'101', '1234.56', '-0.5', '{{1,2},{3,4}}', '{2024-02-29}'`
		pg.Exec(t, "typedb", `CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
			CREATE TABLE public.t (id int PRIMARY KEY, d numeric(20,5), ts timestamptz, b bytea, j jsonb, u uuid, s1 text, s2 text NOT NULL, iv interval, tz timetz, dt date, tm time, tsn timestamp(3), f float8,
				ai int[], at text[], am public.mood, amm public.mood[], bt bit(10), vb varbit, mo money, mo2 money, a2 int[][], ad date[]);
			INSERT INTO public.t VALUES (1, `+row+`);`)
		src := open(t, pg, "typedb", "public.t")
		snap, _, _ := readTx(t, src)
		pg.Exec(t, "typedb", `INSERT INTO public.t VALUES (2, `+row+`);`)
		stream, _, _ := readTx(t, src)
		if len(snap) != 1 || len(stream) != 1 {
			t.Fatalf("got %d snapshot and %d stream events, want 1 and 1", len(snap), len(stream))
		}
		wantTS := time.Date(2024, 1, 2, 1, 4, 5, 123456000, time.UTC).UnixMicro()
		for _, ev := range []connect.ChangeEvent{snap[0], stream[0]} {
			a := ev.After
			cols := ev.Table.Columns
			check := func(i int, kind connect.Kind, ok bool) {
				t.Helper()
				if cols[i].Kind != kind || a[i].Kind != kind || !ok {
					t.Errorf("%c: column %s (%s): got %#v, want kind %s", ev.Op, cols[i].Name, cols[i].Type, a[i], kind)
				}
			}
			check(1, connect.KindDecimal, a[1].Str == "12345.67890" && cols[1].Precision == 20 && cols[1].Scale == 5)
			check(2, connect.KindTimestampTZ, a[2].Int == wantTS)
			check(3, connect.KindBytes, string(a[3].Bytes) == "\xde\xad\xbe\xef")
			check(4, connect.KindJSON, a[4].Str == `{"a": [1, 2]}`)
			check(5, connect.KindUUID, a[5].Str == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
			check(6, connect.KindString, a[6].Null && cols[6].Optional)
			check(7, connect.KindString, !a[7].Null && a[7].Str == "" && !cols[7].Optional)
			check(8, connect.KindInterval, a[8].Str == "P1Y2M3DT4H5M6.5S")
			check(9, connect.KindTimeTZ, a[9].Int == (10*3600+11*60+12)*1e6+500000 && a[9].Offset == 5*3600+30*60)
			check(10, connect.KindDate, a[10].Int == time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).Unix()/86400)
			check(11, connect.KindTime, a[11].Int == 24*3600*1e6-1)
			check(12, connect.KindTimestamp, a[12].Int == time.Date(2024, 2, 29, 10, 0, 0, 250e6, time.UTC).UnixMicro() && a[12].Prec == 3)
			check(13, connect.KindFloat64, a[13].Float == 1.5)
			list := func(v connect.Value) string {
				var parts []string
				for _, e := range v.List {
					switch {
					case e.Null:
						parts = append(parts, "null:"+e.Kind.String())
					case e.Kind == connect.KindArray:
						parts = append(parts, fmt.Sprint(len(e.List), e.List[0].Int, e.List[1].Int))
					case e.Kind == connect.KindInt32 || e.Kind == connect.KindDate:
						parts = append(parts, e.Kind.String()+":"+fmt.Sprint(e.Int))
					default:
						parts = append(parts, e.Kind.String()+":"+e.Str)
					}
				}
				return strings.Join(parts, "|")
			}
			check(14, connect.KindArray, cols[14].Elem == connect.KindInt32 && list(a[14]) == "int32:1|int32:2|null:int32")
			check(15, connect.KindArray, cols[15].Elem == connect.KindString && list(a[15]) == `string:a b|string:c"d|null:string|string:NULL|string:x`)
			check(16, connect.KindEnum, a[16].Str == "happy" && fmt.Sprint(cols[16].Enum) == "[sad ok happy]")
			check(17, connect.KindArray, cols[17].Elem == connect.KindEnum && list(a[17]) == "enum:ok|null:enum|enum:sad" && fmt.Sprint(cols[17].Enum) == "[sad ok happy]")
			check(18, connect.KindBits, a[18].Int == 10 && string(a[18].Bytes) == "\x02\x03" && cols[18].Length == 10)
			check(19, connect.KindBits, a[19].Int == 3 && string(a[19].Bytes) == "\x05")
			check(20, connect.KindDecimal, a[20].Str == "1234.56")
			check(21, connect.KindDecimal, a[21].Str == "-0.50")
			check(22, connect.KindArray, list(a[22]) == "2 1 2|2 3 4")
			check(23, connect.KindArray, list(a[23]) == "date:"+fmt.Sprint(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).Unix()/86400))
			if cols[1].Type != "numeric(20,5)" {
				t.Errorf("%c: numeric column type %q", ev.Op, cols[1].Type)
			}
		}
	})
}

// TestBatching checks that snapshots come in chunks of snapshot_chunk_size
// rows, each with a position holding the progress, and transactions of more
// than 1000 rows in batches of at most 1000, positioned only at their end.
func TestBatching(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "bigdb")
	pg.Exec(t, "bigdb", `CREATE TABLE public.a (id int PRIMARY KEY);
		CREATE TABLE public.b (id int PRIMARY KEY);
		INSERT INTO public.a SELECT g FROM generate_series(1, 1500) g;
		INSERT INTO public.b SELECT g FROM generate_series(1, 700) g;`)
	src := open(t, pg, "bigdb", "public.a, public.b")

	check := func(what string, want []int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		var sizes []int
		var last connect.ChangeEvent
		for {
			b, err := src.Read(ctx)
			if err != nil {
				t.Fatalf("%s: Read: %v", what, err)
			}
			if len(b.Events) > maxBatch && !strings.HasPrefix(what, "snapshot") {
				t.Errorf("%s: batch of %d events", what, len(b.Events))
			}
			sizes = append(sizes, len(b.Events))
			if len(b.Events) > 0 {
				last = b.Events[len(b.Events)-1]
			}
			if b.Position != nil && !strings.Contains(string(b.Position), " snapshot=") {
				break
			}
			if b.Position == nil && strings.HasPrefix(what, "snapshot") {
				t.Errorf("%s: a snapshot batch without a position", what)
			}
		}
		if fmt.Sprint(sizes) != fmt.Sprint(want) {
			t.Errorf("%s: batch sizes %v, want %v", what, sizes, want)
		}
		if last.Op == connect.OpRead && last.Source.Snapshot != "last" {
			t.Errorf("%s: last snapshot row has snapshot %q", what, last.Source.Snapshot)
		}
	}
	check("snapshot", []int{1024, 476, 700})
	pg.Exec(t, "bigdb", `INSERT INTO public.a SELECT g FROM generate_series(10001, 12500) g;`)
	check("transaction", []int{1000, 1000, 500})
}

const maxBatch = 1000

func TestParsePosition(t *testing.T) {
	for _, good := range []string{"lsn=0/16B3748", "lsn=1/0", "lsn=FFFFFFFF/FFFFFFFF"} {
		lsn, err := postgres.ParsePosition(connect.Position(good))
		if err != nil || string(postgres.Position(lsn)) != good {
			t.Errorf("ParsePosition(%q) = %v, %v", good, lsn, err)
		}
	}
	for _, bad := range []string{"", "lsn=", "lsn=0/0", "lsn=0/16b3748", "lsn=00/1", "lsn=1", "seq=1", "lsn=1/2 ", "lsn=G/1"} {
		if _, err := postgres.ParsePosition(connect.Position(bad)); err == nil {
			t.Errorf("ParsePosition(%q) succeeded", bad)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	k := postgres.New()
	c := connecttest.Connector(t, k, "dsn: postgres://u@h/db\ntables: [public.*, s.t]\n")
	cfg, problems := postgres.ParseConfig(c)
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	want := postgres.Config{
		DSN:               "postgres://u@h/db",
		Tables:            []postgres.TableRef{{Schema: "public", Table: "*"}, {Schema: "s", Table: "t"}},
		Slot:              "sluice_acceptance",
		Publication:       "sluice_acceptance",
		Snapshot:          "initial",
		TopicPrefix:       "acceptance",
		CreatePublication: true,
		HeartbeatInterval: 10 * time.Second,

		SnapshotParallelism: 1,
		SnapshotChunkSize:   1024,
	}
	if fmt.Sprintf("%+v", cfg) != fmt.Sprintf("%+v", want) {
		t.Errorf("config = %+v\nwant %+v", cfg, want)
	}
	if got := postgres.DefaultSlot("shop-PG.1"); got != "sluice_shop_pg_1" {
		t.Errorf("DefaultSlot = %q", got)
	}
}

func TestWalLevel(t *testing.T) {
	pg := testdb.StartPostgres(t, testdb.PostgresSetting("wal_level", "replica"))
	pg.CreateDatabase(t, "w")
	pg.Exec(t, "w", "CREATE TABLE public.items (id int PRIMARY KEY)")
	k := postgres.New()
	src, err := k.NewSource(connecttest.Connector(t, k, fmt.Sprintf("dsn: %s\ntables: [public.items]\n", pg.DSN("w"))), connecttest.Env(t))
	if err != nil {
		t.Fatal(err)
	}
	err = src.Open(t.Context(), nil)
	if err == nil {
		src.Close()
		t.Fatal("Open succeeded with wal_level replica")
	}
	if connect.Class(err) != "fatal" || !strings.Contains(err.Error(), "ALTER SYSTEM SET wal_level = logical") {
		t.Errorf("Open: %v (class %s), want a fatal error naming ALTER SYSTEM SET wal_level = logical", err, connect.Class(err))
	}
}

// TestKeepalive checks that the source answers the server's keepalives: with
// wal_sender_timeout at 1s and the heartbeat at its 10s default, a stream
// idle for 3s still delivers afterwards.
func TestKeepalive(t *testing.T) {
	pg := testdb.StartPostgres(t, testdb.PostgresSetting("wal_sender_timeout", "1s"))
	pg.CreateDatabase(t, "ka")
	pg.Exec(t, "ka", "CREATE TABLE public.items (id int PRIMARY KEY)")
	src := open(t, pg, "ka", "public.items")
	if evs, _, _ := readTx(t, src); len(evs) != 0 {
		t.Fatalf("snapshot of an empty table: %d events", len(evs))
	}
	// Idle, Read answers the keepalives that ask for a reply; it may
	// return batches that only move the position, never events.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	for {
		b, err := src.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				t.Fatalf("idle Read: %v", err)
			}
			break
		}
		if len(b.Events) > 0 {
			t.Fatalf("idle Read returned %d events", len(b.Events))
		}
		if b.Position != nil {
			src.Ack(ctx, b.Position)
		}
	}
	pg.Exec(t, "ka", "INSERT INTO public.items VALUES (1)")
	if evs, _, _ := readTx(t, src); len(evs) != 1 || evs[0].After[0].Int != 1 {
		t.Fatalf("after idling: %d events", len(evs))
	}
}

// openBlock opens a source of block at pos; the connector is "acceptance".
func openBlock(t *testing.T, block string, pos connect.Position) (connect.Source, error) {
	t.Helper()
	k := postgres.New()
	src, err := k.NewSource(connecttest.Connector(t, k, block), connecttest.Env(t))
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

// TestHeartbeat checks that heartbeats move the slot's confirmed position
// past writes to tables that are not captured.
func TestHeartbeat(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "hb")
	pg.Exec(t, "hb", "CREATE TABLE public.a (id int PRIMARY KEY); CREATE TABLE public.b (id int PRIMARY KEY)")
	src, err := openBlock(t, fmt.Sprintf("dsn: %s\ntables: [public.a]\nslot: slot_hb\nheartbeat_interval: 200ms\n", pg.DSN("hb")), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if evs, pos, _ := readTx(t, src); len(evs) != 0 {
		t.Fatalf("snapshot of an empty table: %d events", len(evs))
	} else if err := src.Ack(t.Context(), pos); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		pg.Exec(t, "hb", fmt.Sprintf("INSERT INTO public.b VALUES (%d)", i))
		time.Sleep(50 * time.Millisecond)
	}
	walLSN := pg.Query(t, "hb", "SELECT pg_current_wal_lsn()")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatalf("Read: %v (confirmed_flush_lsn never passed %s)", err, walLSN)
		}
		if len(b.Events) != 0 {
			t.Fatalf("Read returned %d events of an uncaptured table", len(b.Events))
		}
		if b.Position == nil {
			continue
		}
		if _, err := postgres.ParsePosition(b.Position); err != nil {
			t.Fatalf("heartbeat position: %v", err)
		}
		if err := src.Ack(ctx, b.Position); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if pg.Query(t, "hb", fmt.Sprintf("SELECT confirmed_flush_lsn >= '%s' FROM pg_replication_slots WHERE slot_name = 'slot_hb'", walLSN)) == "t" {
			return
		}
	}
}

// TestSlotGone checks what Open does at a stored position whose slot is
// gone: resync-needed with initial and never, a new snapshot with
// when_needed.
func TestSlotGone(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "gone")
	pg.Exec(t, "gone", "CREATE TABLE public.items (id int PRIMARY KEY); INSERT INTO public.items VALUES (1), (2)")
	block := fmt.Sprintf("dsn: %s\ntables: [public.items]\nslot: slot_gone\n", pg.DSN("gone"))
	src, err := openBlock(t, block, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	_, pos, _ := readTx(t, src)
	src.Close()
	pg.Exec(t, "gone", "SELECT pg_drop_replication_slot('slot_gone'); INSERT INTO public.items VALUES (3)")

	for _, mode := range []string{"initial", "never"} {
		_, err := openBlock(t, block+"snapshot: "+mode+"\n", pos)
		if err == nil {
			t.Fatalf("%s: Open succeeded without the slot", mode)
		}
		if connect.Class(err) != "resync-needed" || !strings.Contains(err.Error(), `run "sluice connectors reset acceptance" to take a new snapshot`) {
			t.Errorf("%s: Open: %v (class %s)", mode, err, connect.Class(err))
		}
	}

	src, err = openBlock(t, block+"snapshot: when_needed\n", pos)
	if err != nil {
		t.Fatalf("when_needed: Open: %v", err)
	}
	snap, pos2, _ := readTx(t, src)
	if len(snap) != 3 || snap[0].Op != connect.OpRead || snap[2].Source.Snapshot != "last" {
		t.Fatalf("when_needed: new snapshot of %d events %+v", len(snap), snap)
	}
	if err := src.Ack(t.Context(), pos2); err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, "gone", "INSERT INTO public.items VALUES (4)")
	if evs, _, _ := readTx(t, src); len(evs) != 1 || evs[0].Op != connect.OpCreate || evs[0].After[0].Int != 4 {
		t.Fatalf("when_needed: after the snapshot: %d events %+v", len(evs), evs)
	}
}
