package engine

import (
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

// logMetrics receives the log's measurements (it implements
// sluicelog.Metrics) and exports them, together with the partitions' offsets
// and sizes read at scrape time, to one private registry. Its methods are
// safe for concurrent use and never block: they only touch Prometheus
// counters and histograms.
type logMetrics struct {
	appendedRecords *prometheus.CounterVec
	appendedBytes   *prometheus.CounterVec
	fsyncSeconds    prometheus.Histogram
	cleanerRuns     *prometheus.CounterVec
	cleanerRemoved  *prometheus.CounterVec
	cleanerSeconds  *prometheus.HistogramVec
	partitions      *partitionCollector
}

var _ sluicelog.Metrics = (*logMetrics)(nil)

func newLogMetrics() *logMetrics {
	return &logMetrics{
		appendedRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_log_appended_records_total",
			Help: "Records appended to the log, by topic.",
		}, []string{"topic"}),
		appendedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_log_appended_bytes_total",
			Help: "Stored bytes appended to the log, by topic.",
		}, []string{"topic"}),
		fsyncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sluice_log_fsync_seconds",
			Help:    "How long an append waited for its fsync (group commit shares one fsync between concurrent appends).",
			Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1},
		}),
		cleanerRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_log_cleaner_runs_total",
			Help: "Cleaner passes over a partition, by topic, policy (retention or compaction) and result (ok or error).",
		}, []string{"topic", "policy", "result"}),
		cleanerRemoved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_log_cleaner_removed_bytes_total",
			Help: "Stored bytes the cleaner removed, by topic and policy.",
		}, []string{"topic", "policy"}),
		cleanerSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_log_cleaner_seconds",
			Help:    "Duration of one cleaner pass over a partition, by policy.",
			Buckets: []float64{1e-3, 10e-3, 100e-3, 1, 10, 60, 300},
		}, []string{"policy"}),
		partitions: newPartitionCollector(),
	}
}

// register adds every sluice metric and the Go runtime and process
// collectors to reg. The runtime collectors may already be there when the
// caller brought its own registry; that is not an error.
func (m *logMetrics) register(reg *prometheus.Registry) error {
	for _, c := range []prometheus.Collector{
		m.appendedRecords, m.appendedBytes, m.fsyncSeconds,
		m.cleanerRuns, m.cleanerRemoved, m.cleanerSeconds, m.partitions,
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return err
			}
		}
	}
	return nil
}

// Appended implements sluicelog.Metrics.
func (m *logMetrics) Appended(topic string, records, bytes int) {
	m.appendedRecords.WithLabelValues(topic).Add(float64(records))
	m.appendedBytes.WithLabelValues(topic).Add(float64(bytes))
}

// Synced implements sluicelog.Metrics.
func (m *logMetrics) Synced(d time.Duration) {
	m.fsyncSeconds.Observe(d.Seconds())
}

// Cleaned implements sluicelog.Metrics.
func (m *logMetrics) Cleaned(topic, policy string, d time.Duration, removedBytes int64, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.cleanerRuns.WithLabelValues(topic, policy, result).Inc()
	if removedBytes > 0 {
		m.cleanerRemoved.WithLabelValues(topic, policy).Add(float64(removedBytes))
	}
	m.cleanerSeconds.WithLabelValues(policy).Observe(d.Seconds())
}

// partitionCollector reports every partition's offsets and size, read from
// the log at scrape time. Before the log is open (and after it is closed) it
// reports nothing.
type partitionCollector struct {
	log atomic.Pointer[sluicelog.Log]

	bytes, logEnd, highWatermark, logStart, segments *prometheus.Desc
}

func newPartitionCollector() *partitionCollector {
	labels := []string{"topic", "partition"}
	return &partitionCollector{
		bytes: prometheus.NewDesc("sluice_log_partition_bytes",
			"Stored bytes of a partition.", labels, nil),
		logEnd: prometheus.NewDesc("sluice_log_partition_log_end_offset",
			"The offset the next record appended to a partition will get.", labels, nil),
		highWatermark: prometheus.NewDesc("sluice_log_partition_high_watermark",
			"The offset below which a partition's records are visible to consumers.", labels, nil),
		logStart: prometheus.NewDesc("sluice_log_partition_log_start_offset",
			"The earliest offset a partition still holds (retention moves it forward).", labels, nil),
		segments: prometheus.NewDesc("sluice_log_partition_segments",
			"Segments of a partition.", labels, nil),
	}
}

// setLog makes the collector report l's partitions; nil stops reporting.
func (c *partitionCollector) setLog(l *sluicelog.Log) { c.log.Store(l) }

// Describe implements prometheus.Collector.
func (c *partitionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bytes
	ch <- c.logEnd
	ch <- c.highWatermark
	ch <- c.logStart
	ch <- c.segments
}

// Collect implements prometheus.Collector.
func (c *partitionCollector) Collect(ch chan<- prometheus.Metric) {
	l := c.log.Load()
	if l == nil {
		return
	}
	for _, s := range l.States() {
		p := strconv.Itoa(int(s.Partition))
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(s.Bytes), s.Topic, p)
		ch <- prometheus.MustNewConstMetric(c.logEnd, prometheus.GaugeValue, float64(s.LogEndOffset), s.Topic, p)
		ch <- prometheus.MustNewConstMetric(c.highWatermark, prometheus.GaugeValue, float64(s.HighWatermark), s.Topic, p)
		ch <- prometheus.MustNewConstMetric(c.logStart, prometheus.GaugeValue, float64(s.LogStartOffset), s.Topic, p)
		ch <- prometheus.MustNewConstMetric(c.segments, prometheus.GaugeValue, float64(s.Segments), s.Topic, p)
	}
}
