package engine

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/embedded"
	sluicelog "github.com/sluice-cdc/sluice/log"
)

func TestFlattenStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   map[string]any
		want []statusSample
	}{
		{"empty", nil, nil},
		{"numbers of every kind", map[string]any{
			"slot_lag_bytes":          int64(4096),
			"replication_lag_seconds": 1.5,
			"snapshot_rows":           uint32(7),
			"from_json":               json.Number("12"),
			"streaming":               true,
			"snapshotting":            false,
			"wait":                    1500 * time.Millisecond,
			"acked_lsn":               "0/16B3748", // not a number
			"tables":                  []string{"a"},
			"nothing":                 nil,
		}, []statusSample{
			{name: "from_json", path: "from_json", v: 12},
			{name: "replication_lag_seconds", path: "replication_lag_seconds", v: 1.5},
			{name: "slot_lag_bytes", path: "slot_lag_bytes", v: 4096},
			{name: "snapshot_rows", path: "snapshot_rows", v: 7},
			{name: "snapshotting", path: "snapshotting", v: 0},
			{name: "streaming", path: "streaming", v: 1},
			{name: "wait", path: "wait", v: 1.5},
		}},
		{"per table, as the postgres source reports", map[string]any{
			"snapshot_tables": map[string]any{
				"public.t": map[string]any{"rows_done": 10, "rows_total": int64(100), "mode": "incremental"},
				"public.a": map[string]any{"rows_done": 1, "rows_total": 1, "mode": "initial"},
			},
		}, []statusSample{
			{name: "snapshot_tables_rows_done", path: "snapshot_tables.*.rows_done", label: "table", value: "public.a", v: 1},
			{name: "snapshot_tables_rows_done", path: "snapshot_tables.*.rows_done", label: "table", value: "public.t", v: 10},
			{name: "snapshot_tables_rows_total", path: "snapshot_tables.*.rows_total", label: "table", value: "public.a", v: 1},
			{name: "snapshot_tables_rows_total", path: "snapshot_tables.*.rows_total", label: "table", value: "public.t", v: 100},
		}},
		{"named numbers, typed maps, deeper fields", map[string]any{
			"lag_by_slot":     map[string]int64{"s1": 5},
			"queries":         map[string]any{"q": 2},
			"connectors":      map[string]any{"x": 1},
			"progress-by-run": map[string]map[string]any{"r1": {"rows": map[string]any{"done": 3}}},
		}, []statusSample{
			{name: "connectors", path: "connectors.*", label: "key", value: "x", v: 1},
			{name: "lag_by_slot", path: "lag_by_slot.*", label: "slot", value: "s1", v: 5},
			{name: "progress_by_run_rows_done", path: "progress-by-run.*.rows.done", label: "run", value: "r1", v: 3},
			{name: "queries", path: "queries.*", label: "query", value: "q", v: 2},
		}},
	} {
		if got := flattenStatus(tc.st); !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestThingLabel(t *testing.T) {
	for k, want := range map[string]string{
		"snapshot_tables": "table", "tables": "table", "slots": "slot", "queries": "query",
		"progress": "progress", "lag_by_slot": "slot", "tasks": "key", "x_": "key", "a_2s": "key",
	} {
		if got := thingLabel(k); got != want {
			t.Errorf("thingLabel(%q) = %q, want %q", k, got, want)
		}
	}
}

// statusSource is a source that writes one batch of events to two topics,
// then waits, and reports a status as the postgres source does.
type statusSource struct{ done bool }

var statusTable = &connect.Table{Schema: "public", Name: "t",
	Columns: []connect.Column{{Name: "id", Type: "bigint", Kind: connect.KindInt64}},
	Key:     []int{0}}

func (s *statusSource) Open(context.Context, connect.Position) error { return nil }
func (s *statusSource) Read(ctx context.Context) (connect.SourceBatch, error) {
	if s.done {
		<-ctx.Done()
		return connect.SourceBatch{}, ctx.Err()
	}
	s.done = true
	var b connect.SourceBatch
	for i, topic := range []string{"pg.public.t", "pg.public.t", "pg.public.u", "pg.public.t"} {
		b.Events = append(b.Events, connect.ChangeEvent{Op: connect.OpCreate, Table: statusTable, Topic: topic,
			After:  []connect.Value{connect.Int64(int64(i))},
			Source: connect.SourceInfo{Connector: "test", Name: "pg", Schema: "public", Table: "t"}})
	}
	b.Position = connect.Position("1")
	return b, nil
}
func (s *statusSource) Ack(context.Context, connect.Position) error { return nil }
func (s *statusSource) Close() error                                { return nil }
func (s *statusSource) Status() map[string]any {
	return map[string]any{
		"snapshot_rows":           int64(110),
		"slot_lag_bytes":          int64(4096),
		"replication_lag_seconds": 0.25,
		"acked_lsn":               "0/16B3748",
		"snapshot_tables": map[string]any{
			"public.t": map[string]any{"mode": "initial", "rows_done": int64(10), "rows_total": int64(100)},
			"public.u": map[string]any{"mode": "initial", "rows_done": int64(100), "rows_total": int64(100)},
		},
	}
}

type statusKind struct{}

func (statusKind) Name() string                               { return "status-source" }
func (statusKind) Role() connect.Role                         { return connect.RoleSource }
func (statusKind) Check(*configs.Connector) []configs.Problem { return nil }
func (statusKind) Tasks(*configs.Connector) int               { return 1 }
func (statusKind) NewSource(*configs.Connector, connect.Env) (connect.Source, error) {
	return &statusSource{}, nil
}

// TestSourceMetrics runs a source under a connector runtime that reports
// to the engine's connect metrics, and scrapes the registry.
func TestSourceMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newConnectMetrics()
	if err := m.register(reg); err != nil {
		t.Fatal(err)
	}
	if _, ok := gather(t, reg, statusPrefix+"slot_lag_bytes", nil); ok {
		t.Error("status series reported before the runtime is set")
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := sluicelog.Open(t.TempDir(), sluicelog.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	creg := connect.NewRegistry()
	creg.Register(statusKind{})
	rt := connect.NewRuntime(embedded.New(l, 1, 1), creg, connect.RuntimeOptions{Metrics: m, Logger: quiet})
	defer rt.Close()
	cfg, err := configs.Parse("test.yaml", []byte("version: 1\nconnectors:\n  - {name: pg, kind: status-source}\n"), configs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(cfg.Connectors); err != nil {
		t.Fatal(err)
	}
	m.status.set(rt.SourceProgress)
	waitFor(t, "the batch counted", func() bool {
		n, _ := gather(t, reg, "sluice_source_records_total", map[string]string{"connector": "pg", "topic": "pg.public.u"})
		return n == 1
	})
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sluice_source_records_total", map[string]string{"connector": "pg", "topic": "pg.public.t"}, 3},
		{"sluice_source_records_total", map[string]string{"connector": "pg", "topic": "pg.public.u"}, 1},
		{statusPrefix + "snapshot_rows", map[string]string{"connector": "pg", "task": "0"}, 110},
		{statusPrefix + "slot_lag_bytes", map[string]string{"connector": "pg", "task": "0"}, 4096},
		{statusPrefix + "replication_lag_seconds", map[string]string{"connector": "pg", "task": "0"}, 0.25},
		{statusPrefix + "snapshot_tables_rows_done", map[string]string{"connector": "pg", "task": "0", "table": "public.t"}, 10},
		{statusPrefix + "snapshot_tables_rows_total", map[string]string{"connector": "pg", "task": "0", "table": "public.t"}, 100},
		{statusPrefix + "snapshot_tables_rows_done", map[string]string{"connector": "pg", "task": "0", "table": "public.u"}, 100},
	} {
		got, ok := gather(t, reg, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == statusPrefix+"acked_lsn" || mf.GetName() == statusPrefix+"snapshot_tables_mode" {
			t.Errorf("a string field became a metric: %s", mf.GetName())
		}
	}

	if err := rt.Stop("pg"); err != nil {
		t.Fatal(err)
	}
	if _, ok := gather(t, reg, statusPrefix+"slot_lag_bytes", nil); ok {
		t.Error("status series of a stopped connector")
	}
	m.status.set(nil)
}

// TestSourceStatusCollectorConflicts checks that fields a registry would
// refuse together (the same name with other labels, or twice) are left
// out, and the scrape still succeeds.
func TestSourceStatusCollectorConflicts(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := &sourceStatusCollector{}
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	c.set(func() []connect.SourceProgress {
		return []connect.SourceProgress{
			{Connector: "a", Task: 0, Status: map[string]any{"lag": 1, "x-y": 2, "x_y": 3}},
			{Connector: "b", Task: 0, Status: map[string]any{"lag": map[string]any{"s": 4}, "bad": map[string]any{"\xff": 5}}},
		}
	})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var got []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			s := mf.GetName()
			for _, lp := range m.GetLabel() {
				s += " " + lp.GetName() + "=" + lp.GetValue()
			}
			got = append(got, s+" "+strconv.FormatFloat(m.GetGauge().GetValue(), 'g', -1, 64))
		}
	}
	want := []string{
		"sluice_source_status_lag connector=a task=0 1",
		"sluice_source_status_x_y connector=a task=0 2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("series\n%q\nwant\n%q", got, want)
	}
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestEngineServesSourceMetrics runs an engine with a source connector and
// reads its series from /metrics.
func TestEngineServesSourceMetrics(t *testing.T) {
	reg := connect.NewRegistry()
	reg.Register(statusKind{})
	text := "version: 1\nnode: {id: 1, data_dir: " + strconv.Quote(t.TempDir()) + ", kafka_listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0}\n" +
		"connectors:\n  - {name: pg, kind: status-source}\n"
	cfg, err := configs.Parse("sluice.yaml", []byte(text), ConfigOptions(reg))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, Options{Connectors: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{e: e, cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		_ = e.Close()
	})
	addr := r.waitReady(t)
	want := []string{
		`sluice_source_records_total{connector="pg",topic="pg.public.t"} 3`,
		`sluice_source_records_total{connector="pg",topic="pg.public.u"} 1`,
		`sluice_source_status_slot_lag_bytes{connector="pg",task="0"} 4096`,
		`sluice_source_status_snapshot_tables_rows_done{connector="pg",table="public.t",task="0"} 10`,
	}
	var metrics string
	waitFor(t, "the source's series on /metrics", func() bool {
		_, metrics = get(t, "http://"+addr+"/metrics")
		for _, w := range want {
			if !strings.Contains(metrics, w) {
				return false
			}
		}
		return true
	})
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
