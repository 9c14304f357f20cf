package kafkaapi

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

// consume polls cl until n records arrived or the context ends.
func consume(t *testing.T, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	ctx := ctxTimeout(t, 30*time.Second)
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("got %d of %d records before the deadline", len(out), n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func TestKgoProduceConsume(t *testing.T) {
	ts := startServer(t, Options{AutoCreateTopics: true, DefaultPartitions: 3})
	ctx := ctxTimeout(t, 30*time.Second)
	prod := ts.client(t, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(time.Millisecond), kgo.AllowAutoTopicCreation())
	const n = 300
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: "orders", Key: []byte(fmt.Sprintf("k%d", i%17)), Value: []byte(fmt.Sprintf("v%d", i)),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}}
		prod.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := ts.log.Topic("orders")
	if err != nil || info.Partitions != 3 {
		t.Fatalf("auto-created topic: %v %+v", err, info)
	}
	// Every record went to the partition of its key, in order.
	cons := ts.client(t, kgo.ConsumeTopics("orders"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	recs := consume(t, cons, n)
	if len(recs) != n {
		t.Fatalf("consumed %d, want %d", len(recs), n)
	}
	byKey := map[string]int32{}
	lastOffset := map[int32]int64{0: -1, 1: -1, 2: -1}
	seen := map[string]bool{}
	for _, r := range recs {
		if p, ok := byKey[string(r.Key)]; ok && p != r.Partition {
			t.Fatalf("key %s in partitions %d and %d", r.Key, p, r.Partition)
		}
		byKey[string(r.Key)] = r.Partition
		if r.Offset != lastOffset[r.Partition]+1 {
			t.Fatalf("partition %d: offset %d after %d", r.Partition, r.Offset, lastOffset[r.Partition])
		}
		lastOffset[r.Partition] = r.Offset
		if seen[string(r.Value)] {
			t.Fatalf("duplicate %s", r.Value)
		}
		seen[string(r.Value)] = true
		if len(r.Headers) != 1 || string(r.Headers[0].Value) != "x" {
			t.Fatalf("headers %v", r.Headers)
		}
	}
}

func TestKgoGroupCommitAndResume(t *testing.T) {
	ts := startServer(t, Options{AutoCreateTopics: true, DefaultPartitions: 2})
	ctx := ctxTimeout(t, 60*time.Second)
	prod := ts.client(t, kgo.AllowAutoTopicCreation())
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "events", Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(0, 50)
	group := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(ts.addr), kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("events"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	c1 := group()
	got := consume(t, c1, 50)
	if err := c1.CommitRecords(ctx, got...); err != nil {
		t.Fatalf("commit: %v", err)
	}
	c1.LeaveGroup()
	c1.Close()
	produce(50, 80)
	c2 := group()
	defer c2.Close()
	more := consume(t, c2, 30)
	vals := map[string]bool{}
	for _, r := range more {
		vals[string(r.Value)] = true
	}
	for i := 50; i < 80; i++ {
		if !vals[fmt.Sprint(i)] {
			t.Fatalf("resume: record %d missing; got %d records", i, len(more))
		}
	}
	for i := 0; i < 50; i++ {
		if vals[fmt.Sprint(i)] {
			t.Fatalf("resume re-read committed record %d", i)
		}
	}
	offs, err := ts.log.FetchOffsets("g1")
	if err != nil || len(offs) != 2 {
		t.Fatalf("committed offsets in the log: %v %+v", err, offs)
	}
}

func TestKgoIdempotentRetries(t *testing.T) {
	ts := startServer(t, Options{AutoCreateTopics: true})
	ctx := ctxTimeout(t, 30*time.Second)
	cl := ts.client(t)
	req := kmsg.NewPtrInitProducerIDRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %+v", err, resp)
	}
	mustTopic(t, ts, "idem", 1)
	// Send the same sequenced batch three times, as a producer retrying
	// after lost responses does.
	for i := 0; i < 3; i++ {
		p := produceRaw(t, ts, cl, "idem", resp.ProducerID, resp.ProducerEpoch, 0, []string{"a", "b"})
		if p.ErrorCode != 0 || p.BaseOffset != 0 {
			t.Fatalf("attempt %d: %+v", i, p)
		}
	}
	p := produceRaw(t, ts, cl, "idem", resp.ProducerID, resp.ProducerEpoch, 2, []string{"c"})
	if p.ErrorCode != 0 || p.BaseOffset != 2 {
		t.Fatalf("next sequence: %+v", p)
	}
	p = produceRaw(t, ts, cl, "idem", resp.ProducerID, resp.ProducerEpoch, 7, []string{"d"})
	if p.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("gap: %+v", p)
	}
	if st, _ := ts.log.State("idem", 0); st.LogEndOffset != 3 {
		t.Fatalf("log has %d records, want 3", st.LogEndOffset)
	}
	// kgo's own idempotent producer (the default) works end to end.
	for i := 0; i < 20; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "idem", Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := ts.log.State("idem", 0); st.LogEndOffset != 23 {
		t.Fatalf("log end %d, want 23", st.LogEndOffset)
	}
}

func mustTopic(t *testing.T, ts *testServer, name string, parts int32) {
	t.Helper()
	if _, err := ts.log.CreateTopic(sluicelog.TopicSpec{Name: name, Partitions: parts}); err != nil {
		t.Fatal(err)
	}
}

// produceRaw sends one produce request with a hand-built idempotent batch.
func produceRaw(t *testing.T, ts *testServer, cl *kgo.Client, topic string, pid int64, epoch int16, seq int32, values []string) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	raw := buildBatch(pid, epoch, seq, values)
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = raw
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxTimeout(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

func TestKgoAdmin(t *testing.T) {
	ts := startServer(t, Options{})
	ctx := ctxTimeout(t, 30*time.Second)
	cl := ts.client(t)
	ct := kmsg.NewPtrCreateTopicsRequest()
	for _, name := range []string{"a", "b"} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 2, 1
		v := "compact"
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = "cleanup.policy", &v
		rt.Configs = append(rt.Configs, c)
		ct.Topics = append(ct.Topics, rt)
	}
	bad := kmsg.NewCreateTopicsRequestTopic()
	bad.Topic, bad.NumPartitions, bad.ReplicationFactor = "c", 1, 3
	ct.Topics = append(ct.Topics, bad)
	cresp, err := ct.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int16{}
	for _, tr := range cresp.Topics {
		codes[tr.Topic] = tr.ErrorCode
	}
	if codes["a"] != 0 || codes["b"] != 0 || codes["c"] != kerr.InvalidReplicationFactor.Code {
		t.Fatalf("create codes %v", codes)
	}
	// Creating again says it exists.
	cresp, _ = ct.RequestWith(ctx, cl)
	if cresp.Topics[0].ErrorCode != kerr.TopicAlreadyExists.Code {
		t.Fatalf("re-create: %d", cresp.Topics[0].ErrorCode)
	}
	// Metadata lists both.
	md, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tp := range md.Topics {
		names = append(names, *tp.Topic)
		if len(tp.Partitions) != 2 || tp.Partitions[0].Leader != 1 {
			t.Fatalf("metadata partitions %+v", tp.Partitions)
		}
	}
	sort.Strings(names)
	if fmt.Sprint(names) != "[a b]" {
		t.Fatalf("metadata topics %v", names)
	}
	// Describe and alter configs.
	ia := kmsg.NewPtrIncrementalAlterConfigsRequest()
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, "a"
	v := "3600000"
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Value, c.Op = "retention.ms", &v, kmsg.IncrementalAlterConfigOpSet
	r.Configs = append(r.Configs, c)
	ia.Resources = append(ia.Resources, r)
	if resp, err := ia.RequestWith(ctx, cl); err != nil || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("alter: %v %+v", err, resp)
	}
	dc := kmsg.NewPtrDescribeConfigsRequest()
	dr := kmsg.NewDescribeConfigsRequestResource()
	dr.ResourceType, dr.ResourceName = kmsg.ConfigResourceTypeTopic, "a"
	dc.Resources = append(dc.Resources, dr)
	dresp, err := dc.RequestWith(ctx, cl)
	if err != nil || dresp.Resources[0].ErrorCode != 0 {
		t.Fatalf("describe: %v", err)
	}
	got := map[string]string{}
	for _, c := range dresp.Resources[0].Configs {
		got[c.Name] = *c.Value
	}
	if got["retention.ms"] != "3600000" || got["cleanup.policy"] != "compact" {
		t.Fatalf("describe configs %v", got)
	}
	// Delete.
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TopicNames = []string{"b", "nope"}
	dtr := kmsg.NewDeleteTopicsRequestTopic()
	nb := "b"
	dtr.Topic = &nb
	nn := "nope"
	dtr2 := kmsg.NewDeleteTopicsRequestTopic()
	dtr2.Topic = &nn
	dt.Topics = append(dt.Topics, dtr, dtr2)
	dresp2, err := dt.RequestWith(ctx, cl)
	if err != nil || dresp2.Topics[0].ErrorCode != 0 || dresp2.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("delete: %v %+v", err, dresp2)
	}
	if len(ts.log.Topics()) != 1 {
		t.Fatalf("topics after delete: %+v", ts.log.Topics())
	}
}

func TestKgoListOffsetsAndOutOfRange(t *testing.T) {
	ts := startServer(t, Options{})
	mustTopic(t, ts, "t", 1)
	ctx := ctxTimeout(t, 30*time.Second)
	cl := ts.client(t)
	for i := 0; i < 5; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("v"), Timestamp: time.UnixMilli(int64(1000 + i*10))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "t"
	for _, ts := range []int64{-2, -1, 1015, 5000, -3} {
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Timestamp = ts
		lt.Partitions = append(lt.Partitions, p)
	}
	lo.Topics = append(lo.Topics, lt)
	resp, err := lo.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, p := range resp.Topics[0].Partitions {
		got = append(got, p.Offset)
	}
	if fmt.Sprint(got) != "[0 5 2 -1 4]" {
		t.Fatalf("list offsets %v", got)
	}
	// Fetching beyond the end is OFFSET_OUT_OF_RANGE.
	f := kmsg.NewPtrFetchRequest()
	f.MaxWaitMillis, f.MaxBytes = 10, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "t"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset, fp.PartitionMaxBytes = 99, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	f.Topics = append(f.Topics, ft)
	fresp, err := f.RequestWith(ctx, cl)
	if err != nil || fresp.Topics[0].Partitions[0].ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch beyond end: %v %+v", err, fresp)
	}
}

// TestFetchLongPolls checks that a fetch at the log end waits for data
// instead of answering empty at once, and answers when data arrives.
func TestFetchLongPolls(t *testing.T) {
	ts := startServer(t, Options{})
	mustTopic(t, ts, "t", 1)
	ctx := ctxTimeout(t, 30*time.Second)
	cl := ts.client(t)
	f := kmsg.NewPtrFetchRequest()
	f.MaxWaitMillis, f.MinBytes, f.MaxBytes = 20000, 1, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "t"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset, fp.PartitionMaxBytes = 0, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	f.Topics = append(f.Topics, ft)
	done := make(chan *kmsg.FetchResponse, 1)
	go func() {
		resp, err := f.RequestWith(ctx, cl)
		if err != nil {
			t.Error(err)
		}
		done <- resp
	}()
	select {
	case resp := <-done:
		t.Fatalf("fetch answered before any data: %+v", resp)
	case <-time.After(300 * time.Millisecond):
	}
	prod := ts.client(t)
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("wake")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	resp := <-done
	if resp == nil || len(resp.Topics[0].Partitions[0].RecordBatches) == 0 {
		t.Fatalf("long poll returned no data: %+v", resp)
	}
}
