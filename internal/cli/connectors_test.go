package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice/connect"
)

// adminFake is an in-memory connect.Controller behind the real REST
// handler: shop-pg (a running source), customers-file (a running sink
// whose task 1 failed) and archive (a stopped sink without offsets). Every
// method for "broken" fails with an unclassed error. It records every call
// that changes something, in order.
type adminFake struct {
	mu    sync.Mutex
	conns map[string]*adminFakeConnector
	calls []string
	// conflicts is how many ResetOffsets calls answer ErrConflict even
	// for a stopped connector (a stop that takes effect late).
	conflicts int
}

type adminFakeConnector struct {
	info    connect.ConnectorInfo
	status  connect.ConnectorStatus
	offsets connect.Offsets
}

const adminFakeWorker = "127.0.0.1:8083"

func newAdminFake() *adminFake {
	running := func(id int, details map[string]any) connect.TaskStatus {
		return connect.TaskStatus{ID: id, State: connect.StateRunning, WorkerID: adminFakeWorker, Details: details}
	}
	return &adminFake{conns: map[string]*adminFakeConnector{
		"shop-pg": {
			info: connect.ConnectorInfo{Name: "shop-pg", Type: "source", Tasks: []connect.TaskID{{Connector: "shop-pg", Task: 0}}},
			status: connect.ConnectorStatus{
				Name:      "shop-pg",
				Type:      "source",
				Connector: connect.StateInfo{State: connect.StateRunning, WorkerID: adminFakeWorker},
				Tasks:     []connect.TaskStatus{running(0, map[string]any{"snapshot_rows_done": 1500000, "snapshot_rows_total": 2000000, "phase": "snapshot"})},
			},
			offsets: connect.Offsets{Offsets: []connect.OffsetEntry{{
				Partition: map[string]any{"server": "shop-pg"},
				Offset:    map[string]any{"position": "0/16B3748"},
			}}},
		},
		"customers-file": {
			info: connect.ConnectorInfo{Name: "customers-file", Type: "sink"},
			status: connect.ConnectorStatus{
				Name:      "customers-file",
				Type:      "sink",
				Connector: connect.StateInfo{State: connect.StateRunning, WorkerID: adminFakeWorker},
				Tasks: []connect.TaskStatus{
					{ID: 1, State: connect.StateFailed, WorkerID: adminFakeWorker, Trace: "file-sink: open ./out/customers.jsonl: permission denied\ncheck the directory's permissions",
						Details: map[string]any{"error_class": "fatal"}},
					running(0, map[string]any{"lag": 3}),
				},
			},
			offsets: connect.Offsets{Offsets: []connect.OffsetEntry{
				{Partition: map[string]any{"kafka_topic": "shop.public.orders", "kafka_partition": 0}, Offset: map[string]any{"kafka_offset": 7}},
				{Partition: map[string]any{"kafka_topic": "shop.public.customers", "kafka_partition": 1}, Offset: map[string]any{"kafka_offset": 1042}},
				{Partition: map[string]any{"kafka_topic": "shop.public.customers", "kafka_partition": 0}, Offset: map[string]any{"kafka_offset": 999}},
			}},
		},
		"archive": {
			info: connect.ConnectorInfo{Name: "archive", Type: "sink"},
			status: connect.ConnectorStatus{
				Name:      "archive",
				Type:      "sink",
				Connector: connect.StateInfo{State: connect.StateStopped, WorkerID: adminFakeWorker},
			},
		},
	}}
}

func (f *adminFake) get(name string) (*adminFakeConnector, error) {
	if name == "broken" {
		return nil, errors.New("reading connector state: disk on fire")
	}
	c, ok := f.conns[name]
	if !ok {
		return nil, fmt.Errorf("connector %q: %w", name, connect.ErrUnknownConnector)
	}
	return c, nil
}

// do runs op on connector name under the lock, recording call when op
// succeeds.
func (f *adminFake) do(name, call string, op func(c *adminFakeConnector) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return err
	}
	if op != nil {
		if err := op(c); err != nil {
			return err
		}
	}
	if call != "" {
		f.calls = append(f.calls, call)
	}
	return nil
}

func (f *adminFake) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *adminFake) Connectors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.conns))
}

func (f *adminFake) Connector(name string) (info connect.ConnectorInfo, err error) {
	err = f.do(name, "", func(c *adminFakeConnector) error { info = c.info; return nil })
	return info, err
}

func (f *adminFake) Status(name string) (st connect.ConnectorStatus, err error) {
	err = f.do(name, "", func(c *adminFakeConnector) error {
		st = c.status
		st.Tasks = slices.Clone(st.Tasks)
		return nil
	})
	return st, err
}

func (f *adminFake) setState(name, call, state string) error {
	return f.do(name, call+" "+name, func(c *adminFakeConnector) error {
		c.status.Connector.State = state
		for i := range c.status.Tasks {
			c.status.Tasks[i].State = state
		}
		return nil
	})
}

func (f *adminFake) Pause(name string) error {
	return f.setState(name, "pause", connect.StatePaused)
}

func (f *adminFake) Resume(name string) error {
	return f.setState(name, "resume", connect.StateRunning)
}

func (f *adminFake) Stop(name string) error {
	return f.setState(name, "stop", connect.StateStopped)
}

func (f *adminFake) Restart(name string, includeTasks, onlyFailed bool) error {
	call := fmt.Sprintf("restart %s includeTasks=%t onlyFailed=%t", name, includeTasks, onlyFailed)
	return f.do(name, call, func(c *adminFakeConnector) error {
		for i, t := range c.status.Tasks {
			if includeTasks && (!onlyFailed || t.State == connect.StateFailed) {
				c.status.Tasks[i].State = connect.StateRestarting
			}
		}
		return nil
	})
}

func (f *adminFake) RestartTask(name string, task int) error {
	return f.do(name, fmt.Sprintf("restart-task %s %d", name, task), nil)
}

func (f *adminFake) Offsets(name string) (o connect.Offsets, err error) {
	err = f.do(name, "", func(c *adminFakeConnector) error { o = c.offsets; return nil })
	return o, err
}

func (f *adminFake) stopped(name string, c *adminFakeConnector) error {
	if s := c.status.Connector.State; s != connect.StateStopped {
		return fmt.Errorf("connector %q is %s; it must be in the STOPPED state to change its offsets: %w", name, s, connect.ErrConflict)
	}
	return nil
}

func (f *adminFake) AlterOffsets(name string, o connect.Offsets) error {
	return f.do(name, "alter-offsets "+name, func(c *adminFakeConnector) error {
		if err := f.stopped(name, c); err != nil {
			return err
		}
		c.offsets = o
		return nil
	})
}

func (f *adminFake) ResetOffsets(name string) error {
	return f.do(name, "reset-offsets "+name, func(c *adminFakeConnector) error {
		if f.conflicts > 0 {
			f.conflicts--
			return fmt.Errorf("connector %q is still stopping; it must be in the STOPPED state to change its offsets: %w", name, connect.ErrConflict)
		}
		if err := f.stopped(name, c); err != nil {
			return err
		}
		c.offsets = connect.Offsets{}
		return nil
	})
}

// RequestSnapshot records the request. The CLI's snapshot command is
// tested against a real runtime (connectors_snapshot_test.go); this only
// completes the Controller.
func (f *adminFake) RequestSnapshot(_ context.Context, name string, tables []string) error {
	return f.do(name, "snapshot "+name+" "+strings.Join(tables, ","), nil)
}

var _ connect.Controller = (*adminFake)(nil)

// startAdminAPI serves the REST handler over a fresh adminFake and returns
// both the fake and the server's HOST:PORT.
func startAdminAPI(t *testing.T) (*adminFake, string) {
	t.Helper()
	fake := newAdminFake()
	srv := httptest.NewServer(connect.NewRESTHandler(fake, nil))
	t.Cleanup(srv.Close)
	return fake, srv.Listener.Addr().String()
}

// runConnectors runs "sluice connectors ARGS --admin addr".
func runConnectors(t *testing.T, addr string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return runMain(t, append(append([]string{"connectors"}, args...), "--admin", addr)...)
}

// runConnectorsOK is runConnectors for a command that must succeed.
func runConnectorsOK(t *testing.T, addr string, args ...string) string {
	t.Helper()
	code, stdout, stderr := runConnectors(t, addr, args...)
	if code != ExitOK {
		t.Fatalf("connectors %q: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
	}
	return stdout
}

func checkOutput(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got\n%s\nwant\n%s", what, got, want)
	}
}

func TestConnectorsList(t *testing.T) {
	_, addr := startAdminAPI(t)
	checkOutput(t, "list", runConnectorsOK(t, addr, "list"), "archive\ncustomers-file\nshop-pg\n")
	checkOutput(t, "list --json", runConnectorsOK(t, addr, "list", "--json"), `["archive","customers-file","shop-pg"]`+"\n")
	checkOutput(t, "list --status", runConnectorsOK(t, addr, "list", "--status"), ""+
		"NAME            TYPE    STATE    TASKS\n"+
		"archive         sink    STOPPED  -\n"+
		"customers-file  sink    RUNNING  1 RUNNING, 1 FAILED\n"+
		"shop-pg         source  RUNNING  1 RUNNING\n")
	js := runConnectorsOK(t, addr, "list", "--status", "--json")
	if !strings.HasPrefix(js, `{"archive":{"status":{"name":"archive","connector":{"state":"STOPPED"`) || !strings.HasSuffix(js, "}}}\n") {
		t.Errorf("list --status --json: %s", js)
	}
}

func TestConnectorsStatus(t *testing.T) {
	_, addr := startAdminAPI(t)
	checkOutput(t, "status source", runConnectorsOK(t, addr, "status", "shop-pg"), ""+
		"CONNECTOR  TYPE    STATE    WORKER\n"+
		"shop-pg    source  RUNNING  127.0.0.1:8083\n"+
		"\n"+
		"TASK  STATE    WORKER          DETAILS\n"+
		"0     RUNNING  127.0.0.1:8083  phase=snapshot snapshot_rows_done=1500000 snapshot_rows_total=2000000\n")
	checkOutput(t, "status failed task", runConnectorsOK(t, addr, "status", "customers-file"), ""+
		"CONNECTOR       TYPE  STATE    WORKER\n"+
		"customers-file  sink  RUNNING  127.0.0.1:8083\n"+
		"\n"+
		"TASK  STATE    WORKER          DETAILS\n"+
		"0     RUNNING  127.0.0.1:8083  lag=3\n"+
		"1     FAILED   127.0.0.1:8083  error_class=fatal\n"+
		"    file-sink: open ./out/customers.jsonl: permission denied\n"+
		"    check the directory's permissions\n")
	checkOutput(t, "status without tasks", runConnectorsOK(t, addr, "status", "archive"), ""+
		"CONNECTOR  TYPE  STATE    WORKER\n"+
		"archive    sink  STOPPED  127.0.0.1:8083\n"+
		"\n"+
		"no tasks\n")
	checkOutput(t, "status --json", runConnectorsOK(t, addr, "status", "archive", "--json"),
		`{"name":"archive","connector":{"state":"STOPPED","worker_id":"127.0.0.1:8083"},"tasks":[],"type":"sink"}`+"\n")
}

func TestConnectorsPauseResumeStop(t *testing.T) {
	fake, addr := startAdminAPI(t)
	checkOutput(t, "pause", runConnectorsOK(t, addr, "pause", "shop-pg"), "shop-pg: pause requested\n")
	checkOutput(t, "resume", runConnectorsOK(t, addr, "resume", "shop-pg"), "shop-pg: resume requested\n")
	checkOutput(t, "stop", runConnectorsOK(t, addr, "stop", "customers-file"), "customers-file: stopped\n")
	want := []string{"pause shop-pg", "resume shop-pg", "stop customers-file"}
	if got := fake.recorded(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestConnectorsRestart(t *testing.T) {
	fake, addr := startAdminAPI(t)
	checkOutput(t, "restart", runConnectorsOK(t, addr, "restart", "shop-pg"), "shop-pg: restart requested\n")
	checkOutput(t, "restart --include-tasks --only-failed",
		runConnectorsOK(t, addr, "restart", "customers-file", "--include-tasks", "--only-failed"), ""+
			"customers-file: restart requested\n"+
			"\n"+
			"CONNECTOR       TYPE  STATE    WORKER\n"+
			"customers-file  sink  RUNNING  127.0.0.1:8083\n"+
			"\n"+
			"TASK  STATE       WORKER          DETAILS\n"+
			"0     RUNNING     127.0.0.1:8083  lag=3\n"+
			"1     RESTARTING  127.0.0.1:8083  error_class=fatal\n"+
			"    file-sink: open ./out/customers.jsonl: permission denied\n"+
			"    check the directory's permissions\n")
	runConnectorsOK(t, addr, "restart", "shop-pg", "--include-tasks")
	runConnectorsOK(t, addr, "restart", "shop-pg", "--only-failed")
	checkOutput(t, "restart-task", runConnectorsOK(t, addr, "restart-task", "customers-file", "1"), "customers-file: restart of task 1 requested\n")
	want := []string{
		"restart shop-pg includeTasks=false onlyFailed=false",
		"restart customers-file includeTasks=true onlyFailed=true",
		"restart shop-pg includeTasks=true onlyFailed=false",
		"restart shop-pg includeTasks=false onlyFailed=true",
		"restart-task customers-file 1",
	}
	if got := fake.recorded(); !slices.Equal(got, want) {
		t.Errorf("calls:\n%q\nwant\n%q", got, want)
	}

	code, _, stderr := runConnectors(t, addr, "restart-task", "customers-file", "5")
	checkOutput(t, "restart-task unknown task", fmt.Sprint(code, " ", stderr),
		"1 sluice: connector \"customers-file\" has no task 5; \"sluice connectors status customers-file\" shows its tasks\n")
}

func TestConnectorsOffsets(t *testing.T) {
	_, addr := startAdminAPI(t)
	checkOutput(t, "sink offsets", runConnectorsOK(t, addr, "offsets", "customers-file"), ""+
		"TOPIC                  PARTITION  OFFSET\n"+
		"shop.public.customers  0          999\n"+
		"shop.public.customers  1          1042\n"+
		"shop.public.orders     0          7\n")
	checkOutput(t, "source offsets", runConnectorsOK(t, addr, "offsets", "shop-pg"), ""+
		"PARTITION       OFFSET\n"+
		"server=shop-pg  position=0/16B3748\n")
	checkOutput(t, "no offsets", runConnectorsOK(t, addr, "offsets", "archive"),
		"archive: no offsets stored; it starts afresh: a source with its snapshot, a sink from the earliest offset\n")
	checkOutput(t, "offsets --json", runConnectorsOK(t, addr, "offsets", "shop-pg", "--json"),
		`{"offsets":[{"partition":{"server":"shop-pg"},"offset":{"position":"0/16B3748"}}]}`+"\n")
}

func TestConnectorsReset(t *testing.T) {
	fake, addr := startAdminAPI(t)
	checkOutput(t, "reset", runConnectorsOK(t, addr, "reset", "customers-file"), ""+
		"customers-file: stopped\n"+
		"customers-file: offsets deleted\n"+
		"customers-file: resumed; a source takes a new snapshot, a sink replays its topics from the earliest offset\n")
	want := []string{"stop customers-file", "reset-offsets customers-file", "resume customers-file"}
	if got := fake.recorded(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	checkOutput(t, "offsets after reset", runConnectorsOK(t, addr, "offsets", "customers-file", "--json"), `{"offsets":[]}`+"\n")
}

// TestConnectorsResetWaitsForStop checks that reset retries the delete
// while the node answers 409 because the stop has not taken effect yet.
func TestConnectorsResetWaitsForStop(t *testing.T) {
	fake, addr := startAdminAPI(t)
	fake.conflicts = 2
	runConnectorsOK(t, addr, "reset", "shop-pg")
	want := []string{"stop shop-pg", "reset-offsets shop-pg", "resume shop-pg"}
	if got := fake.recorded(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	fake.mu.Lock()
	left := fake.conflicts
	fake.mu.Unlock()
	if left != 0 {
		t.Errorf("%d conflicts left: the delete was not retried", left)
	}
}

// TestConnectorsResetGivesUp checks that reset stops retrying within
// --timeout and says the connector is left stopped.
func TestConnectorsResetGivesUp(t *testing.T) {
	fake, addr := startAdminAPI(t)
	fake.conflicts = 1 << 30
	code, stdout, stderr := runConnectors(t, addr, "reset", "shop-pg", "--timeout", "300ms")
	if code != ExitFailure {
		t.Fatalf("exit %d, want 1; stderr: %s", code, stderr)
	}
	checkOutput(t, "stdout", stdout, "shop-pg: stopped\n")
	checkOutput(t, "stderr", stderr, "sluice: connector \"shop-pg\" is still stopping; it must be in the STOPPED state to change its offsets: conflicting connector state; "+
		"the connector is stopped with its offsets unchanged: run \"sluice connectors reset shop-pg\" again, or \"sluice connectors resume shop-pg\" to continue where it was\n")
	if got, want := fake.recorded(), []string{"stop shop-pg"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestConnectorsUnknownConnector(t *testing.T) {
	fake, addr := startAdminAPI(t)
	const want = "sluice: connector \"nope\" not found; \"sluice connectors list\" shows the connectors\n"
	for _, args := range [][]string{
		{"status", "nope"}, {"status", "nope", "--json"}, {"pause", "nope"}, {"resume", "nope"}, {"stop", "nope"},
		{"restart", "nope"}, {"restart", "nope", "--include-tasks"}, {"restart-task", "nope", "0"},
		{"offsets", "nope"}, {"reset", "nope"},
	} {
		code, stdout, stderr := runConnectors(t, addr, args...)
		if code != ExitFailure || stdout != "" || stderr != want {
			t.Errorf("connectors %q: exit %d, stdout %q, stderr %q; want exit 1 and %q", args, code, stdout, stderr, want)
		}
	}
	if calls := fake.recorded(); len(calls) != 0 {
		t.Errorf("calls %q", calls)
	}
}

func TestConnectorsServerError(t *testing.T) {
	_, addr := startAdminAPI(t)
	code, _, stderr := runConnectors(t, addr, "status", "broken")
	want := fmt.Sprintf("sluice: GET /connectors/broken/status at %s failed: reading connector state: disk on fire; the node's log has the details\n", addr)
	if code != ExitFailure || stderr != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
}

// closedAddr returns a local address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestConnectorsUnreachable(t *testing.T) {
	addr := closedAddr(t)
	code, stdout, stderr := runConnectors(t, addr, "list")
	if code != ExitFailure || stdout != "" {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{"cannot reach the admin API at " + addr + " (--admin)", "connection refused", `start the node with "sluice run", or point --admin at a running one`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, stderr)
		}
	}
}

// TestConnectorsSilentNode checks that a node that accepts but never
// answers fails the command after --timeout.
func TestConnectorsSilentNode(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	code, _, stderr := runConnectors(t, ln.Addr().String(), "status", "shop-pg", "--timeout", "200ms")
	want := fmt.Sprintf("sluice: cannot reach the admin API at %s (--admin): no answer within 200ms (--timeout); start the node with \"sluice run\", or point --admin at a running one\n", ln.Addr())
	if code != ExitFailure || stderr != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
}

// TestConnectorsNotSluice checks the message when --admin points at an
// HTTP server without the connectors API (an older node, another port).
func TestConnectorsNotSluice(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	code, _, stderr := runConnectors(t, addr, "status", "shop-pg")
	want := fmt.Sprintf("sluice: GET /connectors/shop-pg/status at %s (--admin) answered HTTP 404 \"404 page not found\": this is not the admin API of a sluice node that runs connectors; point --admin at node.admin_listen of one\n", addr)
	if code != ExitFailure || stderr != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
}

// TestConnectorsAdminFromConfig checks that without --admin the commands
// find the node through node.admin_listen of --config, with 127.0.0.1 for
// an unspecified host.
func TestConnectorsAdminFromConfig(t *testing.T) {
	_, addr := startAdminAPI(t)
	_, port, _ := net.SplitHostPort(addr)
	cfg := writeFile(t, "sluice.yaml", fmt.Sprintf("version: 1\nnode:\n  data_dir: %s\n  admin_listen: 0.0.0.0:%s\n", t.TempDir(), port))
	code, stdout, stderr := runMain(t, "connectors", "list", "--config", cfg)
	if code != ExitOK || stdout != "archive\ncustomers-file\nshop-pg\n" {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestResolveAdmin(t *testing.T) {
	dir := t.TempDir()
	missing := dir + "/sluice.yaml"
	portZero := writeFile(t, "zero.yaml", fmt.Sprintf("version: 1\nnode:\n  data_dir: %s\n  admin_listen: 127.0.0.1:0\n", dir))
	for _, tc := range []struct {
		flags      adminFlags
		configSet  bool
		base, errs string
	}{
		{flags: adminFlags{configPath: missing}, base: "http://127.0.0.1:8083"},
		{flags: adminFlags{configPath: missing, admin: "10.0.0.5:9083"}, base: "http://10.0.0.5:9083"},
		{flags: adminFlags{configPath: missing, admin: "https://sluice.example.com:443/"}, base: "https://sluice.example.com:443"},
		{flags: adminFlags{configPath: missing, admin: "sluice.example.com"}, errs: `--admin "sluice.example.com": not HOST:PORT`},
		{flags: adminFlags{configPath: missing}, configSet: true, errs: "cannot find the node's admin address in " + missing},
		{flags: adminFlags{configPath: portZero}, errs: "has port 0"},
	} {
		base, _, err := resolveAdmin(&tc.flags, tc.configSet)
		switch {
		case tc.errs != "" && (err == nil || !strings.Contains(err.Error(), tc.errs)):
			t.Errorf("%+v: error %v, want one containing %q", tc.flags, err, tc.errs)
		case tc.errs == "" && (err != nil || base != tc.base):
			t.Errorf("%+v: %q, %v; want %q", tc.flags, base, err, tc.base)
		}
	}
}

func TestConnectorsUsageErrors(t *testing.T) {
	_, addr := startAdminAPI(t)
	for _, args := range [][]string{
		{"status"},
		{"pause", "a", "b"},
		{"restart-task", "shop-pg", "first"},
		{"restart-task", "shop-pg", "-1"},
		{"list", "--timeout", "0s"},
		{"list", "--bogus"},
	} {
		if code, _, stderr := runConnectors(t, addr, args...); code != ExitUsage {
			t.Errorf("connectors %q: exit %d, want 2; stderr: %s", args, code, stderr)
		}
	}
	if code, _, stderr := runMain(t, "connectors", "list", "--admin", "nohostport"); code != ExitUsage {
		t.Errorf("--admin nohostport: exit %d, want 2; stderr: %s", code, stderr)
	}
	code, stdout, _ := runMain(t, "--help")
	if code != ExitOK || !strings.Contains(stdout, "  connectors ") {
		t.Errorf("help lacks the connectors command:\n%s", stdout)
	}
}
