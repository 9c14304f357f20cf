package kafkaapi

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	sluicelog "github.com/sluice-cdc/sluice/log"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Run: go test ./log/kafkaapi -run XXX -bench . -benchtime 200000x
//
// Compare with the log's own BenchmarkAppend and BenchmarkReadFromZero:
// the wire API should cost at most 30% of their throughput.

func BenchmarkProduce(b *testing.B) {
	// kgo's idempotent producer keeps one produce request in flight per
	// broker, so each waits for the previous one's fsync; "pipelined"
	// turns idempotence off and allows 5 in flight, which the server
	// group-commits.
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
		extra []kgo.Opt
	}{
		{"none", kgo.NoCompression(), nil},
		{"snappy", kgo.SnappyCompression(), nil},
		{"none-pipelined", kgo.NoCompression(), []kgo.Opt{kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(5)}},
	}
	for _, parts := range []int32{1, 6} {
		for _, size := range []int{100, 1024} {
			for _, cc := range codecs {
				codec, extra := cc.codec, cc.extra
				b.Run(fmt.Sprintf("partitions=%d/value=%d/mode=%s", parts, size, cc.name), func(b *testing.B) {
					ts := startServer(b, Options{})
					if _, err := ts.log.CreateTopic(topicSpec("bench", parts)); err != nil {
						b.Fatal(err)
					}
					opts := append([]kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5 * time.Millisecond), kgo.ProducerBatchCompression(codec),
						kgo.MaxBufferedRecords(1 << 20), kgo.ProducerBatchMaxBytes(1 << 20), kgo.RecordPartitioner(kgo.RoundRobinPartitioner())}, extra...)
					cl := ts.client(b, opts...)
					value := make([]byte, size)
					ctx := context.Background()
					var wg sync.WaitGroup
					var failed error
					var mu sync.Mutex
					b.ResetTimer()
					start := time.Now()
					for i := 0; i < b.N; i++ {
						wg.Add(1)
						cl.Produce(ctx, &kgo.Record{Topic: "bench", Value: value}, func(_ *kgo.Record, err error) {
							if err != nil {
								mu.Lock()
								failed = err
								mu.Unlock()
							}
							wg.Done()
						})
					}
					wg.Wait()
					el := time.Since(start).Seconds()
					if failed != nil {
						b.Fatal(failed)
					}
					b.ReportMetric(float64(b.N)/el, "records/s")
					b.ReportMetric(float64(b.N*size)/el/1e6, "MB/s")
				})
			}
		}
	}
}

func BenchmarkConsume(b *testing.B) {
	for _, parts := range []int32{1, 6} {
		for _, size := range []int{100, 1024} {
			b.Run(fmt.Sprintf("partitions=%d/value=%d", parts, size), func(b *testing.B) {
				ts := startServer(b, Options{})
				if _, err := ts.log.CreateTopic(topicSpec("bench", parts)); err != nil {
					b.Fatal(err)
				}
				fill(b, ts, "bench", parts, size, b.N)
				cl := ts.client(b, kgo.ConsumeTopics("bench"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
					kgo.FetchMaxBytes(16<<20), kgo.FetchMaxPartitionBytes(4<<20))
				ctx := context.Background()
				b.ResetTimer()
				start := time.Now()
				n := 0
				for n < b.N {
					fs := cl.PollFetches(ctx)
					if errs := fs.Errors(); len(errs) > 0 {
						b.Fatal(errs[0].Err)
					}
					n += fs.NumRecords()
				}
				el := time.Since(start).Seconds()
				b.ReportMetric(float64(n)/el, "records/s")
				b.ReportMetric(float64(n*size)/el/1e6, "MB/s")
			})
		}
	}
}

// fill writes n records straight into the log, round robin.
func fill(b *testing.B, ts *testServer, topic string, parts int32, size, n int) {
	b.Helper()
	for p := int32(0); p < parts; p++ {
		per := n / int(parts)
		if p == 0 {
			per += n % int(parts)
		}
		for per > 0 {
			k := min(per, 1000)
			if err := appendN(ts, topic, p, size, k); err != nil {
				b.Fatal(err)
			}
			per -= k
		}
	}
}

// BenchmarkProduceLatency produces at a fixed moderate rate (2,000
// records/s, one producer, acks=all) and reports p50 and p99 of the time
// from Produce to acknowledgement.
func BenchmarkProduceLatency(b *testing.B) {
	ts := startServer(b, Options{})
	if _, err := ts.log.CreateTopic(topicSpec("lat", 1)); err != nil {
		b.Fatal(err)
	}
	cl := ts.client(b, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	value := make([]byte, 100)
	ctx := context.Background()
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	tick := time.NewTicker(500 * time.Microsecond)
	defer tick.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		<-tick.C
		wg.Add(1)
		start := time.Now()
		cl.Produce(ctx, &kgo.Record{Topic: "lat", Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
			lat[i] = time.Since(start)
			wg.Done()
		})
	}
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkServerFetch measures the server alone, without a client: Fetch
// requests from offset 0 to the end of a 500,000-record partition, each
// handled and encoded as the connection would send it. Compare with the
// log's BenchmarkReadFromZero.
func BenchmarkServerFetch(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			ts := startServer(b, Options{})
			if _, err := ts.log.CreateTopic(topicSpec("bench", 1)); err != nil {
				b.Fatal(err)
			}
			const total = 500_000
			fill(b, ts, "bench", 1, size, total)
			ctx := context.Background()
			buf := make([]byte, 0, 32<<20)
			b.ResetTimer()
			start := time.Now()
			read := 0
			for i := 0; i < b.N; i++ {
				for off := int64(0); off < total; {
					req := kmsg.NewPtrFetchRequest()
					req.SetVersion(12)
					req.MaxBytes, req.ReplicaID, req.SessionEpoch = 16<<20, -1, -1
					rt := kmsg.NewFetchRequestTopic()
					rt.Topic = "bench"
					rp := kmsg.NewFetchRequestTopicPartition()
					rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = off, 16<<20, -1
					rt.Partitions = append(rt.Partitions, rp)
					req.Topics = append(req.Topics, rt)
					resp := ts.srv.fetch(ctx, req)
					buf = resp.AppendTo(buf[:0])
					p := resp.Topics[0].Partitions[0]
					if p.ErrorCode != 0 {
						b.Fatalf("fetch error %d", p.ErrorCode)
					}
					for raw := p.RecordBatches; len(raw) > 0; {
						h, n, err := sluicelog.ParseKafkaBatch(raw)
						if err != nil {
							b.Fatal(err)
						}
						read += int(h.RecordCount)
						off = h.LastOffset + 1
						raw = raw[n:]
					}
				}
			}
			el := time.Since(start).Seconds()
			b.ReportMetric(float64(read)/el, "records/s")
			b.ReportMetric(float64(read*size)/el/1e6, "MB/s")
		})
	}
}

// BenchmarkServerProduce measures the server alone: produce requests of
// 1000 records (acks=all, fsync on) decoded, handled and answered as a
// connection would, without a client. Compare with the log's
// BenchmarkAppend at batch=1000.
func BenchmarkServerProduce(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("value=%d", size), func(b *testing.B) {
			ts := startServer(b, Options{})
			if _, err := ts.log.CreateTopic(topicSpec("bench", 1)); err != nil {
				b.Fatal(err)
			}
			values := make([]string, 1000)
			for i := range values {
				values[i] = string(make([]byte, size))
			}
			req := kmsg.NewPtrProduceRequest()
			req.Acks, req.TimeoutMillis = -1, 5000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "bench"
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = buildBatch(-1, -1, -1, values)
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			body := frame(req, 9, 1)[4:]
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c := &conn{s: ts.srv, ctx: ctx, cancel: cancel, remote: "127.0.0.1"}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				p, err := c.decodeAndHandle(append([]byte(nil), body...))
				if err != nil {
					b.Fatal(err)
				}
				resp := p.reply().(*kmsg.ProduceResponse)
				if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
					b.Fatalf("produce error %d", code)
				}
			}
			el := time.Since(start).Seconds()
			n := float64(b.N * len(values))
			b.ReportMetric(n/el, "records/s")
			b.ReportMetric(n*float64(size)/el/1e6, "MB/s")
		})
	}
}
