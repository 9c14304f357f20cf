package connect_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/embedded"
	sluicelog "github.com/sluice-cdc/sluice/log"
	"github.com/sluice-cdc/sluice/sinks/file"
	"github.com/sluice-cdc/sluice/sources/datagen"
)

// BenchmarkPipeline runs datagen-source → log → file-sink end to end on
// the real embedded log (fsync on) and reports events/s from the first
// event to the last line in the file.
//
//	go test ./connect -run XXX -bench Pipeline -benchtime 200000x -benchmem
func BenchmarkPipeline(b *testing.B) {
	b.Run("sink=file", func(b *testing.B) { benchPipeline(b, "file-sink", "{path: %s}") })
	// The runtime alone: the same source and log, a sink that discards.
	b.Run("sink=discard", func(b *testing.B) { benchPipeline(b, "discard-sink", "{}%.0s") })
}

// discardSink drops what it is given: it measures the runtime's own cost.
type discardSink struct{}

func (discardSink) Open(context.Context) error                    { return nil }
func (discardSink) Write(context.Context, []connect.Record) error { return nil }
func (discardSink) Close() error                                  { return nil }
func (discardSink) Name() string                                  { return "discard-sink" }
func (discardSink) Role() connect.Role                            { return connect.RoleSink }
func (discardSink) Check(*configs.Connector) []configs.Problem    { return nil }
func (discardSink) Tasks(*configs.Connector) int                  { return 1 }
func (discardSink) NewSink(*configs.Connector, connect.Env) (connect.Sink, error) {
	return discardSink{}, nil
}

func benchPipeline(b *testing.B, sinkKind, sinkConfig string) {
	dir := b.TempDir()
	l, err := sluicelog.Open(filepath.Join(dir, "log"), sluicelog.Options{Logger: benchLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	reg := connect.NewRegistry()
	reg.Register(datagen.New())
	reg.Register(file.New())
	reg.Register(discardSink{})
	rt := connect.NewRuntime(embedded.New(l, 1, 1), reg, connect.RuntimeOptions{Logger: quiet()})
	defer rt.Close()
	out := filepath.Join(dir, "out.jsonl")
	cfg, err := configs.Parse("bench.yaml", []byte(fmt.Sprintf(`version: 1
connectors:
  - name: gen
    kind: datagen-source
    config: {topic_prefix: b, rate: 0, batch_size: 1000, rows: 100000, max_events: %d}
  - name: out
    kind: %s
    topics: [b.datagen.events]
    config: %s
`, b.N, sinkKind, fmt.Sprintf(sinkConfig, out))), configs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	if err := rt.Start(cfg.Connectors); err != nil {
		b.Fatal(err)
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var sourced time.Duration
	for delivered := int64(0); delivered < int64(b.N); <-tick.C {
		if sourced == 0 {
			if st, err := l.State("b.datagen.events", 0); err == nil && st.HighWatermark >= int64(b.N) {
				sourced = time.Since(start)
			}
		}
		offs, _ := l.FetchOffsets("connect-out")
		delivered = 0
		for _, o := range offs {
			delivered += o.Offset
		}
		st, _ := rt.Status("gen")
		if st.Tasks[0].State == connect.StateFailed {
			b.Fatal(st.Tasks[0].Trace)
		}
	}
	el := time.Since(start).Seconds()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el, "events/s")
	if sourced > 0 {
		b.ReportMetric(float64(b.N)/sourced.Seconds(), "source-events/s")
	}
	if n := countLines(out); sinkKind == "file-sink" && n < b.N {
		b.Fatalf("the file has %d lines, want %d", n, b.N)
	}
	_ = context.Background
}

func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	r := bufio.NewReaderSize(f, 1<<20)
	buf := make([]byte, 1<<20)
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err != nil {
			return n
		}
	}
}

// benchLogger shows the log's debug lines (write stalls) with
// SLUICE_BENCH_DEBUG=1.
func benchLogger() *slog.Logger {
	if os.Getenv("SLUICE_BENCH_DEBUG") == "" {
		return quiet()
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
