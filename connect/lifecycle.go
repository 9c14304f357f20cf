package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/configs"
)

// connector is one configured connector and its tasks. Its target state
// (RUNNING, PAUSED, STOPPED) is what the operator asked for; each task
// follows it. Lock order: connector.mu, then task.mu.
type connector struct {
	r      *Runtime
	name   string
	cfg    *configs.Connector
	kind   ConnectorKind
	role   Role
	chain  Chain
	conv   Converter
	ntasks int
	logger *slog.Logger
	// snapshots says whether the connector's sources take ad-hoc
	// snapshots (snapshotsYes, snapshotsNo), once one was open.
	snapshots atomic.Int32

	mu struct {
		sync.Mutex
		target string
		tasks  []*task
		// changed is closed and replaced whenever target changes.
		changed chan struct{}
	}
}

func (r *Runtime) newConnector(c *configs.Connector, kind ConnectorKind) (*connector, error) {
	chain, probs := ParseTransforms(c.Transforms, "transforms")
	if len(probs) > 0 {
		var msgs []string
		for _, p := range probs {
			msgs = append(msgs, p.String())
		}
		return nil, fmt.Errorf("connector %q: %s", c.Name, strings.Join(msgs, "; "))
	}
	conv, err := NewConverter(c.Converter)
	if err != nil {
		return nil, fmt.Errorf("connector %q: %w", c.Name, err)
	}
	n := kind.Tasks(c)
	if n < 1 {
		n = 1
	}
	conn := &connector{
		r: r, name: c.Name, cfg: c, kind: kind, role: kind.Role(), chain: chain, conv: conv, ntasks: n,
		logger: r.logger.With("connector", c.Name),
	}
	conn.mu.target = StateRunning
	conn.mu.changed = make(chan struct{})
	return conn, nil
}

// task is one unit of work of a connector, run by one goroutine.
type task struct {
	c      *connector
	id     int
	logger *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	// skipped counts records skipped under errors.tolerance: all.
	skipped atomic.Int64
	// live is the task's source while it is open (snapshot.go).
	live liveSource

	mu struct {
		sync.Mutex
		state   string
		trace   string
		details map[string]any
		status  Status // the source's or sink's own progress report
	}
}

func (t *task) set(state, trace string) {
	t.mu.Lock()
	t.mu.state, t.mu.trace = state, trace
	t.mu.Unlock()
}

func (t *task) detail(k string, v any) {
	t.mu.Lock()
	if t.mu.details == nil {
		t.mu.details = map[string]any{}
	}
	if v == nil {
		delete(t.mu.details, k)
	} else {
		t.mu.details[k] = v
	}
	t.mu.Unlock()
}

// startTasks starts the connector's tasks (connector.mu must not be held).
func (c *connector) startTasks() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.target == StateStopped || len(c.mu.tasks) > 0 {
		return
	}
	for i := 0; i < c.ntasks; i++ {
		c.mu.tasks = append(c.mu.tasks, c.startTask(i))
	}
}

// startTask starts task id. Requires c.mu.
func (c *connector) startTask(id int) *task {
	ctx, cancel := context.WithCancel(c.r.ctx)
	t := &task{c: c, id: id, cancel: cancel, done: make(chan struct{}), logger: c.logger.With("task", id)}
	t.mu.state = StateUnassigned
	c.r.wg.Add(1)
	go func() {
		defer c.r.wg.Done()
		defer close(t.done)
		t.run(ctx)
	}()
	return t
}

// run takes a worker-pool slot, runs the task, and records how it ended.
func (t *task) run(ctx context.Context) {
	select {
	case t.c.r.slots <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-t.c.r.slots }()
	t.set(StateRunning, "")
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%w: task panicked: %v\n%s", ErrFatal, p, debug.Stack())
			}
		}()
		if t.c.role == RoleSource {
			err = t.runSource(ctx)
		} else {
			err = t.runSink(ctx)
		}
	}()
	if err != nil && ctx.Err() == nil {
		t.logger.Error("connect: task failed", "err", err, "class", Class(err))
		t.set(StateFailed, err.Error())
		t.c.r.metrics.Error(t.c.name, t.id, "task")
		return
	}
	t.set(StateUnassigned, "")
}

// stopTasks stops every task and waits for them.
func (c *connector) stopTasks() {
	c.mu.Lock()
	tasks := c.mu.tasks
	c.mu.tasks = nil
	c.mu.Unlock()
	for _, t := range tasks {
		t.cancel()
	}
	for _, t := range tasks {
		<-t.done
	}
}

// setTarget moves the connector to RUNNING, PAUSED or STOPPED.
func (c *connector) setTarget(target string) {
	c.mu.Lock()
	prev := c.mu.target
	c.mu.target = target
	close(c.mu.changed)
	c.mu.changed = make(chan struct{})
	c.mu.Unlock()
	c.logger.Info("connect: connector state", "from", prev, "to", target)
	switch {
	case target == StateStopped:
		c.stopTasks()
	case prev == StateStopped:
		c.startTasks()
	}
}

func (c *connector) target() (string, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.target, c.mu.changed
}

// waitRunning blocks while the connector is paused; it returns false when
// ctx ends.
func (t *task) waitRunning(ctx context.Context) bool {
	return t.awaitRunning(ctx, true)
}

// awaitRunning is waitRunning; with report false it does not show the
// task as PAUSED (for a helper goroutine of the task, such as a source
// task's reader: the task is paused once its main loop waits).
func (t *task) awaitRunning(ctx context.Context, report bool) bool {
	for {
		target, changed := t.c.target()
		if target == StateRunning {
			if report {
				t.mu.Lock()
				if t.mu.state == StatePaused {
					t.mu.state = StateRunning
				}
				t.mu.Unlock()
			}
			return ctx.Err() == nil
		}
		if report {
			t.set(StatePaused, "")
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

func (c *connector) restart(includeTasks, onlyFailed bool) {
	if !includeTasks {
		// The connector itself holds no running state apart from its
		// tasks: restarting it alone re-reads nothing. Kafka Connect
		// restarts only the connector instance; do the same by
		// restarting failed tasks, which is what operators expect.
		onlyFailed = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.target == StateStopped {
		return
	}
	for i, t := range c.mu.tasks {
		t.mu.Lock()
		failed := t.mu.state == StateFailed
		t.mu.Unlock()
		if onlyFailed && !failed {
			continue
		}
		t.cancel()
		<-t.done
		c.mu.tasks[i] = c.startTask(t.id)
	}
}

func (c *connector) restartTask(id int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, t := range c.mu.tasks {
		if t.id == id {
			t.cancel()
			<-t.done
			c.mu.tasks[i] = c.startTask(id)
			return nil
		}
	}
	return fmt.Errorf("%w: connector %q has no running task %d", ErrUnknownConnector, c.name, id)
}

func (c *connector) info() ConnectorInfo {
	info := ConnectorInfo{Name: c.name, Config: c.flatConfig(), Type: c.role.String()}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.mu.tasks {
		info.Tasks = append(info.Tasks, TaskID{Connector: c.name, Task: t.id})
	}
	return info
}

func (c *connector) status() ConnectorStatus {
	st := ConnectorStatus{Name: c.name, Type: c.role.String()}
	c.mu.Lock()
	target := c.mu.target
	tasks := append([]*task(nil), c.mu.tasks...)
	c.mu.Unlock()
	st.Connector = StateInfo{State: target, WorkerID: c.r.opts.WorkerID}
	failed := 0
	for _, t := range tasks {
		t.mu.Lock()
		ts := TaskStatus{ID: t.id, State: t.mu.state, WorkerID: c.r.opts.WorkerID, Trace: t.mu.trace}
		if len(t.mu.details) > 0 || t.mu.status != nil {
			ts.Details = map[string]any{}
			for k, v := range t.mu.details {
				ts.Details[k] = v
			}
		}
		status := t.mu.status
		t.mu.Unlock()
		if status != nil {
			for k, v := range status.Status() {
				ts.Details[k] = v
			}
		}
		if ts.State == StateFailed {
			failed++
		}
		st.Tasks = append(st.Tasks, ts)
	}
	if failed > 0 && failed == len(tasks) && target == StateRunning {
		st.Connector.State = StateFailed
		st.Connector.Trace = fmt.Sprintf("all %d task(s) failed; see the tasks' traces, fix the cause, then run: sluice connectors restart %s --include-tasks --only-failed", failed, c.name)
	}
	return st
}

// flatConfig renders the connector's config as Kafka Connect's flat map,
// hiding secrets.
func (c *connector) flatConfig() map[string]string {
	m := map[string]string{
		"name":            c.name,
		"connector.class": c.cfg.Kind,
		"tasks.max":       strconv.Itoa(c.cfg.TasksMax),
		"converter":       c.cfg.Converter,
	}
	if len(c.cfg.Topics) > 0 {
		m["topics"] = strings.Join(c.cfg.Topics, ",")
	}
	if c.cfg.TopicsRegex != "" {
		m["topics.regex"] = c.cfg.TopicsRegex
	}
	m["errors.tolerance"] = c.cfg.Errors.Tolerance
	m["errors.retries"] = strconv.Itoa(c.cfg.Errors.Retries)
	if c.cfg.Errors.DeadLetterTopic != "" {
		m["errors.deadletterqueue.topic.name"] = c.cfg.Errors.DeadLetterTopic
	}
	if n := c.cfg.Config; n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			var s string
			if v.Kind == yaml.ScalarNode {
				s = v.Value
			} else {
				var x any
				if v.Decode(&x) == nil {
					b, _ := json.Marshal(x)
					s = string(b)
				}
			}
			if secret(k) {
				s = "[hidden]"
			}
			m[k] = s
		}
	}
	return m
}

func secret(key string) bool {
	k := strings.ToLower(key)
	return strings.Contains(k, "password") || strings.Contains(k, "secret") || strings.Contains(k, "token")
}

// requireStopped returns ErrConflict unless the connector is stopped.
func (c *connector) requireStopped() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.target != StateStopped || len(c.mu.tasks) > 0 {
		return fmt.Errorf("%w: connector %q must be in the STOPPED state to alter or reset its offsets (it is %s); run: sluice connectors stop %s", ErrConflict, c.name, c.mu.target, c.name)
	}
	return nil
}
