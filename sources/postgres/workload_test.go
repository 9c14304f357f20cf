package postgres_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/connect/embedded"
	"github.com/sluice-cdc/sluice/internal/pgworkload"
	"github.com/sluice-cdc/sluice/internal/testdb"
	sluicelog "github.com/sluice-cdc/sluice/log"
	"github.com/sluice-cdc/sluice/sources/postgres"
)

// seedEnv overrides the workload's seed, to replay a failing run.
const seedEnv = "SLUICE_PG_WORKLOAD_SEED"

// workloadSeed returns the seed of seedEnv, or a new one, and logs it.
func workloadSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(seedEnv); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", seedEnv, s, err)
		}
		seed = v
	}
	t.Logf("workload seed %d (replay with %s=%d)", seed, seedEnv, seed)
	return seed
}

// pipeline is a postgres-source connector named "wl" running in a
// connect.Runtime over an embedded log in a temporary directory: the
// runtime stores positions with the records and acknowledges them to the
// source, as "sluice run" does.
type pipeline struct {
	t      *testing.T
	name   string
	prefix string
	log    *sluicelog.Log
	rt     *connect.Runtime
}

// pipelineOptions tune startPipeline.
type pipelineOptions struct {
	partitions int32         // default partitions of topics; default 1
	minBackoff time.Duration // the runtime's first retry wait; default 50ms
	maxBackoff time.Duration // default 1s
}

// startPipeline starts connector "wl" with config block, the YAML under
// "config:" indented by six spaces per line.
func startPipeline(t *testing.T, block string, o pipelineOptions) *pipeline {
	t.Helper()
	if o.partitions == 0 {
		o.partitions = 1
	}
	if o.minBackoff == 0 {
		o.minBackoff = 50 * time.Millisecond
	}
	if o.maxBackoff == 0 {
		o.maxBackoff = time.Second
	}
	l, err := sluicelog.Open(t.TempDir(), sluicelog.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	reg := connect.NewRegistry()
	reg.Register(postgres.New())
	logger := connecttest.Env(t).Logger
	p := &pipeline{t: t, name: "wl", prefix: "wl", log: l}
	p.rt = connect.NewRuntime(embedded.New(l, o.partitions, 1), reg, connect.RuntimeOptions{
		Logger: logger, MinBackoff: o.minBackoff, MaxBackoff: o.maxBackoff,
	})
	t.Cleanup(p.close)
	text := "version: 1\nconnectors:\n  - name: wl\n    kind: postgres-source\n    config:\n" + block
	cfg, err := configs.Parse("wl.yaml", []byte(text), configs.Options{})
	if err != nil {
		t.Fatalf("config:\n%s\n%v", text, err)
	}
	if err := p.rt.Start(cfg.Connectors); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pipeline) close() {
	if p.rt != nil {
		p.rt.Close()
		p.rt = nil
	}
	if p.log != nil {
		p.log.Close()
		p.log = nil
	}
}

// task returns the status of the connector's only task.
func (p *pipeline) task() connect.TaskStatus {
	p.t.Helper()
	st, err := p.rt.Status(p.name)
	if err != nil {
		p.t.Fatal(err)
	}
	if len(st.Tasks) != 1 {
		return connect.TaskStatus{State: fmt.Sprintf("%d tasks", len(st.Tasks))}
	}
	return st.Tasks[0]
}

// waitTask polls the task's status until cond holds, failing the test
// after a generous deadline.
func (p *pipeline) waitTask(what string, cond func(connect.TaskStatus) bool) connect.TaskStatus {
	p.t.Helper()
	return p.waitTaskFor(60*time.Second, what, cond)
}

// waitTaskFor is waitTask with a deadline of d.
func (p *pipeline) waitTaskFor(d time.Duration, what string, cond func(connect.TaskStatus) bool) connect.TaskStatus {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ts := p.task()
		if cond(ts) {
			return ts
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("waiting for %s: task status %+v", what, ts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFence commits a fence through w and waits until its record is in
// the log: every transaction w committed before is in the log then.
func (p *pipeline) waitFence(ctx context.Context, w *pgworkload.Workload) {
	p.t.Helper()
	v, err := w.Fence(ctx)
	if err != nil {
		p.t.Fatalf("fence: %v", err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		ok, err := pgworkload.FenceReached(p.log, p.prefix, v)
		if err != nil {
			p.t.Fatal(err)
		}
		if ok {
			return
		}
		if ts := p.task(); ts.State == connect.StateFailed || time.Now().After(deadline) {
			p.t.Fatalf("fence %d not in the log; task %+v", v, ts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// records returns every record of the connector's topics.
func (p *pipeline) records() []pgworkload.Record {
	p.t.Helper()
	recs, err := pgworkload.ReadLog(p.log, p.prefix)
	if err != nil {
		p.t.Fatal(err)
	}
	return recs
}

// check rebuilds the tables from recs and compares them with db.
func check(t *testing.T, pg *testdb.Postgres, db string, recs []pgworkload.Record, w *pgworkload.Workload) *pgworkload.Result {
	t.Helper()
	var defaults map[string]map[string]string
	if w != nil {
		defaults = w.Defaults
	}
	res, err := pgworkload.Check(t.Context(), pg.DSN(db), recs, defaults)
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
	t.Log(res.Summary())
	return res
}

// workloadBlock is the config block of connector "wl" on db.
func workloadBlock(dsn, db, extra string) string {
	return fmt.Sprintf("      dsn: %s\n      tables: [public.wl_items, public.wl_pairs, public.wl_bag, public.wl_fence]\n      slot: slot_%s\n      publication: sluice_wl\n      topic_prefix: wl\n      heartbeat_interval: 500ms\n%s", dsn, db, extra)
}

// TestWorkload runs the seeded random workload (pgworkload) while a
// postgres-source captures it through the runtime into the embedded log,
// then rebuilds every table from its topic and compares it with
// PostgreSQL, value by value: nothing lost, nothing duplicated, rolled-back
// work absent, schema changes picked up without a restart.
func TestWorkload(t *testing.T) {
	seed := workloadSeed(t)
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "wl")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	if err := pgworkload.Setup(ctx, pg.DSN("wl")); err != nil {
		t.Fatal(err)
	}
	p := startPipeline(t, workloadBlock(pg.DSN("wl"), "wl", ""), pipelineOptions{})
	w := pgworkload.New(pg.DSN("wl"), pgworkload.Options{Seed: seed, Transactions: 800, Logf: t.Logf})
	defer w.Close()
	// The initial snapshot first: a schema change while it reads the
	// tables is another matter (it fails once and is retried).
	p.waitFence(ctx, w)
	if err := w.Run(ctx); err != nil {
		t.Fatal(err)
	}
	p.waitFence(ctx, w)
	st := w.Stats()
	t.Logf("workload: %+v", st)
	recs := p.records()
	res := check(t, pg, "wl", recs, w)
	if res.Ops["r"] == 0 || res.Ops["t"] == 0 || res.Ops["c"] == 0 || res.Ops["u"] == 0 || res.Ops["d"] == 0 {
		t.Errorf("the workload did not make every kind of event: %v", res.Ops)
	}
	if ts := p.task(); ts.State != connect.StateRunning || ts.Details["retries"] != nil {
		t.Errorf("task after a fault-free run: %+v", ts)
	}

	// The check itself must notice a lost and a repeated event.
	for _, tamper := range []struct {
		what string
		edit func([]pgworkload.Record) []pgworkload.Record
	}{
		{"a lost event", func(r []pgworkload.Record) []pgworkload.Record {
			i := streamed(t, r, len(r)/2)
			return append(r[:i:i], r[i+1:]...)
		}},
		{"a repeated event", func(r []pgworkload.Record) []pgworkload.Record {
			i := streamed(t, r, len(r)/3)
			return append(r[:i+1:i+1], r[i:]...)
		}},
		{"a repeated transaction", func(r []pgworkload.Record) []pgworkload.Record {
			i := streamed(t, r, 2*len(r)/3)
			j := i + 1
			for j < len(r) && r[j].Topic == r[i].Topic && sameTx(r[i], r[j]) {
				j++
			}
			return append(r[:j:j], append(slices.Clone(r[i:j]), r[j:]...)...)
		}},
	} {
		tampered := tamper.edit(slices.Clone(recs))
		res, err := pgworkload.Check(ctx, pg.DSN("wl"), tampered, w.Defaults)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Problems) == 0 {
			t.Errorf("the check did not notice %s", tamper.what)
		}
	}
}

// streamed returns the index of the first streamed (not snapshot) event
// record at or after i.
func streamed(t *testing.T, recs []pgworkload.Record, i int) int {
	t.Helper()
	for ; i < len(recs); i++ {
		evs, err := pgworkload.Decode(recs[i : i+1])
		if err == nil && len(evs) == 1 && evs[0].LSN != 0 && evs[0].Op != "t" {
			return i
		}
	}
	t.Fatal("no streamed event to tamper with")
	return 0
}

// sameTx reports whether two event records belong to one transaction.
func sameTx(a, b pgworkload.Record) bool {
	ea, err1 := pgworkload.Decode([]pgworkload.Record{a})
	eb, err2 := pgworkload.Decode([]pgworkload.Record{b})
	return err1 == nil && err2 == nil && len(ea) == 1 && len(eb) == 1 && ea[0].LSN == eb[0].LSN
}

// TestTruncateKeyedTable truncates a table with a primary key while the
// connector streams. Its topic is compacted, and a truncate event has a
// null key, which a compacted topic refuses; the connector must not wedge
// on it: later changes must still reach the log.
func TestTruncateKeyedTable(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "trk")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := pgworkload.Setup(ctx, pg.DSN("trk")); err != nil {
		t.Fatal(err)
	}
	p := startPipeline(t, workloadBlock(pg.DSN("trk"), "trk", ""), pipelineOptions{})
	w := pgworkload.New(pg.DSN("trk"), pgworkload.Options{})
	defer w.Close()
	p.waitFence(ctx, w) // streaming: the TRUNCATE comes through the stream
	pg.Exec(t, "trk", `INSERT INTO public.wl_pairs VALUES (-1, 'before', 1, NULL);
		TRUNCATE public.wl_pairs;
		INSERT INTO public.wl_pairs VALUES (-2, 'after', 2, NULL);`)
	v, err := w.Fence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for {
		ok, err := pgworkload.FenceReached(p.log, p.prefix, v)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		ts := p.task()
		if r, _ := ts.Details["retries"].(int); r >= 5 || ts.State == connect.StateFailed || ctx.Err() != nil {
			t.Fatalf("the connector is stuck at the TRUNCATE of a keyed table: task %s, %v retries, last error: %v; trace %q",
				ts.State, ts.Details["retries"], ts.Details["last_error"], ts.Trace)
		}
		time.Sleep(20 * time.Millisecond)
	}
	check(t, pg, "trk", p.records(), nil)
}
