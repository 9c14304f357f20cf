package connect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// memController is an in-memory Controller with three connectors:
// shop-pg (a running source), customers-file (a running sink whose task 1
// failed) and archive (a stopped sink without tasks or offsets). Any
// method called for "broken" fails with an unclassed error. It records
// every call that changes something.
type memController struct {
	mu    sync.Mutex
	conns map[string]*memConnector
	calls []string
}

type memConnector struct {
	info    ConnectorInfo
	status  ConnectorStatus
	offsets Offsets
}

const memWorker = "127.0.0.1:8083"

func newMemController() *memController {
	return &memController{conns: map[string]*memConnector{
		"shop-pg": {
			info: ConnectorInfo{
				Name:   "shop-pg",
				Config: map[string]string{"kind": "postgres-source", "slot": "sluice_shop"},
				Tasks:  []TaskID{{"shop-pg", 0}},
				Type:   "source",
			},
			status: ConnectorStatus{
				Name:      "shop-pg",
				Connector: StateInfo{State: StateRunning, WorkerID: memWorker},
				Tasks: []TaskStatus{{ID: 0, State: StateRunning, WorkerID: memWorker,
					Details: map[string]any{"snapshot_rows_done": 10}}},
				Type: "source",
			},
			offsets: Offsets{Offsets: []OffsetEntry{{
				Partition: map[string]any{"server": "shop-pg"},
				Offset:    map[string]any{"position": "0/16B3748"},
			}}},
		},
		"customers-file": {
			info: ConnectorInfo{
				Name:   "customers-file",
				Config: map[string]string{"kind": "file-sink"},
				Tasks:  []TaskID{{"customers-file", 0}, {"customers-file", 1}},
				Type:   "sink",
			},
			status: ConnectorStatus{
				Name:      "customers-file",
				Connector: StateInfo{State: StateRunning, WorkerID: memWorker},
				Tasks: []TaskStatus{
					{ID: 0, State: StateRunning, WorkerID: memWorker},
					{ID: 1, State: StateFailed, WorkerID: memWorker, Trace: "open ./out: permission denied"},
				},
				Type: "sink",
			},
			offsets: Offsets{Offsets: []OffsetEntry{{
				Partition: map[string]any{"kafka_topic": "shop.public.customers", "kafka_partition": 0},
				Offset:    map[string]any{"kafka_offset": 42},
			}}},
		},
		"archive": {
			info: ConnectorInfo{Name: "archive", Type: "sink"},
			status: ConnectorStatus{
				Name:      "archive",
				Connector: StateInfo{State: StateStopped, WorkerID: memWorker},
				Type:      "sink",
			},
		},
	}}
}

func (f *memController) get(name string) (*memConnector, error) {
	if name == "broken" {
		return nil, errors.New("reading connector state: disk on fire")
	}
	c, ok := f.conns[name]
	if !ok {
		return nil, fmt.Errorf("connector %q: %w", name, ErrUnknownConnector)
	}
	return c, nil
}

func (f *memController) record(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *memController) Connectors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for n := range f.conns {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (f *memController) Connector(name string) (ConnectorInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return ConnectorInfo{}, err
	}
	return c.info, nil
}

func (f *memController) Status(name string) (ConnectorStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return ConnectorStatus{}, err
	}
	st := c.status
	st.Tasks = slices.Clone(st.Tasks)
	return st, nil
}

func (f *memController) setState(op, name, state string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return err
	}
	f.record("%s %s", op, name)
	c.status.Connector.State = state
	for i := range c.status.Tasks {
		c.status.Tasks[i].State = state
	}
	return nil
}

func (f *memController) Pause(name string) error  { return f.setState("pause", name, StatePaused) }
func (f *memController) Resume(name string) error { return f.setState("resume", name, StateRunning) }
func (f *memController) Stop(name string) error   { return f.setState("stop", name, StateStopped) }

func (f *memController) Restart(name string, includeTasks, onlyFailed bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return err
	}
	f.record("restart %s includeTasks=%t onlyFailed=%t", name, includeTasks, onlyFailed)
	if !onlyFailed || c.status.Connector.State == StateFailed {
		c.status.Connector.State = StateRestarting
	}
	for i, t := range c.status.Tasks {
		if includeTasks && (!onlyFailed || t.State == StateFailed) {
			c.status.Tasks[i].State = StateRestarting
		}
	}
	return nil
}

func (f *memController) RestartTask(name string, task int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.get(name); err != nil {
		return err
	}
	f.record("restart-task %s %d", name, task)
	return nil
}

func (f *memController) Offsets(name string) (Offsets, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return Offsets{}, err
	}
	return c.offsets, nil
}

func (f *memController) mustBeStopped(name string, c *memConnector) error {
	if s := c.status.Connector.State; s != StateStopped {
		return fmt.Errorf("connector %q is %s; it must be in the STOPPED state to change its offsets: %w", name, s, ErrConflict)
	}
	return nil
}

func (f *memController) AlterOffsets(name string, o Offsets) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return err
	}
	if err := f.mustBeStopped(name, c); err != nil {
		return err
	}
	f.record("alter-offsets %s %d", name, len(o.Offsets))
	c.offsets = o
	return nil
}

func (f *memController) ResetOffsets(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return err
	}
	if err := f.mustBeStopped(name, c); err != nil {
		return err
	}
	f.record("reset-offsets %s", name)
	c.offsets = Offsets{}
	return nil
}

// RequestSnapshot takes the request for the running source shop-pg; it
// refuses the table public.nope as fatal and public.flaky as retriable.
// A connector that is not RUNNING conflicts; a sink cannot snapshot.
func (f *memController) RequestSnapshot(_ context.Context, name string, tables []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return err
	}
	if s := c.status.Connector.State; s != StateRunning {
		return mark(ErrConflict, fmt.Errorf("connector %q is %s; resume it", name, s))
	}
	if c.info.Type == "sink" {
		return mark(ErrUnsupported, fmt.Errorf("connector %q: connector kind file-sink cannot take ad-hoc snapshots", name))
	}
	for _, t := range tables {
		switch t {
		case "public.nope":
			return Fatal(fmt.Errorf("connector %q: table %q is not captured", name, t))
		case "public.flaky":
			return Retriable(fmt.Errorf("connector %q: connection reset", name))
		}
	}
	f.record("snapshot %s %s", name, strings.Join(tables, ","))
	return nil
}

var _ Controller = (*memController)(nil)

// bareConflict answers every offset change with the bare ErrConflict.
type bareConflict struct{ *memController }

func (bareConflict) ResetOffsets(string) error { return ErrConflict }

type restCase struct {
	name         string
	method, path string
	body         string
	wantCode     int
	wantBody     string // exact, without the trailing newline; "" = no body
	wantCalls    []string
}

func TestRESTRoutes(t *testing.T) {
	const (
		shopInfo   = `{"name":"shop-pg","config":{"kind":"postgres-source","slot":"sluice_shop"},"tasks":[{"connector":"shop-pg","task":0}],"type":"source"}`
		shopStatus = `{"name":"shop-pg","connector":{"state":"RUNNING","worker_id":"127.0.0.1:8083"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"127.0.0.1:8083","details":{"snapshot_rows_done":10}}],"type":"source"}`
		custInfo   = `{"name":"customers-file","config":{"kind":"file-sink"},"tasks":[{"connector":"customers-file","task":0},{"connector":"customers-file","task":1}],"type":"sink"}`
		custStatus = `{"name":"customers-file","connector":{"state":"RUNNING","worker_id":"127.0.0.1:8083"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"127.0.0.1:8083"},{"id":1,"state":"FAILED","worker_id":"127.0.0.1:8083","trace":"open ./out: permission denied"}],"type":"sink"}`
		archInfo   = `{"name":"archive","config":{},"tasks":[],"type":"sink"}`
		archStatus = `{"name":"archive","connector":{"state":"STOPPED","worker_id":"127.0.0.1:8083"},"tasks":[],"type":"sink"}`
		notFound   = `{"error_code":404,"message":"Connector nope not found"}`
		altered    = `{"message":"The offsets for this connector have been altered successfully"}`
		reset      = `{"message":"The offsets for this connector have been reset successfully"}`
		sinkPatch  = `{"offsets":[{"partition":{"kafka_topic":"t","kafka_partition":0},"offset":{"kafka_offset":5}}]}`
	)
	cases := []restCase{
		{name: "server info", method: "GET", path: "/", wantCode: 200,
			wantBody: `{"version":"v1.2.3","commit":"","kafka_cluster_id":""}`},

		{name: "list", method: "GET", path: "/connectors", wantCode: 200,
			wantBody: `["archive","customers-file","shop-pg"]`},
		{name: "list trailing slash", method: "GET", path: "/connectors/", wantCode: 200,
			wantBody: `["archive","customers-file","shop-pg"]`},
		{name: "list expand status", method: "GET", path: "/connectors?expand=status", wantCode: 200,
			wantBody: `{"archive":{"status":` + archStatus + `},"customers-file":{"status":` + custStatus + `},"shop-pg":{"status":` + shopStatus + `}}`},
		{name: "list expand info", method: "GET", path: "/connectors?expand=info", wantCode: 200,
			wantBody: `{"archive":{"info":` + archInfo + `},"customers-file":{"info":` + custInfo + `},"shop-pg":{"info":` + shopInfo + `}}`},
		{name: "list expand both", method: "GET", path: "/connectors?expand=status&expand=info", wantCode: 200,
			wantBody: `{"archive":{"info":` + archInfo + `,"status":` + archStatus + `},"customers-file":{"info":` + custInfo + `,"status":` + custStatus + `},"shop-pg":{"info":` + shopInfo + `,"status":` + shopStatus + `}}`},
		{name: "list expand unknown is ignored", method: "GET", path: "/connectors?expand=bogus", wantCode: 200,
			wantBody: `{"archive":{},"customers-file":{},"shop-pg":{}}`},

		{name: "info", method: "GET", path: "/connectors/shop-pg", wantCode: 200, wantBody: shopInfo},
		{name: "info without config or tasks", method: "GET", path: "/connectors/archive", wantCode: 200, wantBody: archInfo},
		{name: "info unknown", method: "GET", path: "/connectors/nope", wantCode: 404, wantBody: notFound},
		{name: "config", method: "GET", path: "/connectors/shop-pg/config", wantCode: 200,
			wantBody: `{"kind":"postgres-source","slot":"sluice_shop"}`},
		{name: "config unknown", method: "GET", path: "/connectors/nope/config", wantCode: 404, wantBody: notFound},

		{name: "status", method: "GET", path: "/connectors/shop-pg/status", wantCode: 200, wantBody: shopStatus},
		{name: "status with failed task", method: "GET", path: "/connectors/customers-file/status", wantCode: 200, wantBody: custStatus},
		{name: "status unknown", method: "GET", path: "/connectors/nope/status", wantCode: 404, wantBody: notFound},

		{name: "tasks", method: "GET", path: "/connectors/customers-file/tasks", wantCode: 200,
			wantBody: `[{"id":{"connector":"customers-file","task":0},"config":{}},{"id":{"connector":"customers-file","task":1},"config":{}}]`},
		{name: "tasks none", method: "GET", path: "/connectors/archive/tasks", wantCode: 200, wantBody: `[]`},
		{name: "tasks unknown", method: "GET", path: "/connectors/nope/tasks", wantCode: 404, wantBody: notFound},
		{name: "task status", method: "GET", path: "/connectors/customers-file/tasks/1/status", wantCode: 200,
			wantBody: `{"id":1,"state":"FAILED","worker_id":"127.0.0.1:8083","trace":"open ./out: permission denied"}`},
		{name: "task status unknown task", method: "GET", path: "/connectors/customers-file/tasks/7/status", wantCode: 404,
			wantBody: `{"error_code":404,"message":"No status found for task customers-file-7"}`},
		{name: "task status bad task id", method: "GET", path: "/connectors/customers-file/tasks/x/status", wantCode: 404,
			wantBody: `{"error_code":404,"message":"No status found for task customers-file-x"}`},
		{name: "task status unknown connector", method: "GET", path: "/connectors/nope/tasks/0/status", wantCode: 404, wantBody: notFound},

		{name: "pause", method: "PUT", path: "/connectors/shop-pg/pause", wantCode: 202, wantCalls: []string{"pause shop-pg"}},
		{name: "pause unknown", method: "PUT", path: "/connectors/nope/pause", wantCode: 404, wantBody: notFound},
		{name: "resume", method: "PUT", path: "/connectors/archive/resume", wantCode: 202, wantCalls: []string{"resume archive"}},
		{name: "resume unknown", method: "PUT", path: "/connectors/nope/resume", wantCode: 404, wantBody: notFound},
		{name: "stop", method: "PUT", path: "/connectors/shop-pg/stop", wantCode: 204, wantCalls: []string{"stop shop-pg"}},
		{name: "stop unknown", method: "PUT", path: "/connectors/nope/stop", wantCode: 404, wantBody: notFound},

		{name: "restart connector only", method: "POST", path: "/connectors/shop-pg/restart", wantCode: 204,
			wantCalls: []string{"restart shop-pg includeTasks=false onlyFailed=false"}},
		{name: "restart explicit false", method: "POST", path: "/connectors/shop-pg/restart?includeTasks=false&onlyFailed=false", wantCode: 204,
			wantCalls: []string{"restart shop-pg includeTasks=false onlyFailed=false"}},
		{name: "restart failed tasks", method: "POST", path: "/connectors/customers-file/restart?includeTasks=true&onlyFailed=true", wantCode: 202,
			wantBody:  `{"name":"customers-file","connector":{"state":"RUNNING","worker_id":"127.0.0.1:8083"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"127.0.0.1:8083"},{"id":1,"state":"RESTARTING","worker_id":"127.0.0.1:8083","trace":"open ./out: permission denied"}],"type":"sink"}`,
			wantCalls: []string{"restart customers-file includeTasks=true onlyFailed=true"}},
		{name: "restart all tasks", method: "POST", path: "/connectors/shop-pg/restart?includeTasks=TRUE", wantCode: 202,
			wantBody:  `{"name":"shop-pg","connector":{"state":"RESTARTING","worker_id":"127.0.0.1:8083"},"tasks":[{"id":0,"state":"RESTARTING","worker_id":"127.0.0.1:8083","details":{"snapshot_rows_done":10}}],"type":"source"}`,
			wantCalls: []string{"restart shop-pg includeTasks=true onlyFailed=false"}},
		{name: "restart bad flag", method: "POST", path: "/connectors/shop-pg/restart?includeTasks=yes", wantCode: 400,
			wantBody: `{"error_code":400,"message":"includeTasks: \"yes\" is not a boolean; write true or false"}`},
		{name: "restart unknown", method: "POST", path: "/connectors/nope/restart?includeTasks=true", wantCode: 404, wantBody: notFound},
		{name: "restart task", method: "POST", path: "/connectors/customers-file/tasks/1/restart", wantCode: 204,
			wantCalls: []string{"restart-task customers-file 1"}},
		{name: "restart unknown task", method: "POST", path: "/connectors/customers-file/tasks/2/restart", wantCode: 404,
			wantBody: `{"error_code":404,"message":"Unknown task: customers-file-2"}`},
		{name: "restart task unknown connector", method: "POST", path: "/connectors/nope/tasks/0/restart", wantCode: 404, wantBody: notFound},

		{name: "offsets source", method: "GET", path: "/connectors/shop-pg/offsets", wantCode: 200,
			wantBody: `{"offsets":[{"partition":{"server":"shop-pg"},"offset":{"position":"0/16B3748"}}]}`},
		{name: "offsets sink", method: "GET", path: "/connectors/customers-file/offsets", wantCode: 200,
			wantBody: `{"offsets":[{"partition":{"kafka_partition":0,"kafka_topic":"shop.public.customers"},"offset":{"kafka_offset":42}}]}`},
		{name: "offsets none", method: "GET", path: "/connectors/archive/offsets", wantCode: 200, wantBody: `{"offsets":[]}`},
		{name: "offsets unknown", method: "GET", path: "/connectors/nope/offsets", wantCode: 404, wantBody: notFound},
		{name: "alter offsets", method: "PATCH", path: "/connectors/archive/offsets", body: sinkPatch, wantCode: 200, wantBody: altered,
			wantCalls: []string{"alter-offsets archive 1"}},
		{name: "alter offsets null offset", method: "PATCH", path: "/connectors/archive/offsets",
			body: `{"offsets":[{"partition":{"kafka_topic":"t","kafka_partition":0},"offset":null}]}`, wantCode: 200, wantBody: altered,
			wantCalls: []string{"alter-offsets archive 1"}},
		{name: "alter offsets running", method: "PATCH", path: "/connectors/shop-pg/offsets", body: sinkPatch, wantCode: 409,
			wantBody: `{"error_code":409,"message":"connector \"shop-pg\" is RUNNING; it must be in the STOPPED state to change its offsets: conflicting connector state"}`},
		{name: "alter offsets unknown", method: "PATCH", path: "/connectors/nope/offsets", body: sinkPatch, wantCode: 404, wantBody: notFound},
		{name: "alter offsets bad JSON", method: "PATCH", path: "/connectors/archive/offsets", body: `{"offsets":[`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"Invalid request body: unexpected EOF; send {\"offsets\":[{\"partition\":{...},\"offset\":{...}}]}"}`},
		{name: "alter offsets unknown field", method: "PATCH", path: "/connectors/archive/offsets", body: `{"offset":[]}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"Invalid request body: json: unknown field \"offset\"; send {\"offsets\":[{\"partition\":{...},\"offset\":{...}}]}"}`},
		{name: "alter offsets trailing data", method: "PATCH", path: "/connectors/archive/offsets", body: sinkPatch + `{}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"Invalid request body: data after the JSON object; send {\"offsets\":[{\"partition\":{...},\"offset\":{...}}]}"}`},
		{name: "alter offsets empty", method: "PATCH", path: "/connectors/archive/offsets", body: `{"offsets":[]}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"Partitions / offsets need to be provided for an alter offsets request"}`},
		{name: "alter offsets no partition", method: "PATCH", path: "/connectors/archive/offsets", body: `{"offsets":[{"offset":{"kafka_offset":1}}]}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"Invalid request body: offsets[0] has no partition"}`},
		{name: "reset offsets", method: "DELETE", path: "/connectors/archive/offsets", wantCode: 200, wantBody: reset,
			wantCalls: []string{"reset-offsets archive"}},
		{name: "reset offsets running", method: "DELETE", path: "/connectors/customers-file/offsets", wantCode: 409,
			wantBody: `{"error_code":409,"message":"connector \"customers-file\" is RUNNING; it must be in the STOPPED state to change its offsets: conflicting connector state"}`},
		{name: "reset offsets unknown", method: "DELETE", path: "/connectors/nope/offsets", wantCode: 404, wantBody: notFound},

		{name: "snapshot", method: "POST", path: "/connectors/shop-pg/snapshot", body: `{"tables":["public.orders","public.items","public.orders"]}`, wantCode: 202,
			wantBody:  `{"connector":"shop-pg","tables":["public.orders","public.items"]}`,
			wantCalls: []string{"snapshot shop-pg public.orders,public.items"}},
		{name: "snapshot as Debezium's signal data", method: "POST", path: "/connectors/shop-pg/snapshot", body: `{"data-collections":["public.orders"],"type":"INCREMENTAL"}`, wantCode: 202,
			wantBody:  `{"connector":"shop-pg","tables":["public.orders"]}`,
			wantCalls: []string{"snapshot shop-pg public.orders"}},
		{name: "snapshot null extras", method: "POST", path: "/connectors/shop-pg/snapshot", body: `{"tables":["public.orders"],"additional-conditions":null,"type":""}`, wantCode: 202,
			wantBody:  `{"connector":"shop-pg","tables":["public.orders"]}`,
			wantCalls: []string{"snapshot shop-pg public.orders"}},
		{name: "snapshot unknown connector", method: "POST", path: "/connectors/nope/snapshot", body: `{"tables":["public.orders"]}`, wantCode: 404, wantBody: notFound},
		{name: "snapshot stopped", method: "POST", path: "/connectors/archive/snapshot", body: `{"tables":["public.orders"]}`, wantCode: 409,
			wantBody: `{"error_code":409,"message":"connector \"archive\" is STOPPED; resume it"}`},
		{name: "snapshot of a sink", method: "POST", path: "/connectors/customers-file/snapshot", body: `{"tables":["public.orders"]}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"connector \"customers-file\": connector kind file-sink cannot take ad-hoc snapshots"}`},
		{name: "snapshot fatal", method: "POST", path: "/connectors/shop-pg/snapshot", body: `{"tables":["public.orders","public.nope"]}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"connector \"shop-pg\": table \"public.nope\" is not captured"}`},
		{name: "snapshot retriable", method: "POST", path: "/connectors/shop-pg/snapshot", body: `{"tables":["public.flaky"]}`, wantCode: 503,
			wantBody: `{"error_code":503,"message":"connector \"shop-pg\": connection reset"}`},
		{name: "snapshot unclassed error", method: "POST", path: "/connectors/broken/snapshot", body: `{"tables":["public.orders"]}`, wantCode: 503,
			wantBody: `{"error_code":503,"message":"reading connector state: disk on fire"}`},
		{name: "snapshot both lists", method: "POST", path: "/connectors/shop-pg/snapshot", body: `{"tables":["a.b"],"data-collections":["a.c"]}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"Invalid request body: it has both tables and data-collections; send one of them"}`},
		{name: "snapshot no tables", method: "POST", path: "/connectors/shop-pg/snapshot", body: `{"tables":[]}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"Invalid request body: no tables; send {\"tables\":[\"schema.table\", ...]}"}`},
		{name: "snapshot no body", method: "POST", path: "/connectors/shop-pg/snapshot", wantCode: 400,
			wantBody: `{"error_code":400,"message":"Invalid request body: EOF; send {\"tables\":[\"schema.table\", ...]}"}`},
		{name: "snapshot empty table", method: "POST", path: "/connectors/shop-pg/snapshot", body: `{"data-collections":["public.a"," "]}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"Invalid request body: data-collections[1] is empty; name each table as schema.table"}`},
		{name: "snapshot blocking", method: "POST", path: "/connectors/shop-pg/snapshot", body: `{"data-collections":["public.a"],"type":"blocking"}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"Invalid request body: type \"blocking\" is not supported: sluice takes incremental snapshots only (they interleave with the stream, which goes on); leave type out"}`},
		{name: "snapshot conditions", method: "POST", path: "/connectors/shop-pg/snapshot", body: `{"data-collections":["public.a"],"additional-conditions":[{"data-collection":"public.a","filter":"id > 5"}]}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"Invalid request body: additional-conditions is not supported: an ad-hoc snapshot reads whole tables; leave it out"}`},
		{name: "snapshot surrogate key", method: "POST", path: "/connectors/shop-pg/snapshot", body: `{"data-collections":["public.a"],"surrogate-key":"id"}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"Invalid request body: surrogate-key is not supported: an ad-hoc snapshot reads tables in primary-key order; leave it out"}`},
		{name: "snapshot unknown field", method: "POST", path: "/connectors/shop-pg/snapshot", body: `{"table":["public.a"]}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"Invalid request body: json: unknown field \"table\"; send {\"tables\":[\"schema.table\", ...]}"}`},
		{name: "snapshot tables not a list", method: "POST", path: "/connectors/shop-pg/snapshot", body: `{"tables":"public.a"}`, wantCode: 400,
			wantBody: `{"error_code":400,"message":"Invalid request body: json: cannot unmarshal string into Go struct field snapshotRequest.tables of type []string; send {\"tables\":[\"schema.table\", ...]}"}`},
		{name: "snapshot wrong method", method: "GET", path: "/connectors/shop-pg/snapshot", wantCode: 405,
			wantBody: `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`},

		{name: "internal error", method: "GET", path: "/connectors/broken/status", wantCode: 500,
			wantBody: `{"error_code":500,"message":"reading connector state: disk on fire"}`},
		{name: "internal error on change", method: "PUT", path: "/connectors/broken/stop", wantCode: 500,
			wantBody: `{"error_code":500,"message":"reading connector state: disk on fire"}`},

		{name: "unknown path", method: "GET", path: "/nope", wantCode: 404,
			wantBody: `{"error_code":404,"message":"HTTP 404 Not Found"}`},
		{name: "unknown connector subpath", method: "GET", path: "/connectors/shop-pg/bogus", wantCode: 404,
			wantBody: `{"error_code":404,"message":"HTTP 404 Not Found"}`},
		{name: "wrong method", method: "GET", path: "/connectors/shop-pg/pause", wantCode: 405,
			wantBody: `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`},
		{name: "wrong method restart", method: "PUT", path: "/connectors/shop-pg/restart", wantCode: 405,
			wantBody: `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`},
		{name: "wrong method offsets", method: "POST", path: "/connectors/shop-pg/offsets", wantCode: 405,
			wantBody: `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`},
		{name: "create is not offered", method: "POST", path: "/connectors", body: `{"name":"x","config":{}}`, wantCode: 405,
			wantBody: `{"error_code":405,"message":"HTTP 405 Method Not Allowed: connectors are declared in the config file (connectors:); edit it and restart sluice to add, change or remove one"}`},
		{name: "delete is not offered", method: "DELETE", path: "/connectors/shop-pg", wantCode: 405,
			wantBody: `{"error_code":405,"message":"HTTP 405 Method Not Allowed: connectors are declared in the config file (connectors:); edit it and restart sluice to add, change or remove one"}`},
		{name: "reconfigure is not offered", method: "PUT", path: "/connectors/shop-pg/config", body: `{}`, wantCode: 405,
			wantBody: `{"error_code":405,"message":"HTTP 405 Method Not Allowed: connectors are declared in the config file (connectors:); edit it and restart sluice to add, change or remove one"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := newMemController()
			h := NewRESTHandler(fake, nil, RESTOptions{Version: "v1.2.3"})
			checkREST(t, h, tc)
			if !slices.Equal(fake.calls, tc.wantCalls) {
				t.Errorf("controller calls %q, want %q", fake.calls, tc.wantCalls)
			}
		})
	}
}

func checkREST(t *testing.T, h http.Handler, tc restCase) {
	t.Helper()
	var body io.Reader
	if tc.body != "" {
		body = strings.NewReader(tc.body)
	}
	req := httptest.NewRequest(tc.method, tc.path, body)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != tc.wantCode {
		t.Errorf("%s %s: status %d, want %d (body %s)", tc.method, tc.path, res.StatusCode, tc.wantCode, got)
	}
	want := ""
	if tc.wantBody != "" {
		want = tc.wantBody + "\n"
		if ct := res.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", tc.method, tc.path, ct)
		}
	}
	if string(got) != want {
		t.Errorf("%s %s: body\n%s\nwant\n%s", tc.method, tc.path, got, want)
	}
	if tc.wantCode == http.StatusMethodNotAllowed && res.Header.Get("Allow") == "" {
		t.Errorf("%s %s: 405 without an Allow header", tc.method, tc.path)
	}
}

// TestRESTDefaults checks the handler with no options and no logger.
func TestRESTDefaults(t *testing.T) {
	h := NewRESTHandler(newMemController(), nil)
	checkREST(t, h, restCase{method: "GET", path: "/", wantCode: 200,
		wantBody: `{"version":"dev","commit":"","kafka_cluster_id":""}`})
}

// TestRESTBareConflict checks that a bare ErrConflict from the controller
// still tells the client what to do.
func TestRESTBareConflict(t *testing.T) {
	h := NewRESTHandler(bareConflict{newMemController()}, nil)
	checkREST(t, h, restCase{method: "DELETE", path: "/connectors/shop-pg/offsets", wantCode: 409,
		wantBody: `{"error_code":409,"message":"Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/shop-pg/stop' endpoint"}`})
}

// TestRESTLogging checks that 5xx answers are logged at error level and
// changes at info level, and that 4xx answers are not logged as errors.
func TestRESTLogging(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	h := NewRESTHandler(newMemController(), logger)
	for _, tc := range []restCase{
		{method: "GET", path: "/connectors/nope/status", wantCode: 404, wantBody: `{"error_code":404,"message":"Connector nope not found"}`},
		{method: "GET", path: "/connectors/broken/offsets", wantCode: 500, wantBody: `{"error_code":500,"message":"reading connector state: disk on fire"}`},
		{method: "PUT", path: "/connectors/shop-pg/pause", wantCode: 202},
	} {
		checkREST(t, h, tc)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 log lines, got:\n%s", buf.String())
	}
	for _, want := range []string{"level=ERROR", "method=GET", "path=/connectors/broken/offsets", `err="reading connector state: disk on fire"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("error line lacks %s: %s", want, lines[0])
		}
	}
	for _, want := range []string{"level=INFO", `msg="connector pause requested"`, "connector=shop-pg"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("info line lacks %s: %s", want, lines[1])
		}
	}
}

// TestRESTBodyLimit checks that an oversized PATCH body is refused.
func TestRESTBodyLimit(t *testing.T) {
	fake := newMemController()
	h := NewRESTHandler(fake, nil)
	big := `{"offsets":[{"partition":{"p":"` + strings.Repeat("x", maxRESTBody) + `"},"offset":{}}]}`
	checkREST(t, h, restCase{method: "PATCH", path: "/connectors/archive/offsets", body: big, wantCode: 400,
		wantBody: fmt.Sprintf(`{"error_code":400,"message":"Invalid request body: the body exceeds %d bytes; send {\"offsets\":[{\"partition\":{...},\"offset\":{...}}]}"}`, maxRESTBody)})
	if len(fake.calls) != 0 {
		t.Errorf("controller called: %q", fake.calls)
	}
}

// TestRESTOverHTTP runs a few requests through a real server, as a client
// would, to check that nothing depends on the recorder.
func TestRESTOverHTTP(t *testing.T) {
	fake := newMemController()
	srv := httptest.NewServer(NewRESTHandler(fake, nil))
	defer srv.Close()
	req, _ := http.NewRequest("PUT", srv.URL+"/connectors/shop-pg/stop", nil)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 204 {
		t.Fatalf("stop: %d", res.StatusCode)
	}
	req, _ = http.NewRequest("DELETE", srv.URL+"/connectors/shop-pg/offsets", nil)
	res, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(b) != `{"message":"The offsets for this connector have been reset successfully"}`+"\n" {
		t.Fatalf("reset: %d %s", res.StatusCode, b)
	}
	if want := []string{"stop shop-pg", "reset-offsets shop-pg"}; !slices.Equal(fake.calls, want) {
		t.Errorf("calls %q, want %q", fake.calls, want)
	}
}
