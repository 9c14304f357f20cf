package connect_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/embedded"
	sluicelog "github.com/sluice-cdc/sluice/log"
)

// snapKinds is a source kind that takes ad-hoc snapshots (snap-source),
// and the state its sources share. A snapshot request for table T is
// answered with one op 'r' event on topic "snap.T"; the tables public.nope
// and public.named (with a message naming the connector) are refused as
// fatal, public.flaky as retriable, and public.slow blocks
// until the request's context ends. A connector named "broken" fails to
// open, fatally.
type snapKinds struct {
	mu        sync.Mutex
	requested [][]string
	entered   chan struct{} // receives when a public.slow request is in flight
	inFlight  int
	// closedInFlight counts Closes that came while a request was in
	// flight: the runtime must never let that happen.
	closedInFlight int
}

type snapKind struct{ k *snapKinds }

func (snapKind) Name() string                               { return "snap-source" }
func (snapKind) Role() connect.Role                         { return connect.RoleSource }
func (snapKind) Check(*configs.Connector) []configs.Problem { return nil }
func (snapKind) Tasks(*configs.Connector) int               { return 1 }
func (s snapKind) NewSource(c *configs.Connector, _ connect.Env) (connect.Source, error) {
	return &snapSource{k: s.k, broken: c.Name == "broken", requests: make(chan []string, 16)}, nil
}

type snapSource struct {
	k        *snapKinds
	broken   bool
	requests chan []string
	n        int // events emitted, also the position
	rows     int64
	mu       sync.Mutex // guards rows against Status
}

func (s *snapSource) Open(ctx context.Context, pos connect.Position) error {
	if s.broken {
		return connect.Fatal(errors.New(`role "sluice" has no REPLICATION attribute`))
	}
	if pos != nil {
		s.n, _ = strconv.Atoi(string(pos))
	}
	return nil
}

var snapTable = &connect.Table{Schema: "public", Name: "orders",
	Columns: []connect.Column{{Name: "id", Type: "bigint", Kind: connect.KindInt64}},
	Key:     []int{0}}

func (s *snapSource) Read(ctx context.Context) (connect.SourceBatch, error) {
	select {
	case <-ctx.Done():
		return connect.SourceBatch{}, ctx.Err()
	case tables := <-s.requests:
		var b connect.SourceBatch
		for _, t := range tables {
			s.n++
			b.Events = append(b.Events, connect.ChangeEvent{
				Op: connect.OpRead, Table: snapTable, Topic: "snap." + t,
				After:  []connect.Value{connect.Int64(int64(s.n))},
				Source: connect.SourceInfo{Connector: "snap", Name: "snap", Schema: "public", Table: "orders", Snapshot: "incremental"},
			})
		}
		s.mu.Lock()
		s.rows += int64(len(tables))
		s.mu.Unlock()
		b.Position = connect.Position(strconv.Itoa(s.n))
		return b, nil
	}
}

func (s *snapSource) Ack(context.Context, connect.Position) error { return nil }

func (s *snapSource) Close() error {
	s.k.mu.Lock()
	if s.k.inFlight > 0 {
		s.k.closedInFlight++
	}
	s.k.mu.Unlock()
	return nil
}

func (s *snapSource) RequestSnapshot(ctx context.Context, tables []string) error {
	for _, t := range tables {
		switch t {
		case "public.nope":
			return connect.Fatal(fmt.Errorf("table %q is not in the publication; add it to tables: and restart", t))
		case "public.named":
			return connect.Fatal(fmt.Errorf(`snap-source "snap": table %q is not captured`, t))
		case "public.flaky":
			return connect.Retriable(errors.New("write the snapshot signal: connection reset by peer"))
		case "public.slow":
			s.k.mu.Lock()
			s.k.inFlight++
			s.k.mu.Unlock()
			s.k.entered <- struct{}{}
			<-ctx.Done()
			s.k.mu.Lock()
			s.k.inFlight--
			s.k.mu.Unlock()
			return ctx.Err()
		}
	}
	s.k.mu.Lock()
	s.k.requested = append(s.k.requested, tables)
	s.k.mu.Unlock()
	s.requests <- tables
	return nil
}

func (s *snapSource) Status() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]any{
		"snapshot_rows":  s.rows,
		"slot_lag_bytes": 4096,
		"phase":          "streaming",
		"snapshot_tables": map[string]any{
			"public.orders": map[string]any{"rows_done": s.rows, "rows_total": 10, "mode": "incremental"},
		},
	}
}

// topicMetrics records SourceRecords calls; the rest of connect.Metrics
// does nothing.
type topicMetrics struct {
	mu      sync.Mutex
	records map[string]int // "connector topic" → records
}

func (m *topicMetrics) SourceBatch(string, int, int, int, time.Duration) {}
func (m *topicMetrics) SinkBatch(string, int, int, time.Duration)        {}
func (m *topicMetrics) Error(string, int, string)                        {}
func (m *topicMetrics) Retry(string, int)                                {}
func (m *topicMetrics) DeadLettered(string, int, int)                    {}
func (m *topicMetrics) SinkLag(string, string, int32, int64)             {}
func (m *topicMetrics) SourceRecords(connector string, _ int, topic string, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.records == nil {
		m.records = map[string]int{}
	}
	m.records[connector+" "+topic] += n
}

func (m *topicMetrics) get(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.records[key]
}

// snapRig runs a runtime with snap-source, counter-source and mem-sink
// connectors, and serves its REST API.
type snapRig struct {
	t       *testing.T
	k       *snapKinds
	log     *sluicelog.Log
	rt      *connect.Runtime
	srv     *httptest.Server
	metrics *topicMetrics
}

func newSnapRig(t *testing.T, conf string) *snapRig {
	r := &snapRig{t: t, k: &snapKinds{entered: make(chan struct{}, 1)}, metrics: &topicMetrics{}}
	l, err := sluicelog.Open(t.TempDir(), sluicelog.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	r.log = l
	tk := &testKinds{max: 0}
	reg := connect.NewRegistry()
	reg.Register(snapKind{r.k})
	reg.Register(srcKind{tk})
	reg.Register(sinkKind{tk})
	r.rt = connect.NewRuntime(embedded.New(l, 1, 1), reg, connect.RuntimeOptions{Logger: quiet(), Metrics: r.metrics, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	r.srv = httptest.NewServer(connect.NewRESTHandler(r.rt, quiet()))
	t.Cleanup(func() {
		r.srv.Close()
		r.rt.Close()
		l.Close()
	})
	cfg, err := configs.Parse("test.yaml", []byte("version: 1\nconnectors:\n"+conf), configs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.rt.Start(cfg.Connectors); err != nil {
		t.Fatal(err)
	}
	return r
}

// do sends method path with body and returns the status code and body.
func (r *snapRig) do(method, path, body string) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.srv.URL+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	res, err := r.srv.Client().Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSuffix(string(b), "\n")
}

// snapshot posts a snapshot request, again while the answer is 503 (the
// task is still opening its source).
func (r *snapRig) snapshot(name, body string) (int, string) {
	r.t.Helper()
	var code int
	var answer string
	eventually(r.t, "an answer other than 503 for "+name, func() bool {
		code, answer = r.do("POST", "/connectors/"+name+"/snapshot", body)
		return code != http.StatusServiceUnavailable
	})
	return code, answer
}

func (r *snapRig) expect(what string, code int, answer string, wantCode int, wantMessage string) {
	r.t.Helper()
	if code != wantCode {
		r.t.Errorf("%s: HTTP %d %s; want %d", what, code, answer, wantCode)
		return
	}
	var e struct{ Message string }
	if err := json.Unmarshal([]byte(answer), &e); err != nil || e.Message != wantMessage {
		r.t.Errorf("%s: answer %s\nwant message %q", what, answer, wantMessage)
	}
}

const snapConf = "" +
	"  - {name: snap, kind: snap-source}\n" +
	"  - {name: cnt, kind: counter-source}\n" +
	"  - {name: out, kind: mem-sink, topics: [snap.public.orders]}\n" +
	"  - {name: broken, kind: snap-source}\n"

func TestSnapshotRequest(t *testing.T) {
	r := newSnapRig(t, snapConf)

	code, answer := r.snapshot("snap", `{"tables":["public.orders"]}`)
	if code != http.StatusAccepted || answer != `{"connector":"snap","tables":["public.orders"]}` {
		t.Fatalf("snapshot: HTTP %d %s", code, answer)
	}
	eventually(t, "the snapshot's row in the log", func() bool { return len(topicRecordsOf(t, r.log, "snap.public.orders")) == 1 })
	eventually(t, "the row counted per topic", func() bool { return r.metrics.get("snap snap.public.orders") == 1 })

	code, answer = r.snapshot("snap", `{"data-collections":["public.items","public.orders"],"type":"incremental"}`)
	if code != http.StatusAccepted || answer != `{"connector":"snap","tables":["public.items","public.orders"]}` {
		t.Fatalf("snapshot with Debezium's field: HTTP %d %s", code, answer)
	}
	eventually(t, "the rows of both tables in the log", func() bool {
		return len(topicRecordsOf(t, r.log, "snap.public.orders")) == 2 && len(topicRecordsOf(t, r.log, "snap.public.items")) == 1
	})
	r.k.mu.Lock()
	requested := slices.Clone(r.k.requested)
	r.k.mu.Unlock()
	if want := [][]string{{"public.orders"}, {"public.items", "public.orders"}}; !slices.EqualFunc(requested, want, slices.Equal) {
		t.Errorf("the source was asked for %q, want %q", requested, want)
	}

	code, answer = r.snapshot("snap", `{"tables":["public.orders","public.nope"]}`)
	r.expect("unknown table", code, answer, http.StatusBadRequest, `connector "snap": table "public.nope" is not in the publication; add it to tables: and restart`)
	code, answer = r.do("POST", "/connectors/snap/snapshot", `{"tables":["public.named"]}`)
	r.expect("an error naming the connector", code, answer, http.StatusBadRequest, `snap-source "snap": table "public.named" is not captured`)
	code, answer = r.do("POST", "/connectors/snap/snapshot", `{"tables":["public.flaky"]}`)
	r.expect("retriable failure", code, answer, http.StatusServiceUnavailable, `connector "snap": write the snapshot signal: connection reset by peer`)
	code, answer = r.do("POST", "/connectors/snap/snapshot", `{"tables":"public.orders"}`)
	if code != http.StatusBadRequest || !strings.Contains(answer, "Invalid request body") {
		t.Errorf("bad body: HTTP %d %s", code, answer)
	}

	code, answer = r.do("POST", "/connectors/nope/snapshot", `{"tables":["public.orders"]}`)
	r.expect("unknown connector", code, answer, http.StatusNotFound, "Connector nope not found")
	code, answer = r.snapshot("cnt", `{"tables":["test.items"]}`)
	r.expect("unsupported kind", code, answer, http.StatusBadRequest, `connector "cnt": connector kind counter-source cannot take ad-hoc snapshots; "sluice connectors reset cnt" starts it over with a new snapshot of all its tables instead`)
	code, answer = r.do("POST", "/connectors/out/snapshot", `{"tables":["public.orders"]}`)
	r.expect("sink", code, answer, http.StatusBadRequest, `connector "out": connector kind mem-sink cannot take ad-hoc snapshots: it is a sink; "sluice connectors reset out" replays its topics instead`)

	eventually(t, "broken FAILED", func() bool {
		st, _ := r.rt.Status("broken")
		return len(st.Tasks) == 1 && st.Tasks[0].State == connect.StateFailed
	})
	code, answer = r.do("POST", "/connectors/broken/snapshot", `{"tables":["public.orders"]}`)
	r.expect("failed task", code, answer, http.StatusConflict, `connector "broken": task 0 is FAILED; an ad-hoc snapshot needs it RUNNING: see "sluice connectors status broken", fix the cause, run "sluice connectors restart broken --include-tasks --only-failed", then ask again`)

	for _, verb := range []string{"pause", "stop"} {
		if code, answer := r.do("PUT", "/connectors/snap/"+verb, ""); code/100 != 2 {
			t.Fatalf("%s: HTTP %d %s", verb, code, answer)
		}
		state := map[string]string{"pause": "PAUSED", "stop": "STOPPED"}[verb]
		code, answer = r.do("POST", "/connectors/snap/snapshot", `{"tables":["public.orders"]}`)
		r.expect(state, code, answer, http.StatusConflict, `connector "snap" is `+state+`; an ad-hoc snapshot needs it RUNNING: run "sluice connectors resume snap", then ask again`)
	}
	if code, answer := r.do("PUT", "/connectors/snap/resume", ""); code != http.StatusAccepted {
		t.Fatalf("resume: HTTP %d %s", code, answer)
	}
	if code, answer := r.snapshot("snap", `{"tables":["public.orders"]}`); code != http.StatusAccepted {
		t.Fatalf("snapshot after resume: HTTP %d %s", code, answer)
	}
	eventually(t, "the third row in the log", func() bool { n := len(topicRecordsOf(t, r.log, "snap.public.orders")); return n == 3 })
}

// TestSnapshotRequestInFlightWhenTheTaskStops checks that a source is not
// closed while a snapshot request is in it: stopping the task cancels the
// request, waits for it, and the client hears 503.
func TestSnapshotRequestInFlightWhenTheTaskStops(t *testing.T) {
	r := newSnapRig(t, "  - {name: snap, kind: snap-source}\n")
	eventually(t, "an open source", func() bool { return len(r.rt.SourceProgress()) == 1 })
	type result struct {
		code   int
		answer string
	}
	done := make(chan result, 1)
	go func() {
		code, answer := r.do("POST", "/connectors/snap/snapshot", `{"tables":["public.slow"]}`)
		done <- result{code, answer}
	}()
	<-r.k.entered
	if err := r.rt.Stop("snap"); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.code != http.StatusServiceUnavailable || !strings.Contains(res.answer, "closed its source while taking the request") {
		t.Errorf("request cut by a stop: HTTP %d %s", res.code, res.answer)
	}
	r.k.mu.Lock()
	defer r.k.mu.Unlock()
	if r.k.closedInFlight != 0 || r.k.inFlight != 0 {
		t.Errorf("the source was closed with a request in flight (%d closes, %d in flight)", r.k.closedInFlight, r.k.inFlight)
	}
}

// TestSourceStatusReported checks that a source's own Status reaches the
// connector status (GET /connectors/{name}/status) and SourceProgress,
// and that only open sources are in SourceProgress.
func TestSourceStatusReported(t *testing.T) {
	r := newSnapRig(t, snapConf)
	eventually(t, "the open source's progress", func() bool {
		p := r.rt.SourceProgress()
		return len(p) == 1 && p[0].Connector == "snap" && p[0].Task == 0 && p[0].Status["slot_lag_bytes"] == 4096
	})
	code, answer := r.do("GET", "/connectors/snap/status", "")
	if code != http.StatusOK {
		t.Fatalf("status: HTTP %d %s", code, answer)
	}
	var st connect.ConnectorStatus
	if err := json.Unmarshal([]byte(answer), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Tasks) != 1 {
		t.Fatalf("status %s", answer)
	}
	d := st.Tasks[0].Details
	tables, _ := d["snapshot_tables"].(map[string]any)
	orders, _ := tables["public.orders"].(map[string]any)
	if d["slot_lag_bytes"] != 4096.0 || d["phase"] != "streaming" || orders["rows_total"] != 10.0 {
		t.Errorf("task details %v lack the source's Status", d)
	}
	if err := r.rt.Stop("snap"); err != nil {
		t.Fatal(err)
	}
	if p := r.rt.SourceProgress(); len(p) != 0 {
		t.Errorf("progress of a stopped connector: %v", p)
	}
}

// topicRecordsOf reads every record of a topic.
func topicRecordsOf(t *testing.T, l *sluicelog.Log, topic string) []sluicelog.Record {
	r := &rig{t: t, log: l}
	return r.topicRecords(topic)
}
