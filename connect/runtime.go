package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-cdc/sluice/configs"
)

// RuntimeOptions configure a Runtime. The zero value is usable.
type RuntimeOptions struct {
	// Logger receives the runtime's messages. Default: slog.Default().
	Logger *slog.Logger
	// Metrics receives counters. Default: none.
	Metrics Metrics
	// WorkerID names this node in statuses. Default: "sluice-1".
	WorkerID string
	// Version is the sluice release, the source block's "version" of
	// change events whose source left it empty (Debezium puts its own
	// release there). Default: empty.
	Version string
	// MaxTasks bounds the tasks running at once (the worker pool); tasks
	// beyond it wait UNASSIGNED. Default: 64.
	MaxTasks int
	// TopicDefaults are the configs of topics the runtime creates for
	// sources. Default: cleanup.policy compact with a 7-day
	// min.compaction.lag.ms (DESIGN.md: a week of full history, and the
	// latest row of every key forever).
	TopicDefaults map[string]string
	// Backoff bounds retry waits. Default: 100ms to 30s.
	MinBackoff, MaxBackoff time.Duration
	// SinkBatch bounds the records of one sink Write. Default: 2000.
	SinkBatch int
	// Now is the clock. Default: time.Now.
	Now func() time.Time
}

// Runtime runs connectors as tasks and moves records between sources, the
// log and sinks. Create with NewRuntime, add connectors with Start, stop
// with Close. It implements Controller.
type Runtime struct {
	log     Log
	reg     *Registry
	opts    RuntimeOptions
	logger  *slog.Logger
	metrics Metrics
	slots   chan struct{}

	mu struct {
		sync.Mutex
		connectors map[string]*connector
		closed     bool
	}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// NewRuntime makes a runtime over l with the connector kinds of reg.
func NewRuntime(l Log, reg *Registry, opts RuntimeOptions) *Runtime {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = noMetrics{}
	}
	if opts.WorkerID == "" {
		opts.WorkerID = "sluice-1"
	}
	if opts.MaxTasks <= 0 {
		opts.MaxTasks = 64
	}
	if opts.TopicDefaults == nil {
		opts.TopicDefaults = map[string]string{"cleanup.policy": "compact", "min.compaction.lag.ms": strconv.Itoa(7 * 24 * 3600 * 1000)}
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.SinkBatch <= 0 {
		opts.SinkBatch = 2000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Runtime{log: l, reg: reg, opts: opts, logger: opts.Logger, metrics: opts.Metrics, slots: make(chan struct{}, opts.MaxTasks)}
	r.mu.connectors = map[string]*connector{}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// Start builds and starts the configured connectors. A connector whose
// kind is unknown, or whose config its kind rejects, fails Start as a
// whole before anything runs.
func (r *Runtime) Start(cfgs []configs.Connector) error {
	var built []*connector
	var errs []error
	for i := range cfgs {
		c := &cfgs[i]
		kind, ok := r.reg.Lookup(c.Kind)
		if !ok {
			errs = append(errs, fmt.Errorf("connector %q: kind %q is not available in this build (have %v)", c.Name, c.Kind, r.reg.Names()))
			continue
		}
		if probs := kind.Check(c); len(probs) > 0 {
			for _, p := range probs {
				errs = append(errs, fmt.Errorf("connector %q: %s", c.Name, p))
			}
			continue
		}
		conn, err := r.newConnector(c, kind)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		built = append(built, conn)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.closed {
		return errors.New("connect runtime closed")
	}
	for _, c := range built {
		if _, dup := r.mu.connectors[c.name]; dup {
			return fmt.Errorf("connector %q is already running", c.name)
		}
	}
	for _, c := range built {
		r.mu.connectors[c.name] = c
		c.startTasks()
	}
	return nil
}

// Close stops every task and waits for them.
func (r *Runtime) Close() error {
	r.mu.Lock()
	r.mu.closed = true
	conns := make([]*connector, 0, len(r.mu.connectors))
	for _, c := range r.mu.connectors {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.stopTasks()
	}
	r.cancel()
	r.wg.Wait()
	return nil
}

func (r *Runtime) connector(name string) (*connector, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.mu.connectors[name]
	if !ok {
		return nil, fmt.Errorf("%w: connector %q", ErrUnknownConnector, name)
	}
	return c, nil
}

// backoff returns the wait before retry n (from 0): exponential, capped.
func (r *Runtime) backoff(n int) time.Duration {
	d := r.opts.MinBackoff << min(n, 20)
	if d > r.opts.MaxBackoff || d <= 0 {
		d = r.opts.MaxBackoff
	}
	return d
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Connectors lists the connector names, sorted.
func (r *Runtime) Connectors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.mu.connectors))
	for n := range r.mu.connectors {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Connector returns a connector's config and tasks.
func (r *Runtime) Connector(name string) (ConnectorInfo, error) {
	c, err := r.connector(name)
	if err != nil {
		return ConnectorInfo{}, err
	}
	return c.info(), nil
}

// Status returns a connector's and its tasks' states.
func (r *Runtime) Status(name string) (ConnectorStatus, error) {
	c, err := r.connector(name)
	if err != nil {
		return ConnectorStatus{}, err
	}
	return c.status(), nil
}

// Pause pauses every task of a connector: sources stop reading, sinks stop
// delivering; nothing is lost, they continue where they were on Resume.
func (r *Runtime) Pause(name string) error {
	c, err := r.connector(name)
	if err != nil {
		return err
	}
	c.setTarget(StatePaused)
	return nil
}

// Resume resumes a paused or stopped connector.
func (r *Runtime) Resume(name string) error {
	c, err := r.connector(name)
	if err != nil {
		return err
	}
	c.setTarget(StateRunning)
	return nil
}

// Stop stops a connector's tasks and keeps it stopped.
func (r *Runtime) Stop(name string) error {
	c, err := r.connector(name)
	if err != nil {
		return err
	}
	c.setTarget(StateStopped)
	return nil
}

// Restart restarts a connector; with includeTasks its tasks (only the
// failed ones with onlyFailed).
func (r *Runtime) Restart(name string, includeTasks, onlyFailed bool) error {
	c, err := r.connector(name)
	if err != nil {
		return err
	}
	c.restart(includeTasks, onlyFailed)
	return nil
}

// RestartTask restarts one task.
func (r *Runtime) RestartTask(name string, task int) error {
	c, err := r.connector(name)
	if err != nil {
		return err
	}
	return c.restartTask(task)
}

// Offsets returns a connector's stored offsets (KIP-875).
func (r *Runtime) Offsets(name string) (Offsets, error) {
	c, err := r.connector(name)
	if err != nil {
		return Offsets{}, err
	}
	return c.offsets(r.ctx)
}

// AlterOffsets sets a stopped connector's offsets.
func (r *Runtime) AlterOffsets(name string, o Offsets) error {
	c, err := r.connector(name)
	if err != nil {
		return err
	}
	return c.alterOffsets(r.ctx, o)
}

// ResetOffsets deletes a stopped connector's offsets: a sink then replays
// its topics from the earliest offset, a source starts afresh (snapshot).
func (r *Runtime) ResetOffsets(name string) error {
	c, err := r.connector(name)
	if err != nil {
		return err
	}
	return c.resetOffsets(r.ctx)
}

// RequestSnapshot asks a running source connector to read tables again
// (see Controller).
func (r *Runtime) RequestSnapshot(ctx context.Context, name string, tables []string) error {
	c, err := r.connector(name)
	if err != nil {
		return err
	}
	return c.requestSnapshot(ctx, tables)
}

// SourceProgress returns the Status of every open source task that
// reports one, sorted by connector and task.
func (r *Runtime) SourceProgress() []SourceProgress {
	var out []SourceProgress
	for _, name := range r.Connectors() {
		if c, err := r.connector(name); err == nil {
			out = c.sourceProgress(out)
		}
	}
	return out
}

var _ Controller = (*Runtime)(nil)
