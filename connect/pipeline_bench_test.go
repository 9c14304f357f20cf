package connect_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
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
	dir := b.TempDir()
	l, err := sluicelog.Open(filepath.Join(dir, "log"), sluicelog.Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	reg := connect.NewRegistry()
	reg.Register(datagen.New())
	reg.Register(file.New())
	rt := connect.NewRuntime(embedded.New(l, 1, 1), reg, connect.RuntimeOptions{Logger: quiet()})
	defer rt.Close()
	out := filepath.Join(dir, "out.jsonl")
	cfg, err := configs.Parse("bench.yaml", []byte(fmt.Sprintf(`version: 1
connectors:
  - name: gen
    kind: datagen-source
    config: {topic_prefix: b, rate: 0, batch_size: 1000, rows: 100000, max_events: %d}
  - name: out
    kind: file-sink
    topics: [b.datagen.events]
    config: {path: %s}
`, b.N, out)), configs.Options{})
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
	for delivered := int64(0); delivered < int64(b.N); <-tick.C {
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
	if n := countLines(out); n < b.N {
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
