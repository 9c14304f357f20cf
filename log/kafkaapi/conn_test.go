package kafkaapi

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// frame encodes a request with a v1/v2 header.
func frame(req kmsg.Request, version int16, corrID int32) []byte {
	req.SetVersion(version)
	b := []byte{0, 0, 0, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corrID))
	b = binary.BigEndian.AppendUint16(b, 4)
	b = append(b, "test"...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func readFrame(t *testing.T, c net.Conn) []byte {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("read response: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestApiVersionsDowngrade(t *testing.T) {
	ts := startServer(t, Options{})
	c := dial(t, ts.addr)
	req := kmsg.NewPtrApiVersionsRequest()
	b := frame(req, 0, 7)
	binary.BigEndian.PutUint16(b[6:], 99) // a version from the future
	c.Write(b)
	resp := readFrame(t, c)
	if corr := int32(binary.BigEndian.Uint32(resp)); corr != 7 {
		t.Fatalf("correlation id %d", corr)
	}
	av := kmsg.NewPtrApiVersionsResponse()
	av.Version = 0
	if err := av.ReadFrom(resp[4:]); err != nil {
		t.Fatal(err)
	}
	if av.ErrorCode != errUnsupportedVersion || len(av.ApiKeys) == 0 {
		t.Fatalf("downgrade answer %+v", av)
	}
	// The connection stays usable at a supported version.
	c.Write(frame(kmsg.NewPtrApiVersionsRequest(), 3, 8))
	resp = readFrame(t, c)
	av = kmsg.NewPtrApiVersionsResponse()
	av.Version = 3
	if err := av.ReadFrom(resp[4:]); err != nil || av.ErrorCode != 0 {
		t.Fatalf("v3: %v %+v", err, av)
	}
}

// TestBadRequestsCloseOnlyTheirConnection sends malformed, truncated,
// oversized and unsupported requests; each closes its own connection while
// a good connection keeps working.
func TestBadRequestsCloseOnlyTheirConnection(t *testing.T) {
	ts := startServer(t, Options{MaxRequestBytes: 1 << 20})
	good := dial(t, ts.addr)
	bad := [][]byte{
		{0, 0, 0, 2, 0, 1},       // too short for a header
		{0x7f, 0, 0, 0},          // oversized
		{0xff, 0xff, 0xff, 0xff}, // negative size
		{0, 0, 0, 10, 0x7f, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0},                                        // unknown api key
		func() []byte { b := frame(kmsg.NewPtrMetadataRequest(), 12, 1); return b[:len(b)-3] }(), // truncated
		func() []byte {
			b := frame(kmsg.NewPtrMetadataRequest(), 12, 1)
			binary.BigEndian.PutUint16(b[6:], 40)
			return b
		}(), // unsupported version
		func() []byte {
			b := frame(kmsg.NewPtrMetadataRequest(), 1, 1)
			return append(b[:len(b)-4], 0x7f, 0xff, 0xff, 0xff) // topic array of 2^31 entries
		}(),
	}
	for i, b := range bad {
		c := dial(t, ts.addr)
		c.Write(b)
		if i == 4 {
			c.(*net.TCPConn).CloseWrite()
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatalf("bad request %d: got an answer instead of a closed connection", i)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("bad request %d: connection left open", i)
		}
		// The good connection still works.
		good.Write(frame(kmsg.NewPtrMetadataRequest(), 1, int32(100+i)))
		resp := readFrame(t, good)
		if corr := int32(binary.BigEndian.Uint32(resp)); corr != int32(100+i) {
			t.Fatalf("good connection: correlation %d", corr)
		}
	}
}

// TestIdleConnectionsDoNotBlock opens many idle and many slow connections
// (a slow one sends half a request and stops) and checks that a client
// still produces and consumes.
func TestIdleConnectionsDoNotBlock(t *testing.T) {
	ts := startServer(t, Options{})
	mustTopic(t, ts, "t", 1)
	var conns []net.Conn
	for i := 0; i < 2000; i++ {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if i%2 == 0 {
			b := frame(kmsg.NewPtrMetadataRequest(), 1, 1)
			c.Write(b[:len(b)/2])
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	ctx := ctxTimeout(t, 30*time.Second)
	cl := ts.client(t, kgo.ConsumeTopics("t"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("through")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if recs := consume(t, cl, 1); string(recs[0].Value) != "through" {
		t.Fatalf("got %q", recs[0].Value)
	}
}

// FuzzRequest decodes and handles arbitrary request bytes: it must never
// panic, only answer or refuse.
func FuzzRequest(f *testing.F) {
	seeds := []kmsg.Request{
		kmsg.NewPtrApiVersionsRequest(), kmsg.NewPtrMetadataRequest(), kmsg.NewPtrFetchRequest(),
		kmsg.NewPtrListOffsetsRequest(), kmsg.NewPtrFindCoordinatorRequest(), kmsg.NewPtrJoinGroupRequest(),
		kmsg.NewPtrOffsetCommitRequest(), kmsg.NewPtrOffsetFetchRequest(), kmsg.NewPtrCreateTopicsRequest(),
		kmsg.NewPtrDescribeConfigsRequest(), kmsg.NewPtrInitProducerIDRequest(),
	}
	for _, r := range seeds {
		vr := apiVersions[r.Key()]
		f.Add(frame(r, vr.max, 1)[4:])
		f.Add(frame(r, vr.min, 1)[4:])
	}
	pr := kmsg.NewPtrProduceRequest()
	pr.Acks = -1
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "fuzz"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = buildBatch(-1, -1, -1, []string{"v"})
	rt.Partitions = append(rt.Partitions, rp)
	pr.Topics = append(pr.Topics, rt)
	f.Add(frame(pr, 9, 1)[4:])
	srv := startServer(f, Options{AutoCreateTopics: true})
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		c := &conn{s: srv.srv, ctx: ctx, cancel: cancel, remote: "127.0.0.1"}
		p, err := c.decodeAndHandle(body)
		if err != nil {
			return
		}
		if resp := p.reply(); resp != nil {
			resp.AppendTo(nil)
		}
	})
}
