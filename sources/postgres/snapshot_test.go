package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/internal/testdb"
	"github.com/sluice-cdc/sluice/sources/postgres"
)

// openAt opens a source with a config block at pos.
func openAt(t *testing.T, block string, pos connect.Position) *postgres.Source {
	t.Helper()
	k := postgres.New()
	src, err := k.NewSource(connecttest.Connector(t, k, block), connecttest.Env(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := src.Open(ctx, pos); err != nil {
		t.Fatalf("Open at %q: %v", pos, err)
	}
	t.Cleanup(func() { src.Close() })
	return src.(*postgres.Source)
}

// state is a table of (id, n) rebuilt from events.
type state map[int64]int64

func (st state) apply(t *testing.T, ev connect.ChangeEvent) {
	t.Helper()
	if ev.Table.Name != "t" {
		return
	}
	switch ev.Op {
	case connect.OpRead, connect.OpCreate, connect.OpUpdate:
		if ev.Before != nil && ev.Before[0].Int != ev.After[0].Int {
			delete(st, ev.Before[0].Int)
		}
		st[ev.After[0].Int] = ev.After[1].Int
	case connect.OpDelete:
		delete(st, ev.Before[0].Int)
	case connect.OpTruncate:
		clear(st)
	}
}

// tableState reads (id, n) of a table from Postgres.
func tableState(t *testing.T, pg *testdb.Postgres, db, table string) state {
	t.Helper()
	st := state{}
	out := pg.Query(t, db, "SELECT id, n FROM "+table)
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

func (st state) diff(want state) string {
	var b strings.Builder
	for id, n := range want {
		if got, ok := st[id]; !ok {
			fmt.Fprintf(&b, " missing %d;", id)
		} else if got != n {
			fmt.Fprintf(&b, " %d: n=%d, want %d;", id, got, n)
		}
	}
	for id := range st {
		if _, ok := want[id]; !ok {
			fmt.Fprintf(&b, " extra %d;", id)
		}
	}
	return b.String()
}

func snapshotting(pos connect.Position) bool { return strings.Contains(string(pos), " snapshot=") }

// TestSnapshotParallelChunks reads three tables with two workers in chunks
// of 100: every row once, each table in key order, every batch positioned
// with the progress, the last row marked.
func TestSnapshotParallelChunks(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "par")
	pg.Exec(t, "par", `CREATE TABLE public.a (id bigint PRIMARY KEY, n int);
		CREATE TABLE public.b (id bigint PRIMARY KEY, n int);
		CREATE TABLE public.c (id bigint, n int, PRIMARY KEY (n, id));
		INSERT INTO public.a SELECT g, g FROM generate_series(1, 250) g;
		INSERT INTO public.b SELECT g, -g FROM generate_series(1, 1000) g;
		INSERT INTO public.c SELECT g, 7 FROM generate_series(1, 10) g;`)
	src := openAt(t, fmt.Sprintf("dsn: %s\ntables: [public.a, public.b, public.c]\nslot: slot_par\nsnapshot_parallelism: 2\nsnapshot_chunk_size: 100\n", pg.DSN("par")), nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	seen := map[string]map[int64]int{}
	lastID := map[string]int64{}
	var last connect.ChangeEvent
	sawProgress := false
	for done := false; !done; {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b.Position == nil {
			t.Fatal("a snapshot batch without a position")
		}
		done = !snapshotting(b.Position)
		if !done {
			if st, ok := src.Status()["snapshot_tables"].(map[string]any); ok && len(st) > 0 {
				sawProgress = true
			}
		}
		for _, ev := range b.Events {
			if ev.Op != connect.OpRead {
				t.Fatalf("op %c in the snapshot", ev.Op)
			}
			name := ev.Table.Name
			if want := map[string]int{"a": 1, "b": 1, "c": 2}[name]; len(ev.Table.Key) != want {
				t.Fatalf("table %s: key columns %v, want %d", name, ev.Table.Key, want)
			}
			if seen[name] == nil {
				seen[name] = map[int64]int{}
			}
			id := ev.After[0].Int
			seen[name][id]++
			if name != "c" && id <= lastID[name] {
				t.Fatalf("table %s: id %d after %d: not in key order", name, id, lastID[name])
			}
			lastID[name] = id
			if ev.Source.Snapshot != "true" && !(done && ev.Source.Snapshot == "last") {
				t.Fatalf("snapshot marker %q", ev.Source.Snapshot)
			}
			last = ev
		}
	}
	if last.Source.Snapshot != "last" {
		t.Errorf("last row marked %q", last.Source.Snapshot)
	}
	if !sawProgress {
		t.Error("the status never showed the snapshot's progress")
	}
	for name, n := range map[string]int64{"a": 250, "b": 1000, "c": 10} {
		if len(seen[name]) != int(n) {
			t.Errorf("table %s: %d rows, want %d", name, len(seen[name]), n)
		}
		for id, k := range seen[name] {
			if k != 1 {
				t.Errorf("table %s: row %d read %d times", name, id, k)
			}
		}
	}
}

// TestSnapshotResumes interrupts the initial snapshot after three chunks,
// changes rows on both sides of where it stopped, and opens again at the
// last position: the rest is read without reading the first chunks again,
// and the table rebuilt from all events equals the real one.
func TestSnapshotResumes(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "res")
	pg.Exec(t, "res", `CREATE TABLE public.t (id bigint PRIMARY KEY, n bigint, pad text);
		CREATE TABLE public.marker (id int PRIMARY KEY);
		INSERT INTO public.t SELECT g, g, repeat('x', 50) FROM generate_series(1, 1000) g;`)
	block := fmt.Sprintf("dsn: %s\ntables: [public.t, public.marker]\nslot: slot_res\nsnapshot_chunk_size: 100\n", pg.DSN("res"))
	src := openAt(t, block, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	st := state{}
	var pos connect.Position
	for range 3 {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range b.Events {
			st.apply(t, ev)
		}
		pos = b.Position
	}
	if !snapshotting(pos) || len(st) != 300 {
		t.Fatalf("after three chunks: %d rows, position %q", len(st), pos)
	}
	t.Logf("position %s", pos)
	src.Close()
	pg.Exec(t, "res", `UPDATE public.t SET n = n + 100000 WHERE id IN (50, 500, 900);
		DELETE FROM public.t WHERE id IN (10, 600);
		INSERT INTO public.t VALUES (2000, 2000, 'new');
		BEGIN; UPDATE public.t SET id = 3000 WHERE id = 700; UPDATE public.t SET n = 1 WHERE id = 20; COMMIT;`)

	src = openAt(t, block, pos)
	reread := map[int64]int{}
	done := false
	for !done {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range b.Events {
			if ev.Op == connect.OpRead {
				reread[ev.After[0].Int]++
			}
			if ev.Table.Name == "marker" {
				done = true
			}
			st.apply(t, ev)
		}
		if b.Position != nil && !snapshotting(b.Position) && reread[999] == 1 && !done {
			pg.Exec(t, "res", "INSERT INTO public.marker VALUES (1)")
		}
	}
	for id, k := range reread {
		if id <= 300 || k != 1 {
			t.Errorf("row %d read %d times after the resume", id, k)
		}
	}
	if d := st.diff(tableState(t, pg, "res", "public.t")); d != "" {
		t.Fatalf("rebuilt table differs:%s", d)
	}
}

// TestIncrementalSnapshot asks for a snapshot of a table while another
// connection keeps changing it, interrupts the snapshot once and resumes
// it: the table rebuilt from the stream and the snapshot rows equals the
// real table, so no snapshot row overwrote a newer change.
func TestIncrementalSnapshot(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "inc")
	pg.Exec(t, "inc", `CREATE TABLE public.t (id bigint PRIMARY KEY, n bigint);
		CREATE TABLE public.marker (id int PRIMARY KEY);
		INSERT INTO public.t SELECT g, 0 FROM generate_series(1, 3000) g;`)
	block := fmt.Sprintf("dsn: %s\ntables: [public.t, public.marker]\nslot: slot_inc\nsnapshot: never\nsnapshot_chunk_size: 200\nheartbeat_interval: 200ms\n", pg.DSN("inc"))
	src := openAt(t, block, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	// The writer changes random rows in small transactions until stopped.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn := pgConn(t, pg, "inc")
		rng := rand.New(rand.NewPCG(1, 2))
		next := int64(10000)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := rng.Int64N(3200) + 1
			var sql string
			switch rng.IntN(4) {
			case 0:
				sql = fmt.Sprintf("DELETE FROM public.t WHERE id = %d", id)
			case 1:
				next++
				sql = fmt.Sprintf("INSERT INTO public.t VALUES (%d, %d)", next, i)
			default:
				sql = fmt.Sprintf("INSERT INTO public.t VALUES (%d, %d) ON CONFLICT (id) DO UPDATE SET n = %d", id, i, i)
			}
			if _, err := conn.Exec(context.Background(), sql); err != nil {
				t.Error(err)
				return
			}
		}
	}()

	if err := src.RequestSnapshot(ctx, []string{"public.nope"}); err == nil || connect.Class(err) != "fatal" {
		t.Errorf("RequestSnapshot of an uncaptured table: %v", err)
	}
	if err := src.RequestSnapshot(ctx, []string{"public.t"}); err != nil {
		t.Fatal(err)
	}
	st := state{}
	var pos connect.Position
	incremental := 0
	restarted := false
	markerSent, done := false, false
	for !done {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range b.Events {
			if ev.Op == connect.OpRead {
				if ev.Source.Snapshot != "incremental" {
					t.Fatalf("incremental snapshot row marked %q", ev.Source.Snapshot)
				}
				incremental++
			}
			if ev.Table.Name == "marker" {
				done = true
			}
			st.apply(t, ev)
		}
		if b.Position != nil {
			pos = b.Position
		}
		if !restarted && incremental >= 600 && b.Position != nil {
			if !snapshotting(pos) {
				t.Fatalf("position %q during the incremental snapshot has no progress", pos)
			}
			// As after a crash: events after pos are read again.
			src.Close()
			src = openAt(t, block, pos)
			restarted = true
		}
		if restarted && !markerSent && b.Position != nil && !snapshotting(b.Position) {
			close(stop)
			wg.Wait()
			pg.Exec(t, "inc", "INSERT INTO public.marker VALUES (1)")
			markerSent = true
		}
	}
	if incremental < 2000 {
		t.Errorf("only %d snapshot rows", incremental)
	}
	if d := st.diff(tableState(t, pg, "inc", "public.t")); d != "" {
		t.Fatalf("rebuilt table differs:%s", d)
	}
}

// pgConn connects to db, closed at the end of the test.
func pgConn(t *testing.T, pg *testdb.Postgres, db string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pg.DSN(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestTableAddedLater adds a table to the config of a connector that has
// streamed for a while: the publication gains it, and its rows are read by
// an incremental snapshot, then its changes stream.
func TestTableAddedLater(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "later")
	pg.Exec(t, "later", `CREATE TABLE public.a (id bigint PRIMARY KEY, n bigint);
		CREATE TABLE public.t (id bigint PRIMARY KEY, n bigint);
		INSERT INTO public.t SELECT g, g FROM generate_series(1, 500) g;`)
	block := func(tables string) string {
		return fmt.Sprintf("dsn: %s\ntables: [%s]\nslot: slot_later\nsnapshot_chunk_size: 100\n", pg.DSN("later"), tables)
	}
	src := openAt(t, block("public.a"), nil)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var pos connect.Position
	for pos == nil || snapshotting(pos) {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pos = b.Position
	}
	pg.Exec(t, "later", "INSERT INTO public.a VALUES (1, 1); UPDATE public.t SET n = -1 WHERE id = 1")
	evs, pos, _ := readTx(t, src)
	if len(evs) != 1 || evs[0].Table.Name != "a" {
		t.Fatalf("before the table is added: %d events", len(evs))
	}
	src.Close()

	src = openAt(t, block("public.a, public.t"), pos)
	if got := pg.Query(t, "later", "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'sluice_acceptance'"); got != "2" {
		t.Fatalf("publication has %s tables, want 2", got)
	}
	pg.Exec(t, "later", "UPDATE public.t SET n = -2 WHERE id = 2")
	st := state{}
	snapRows := 0
	for snapRows < 500 || len(st) < 500 || st[2] != -2 {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range b.Events {
			if ev.Op == connect.OpRead {
				snapRows++
				if ev.Source.Snapshot != "incremental" {
					t.Fatalf("snapshot row marked %q", ev.Source.Snapshot)
				}
			}
			st.apply(t, ev)
		}
	}
	if d := st.diff(tableState(t, pg, "later", "public.t")); d != "" {
		t.Fatalf("rebuilt table differs:%s", d)
	}
}

// TestSnapshotResumesKeylessTable interrupts the snapshot of a table
// without a key: it is read again whole after a truncate event, so the
// rows rebuilt from the events are the table's, none twice.
func TestSnapshotResumesKeylessTable(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "bag")
	pg.Exec(t, "bag", `CREATE TABLE public.bag (v int);
		ALTER TABLE public.bag REPLICA IDENTITY FULL;
		CREATE TABLE public.marker (id int PRIMARY KEY);
		INSERT INTO public.bag SELECT g % 50 FROM generate_series(1, 250) g;`)
	block := fmt.Sprintf("dsn: %s\ntables: [public.bag, public.marker]\nslot: slot_bag\nsnapshot_chunk_size: 100\n", pg.DSN("bag"))
	src := openAt(t, block, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	bag := map[int64]int{}
	apply := func(ev connect.ChangeEvent) {
		if ev.Table.Name != "bag" {
			return
		}
		switch ev.Op {
		case connect.OpTruncate:
			clear(bag)
		case connect.OpDelete:
			bag[ev.Before[0].Int]--
		case connect.OpUpdate:
			bag[ev.Before[0].Int]--
			bag[ev.After[0].Int]++
		default:
			bag[ev.After[0].Int]++
		}
	}
	b, err := src.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range b.Events {
		apply(ev)
	}
	if len(b.Events) != 100 || !snapshotting(b.Position) {
		t.Fatalf("first chunk: %d rows, position %q", len(b.Events), b.Position)
	}
	src.Close()
	pg.Exec(t, "bag", "INSERT INTO public.bag VALUES (7); DELETE FROM public.bag WHERE v = 3")

	src = openAt(t, block, b.Position)
	truncates := 0
	for done, marked := false, false; !done; {
		b, err := src.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range b.Events {
			if ev.Table.Name == "marker" {
				done = true
			}
			if ev.Op == connect.OpTruncate {
				truncates++
			}
			apply(ev)
		}
		if !marked && b.Position != nil && !snapshotting(b.Position) {
			pg.Exec(t, "bag", "INSERT INTO public.marker VALUES (1)")
			marked = true
		}
	}
	if truncates != 1 {
		t.Errorf("%d truncate events, want 1", truncates)
	}
	want := map[int64]int{}
	for _, line := range strings.Split(pg.Query(t, "bag", "SELECT v FROM public.bag"), "\n") {
		v, _ := strconv.ParseInt(line, 10, 64)
		want[v]++
	}
	for v := range 50 {
		if bag[int64(v)] != want[int64(v)] {
			t.Errorf("value %d: %d rows rebuilt, %d in the table", v, bag[int64(v)], want[int64(v)])
		}
	}
}
