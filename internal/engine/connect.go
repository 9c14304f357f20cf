package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/embedded"
	sluicelog "github.com/sluice-cdc/sluice/log"
)

// connectRuntime runs the configured connectors and serves their REST API
// on the admin listener.
type connectRuntime struct {
	cfg     *configs.Config
	log     *sluicelog.Log
	reg     *connect.Registry
	logger  *slog.Logger
	metrics *connectMetrics
	admin   *adminServer
	version string

	rt   *connect.Runtime
	quit chan error
}

func (c *connectRuntime) name() string { return "connect runtime" }

func (c *connectRuntime) start(ctx context.Context) error {
	l := embedded.New(c.log, int32(c.cfg.Log.DefaultPartitions), int16(c.cfg.Log.DefaultReplicationFactor))
	c.rt = connect.NewRuntime(l, c.reg, connect.RuntimeOptions{
		Logger:   c.logger,
		Metrics:  c.metrics,
		WorkerID: "sluice-" + strconv.Itoa(c.cfg.Node.ID),
		Version:  c.version,
	})
	if err := c.rt.Start(c.cfg.Connectors); err != nil {
		c.rt.Close()
		return fmt.Errorf("connectors: %w", err)
	}
	var h http.Handler = connect.NewRESTHandler(c.rt, c.logger)
	c.admin.setConnect(h)
	c.metrics.status.set(c.rt.SourceProgress)
	c.logger.Info("connectors started", "connectors", len(c.cfg.Connectors))
	return nil
}

func (c *connectRuntime) failed() <-chan error { return c.quit }

func (c *connectRuntime) stop(ctx context.Context) error {
	c.admin.setConnect(nil)
	c.metrics.status.set(nil)
	done := make(chan struct{})
	go func() {
		c.rt.Close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("connect runtime: tasks did not stop within the drain timeout: %w", ctx.Err())
	}
}

// connectMetrics implements connect.Metrics with Prometheus, and holds
// the collector of the sources' own status.
type connectMetrics struct {
	recordsIn, recordsOut, batches *prometheus.CounterVec
	errors, retries, dlq           *prometheus.CounterVec
	lag                            *prometheus.GaugeVec
	batchSeconds                   *prometheus.HistogramVec
	sourceRecords                  *prometheus.CounterVec
	status                         *sourceStatusCollector
}

func newConnectMetrics() *connectMetrics {
	ct := []string{"connector", "task"}
	return &connectMetrics{
		recordsIn:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_connect_records_in_total", Help: "Records read by a task: change events from a source, records from the log for a sink."}, ct),
		recordsOut:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_connect_records_out_total", Help: "Records written by a task: to the log for a source, delivered for a sink."}, ct),
		batches:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_connect_batches_total", Help: "Batches a task completed."}, ct),
		errors:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_connect_errors_total", Help: "Failures by stage (source, sink, transform, converter, task)."}, []string{"connector", "task", "stage"}),
		retries:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_connect_retries_total", Help: "Retries after retriable failures."}, ct),
		dlq:           prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_connect_dead_letter_records_total", Help: "Records sent to a dead-letter topic."}, ct),
		lag:           prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_connect_sink_lag_records", Help: "A sink's lag per partition: log end offset minus committed offset."}, []string{"connector", "topic", "partition"}),
		batchSeconds:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_connect_batch_seconds", Help: "Time to make a source batch durable or deliver a sink batch.", Buckets: prometheus.ExponentialBuckets(50e-6, 4, 10)}, []string{"connector"}),
		sourceRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_source_records_total", Help: "Records a source connector wrote to the log, by topic (one topic per table), counted once durable."}, []string{"connector", "topic"}),
		status:        &sourceStatusCollector{},
	}
}

func (m *connectMetrics) register(reg *prometheus.Registry) error {
	for _, c := range []prometheus.Collector{m.recordsIn, m.recordsOut, m.batches, m.errors, m.retries, m.dlq, m.lag, m.batchSeconds, m.sourceRecords, m.status} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *connectMetrics) SourceBatch(c string, task int, events, records int, d time.Duration) {
	t := strconv.Itoa(task)
	m.recordsIn.WithLabelValues(c, t).Add(float64(events))
	m.recordsOut.WithLabelValues(c, t).Add(float64(records))
	m.batches.WithLabelValues(c, t).Inc()
	m.batchSeconds.WithLabelValues(c).Observe(d.Seconds())
}

func (m *connectMetrics) SinkBatch(c string, task int, records int, d time.Duration) {
	t := strconv.Itoa(task)
	m.recordsIn.WithLabelValues(c, t).Add(float64(records))
	m.recordsOut.WithLabelValues(c, t).Add(float64(records))
	m.batches.WithLabelValues(c, t).Inc()
	m.batchSeconds.WithLabelValues(c).Observe(d.Seconds())
}

func (m *connectMetrics) Error(c string, task int, stage string) {
	m.errors.WithLabelValues(c, strconv.Itoa(task), stage).Inc()
}

func (m *connectMetrics) Retry(c string, task int) {
	m.retries.WithLabelValues(c, strconv.Itoa(task)).Inc()
}

func (m *connectMetrics) DeadLettered(c string, task int, n int) {
	m.dlq.WithLabelValues(c, strconv.Itoa(task)).Add(float64(n))
}

func (m *connectMetrics) SinkLag(c, topic string, partition int32, lag int64) {
	m.lag.WithLabelValues(c, topic, strconv.Itoa(int(partition))).Set(float64(lag))
}

func (m *connectMetrics) SourceRecords(c string, _ int, topic string, n int) {
	m.sourceRecords.WithLabelValues(c, topic).Add(float64(n))
}
