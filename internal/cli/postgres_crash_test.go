package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-cdc/sluice/internal/pgworkload"
	"github.com/sluice-cdc/sluice/internal/testdb"
)

// crashSeed returns the workload's seed: SLUICE_PG_WORKLOAD_SEED's, or a
// new one; it is logged.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SLUICE_PG_WORKLOAD_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SLUICE_PG_WORKLOAD_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("workload seed %d (replay with SLUICE_PG_WORKLOAD_SEED=%d)", seed, seed)
	return seed
}

// pgCrash is a "sluice run" process, restarted after every kill, with a
// postgres-source named pgc capturing the pgworkload tables of one
// database into topics wl.public.*.
type pgCrash struct {
	*crashProc
	dsn string
}

// startPGCrash sets up the workload's tables in a new database of pg, with
// extraSQL run after, and starts sluice with the connector's config
// block extended by extraConfig (lines indented by six spaces).
func startPGCrash(t *testing.T, pg *testdb.Postgres, db, extraSQL, extraConfig string) *pgCrash {
	t.Helper()
	c := &pgCrash{crashProc: newCrashProc(t, "pgc"), dsn: pg.DSN(db)}
	pg.CreateDatabase(t, db)
	if err := pgworkload.Setup(t.Context(), c.dsn); err != nil {
		t.Fatal(err)
	}
	if extraSQL != "" {
		pg.Exec(t, db, extraSQL)
	}
	c.setConfig(extraConfig)
	c.start()
	return c
}

// setConfig writes the config file with extra lines (indented by six
// spaces) in the connector's config block; the next start reads it.
func (c *pgCrash) setConfig(extra string) {
	c.writeConfig("postgres-source", fmt.Sprintf(`      dsn: %s
      tables: [public.wl_items, public.wl_pairs, public.wl_bag, public.wl_fence]
      slot: crash_slot
      publication: crash_pub
      topic_prefix: wl
      heartbeat_interval: 500ms
%s`, c.dsn, extra))
}

// fence commits a fence through w and waits until the log holds it.
func (c *pgCrash) fence(ctx context.Context, w *pgworkload.Workload) {
	c.t.Helper()
	v, err := w.Fence(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	waitForFence(c.t, ctx, c.addr, v, c.runs[len(c.runs)-1])
}

// check stops sluice with SIGTERM and checks its log against the database.
func (c *pgCrash) check(ctx context.Context, w *pgworkload.Workload) {
	t := c.t
	t.Helper()
	l := c.stop()
	defer l.Close()
	recs, err := pgworkload.ReadLog(l, "wl")
	if err != nil {
		t.Fatal(err)
	}
	res, err := pgworkload.Check(ctx, c.dsn, recs, w.Defaults)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range res.Problems {
		if i == 30 {
			t.Errorf("... %d more problems", len(res.Problems)-i)
			break
		}
		t.Error(p)
	}
	t.Logf("%d kills; workload %+v; %s", c.kills, w.Stats(), res.Summary())
}

// TestProcessKill9PostgresSource runs the seeded random workload of
// pgworkload against PostgreSQL while "sluice run" captures it with a
// postgres-source, and kills the process with SIGKILL four times
// mid-stream (after the initial snapshot), each time right after a
// transaction was committed, one of them larger than a source batch.
// After a last run has caught up (a fence row read back through the
// Kafka API), the log is read from offset 0: every table rebuilt from its
// topic equals the table in PostgreSQL value by value, and no event of a
// committed transaction (source.lsn, txId, transaction.total_order) is in
// the log twice or missing.
func TestProcessKill9PostgresSource(t *testing.T) {
	seed := crashSeed(t)
	pg := testdb.StartPostgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	c := startPGCrash(t, pg, "crash", "", "")
	const transactions = 600
	w := pgworkload.New(c.dsn, pgworkload.Options{Seed: seed, Transactions: transactions, Logf: t.Logf,
		Between: func(i int) {
			// Right after transactions 120 (the one of 2400 events),
			// 240, 360 and 480 commit, while the source streams them.
			if i%(transactions/5) == 1 && i > 1 {
				c.kill()
			}
		}})
	defer w.Close()
	c.fence(ctx, w) // the initial snapshot is in the log
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if c.kills != 4 {
		t.Fatalf("%d kills, want 4", c.kills)
	}
	c.fence(ctx, w)
	c.check(ctx, w)
}

// TestProcessKill9PostgresSnapshot kills "sluice run" with SIGKILL while
// it takes the initial snapshot (20,000 rows, read in chunks of 20 so
// that the kill lands in it), then restarts it with chunks of 2000 for the
// rest, which is read while streaming, and kills it twice more during the
// workload; then checks the log as TestProcessKill9PostgresSource does.
func TestProcessKill9PostgresSnapshot(t *testing.T) {
	seed := crashSeed(t)
	pg := testdb.StartPostgres(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	c := startPGCrash(t, pg, "snap",
		"INSERT INTO public.wl_items (id, n, s) SELECT g, g, 'big ' || g FROM generate_series(100000, 119999) g",
		"      snapshot_chunk_size: 20\n")
	c.waitPosition("a stored snapshot chunk", func(pos string) bool { return strings.Contains(pos, "snapshot=") })
	c.setConfig("      snapshot_chunk_size: 2000\n")
	if pos := c.kill(); !strings.Contains(pos, "snapshot=") {
		t.Fatalf("the kill did not interrupt the initial snapshot: stored position %q", pos)
	}
	const transactions = 300
	w := pgworkload.New(c.dsn, pgworkload.Options{Seed: seed, Transactions: transactions, Logf: t.Logf,
		Between: func(i int) {
			if i == transactions/3 || i == 2*transactions/3 {
				t.Logf("kill at transaction %d: stored position %.100s", i, c.kill())
			}
		}})
	defer w.Close()
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	c.waitPosition("the snapshot to finish", func(pos string) bool {
		return strings.HasPrefix(pos, "lsn=") && !strings.Contains(pos, "snapshot=")
	})
	c.fence(ctx, w)
	c.check(ctx, w)
}

// waitForFence consumes the fence topic through the Kafka API at addr until
// it holds the value v.
func waitForFence(t *testing.T, ctx context.Context, addr string, v int64, stderr *lineReader) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(pgworkload.FenceTopic("wl")),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		found := false
		fetches.EachRecord(func(r *kgo.Record) {
			if pgworkload.FenceValue(r.Value) >= v {
				found = true
			}
		})
		if found {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fence %d never reached topic %s; stderr:\n%s", v, pgworkload.FenceTopic("wl"), stderr)
		}
	}
}
