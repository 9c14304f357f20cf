package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

// gather returns the value of the series name{labels}, and whether it exists.
func gather(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metrics
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func TestLogMetricsFromARealLog(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newLogMetrics()
	if err := m.register(reg); err != nil {
		t.Fatal(err)
	}
	// No log yet: no partition series, and no error.
	if _, ok := gather(t, reg, "sluice_log_partition_log_end_offset", nil); ok {
		t.Error("partition series reported before the log is set")
	}

	l, err := sluicelog.Open(t.TempDir(), sluicelog.Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m.partitions.setLog(l)
	if _, err := l.CreateTopic(sluicelog.TopicSpec{Name: "orders", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	recs := make([]sluicelog.Record, 7)
	for i := range recs {
		recs[i] = sluicelog.Record{Key: []byte{byte(i)}, Value: []byte("value")}
	}
	if _, err := l.Append(context.Background(), sluicelog.Write{Records: []sluicelog.PartitionRecords{{Topic: "orders", Partition: 1, Records: recs}}}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sluice_log_appended_records_total", map[string]string{"topic": "orders"}, 7},
		{"sluice_log_partition_log_end_offset", map[string]string{"topic": "orders", "partition": "1"}, 7},
		{"sluice_log_partition_high_watermark", map[string]string{"topic": "orders", "partition": "1"}, 7},
		{"sluice_log_partition_log_end_offset", map[string]string{"topic": "orders", "partition": "0"}, 0},
		{"sluice_log_partition_log_start_offset", map[string]string{"topic": "orders", "partition": "1"}, 0},
	} {
		got, ok := gather(t, reg, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if got, _ := gather(t, reg, "sluice_log_appended_bytes_total", map[string]string{"topic": "orders"}); got < 7*5 {
		t.Errorf("appended bytes = %v, want at least the values' %d bytes", got, 7*5)
	}
	if got, _ := gather(t, reg, "sluice_log_partition_bytes", map[string]string{"topic": "orders", "partition": "1"}); got <= 0 {
		t.Errorf("partition bytes = %v, want > 0 after an append", got)
	}
	if got, _ := gather(t, reg, "sluice_log_fsync_seconds", nil); got < 1 {
		t.Errorf("fsync histogram has %v samples, want at least 1 after a durable append", got)
	}

	m.partitions.setLog(nil)
	if _, ok := gather(t, reg, "sluice_log_partition_bytes", nil); ok {
		t.Error("partition series reported after the log was unset")
	}
}

func TestLogMetricsCleaned(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newLogMetrics()
	if err := m.register(reg); err != nil {
		t.Fatal(err)
	}
	m.Cleaned("audit", "compaction", 3*time.Millisecond, 4096, nil)
	m.Cleaned("audit", "compaction", time.Millisecond, 0, errors.New("disk full"))
	m.Cleaned("audit", "retention", time.Millisecond, 100, nil)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sluice_log_cleaner_runs_total", map[string]string{"topic": "audit", "policy": "compaction", "result": "ok"}, 1},
		{"sluice_log_cleaner_runs_total", map[string]string{"topic": "audit", "policy": "compaction", "result": "error"}, 1},
		{"sluice_log_cleaner_runs_total", map[string]string{"topic": "audit", "policy": "retention", "result": "ok"}, 1},
		{"sluice_log_cleaner_removed_bytes_total", map[string]string{"topic": "audit", "policy": "compaction"}, 4096},
		{"sluice_log_cleaner_removed_bytes_total", map[string]string{"topic": "audit", "policy": "retention"}, 100},
		{"sluice_log_cleaner_seconds", map[string]string{"policy": "compaction"}, 2},
	} {
		got, ok := gather(t, reg, c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
}

func TestRegisterToleratesRuntimeCollectorsAlreadyThere(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := newLogMetrics().register(reg); err != nil {
		t.Fatal(err)
	}
	// A second set of sluice metrics collides; the runtime collectors alone
	// would not.
	if err := newLogMetrics().register(reg); err == nil {
		t.Error("registering sluice metrics twice in one registry succeeded")
	}
}
