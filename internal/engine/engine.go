// Package engine is the sluice daemon as a value: New checks a config and
// builds the engine, Run opens the log, creates the declared topics, serves
// admin HTTP and blocks until its context ends, then drains; Close releases
// what is left. The engine never calls os.Exit, never logs through the
// global logger and never touches Prometheus's default registry, so tests
// run several engines in one process.
//
// # Lifecycle
//
// Run brings the daemon up in this order and takes it down in the reverse
// one:
//
//  1. config checks that need this build (see Unsupported): a config the
//     build cannot honour fails before anything starts;
//  2. admin HTTP on node.admin_listen (/healthz answers from here on,
//     /readyz says what the engine is waiting for);
//  3. the log in node.data_dir/log, and the topics of the config file;
//  4. the components that need the log: the cleaner now, the Kafka
//     listener and the connector runtime when they land;
//  5. ready: /readyz answers 200.
//
// When ctx ends (SIGTERM), /readyz turns 503 ("draining"), the components
// stop in reverse order within Options.DrainTimeout, admin HTTP stops, and
// the log closes. Run returns nil after a clean stop.
//
// # Files
//
//	engine.go   Engine, New, Run, Close, the component seam, topic setup
//	admin.go    admin HTTP: /healthz, /readyz, /metrics
//	metrics.go  the log's Prometheus metrics and the partition collector
//	kafka.go    the Kafka listener
//	connect.go  the connector runtime, its REST API and its metrics
//	source_status.go  the sources' own status (connect.Status) as gauges
package engine

import (
	"context"
	"errors"
	"fmt"
	"github.com/sluice-cdc/sluice/connect"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice/configs"
	sluicelog "github.com/sluice-cdc/sluice/log"
)

// Options configure an Engine. The zero value is usable.
type Options struct {
	// Logger receives the engine's and the log's messages.
	// Default: a logger that discards everything.
	Logger *slog.Logger
	// Registry receives the engine's metrics, served on /metrics. It should
	// be private to the engine; the Go runtime and process collectors are
	// added unless already present. Default: a fresh registry.
	Registry *prometheus.Registry
	// DrainTimeout bounds how long stopping takes once Run's context ends:
	// in-flight admin requests and component shutdowns get this long.
	// Default: 10s.
	DrainTimeout time.Duration
	// Connectors holds the connector kinds this build runs (cmd/sluice
	// fills it). Default: none, so a config with connectors is refused.
	Connectors *connect.Registry
	// Version is the release of this build, put in change events' source
	// block. Default: empty.
	Version string
}

// ErrClosed is returned by Run on an engine that was closed or already ran.
var ErrClosed = errors.New("engine closed")

// Engine is one sluice node. Build it with New, call Run once, then Close.
// Close may be called from any goroutine; the other methods are safe for
// concurrent use as well.
type Engine struct {
	cfg     *configs.Config
	opts    Options
	logger  *slog.Logger
	reg     *prometheus.Registry
	metrics *logMetrics
	// connectMetrics are the connectors' per-task metrics.
	connectMetrics *connectMetrics
	ready          readiness
	admin          *adminServer
	// kafkaAddr holds the Kafka listener's bound address (a string).
	kafkaAddr atomic.Value

	mu struct {
		sync.Mutex
		started bool               // Run was called
		closed  bool               // Close was called
		cancel  context.CancelFunc // ends a running Run
	}
	done chan struct{} // closed when Run returns
}

// component is a part of the daemon that runs beside the log and has its own
// lifecycle: admin HTTP, the cleaner and the Kafka listener today; the
// connector runtime joins the list when it lands. Run starts components in
// order and stops them in reverse order.
//
// start returns once the component serves (a listener is bound), or with
// an error that names the component, the config key and what to do. failed
// delivers at most one value: nil after a stop, or the error that made the
// component quit on its own, which stops the whole engine. stop returns when
// the component has stopped, giving up on in-flight work when ctx ends.
type component interface {
	name() string
	start(ctx context.Context) error
	failed() <-chan error
	stop(ctx context.Context) error
}

// New checks cfg and builds an engine. It opens nothing and starts nothing:
// that is Run's job. cfg must be a config returned by configs.Load (defaults
// filled, validated); New keeps it and does not modify it.
func New(cfg *configs.Config, opts Options) (*Engine, error) {
	if cfg == nil {
		return nil, errors.New("engine: no config")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 10 * time.Second
	}
	if cfg.Node.DataDir == "" {
		return nil, errors.New("engine: node.data_dir is empty; set it in the config file")
	}
	if _, err := fsyncMode(cfg.Log.Fsync); err != nil {
		return nil, err
	}
	if opts.Connectors == nil {
		opts.Connectors = connect.NewRegistry()
	}
	e := &Engine{
		cfg:            cfg,
		opts:           opts,
		logger:         opts.Logger,
		reg:            opts.Registry,
		metrics:        newLogMetrics(),
		connectMetrics: newConnectMetrics(),
		done:           make(chan struct{}),
	}
	if err := e.metrics.register(e.reg); err != nil {
		return nil, fmt.Errorf("engine: register metrics: %w; give each engine its own Options.Registry", err)
	}
	if err := e.connectMetrics.register(e.reg); err != nil {
		return nil, fmt.Errorf("engine: register connect metrics: %w", err)
	}
	e.ready.set(false, "starting")
	e.admin = newAdminServer(cfg.Node.AdminListen, e.reg, &e.ready, e.logger)
	return e, nil
}

// fsyncMode maps log.fsync to the log's mode.
func fsyncMode(s string) (sluicelog.FsyncMode, error) {
	switch s {
	case "", "always":
		return sluicelog.FsyncAlways, nil
	case "interval":
		return sluicelog.FsyncInterval, nil
	}
	return 0, fmt.Errorf("engine: log.fsync is %q; it must be always or interval", s)
}

// Registry returns the registry the engine's metrics are registered in.
func (e *Engine) Registry() *prometheus.Registry { return e.reg }

// AdminAddr returns the address admin HTTP is bound to, such as
// "127.0.0.1:41234" when node.admin_listen has port 0, or "" before Run has
// bound it.
func (e *Engine) AdminAddr() string { return e.admin.boundAddr() }

// KafkaAddr returns the address the Kafka wire API is bound to, or "" before
// it listens.
func (e *Engine) KafkaAddr() string {
	a, _ := e.kafkaAddr.Load().(string)
	return a
}

// Ready reports whether the engine serves (the log is open and the topics
// exist) and, when it does not, why.
func (e *Engine) Ready() (bool, string) { return e.ready.get() }

// Run runs the node until ctx ends, then drains and returns nil. It returns
// an error, after stopping whatever it had started, when the node cannot
// start (a config this build cannot honour, a port in use, a log that does
// not open) or when a component fails while running. Run may be called once.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.mu.closed || e.mu.started {
		e.mu.Unlock()
		return fmt.Errorf("engine: Run: %w (an engine runs once; build a new one with New)", ErrClosed)
	}
	e.mu.started = true
	ctx, cancel := context.WithCancel(ctx)
	e.mu.cancel = cancel
	e.mu.Unlock()
	defer close(e.done)
	defer cancel()

	if problems := Unsupported(e.cfg, e.opts.Connectors); len(problems) > 0 {
		e.ready.set(false, "not started: the config cannot run with this build")
		return fmt.Errorf("config cannot run with this build:\n  %s", strings.Join(problems, "\n  "))
	}

	if ctx.Err() != nil {
		// Stopped before it started: nothing to start or drain.
		e.ready.set(false, "stopped")
		return nil
	}
	var running []component
	if err := e.admin.start(ctx); err != nil {
		e.ready.set(false, "not started: "+err.Error())
		return err
	}
	running = append(running, e.admin)

	e.ready.set(false, "opening log")
	l, err := e.openLog()
	if err != nil {
		return errors.Join(err, e.drain(running, nil))
	}
	e.ready.set(false, "creating topics")
	if err := e.ensureTopics(l); err != nil {
		return errors.Join(err, e.drain(running, l))
	}

	// The components that need the log; the connector runtime joins them.
	kafka := newKafkaListener(e.cfg, l, e.logger)
	connectors := &connectRuntime{cfg: e.cfg, log: l, reg: e.opts.Connectors, logger: e.logger, metrics: e.connectMetrics, admin: e.admin, version: e.opts.Version, quit: make(chan error)}
	for _, c := range []component{newCleaner(l, e.cfg.Log.CleanerInterval), kafka, connectors} {
		if err := c.start(ctx); err != nil {
			return errors.Join(err, e.drain(running, l))
		}
		running = append(running, c)
	}
	e.kafkaAddr.Store(kafka.boundAddr())

	e.ready.set(true, "")
	e.logger.Info("sluice ready", "node", e.cfg.Node.ID, "admin", e.AdminAddr(),
		"data_dir", e.cfg.Node.DataDir, "topics", len(l.Topics()))

	// Wait for the end, or for a component to fail on its own.
	cases := make(chan error, len(running))
	for _, c := range running {
		go func() {
			select {
			case err := <-c.failed():
				if err != nil {
					cases <- fmt.Errorf("%s: %w", c.name(), err)
				}
			case <-ctx.Done():
			}
		}()
	}
	var runErr error
	select {
	case <-ctx.Done():
		e.logger.Info("sluice stopping", "reason", context.Cause(ctx))
	case runErr = <-cases:
		e.logger.Error("sluice stopping after a failure", "err", runErr)
	}
	return errors.Join(runErr, e.drain(running, l))
}

// drain stops the running components in reverse order, then closes the log
// (when open). It reports every failure.
func (e *Engine) drain(running []component, l *sluicelog.Log) error {
	e.ready.set(false, "draining")
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.DrainTimeout)
	defer cancel()
	var errs []error
	for _, c := range slices.Backward(running) {
		if err := c.stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if l != nil {
		e.metrics.partitions.setLog(nil)
		if err := l.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the log in %s: %w", e.logDir(), err))
		}
	}
	e.ready.set(false, "stopped")
	if len(errs) == 0 {
		e.logger.Info("sluice stopped")
	}
	return errors.Join(errs...)
}

// Close stops a running Run and waits for it to return, and releases what
// the engine holds. It is safe to call more than once and without Run.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.mu.closed = true
	started, cancel := e.mu.started, e.mu.cancel
	e.mu.Unlock()
	if started {
		cancel()
		<-e.done
	}
	return nil
}

// Unsupported lists, one line each, the parts of a valid config that this
// build cannot run yet, such as a connector whose kind is not compiled in.
// Run refuses such a config before starting anything (a config error never
// starts a half-configured node); "sluice validate" reports the same lines.
func Unsupported(cfg *configs.Config, reg *connect.Registry) []string {
	var problems []string
	if cfg.Cluster != nil {
		problems = append(problems, "cluster: replication across nodes is not available in this build yet; remove the cluster block to run a single node")
	}
	for i, c := range cfg.Connectors {
		if reg != nil {
			if _, ok := reg.Lookup(c.Kind); ok {
				continue
			}
		}
		problems = append(problems, fmt.Sprintf("connectors[%d] %q: kind %q is not available in this build yet (it lands in a later release); remove the connector, or use one of: %s", i, c.Name, c.Kind, strings.Join(kindNames(reg), ", ")))
	}
	return problems
}

// PlannedKinds are connector kinds of DESIGN.md that a config may name
// even before this build runs them: validation then says "not available in
// this build yet" instead of "unknown kind".
var PlannedKinds = []string{"postgres-source", "mysql-source", "postgres-sink", "mysql-sink", "kafka-sink", "http-sink", "file-sink", "datagen-source"}

// ConfigOptions are the configs.Options for this build: the kinds of reg
// and the planned ones, each connector's config block checked by its kind.
func ConfigOptions(reg *connect.Registry) configs.Options {
	if reg == nil {
		reg = connect.NewRegistry()
	}
	opts := reg.ConfigOptions()
	for _, k := range PlannedKinds {
		if !slices.Contains(opts.Kinds, k) {
			opts.Kinds = append(opts.Kinds, k)
		}
	}
	return opts
}

func kindNames(reg *connect.Registry) []string {
	if reg == nil || len(reg.Names()) == 0 {
		return []string{"(none in this build)"}
	}
	return reg.Names()
}

func (e *Engine) logDir() string { return filepath.Join(e.cfg.Node.DataDir, "log") }

// openLog opens the log in node.data_dir/log with the log: settings.
func (e *Engine) openLog() (*sluicelog.Log, error) {
	mode, err := fsyncMode(e.cfg.Log.Fsync)
	if err != nil {
		return nil, err
	}
	dir := e.logDir()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create the data directory %s (node.data_dir): %w; check the path and its permissions", dir, err)
	}
	l, err := sluicelog.Open(dir, sluicelog.Options{
		Fsync:         mode,
		FsyncInterval: e.cfg.Log.FsyncInterval,
		TopicDefaults: e.cfg.Log.TopicDefaults,
		Logger:        e.logger,
		Metrics:       e.metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("%w (node.data_dir is %s); check that no other sluice process uses this directory and that it holds a sluice log", err, e.cfg.Node.DataDir)
	}
	e.metrics.partitions.setLog(l)
	return l, nil
}

// ensureTopics creates the config file's topics that are missing and brings
// the config overrides and partition counts of the others in line with the
// file. Partitions are never removed (offsets would be lost): a file asking
// for fewer is reported.
func (e *Engine) ensureTopics(l *sluicelog.Log) error {
	var errs []error
	for i, t := range e.cfg.Topics {
		key := fmt.Sprintf("topics[%d] %q", i, t.Name)
		info, err := l.Topic(t.Name)
		if errors.Is(err, sluicelog.ErrUnknownTopic) {
			_, err = l.CreateTopic(sluicelog.TopicSpec{
				Name:              t.Name,
				Partitions:        int32(t.Partitions),
				ReplicationFactor: int16(t.ReplicationFactor),
				Config:            t.Config,
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: create: %w", key, err))
			}
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
			continue
		}
		if want := int32(t.Partitions); want > info.Partitions {
			if err := l.CreatePartitions(t.Name, want); err != nil {
				errs = append(errs, fmt.Errorf("%s: grow from %d to %d partitions: %w", key, info.Partitions, want, err))
				continue
			}
			e.logger.Info("topic partitions added", "topic", t.Name, "from", info.Partitions, "to", want)
		} else if want < info.Partitions {
			errs = append(errs, fmt.Errorf("%s: the config asks for %d partitions but the topic has %d; partitions cannot be removed without losing records — set partitions to %d", key, want, info.Partitions, info.Partitions))
			continue
		}
		set, del := configDiff(info.Overrides, t.Config)
		if len(set) == 0 && len(del) == 0 {
			continue
		}
		if err := l.AlterTopicConfig(t.Name, set, del); err != nil {
			errs = append(errs, fmt.Errorf("%s: update config: %w", key, err))
			continue
		}
		e.logger.Info("topic config updated to match the config file", "topic", t.Name, "set", set, "removed", del)
	}
	return errors.Join(errs...)
}

// configDiff returns what to set and delete to turn have into want.
func configDiff(have, want map[string]string) (set map[string]string, del []string) {
	set = map[string]string{}
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			set[k] = v
		}
	}
	for _, k := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[k]; !ok {
			del = append(del, k)
		}
	}
	return set, del
}

// cleaner runs the log's retention and compaction every log.cleaner_interval.
type cleaner struct {
	log      *sluicelog.Log
	interval time.Duration
	cancel   context.CancelFunc
	done     chan struct{}
	quit     chan error
}

func newCleaner(l *sluicelog.Log, interval time.Duration) *cleaner {
	return &cleaner{log: l, interval: interval, done: make(chan struct{}), quit: make(chan error)}
}

func (c *cleaner) name() string { return "log cleaner" }

func (c *cleaner) start(ctx context.Context) error {
	ctx, c.cancel = context.WithCancel(ctx)
	go func() {
		defer close(c.done)
		c.log.RunCleaner(ctx, c.interval)
	}()
	return nil
}

// failed never delivers: the cleaner logs a failed pass and tries again at
// the next interval.
func (c *cleaner) failed() <-chan error { return c.quit }

func (c *cleaner) stop(ctx context.Context) error {
	c.cancel()
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("log cleaner: did not stop within the drain timeout: %w", ctx.Err())
	}
}
