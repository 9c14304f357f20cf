package kafkaapi

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

// testServer is a log and a Kafka server on a loopback port.
type testServer struct {
	log  *sluicelog.Log
	srv  *Server
	addr string
	dir  string
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startServer(t testing.TB, opts Options) *testServer {
	t.Helper()
	dir := t.TempDir()
	l, err := sluicelog.Open(dir, sluicelog.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	cluster := &SingleNode{Node: Broker{ID: 1, Host: host, Port: int32(p)}, ID: "sluice-test", Log: l}
	srv := NewServer(l, cluster, opts)
	go srv.Serve(ln)
	ts := &testServer{log: l, srv: srv, addr: ln.Addr().String(), dir: dir}
	t.Cleanup(func() {
		srv.Close()
		l.Close()
	})
	return ts
}

func (ts *testServer) client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(ts.addr), kgo.RetryTimeout(20 * time.Second)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// fixBatch sets a hand-built batch's length and CRC fields.
func fixBatch(raw []byte) []byte {
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

// buildBatch encodes an uncompressed Kafka record batch v2 of values, as a
// producer with id pid, epoch and first sequence seq sends it.
func buildBatch(pid int64, epoch int16, seq int32, values []string) []byte {
	var recs []byte
	for i, v := range values {
		var body []byte
		body = append(body, 0)                     // attributes
		body = binary.AppendVarint(body, 0)        // timestamp delta
		body = binary.AppendVarint(body, int64(i)) // offset delta
		body = binary.AppendVarint(body, -1)       // null key
		body = binary.AppendVarint(body, int64(len(v)))
		body = append(body, v...)
		body = binary.AppendVarint(body, 0) // no headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	now := time.Now().UnixMilli()
	rb := kmsg.RecordBatch{
		Magic: 2, LastOffsetDelta: int32(len(values) - 1), FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: pid, ProducerEpoch: epoch, FirstSequence: seq, NumRecords: int32(len(values)), Records: recs,
	}
	return fixBatch(rb.AppendTo(nil))
}

func topicSpec(name string, parts int32) sluicelog.TopicSpec {
	return sluicelog.TopicSpec{Name: name, Partitions: parts}
}

// appendN appends n records of size bytes to a partition in one batch.
func appendN(ts *testServer, topic string, p int32, size, n int) error {
	recs := make([]sluicelog.Record, n)
	v := make([]byte, size)
	for i := range recs {
		recs[i] = sluicelog.Record{Value: v}
	}
	_, err := ts.log.Append(context.Background(), sluicelog.Write{Records: []sluicelog.PartitionRecords{{Topic: topic, Partition: p, Records: recs}}})
	return err
}
