package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/internal/pgworkload"
	"github.com/sluice-cdc/sluice/internal/testdb"
	"github.com/sluice-cdc/sluice/sources/postgres"
)

// openErr opens a source of block at pos and returns Open's error, or the
// first Read's when Open succeeds.
func openErr(t *testing.T, block string, pos connect.Position) error {
	t.Helper()
	k := postgres.New()
	src, err := k.NewSource(connecttest.Connector(t, k, block), connecttest.Env(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := src.Open(ctx, pos); err != nil {
		return err
	}
	_, err = src.Read(ctx)
	return err
}

// wantErr checks err's class and that its message holds every part.
func wantErr(t *testing.T, what string, err error, class string, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want a %s error", what, class)
		return
	}
	if got := connect.Class(err); got != class {
		t.Errorf("%s: error classed %s, want %s: %v", what, got, class, err)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not say %q", what, err, p)
		}
	}
}

// TestFaultAuthentication checks the errors of a wrong password and of a
// missing database: both are fatal (retrying cannot fix them) and say
// what is wrong. testdb trusts every local connection, so the test puts
// a password rule for one role in front of pg_hba.conf and reloads it.
func TestFaultAuthentication(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "auth")
	pg.Exec(t, "auth", `CREATE ROLE pwuser LOGIN REPLICATION PASSWORD 'right';
		GRANT CREATE ON DATABASE auth TO pwuser;
		CREATE TABLE public.items (id int PRIMARY KEY);
		ALTER TABLE public.items OWNER TO pwuser;`)
	hba := filepath.Join(pg.DataDir, "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	rules := "host all pwuser 127.0.0.1/32 scram-sha-256\nhost replication pwuser 127.0.0.1/32 scram-sha-256\n"
	if err := os.WriteFile(hba, append([]byte(rules), old...), 0); err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, "", "SELECT pg_reload_conf()")
	dsn := func(password, db string) string {
		u := url.URL{Scheme: "postgres", User: url.UserPassword("pwuser", password), Host: fmt.Sprintf("%s:%d", pg.Host, pg.Port), Path: "/" + db, RawQuery: "sslmode=disable"}
		return u.String()
	}
	// The reload is asynchronous: wait until the wrong password is refused.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := pgx.Connect(t.Context(), dsn("wrong", "auth"))
		if err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "28P01" {
				break
			}
		} else {
			c.Close(t.Context())
		}
		if time.Now().After(deadline) {
			t.Fatalf("pg_hba.conf reload: the wrong password is still accepted (last error %v)", err)
		}
	}
	block := func(dsn string) string {
		return fmt.Sprintf("dsn: %s\ntables: [public.items]\nslot: slot_auth\n", dsn)
	}

	err = openErr(t, block(dsn("wrong", "auth")), nil)
	wantErr(t, "wrong password", err, "fatal", "postgres-source", `password authentication failed for user "pwuser"`)

	err = openErr(t, block(dsn("right", "nodb")), nil)
	wantErr(t, "missing database", err, "fatal", "postgres-source", `database "nodb" does not exist`)

	// The right password works: the rule above is what refused the
	// wrong one.
	if err := openErr(t, block(dsn("right", "auth")), nil); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("right password: %v", err)
	}
}

// TestFaultUnreachable checks that a closed port is a retriable error that
// the runtime retries with backoff, showing the error in the task's
// status, without failing the task.
func TestFaultUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dsn := fmt.Sprintf("postgres://postgres@%s/x?sslmode=disable&connect_timeout=5", addr)
	err = openErr(t, fmt.Sprintf("dsn: %s\ntables: [public.items]\n", dsn), nil)
	wantErr(t, "closed port", err, "retriable", "postgres-source", "connect", addr)

	p := startPipeline(t, fmt.Sprintf("      dsn: %s\n      tables: [public.items]\n", dsn), pipelineOptions{minBackoff: 10 * time.Millisecond, maxBackoff: 50 * time.Millisecond})
	ts := p.waitTask("retries", func(ts connect.TaskStatus) bool {
		r, _ := ts.Details["retries"].(int)
		return r >= 3
	})
	if ts.State != connect.StateRunning || !strings.Contains(fmt.Sprint(ts.Details["last_error"]), addr) {
		t.Errorf("task while the database is unreachable: %+v; want RUNNING, retrying, the last error naming %s", ts, addr)
	}
}

// dropSlot terminates the walsender holding slot and drops the slot,
// retrying while the source takes it again.
func dropSlot(t *testing.T, pg *testdb.Postgres, db, slot string) {
	t.Helper()
	pg.Exec(t, db, fmt.Sprintf(`DO $$ BEGIN
		FOR i IN 1..1000 LOOP
			PERFORM pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '%[1]s' AND active_pid IS NOT NULL;
			BEGIN
				PERFORM pg_drop_replication_slot('%[1]s');
				RETURN;
			EXCEPTION WHEN object_in_use THEN
				PERFORM pg_sleep(0.01);
			END;
		END LOOP;
		RAISE EXCEPTION 'slot %[1]s stays in use';
	END $$;`, slot))
}

// highWatermarks returns the end of every topic of the pipeline (one
// partition each).
func (p *pipeline) highWatermarks() map[string]int64 {
	out := map[string]int64{}
	for _, info := range p.log.Topics() {
		st, err := p.log.State(info.Name, 0)
		if err != nil {
			p.t.Fatal(err)
		}
		out[info.Name] = st.HighWatermark
	}
	return out
}

// after returns the records at or past the offsets in from.
func after(recs []pgworkload.Record, from map[string]int64) []pgworkload.Record {
	var out []pgworkload.Record
	for _, r := range recs {
		if r.Offset >= from[r.Topic] {
			out = append(out, r)
		}
	}
	return out
}

// storedPosition returns the position the runtime stored for the
// connector.
func (p *pipeline) storedPosition() connect.Position {
	p.t.Helper()
	pos, ok, err := p.log.Meta("connect/source/" + p.name + "/position")
	if err != nil || !ok {
		p.t.Fatalf("stored position: %v (found %v)", err, ok)
	}
	return pos
}

// smallWorkload waits until p's initial snapshot is in the log, so that
// what follows happens mid-stream, then runs a workload of n
// transactions.
func smallWorkload(t *testing.T, ctx context.Context, p *pipeline, dsn string, n int, o pgworkload.Options) *pgworkload.Workload {
	t.Helper()
	o.Transactions, o.Logf = n, t.Logf
	w := pgworkload.New(dsn, o)
	t.Cleanup(w.Close)
	p.waitFence(ctx, w)
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestFaultSlotDropped drops the replication slot while the connector
// streams. With snapshot initial the task fails with a resync-needed
// error that names "sluice connectors reset"; with when_needed the
// connector takes a new snapshot on a new slot, and the topics from that
// snapshot on rebuild the tables.
func TestFaultSlotDropped(t *testing.T) {
	pg := testdb.StartPostgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	seed := workloadSeed(t)
	for _, mode := range []string{"initial", "when_needed"} {
		t.Run(mode, func(t *testing.T) {
			db := "slot_" + mode
			pg.CreateDatabase(t, db)
			if err := pgworkload.Setup(ctx, pg.DSN(db)); err != nil {
				t.Fatal(err)
			}
			p := startPipeline(t, workloadBlock(pg.DSN(db), db, "      snapshot: "+mode+"\n"), pipelineOptions{})
			w := smallWorkload(t, ctx, p, pg.DSN(db), 60, pgworkload.Options{Seed: seed})
			p.waitFence(ctx, w)
			hw := p.highWatermarks()
			pos := p.storedPosition()
			dropSlot(t, pg, db, "slot_"+db)

			if mode == "initial" {
				ts := p.waitTask("the task to fail", func(ts connect.TaskStatus) bool { return ts.State == connect.StateFailed })
				for _, want := range []string{"slot_" + db, `run "sluice connectors reset wl"`} {
					if !strings.Contains(ts.Trace, want) {
						t.Errorf("failed task's trace %q does not say %q", ts.Trace, want)
					}
				}
				err := openErr(t, workloadBlock(pg.DSN(db), db, ""), pos)
				wantErr(t, "open at the stored position", err, "resync-needed", "replication slot slot_"+db+" does not exist", `run "sluice connectors reset acceptance"`)
				return
			}
			// when_needed: the changes after the drop come after a new
			// snapshot; from it on the topics rebuild the tables. Some
			// changes race the new snapshot, the others are streamed
			// after it.
			for range 2 {
				if err := w.Run(ctx); err != nil {
					t.Fatal(err)
				}
				p.waitFence(ctx, w)
			}
			recs := after(p.records(), hw)
			res := check(t, pg, db, recs, nil)
			if res.Ops["r"] == 0 || res.Txs == 0 {
				t.Errorf("want a new snapshot and streamed transactions after the slot was dropped: %v in %d transactions", res.Ops, res.Txs)
			}
		})
	}
}

// TestFaultPublicationDropped drops the publication while the connector
// streams. Changes made while it is gone cannot be decoded through it
// (the server reads the publication as of each change), so capture must
// not go on silently: the task reports an error naming the publication.
func TestFaultPublicationDropped(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "pub")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := pgworkload.Setup(ctx, pg.DSN("pub")); err != nil {
		t.Fatal(err)
	}
	p := startPipeline(t, workloadBlock(pg.DSN("pub"), "pub", ""), pipelineOptions{})
	w := smallWorkload(t, ctx, p, pg.DSN("pub"), 20, pgworkload.Options{Seed: workloadSeed(t)})
	p.waitFence(ctx, w)
	pg.Exec(t, "pub", "DROP PUBLICATION sluice_wl; INSERT INTO public.wl_items (id, n) VALUES (-1, 1)")
	ts := p.waitTask("the task to fail", func(ts connect.TaskStatus) bool { return ts.State == connect.StateFailed })
	for _, want := range []string{`publication "sluice_wl" does not exist`, `run "sluice connectors reset wl"`} {
		if !strings.Contains(ts.Trace, want) {
			t.Errorf("failed task's trace %q does not say %q", ts.Trace, want)
		}
	}
	// Opened again, the source makes the publication anew
	// (create_publication), and the server still cannot decode the
	// changes made while it was gone: the same resync-needed error.
	k := postgres.New()
	src, err := k.NewSource(connecttest.Connector(t, k, workloadBlock(pg.DSN("pub"), "pub", "")), connecttest.Env(t))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Open(ctx, p.storedPosition()); err != nil {
		t.Fatalf("Open: %v", err)
	}
	for {
		b, err := src.Read(ctx)
		if err != nil {
			wantErr(t, "read after the publication came back", err, "resync-needed", `publication "sluice_wl" does not exist`, `run "sluice connectors reset acceptance"`)
			break
		}
		if len(b.Events) > 0 {
			t.Fatalf("read %d events past the dropped publication", len(b.Events))
		}
	}
}

// TestFaultTableDropped drops a captured table while the connector
// streams: its changes before the drop are captured, the other tables go
// on without a gap, and a restart then fails with a fatal error naming the
// table.
func TestFaultTableDropped(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "drop")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := pgworkload.Setup(ctx, pg.DSN("drop")); err != nil {
		t.Fatal(err)
	}
	p := startPipeline(t, workloadBlock(pg.DSN("drop"), "drop", ""), pipelineOptions{})
	seed := workloadSeed(t)
	w := smallWorkload(t, ctx, p, pg.DSN("drop"), 30, pgworkload.Options{Seed: seed})
	pg.Exec(t, "drop", `BEGIN; INSERT INTO public.wl_bag VALUES (100, 'last', 1); INSERT INTO public.wl_items (id, n) VALUES (-5, 5); COMMIT;
		DROP TABLE public.wl_bag;
		INSERT INTO public.wl_items (id, n) VALUES (-6, 6);`)
	p.waitFence(ctx, w)
	recs := p.records()
	evs, err := pgworkload.Decode(recs)
	if err != nil {
		t.Fatal(err)
	}
	var lastBag, items int
	for _, ev := range evs {
		if ev.Table == "wl_bag" && ev.After != nil && ev.After["y"] == "last" {
			lastBag++
		}
		if ev.Table == "wl_items" && ev.After != nil && (fmt.Sprint(ev.After["id"]) == "-5" || fmt.Sprint(ev.After["id"]) == "-6") {
			items++
		}
	}
	if lastBag != 1 || items != 2 {
		t.Errorf("around the DROP TABLE: %d events of the last wl_bag insert (want 1), %d of the wl_items inserts (want 2)", lastBag, items)
	}
	if ts := p.task(); ts.State != connect.StateRunning {
		t.Errorf("task after DROP TABLE: %+v", ts)
	}
	if err := p.rt.Restart(p.name, true, false); err != nil {
		t.Fatal(err)
	}
	ts := p.waitTask("the restarted task to fail", func(ts connect.TaskStatus) bool { return ts.State == connect.StateFailed })
	if !strings.Contains(ts.Trace, "public.wl_bag does not exist") {
		t.Errorf("restarted task's trace %q does not name the dropped table", ts.Trace)
	}
	err = openErr(t, workloadBlock(pg.DSN("drop"), "drop", ""), p.storedPosition())
	wantErr(t, "open without the table", err, "fatal", "config.tables: table public.wl_bag does not exist")
}

// TestFaultNetworkCut runs the workload through a TCP proxy that the test
// cuts twice mid-stream: once resetting every connection, once turning
// into a black hole that keeps them open and silent. Each time the source
// must fail with a retriable error, which the task's status shows while
// the network is down; after the network is back capture resumes without
// a gap and the tables rebuild exactly.
func TestFaultNetworkCut(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "net")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if err := pgworkload.Setup(ctx, pg.DSN("net")); err != nil {
		t.Fatal(err)
	}
	px := testdb.StartProxy(t, fmt.Sprintf("%s:%d", pg.Host, pg.Port))
	dsn := fmt.Sprintf("postgres://postgres@%s/net?sslmode=disable&connect_timeout=3", px.Addr())
	p := startPipeline(t, workloadBlock(dsn, "net", ""), pipelineOptions{})
	const n = 300
	cuts := map[int]bool{n / 3: false, 2 * n / 3: true}
	var w *pgworkload.Workload
	w = pgworkload.New(pg.DSN("net"), pgworkload.Options{Seed: workloadSeed(t), Transactions: n, Logf: t.Logf, Between: func(i int) {
		hole, ok := cuts[i]
		if !ok {
			return
		}
		delete(cuts, i)
		p.waitFence(ctx, w) // streaming, caught up
		before := p.task().Details["retries"]
		px.Cut(hole)
		ts := p.waitTaskFor(30*time.Second, "an error while the network is cut", func(ts connect.TaskStatus) bool {
			return ts.Details["last_error"] != nil && ts.Details["retries"] != before
		})
		t.Logf("network cut (black hole %v): task %s, last error %v", hole, ts.State, ts.Details["last_error"])
		if ts.State != connect.StateRunning {
			t.Errorf("task while the network is cut: %+v; want RUNNING and retrying", ts)
		}
		px.Restore()
	}})
	defer w.Close()
	p.waitFence(ctx, w) // the initial snapshot is in the log
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	p.waitFence(ctx, w)
	check(t, pg, "net", p.records(), w)
}

// TestFaultPostgresRestart runs the workload while PostgreSQL goes down
// three times with the connector running: a crash (SIGKILL) in the middle
// of a transaction and recovery, a restart between transactions, and a
// fast shutdown in the middle of a transaction. While it is down the task
// retries, showing the error; afterwards capture resumes without a gap and
// the tables rebuild exactly.
func TestFaultPostgresRestart(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "rs")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if err := pgworkload.Setup(ctx, pg.DSN("rs")); err != nil {
		t.Fatal(err)
	}
	p := startPipeline(t, workloadBlock(pg.DSN("rs"), "rs", ""), pipelineOptions{})
	const n = 300
	down := func(what string, stop func()) {
		before := p.task().Details["retries"]
		stop()
		if t.Failed() {
			// testdb gave up on a clean shutdown after 30s and sent
			// SIGKILL to the postmaster; its walsender may live on.
			t.Fatalf("%s: PostgreSQL did not shut down while the connector was connected (see above): the walsender waits for the source to confirm the end of the WAL", what)
		}
		ts := p.waitTask("an error while PostgreSQL is down", func(ts connect.TaskStatus) bool {
			return ts.Details["last_error"] != nil && ts.Details["retries"] != before
		})
		t.Logf("%s: task %s, retries %v, last error %v", what, ts.State, ts.Details["retries"], ts.Details["last_error"])
		if ts.State != connect.StateRunning {
			t.Errorf("task while PostgreSQL is down: %+v; want RUNNING and retrying", ts)
		}
		pg.Restart(t)
	}
	done := map[string]bool{}
	once := func(k string) bool {
		if done[k] {
			return false
		}
		done[k] = true
		return true
	}
	w := smallWorkload(t, ctx, p, pg.DSN("rs"), n, pgworkload.Options{Seed: workloadSeed(t), Tolerate: true,
		During: func(i int) bool {
			switch {
			case i >= n/4 && once("kill"):
				down("crash mid-transaction", pg.Kill)
			case i >= 3*n/4 && once("fast"):
				down("fast shutdown mid-transaction", pg.Stop)
			default:
				return false
			}
			return true
		},
		Between: func(i int) {
			if i == n/2 && once("restart") {
				pg.Restart(t)
			}
		}})
	if len(done) != 3 {
		t.Fatalf("faults injected: %v", done)
	}
	t.Logf("workload: %+v", w.Stats())
	p.waitFence(ctx, w)
	check(t, pg, "rs", p.records(), w)
}

// TestFaultFastShutdown shuts PostgreSQL down (fast mode, as pg_ctl stop
// does by default) while the connector streams and a transaction is open.
// The walsender exits only once the source has confirmed everything it
// was sent; the aborted transaction gives the source nothing to
// acknowledge, so the source must confirm the server's WAL end when it has
// nothing unacknowledged, or the shutdown never ends (testdb kills the
// server after 30s). Afterwards capture resumes and the tables rebuild.
func TestFaultFastShutdown(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "fast")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := pgworkload.Setup(ctx, pg.DSN("fast")); err != nil {
		t.Fatal(err)
	}
	p := startPipeline(t, workloadBlock(pg.DSN("fast"), "fast", ""), pipelineOptions{})
	w := smallWorkload(t, ctx, p, pg.DSN("fast"), 30, pgworkload.Options{Seed: workloadSeed(t), Tolerate: true})
	p.waitFence(ctx, w)
	conn, err := pgx.Connect(ctx, pg.DSN("fast"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO public.wl_items (id, n) VALUES (-1, 1)"); err != nil {
		t.Fatal(err)
	}
	pg.Stop()
	if t.Failed() {
		t.Fatal("PostgreSQL's fast shutdown did not end while the connector was connected (see above): the walsender waits for the source to confirm the end of the WAL, and the source confirms only the last transaction it acknowledged")
	}
	pg.Restart(t)
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	p.waitFence(ctx, w)
	check(t, pg, "fast", p.records(), w)
}
