package log

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Run: go test ./log -run XXX -bench . -benchtime 3s
//
// BenchmarkAppend and BenchmarkPebbleBaseline measure the same batching and
// sync side by side: sluice's durable append against pebble's synced
// commit of the same number of keys.

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func benchRecords(n, size int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		v := make([]byte, size)
		for j := range v {
			v[j] = byte('a' + (i+j)%26)
		}
		recs[i] = Record{Key: []byte(fmt.Sprintf("key-%08d", i)), Value: v}
	}
	return recs
}

func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{100, 1024} {
		for _, batch := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("value=%d/batch=%d", size, batch), func(b *testing.B) {
				l, err := Open(b.TempDir(), Options{Logger: quietLogger})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				if _, err := l.CreateTopic(TopicSpec{Name: "bench", Partitions: 1}); err != nil {
					b.Fatal(err)
				}
				recs := benchRecords(batch, size)
				w := Write{Records: []PartitionRecords{{Topic: "bench", Records: recs}}}
				ctx := context.Background()
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					if _, err := l.Append(ctx, w); err != nil {
						b.Fatal(err)
					}
				}
				el := time.Since(start).Seconds()
				n := float64(b.N * batch)
				b.ReportMetric(n/el, "records/s")
				b.ReportMetric(n*float64(size)/el/1e6, "MB/s")
			})
		}
	}
}

// BenchmarkAppendKeyIndex measures what a topic's key index costs an
// append: the same appends of 200-byte records with the index off and on,
// synced (fsync=always, the default) and not waiting for the disk
// (fsync=interval, which shows the CPU cost). Every append brings new keys
// (inserts), so the index grows as the log does.
func BenchmarkAppendKeyIndex(b *testing.B) {
	const size = 200
	for _, fsync := range []FsyncMode{FsyncAlways, FsyncInterval} {
		for _, batch := range []int{1, 100, 1000} {
			for _, index := range []bool{false, true} {
				name := fmt.Sprintf("fsync=%s/batch=%d/index=%s", map[FsyncMode]string{FsyncAlways: "always", FsyncInterval: "interval"}[fsync],
					batch, map[bool]string{false: "off", true: "on"}[index])
				b.Run(name, func(b *testing.B) { benchAppendKeyIndex(b, fsync, batch, size, index) })
			}
		}
	}
}

// BenchmarkAppendFloor is the log's share of a durable snapshot: one
// appender writing 1,000-record appends (a source task's batch), synced,
// of records the size of a snapshot row's Debezium JSON
// (SLUICE_BENCH_LOG_VALUE bytes, default 400), with and without a key
// index. Run it with -benchtime 1000x for 1,000,000 records; no pipeline
// through this log can be faster on the same machine.
func BenchmarkAppendFloor(b *testing.B) {
	size := 400
	if s := os.Getenv("SLUICE_BENCH_LOG_VALUE"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("SLUICE_BENCH_LOG_VALUE=%q: want a number of bytes", s)
		}
		size = v
	}
	for _, index := range []bool{false, true} {
		b.Run(fmt.Sprintf("value=%d/index=%s/sync", size, map[bool]string{false: "off", true: "on"}[index]), func(b *testing.B) {
			benchAppendKeyIndex(b, FsyncAlways, 1000, size, index)
		})
		b.Run(fmt.Sprintf("value=%d/index=%s/pipelined", size, map[bool]string{false: "off", true: "on"}[index]), func(b *testing.B) {
			benchAppendPipelined(b, 1000, size, index)
		})
	}
}

// benchAppendPipelined appends like benchAppendKeyIndex with FsyncAlways,
// but keeps up to 4 appends in flight (AppendAsync, then Wait), as a
// source task does while it converts its next batch.
func benchAppendPipelined(b *testing.B, batch, size int, index bool) {
	l, err := Open(b.TempDir(), Options{Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if _, err := l.CreateTopic(TopicSpec{Name: "bench", Partitions: 1, KeyIndex: index}); err != nil {
		b.Fatal(err)
	}
	const depth = 4
	var sets [depth][]Record
	for i := range sets {
		sets[i] = benchRecords(batch, size)
		for j := range sets[i] {
			sets[i][j].Key = []byte(`{"id":00000000}`)
		}
	}
	var inflight [depth]*Pending
	ctx := context.Background()
	var seq uint64
	b.ResetTimer()
	start, cpu := time.Now(), cpuSeconds()
	for i := 0; i < b.N+depth; i++ {
		slot := i % depth
		if p := inflight[slot]; p != nil {
			if _, err := p.Wait(); err != nil {
				b.Fatal(err)
			}
			inflight[slot] = nil
		}
		if i >= b.N {
			continue
		}
		recs := sets[slot]
		for j := range recs {
			binary.BigEndian.PutUint64(recs[j].Key[6:], seq)
			seq++
		}
		p, err := l.AppendAsync(ctx, Write{Records: []PartitionRecords{{Topic: "bench", Records: recs}}})
		if err != nil {
			b.Fatal(err)
		}
		inflight[slot] = p
	}
	el := time.Since(start).Seconds()
	n := float64(b.N * batch)
	b.ReportMetric(n/el, "records/s")
	b.ReportMetric(n*float64(size)/el/1e6, "MB/s")
	b.ReportMetric((cpuSeconds()-cpu)/n*1e6, "cpu-µs/record")
}

// cpuSeconds is the process's CPU time, user and system, of every
// goroutine (pebble's flushes and compactions included): on a busy
// machine a steadier measure of cost than the wall clock.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func benchAppendKeyIndex(b *testing.B, fsync FsyncMode, batch, size int, index bool) {
	l, err := Open(b.TempDir(), Options{Logger: quietLogger, Fsync: fsync})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if _, err := l.CreateTopic(TopicSpec{Name: "bench", Partitions: 1, KeyIndex: index}); err != nil {
		b.Fatal(err)
	}
	recs := benchRecords(batch, size)
	for i := range recs {
		recs[i].Key = []byte(`{"id":00000000}`)
	}
	w := Write{Records: []PartitionRecords{{Topic: "bench", Records: recs}}}
	ctx := context.Background()
	var seq uint64
	b.ResetTimer()
	start, cpu := time.Now(), cpuSeconds()
	for i := 0; i < b.N; i++ {
		for j := range recs {
			binary.BigEndian.PutUint64(recs[j].Key[6:], seq)
			seq++
		}
		if _, err := l.Append(ctx, w); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start).Seconds()
	n := float64(b.N * batch)
	b.ReportMetric(n/el, "records/s")
	b.ReportMetric(n*float64(size)/el/1e6, "MB/s")
	b.ReportMetric((cpuSeconds()-cpu)/n*1e6, "cpu-µs/record")
}

// BenchmarkLatest looks up keys spread over a partition of 100,000
// distinct keys through its key index. A lookup reads the whole batch its
// record is in, so the figure depends on how many records an append wrote
// together.
func BenchmarkLatest(b *testing.B) {
	const total = 100_000
	for _, batch := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{Logger: quietLogger, Fsync: FsyncInterval})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			if _, err := l.CreateTopic(TopicSpec{Name: "bench", Partitions: 1, KeyIndex: true}); err != nil {
				b.Fatal(err)
			}
			recs := benchRecords(batch, 200)
			for i := 0; i < total/batch; i++ {
				for j := range recs {
					recs[j].Key = []byte(fmt.Sprintf("key-%08d", i*batch+j))
				}
				if _, err := l.Append(context.Background(), Write{Records: []PartitionRecords{{Topic: "bench", Records: recs}}}); err != nil {
					b.Fatal(err)
				}
			}
			// Settle the store: lookups, not the flush of the load, are measured.
			if err := l.db.Flush(); err != nil {
				b.Fatal(err)
			}
			if err := l.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
				b.Fatal(err)
			}
			key := []byte("key-00000000")
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				n := (i * 7919) % total
				for d := 11; d >= 4; d-- {
					key[d] = byte('0' + n%10)
					n /= 10
				}
				if _, ok, err := l.Latest("bench", 0, key); err != nil || !ok {
					b.Fatalf("latest %s: %v %v", key, ok, err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lookups/s")
		})
	}
}

// BenchmarkAppendParallel shows group commit: many appenders of single
// records to one partition share fsyncs.
func BenchmarkAppendParallel(b *testing.B) {
	l, err := Open(b.TempDir(), Options{Logger: quietLogger})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if _, err := l.CreateTopic(TopicSpec{Name: "bench", Partitions: 1}); err != nil {
		b.Fatal(err)
	}
	recs := benchRecords(1, 100)
	var total atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		w := Write{Records: []PartitionRecords{{Topic: "bench", Records: append([]Record(nil), recs...)}}}
		for pb.Next() {
			if _, err := l.Append(context.Background(), w); err != nil {
				b.Error(err)
				return
			}
			total.Add(1)
		}
	})
	el := time.Since(start).Seconds()
	b.ReportMetric(float64(total.Load())/el, "records/s")
}

// BenchmarkPebbleBaseline commits batches of keys of the same size to a
// bare pebble with sync: the ceiling sluice's append is compared against.
func BenchmarkPebbleBaseline(b *testing.B) {
	for _, size := range []int{100, 200, 1024} {
		for _, batch := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("value=%d/batch=%d", size, batch), func(b *testing.B) {
				db, err := pebble.Open(b.TempDir(), &pebble.Options{MemTableSize: 64 << 20, Logger: pebbleLogger{quietLogger}})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				val := make([]byte, size)
				key := make([]byte, 8)
				var seq uint64
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					bt := db.NewBatch()
					for j := 0; j < batch; j++ {
						binary.BigEndian.PutUint64(key, seq)
						seq++
						_ = bt.Set(key, val, nil)
					}
					if err := bt.Commit(pebble.Sync); err != nil {
						b.Fatal(err)
					}
					bt.Close()
				}
				el := time.Since(start).Seconds()
				n := float64(b.N * batch)
				b.ReportMetric(n/el, "records/s")
				b.ReportMetric(n*float64(size)/el/1e6, "MB/s")
			})
		}
	}
}

// BenchmarkReadFromZero reads a partition of 500,000 records from offset 0
// to its end and decodes every record.
func BenchmarkReadFromZero(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{Logger: quietLogger, Fsync: FsyncInterval})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			if _, err := l.CreateTopic(TopicSpec{Name: "bench", Partitions: 1}); err != nil {
				b.Fatal(err)
			}
			const total = 500_000
			recs := benchRecords(1000, size)
			w := Write{Records: []PartitionRecords{{Topic: "bench", Records: recs}}}
			for i := 0; i < total/1000; i++ {
				if _, err := l.Append(context.Background(), w); err != nil {
					b.Fatal(err)
				}
			}
			var buf []Record
			b.ResetTimer()
			start := time.Now()
			read := 0
			for i := 0; i < b.N; i++ {
				for off := int64(0); off < total; {
					res, err := l.Read("bench", 0, off, ReadOptions{MaxBytes: 4 << 20})
					if err != nil {
						b.Fatal(err)
					}
					for _, bt := range res.Batches {
						buf, err = bt.AppendRecords(buf[:0])
						if err != nil {
							b.Fatal(err)
						}
						read += len(buf)
						off = bt.LastOffset + 1
					}
				}
			}
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(read)/el, "records/s")
			b.ReportMetric(float64(read*size)/el/1e6, "MB/s")
		})
	}
}
