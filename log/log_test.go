package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestAppendReadReopen(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	mustCreate(t, l, "orders", 2, nil)
	r := mustAppend(t, l, "orders", 1, kv("a", "1"), kv("b", "2"), Record{Key: nil, Value: []byte{}, Headers: []Header{{Key: "h", Value: nil}, {Key: "x", Value: []byte("y")}}})
	if r.BaseOffset != 0 || r.LastOffset != 2 {
		t.Fatalf("offsets %d..%d, want 0..2", r.BaseOffset, r.LastOffset)
	}
	r = mustAppend(t, l, "orders", 1, kv("c", "3"))
	if r.BaseOffset != 3 {
		t.Fatalf("second append at %d, want 3", r.BaseOffset)
	}
	check := func(l *Log) {
		t.Helper()
		recs := readAll(t, l, "orders", 1, 0)
		if got := describe(recs); got != "0:a=1 1:b=2 2:= 3:c=3 " {
			t.Fatalf("records %q", got)
		}
		if recs[2].Key != nil || recs[2].Value == nil || len(recs[2].Value) != 0 {
			t.Fatalf("null key / empty value not kept: %#v", recs[2])
		}
		if len(recs[2].Headers) != 2 || recs[2].Headers[0].Value != nil || string(recs[2].Headers[1].Value) != "y" {
			t.Fatalf("headers %#v", recs[2].Headers)
		}
		if recs[0].Timestamp != recs[0].Timestamp || recs[0].Timestamp == 0 {
			t.Fatalf("timestamp not set")
		}
		st, _ := l.State("orders", 1)
		if st.LogEndOffset != 4 || st.HighWatermark != 4 || st.LogStartOffset != 0 {
			t.Fatalf("state %+v", st)
		}
		if got := readAll(t, l, "orders", 0, 0); len(got) != 0 {
			t.Fatalf("partition 0 has %d records", len(got))
		}
		// Reading in the middle of a batch returns the whole batch.
		res, err := l.Read("orders", 1, 1, ReadOptions{})
		if err != nil || len(res.Batches) != 2 || res.Batches[0].BaseOffset != 0 {
			t.Fatalf("read@1: %v %+v", err, res)
		}
	}
	check(l)
	l.Close()
	l2 := openTest(t, dir, Options{})
	check(l2)
	r = mustAppend(t, l2, "orders", 1, kv("d", "4"))
	if r.BaseOffset != 4 {
		t.Fatalf("append after reopen at %d, want 4", r.BaseOffset)
	}
}

func TestReadErrors(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	mustCreate(t, l, "t", 1, nil)
	mustAppend(t, l, "t", 0, kv("a", "1"))
	if _, err := l.Read("nope", 0, 0, ReadOptions{}); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("unknown topic: %v", err)
	}
	if _, err := l.Read("t", 1, 0, ReadOptions{}); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("unknown partition: %v", err)
	}
	if _, err := l.Read("t", 0, 2, ReadOptions{}); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("beyond end: %v", err)
	}
	if _, err := l.Read("t", 0, -1, ReadOptions{}); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("negative: %v", err)
	}
	res, err := l.Read("t", 0, 1, ReadOptions{})
	if err != nil || len(res.Batches) != 0 || res.HighWatermark != 1 {
		t.Fatalf("read at end: %v %+v", err, res)
	}
}

func TestReadMaxBytes(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	mustCreate(t, l, "t", 1, nil)
	val := bytes.Repeat([]byte("x"), 1000)
	for i := 0; i < 10; i++ {
		mustAppend(t, l, "t", 0, Record{Key: []byte{byte(i)}, Value: val})
	}
	res, err := l.Read("t", 0, 0, ReadOptions{MaxBytes: 2500})
	if err != nil || len(res.Batches) != 2 {
		t.Fatalf("max bytes 2500: %v, %d batches", err, len(res.Batches))
	}
	res, err = l.Read("t", 0, 0, ReadOptions{MaxBytes: 10})
	if err != nil || len(res.Batches) != 1 {
		t.Fatalf("max bytes below one batch must still return one: %v, %d", err, len(res.Batches))
	}
}

func TestTopicAdmin(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{TopicDefaults: map[string]string{"retention.ms": "-1"}})
	mustCreate(t, l, "a", 3, map[string]string{"cleanup.policy": "compact"})
	if _, err := l.CreateTopic(TopicSpec{Name: "a", Partitions: 1}); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("duplicate: %v", err)
	}
	for _, bad := range []TopicSpec{{Name: "bad name", Partitions: 1}, {Name: "", Partitions: 1}, {Name: "x", Partitions: 0}, {Name: "..", Partitions: 1}} {
		if _, err := l.CreateTopic(bad); !errors.Is(err, ErrInvalidTopic) {
			t.Fatalf("%+v: %v", bad, err)
		}
	}
	if _, err := l.CreateTopic(TopicSpec{Name: "c", Partitions: 1, Config: map[string]string{"retention.mss": "1"}}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad config key: %v", err)
	}
	if _, err := l.CreateTopic(TopicSpec{Name: "c", Partitions: 1, Config: map[string]string{"cleanup.policy": "sometimes"}}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad config value: %v", err)
	}
	info, err := l.Topic("a")
	if err != nil || info.Partitions != 3 || !info.Config.Compact || info.Config.Delete || info.Config.RetentionMs != -1 {
		t.Fatalf("describe: %v %+v", err, info)
	}
	if info.Effective["retention.ms"] != "-1" || info.Effective["segment.bytes"] != "1073741824" {
		t.Fatalf("effective config %v", info.Effective)
	}
	if err := l.AlterTopicConfig("a", map[string]string{"cleanup.policy": "compact,delete", "retention.ms": "1000"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.CreatePartitions("a", 5); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, "a", 4, kv("k", "v"))
	mustCreate(t, l, "b", 1, nil)
	mustAppend(t, l, "b", 0, kv("k", "v"))
	if err := l.CommitOffsets("g", []GroupOffset{{Topic: "b", Partition: 0, Offset: 1}, {Topic: "a", Partition: 0, Offset: 0}}); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteTopic("b"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Read("b", 0, 0, ReadOptions{}); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("deleted topic readable: %v", err)
	}
	offs, _ := l.FetchOffsets("g")
	if len(offs) != 1 || offs[0].Topic != "a" {
		t.Fatalf("group offsets of deleted topic kept: %+v", offs)
	}
	l.Close()

	l = openTest(t, dir, Options{TopicDefaults: map[string]string{"retention.ms": "-1"}})
	topics := l.Topics()
	if len(topics) != 1 || topics[0].Name != "a" || topics[0].Partitions != 5 {
		t.Fatalf("after reopen: %+v", topics)
	}
	if c := topics[0].Config; !c.Compact || !c.Delete || c.RetentionMs != 1000 {
		t.Fatalf("altered config lost: %+v", c)
	}
	if got := readAll(t, l, "a", 4, 0); len(got) != 1 {
		t.Fatalf("added partition lost its record")
	}
	// A recreated topic does not see the old records.
	mustCreate(t, l, "b", 1, nil)
	if got := readAll(t, l, "b", 0, 0); len(got) != 0 {
		t.Fatalf("recreated topic sees %d old records", len(got))
	}
}

func TestCompactedTopicRejectsNullKey(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	mustCreate(t, l, "c", 1, map[string]string{"cleanup.policy": "compact"})
	_, err := l.Append(context.Background(), Write{Records: []PartitionRecords{{Topic: "c", Records: []Record{{Value: []byte("v")}}}}})
	if !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("null key on compacted topic: %v", err)
	}
}

func TestAtomicWriteWithMeta(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	mustCreate(t, l, "x", 1, nil)
	mustCreate(t, l, "y", 2, nil)
	w := Write{
		Records: []PartitionRecords{
			{Topic: "x", Partition: 0, Records: []Record{kv("1", "a")}},
			{Topic: "y", Partition: 1, Records: []Record{kv("2", "b"), kv("3", "c")}},
			{Topic: "x", Partition: 0, Records: []Record{kv("4", "d")}},
		},
		Meta: []MetaEntry{{Key: "source/pg/position", Value: []byte("lsn=42")}},
	}
	res, err := l.Append(context.Background(), w)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].BaseOffset != 0 || res[2].BaseOffset != 1 || res[1].LastOffset != 1 {
		t.Fatalf("results %+v", res)
	}
	// A write naming an unknown partition writes nothing at all.
	_, err = l.Append(context.Background(), Write{
		Records: []PartitionRecords{{Topic: "x", Records: []Record{kv("5", "e")}}, {Topic: "y", Partition: 9, Records: []Record{kv("6", "f")}}},
		Meta:    []MetaEntry{{Key: "source/pg/position", Value: []byte("lsn=99")}},
	})
	if !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("bad partition: %v", err)
	}
	l.Close()
	l = openTest(t, dir, Options{})
	v, ok, err := l.Meta("source/pg/position")
	if err != nil || !ok || string(v) != "lsn=42" {
		t.Fatalf("meta %q %v %v", v, ok, err)
	}
	if got := describe(readAll(t, l, "x", 0, 0)); got != "0:1=a 1:4=d " {
		t.Fatalf("x: %s", got)
	}
	if err := l.SetMeta(context.Background(), MetaEntry{Key: "source/pg/position"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.Meta("source/pg/position"); ok {
		t.Fatalf("meta not deleted")
	}
	m, _ := l.MetaPrefix("source/")
	if len(m) != 0 {
		t.Fatalf("prefix %v", m)
	}
}

// TestConcurrentAppendsDense runs many appenders on few partitions and
// checks that offsets are dense, every record is present once, and each
// appender's records are in its order.
func TestConcurrentAppendsDense(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	mustCreate(t, l, "t", 2, nil)
	const writers, perWriter = 8, 60
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				recs := []Record{kv(fmt.Sprintf("w%d", w), fmt.Sprint(i))}
				if i%3 == 0 {
					recs = append(recs, kv(fmt.Sprintf("w%d", w), fmt.Sprint(i)+"b"))
				}
				if _, err := l.Append(context.Background(), Write{Records: []PartitionRecords{{Topic: "t", Partition: int32(w % 2), Records: recs}}}); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	total := 0
	for p := int32(0); p < 2; p++ {
		recs := readAll(t, l, "t", p, 0)
		last := map[string]string{}
		for i, r := range recs {
			if r.Offset != int64(i) {
				t.Fatalf("partition %d: offset %d at position %d", p, r.Offset, i)
			}
			last[string(r.Key)] = string(r.Value)
		}
		total += len(recs)
	}
	if want := writers * (perWriter + perWriter/3); total != want {
		t.Fatalf("%d records, want %d", total, want)
	}
}

func TestListOffsets(t *testing.T) {
	c := newClock()
	l := openTest(t, t.TempDir(), Options{Now: c.Now})
	mustCreate(t, l, "t", 1, nil)
	base := c.Now().UnixMilli()
	mustAppend(t, l, "t", 0, Record{Key: []byte("a"), Value: []byte("1"), Timestamp: base + 10}, Record{Key: []byte("b"), Value: []byte("2"), Timestamp: base + 30})
	mustAppend(t, l, "t", 0, Record{Key: []byte("c"), Value: []byte("3"), Timestamp: base + 20})
	cases := []struct {
		ts         int64
		off, recTs int64
	}{
		{TimestampEarliest, 0, -1},
		{TimestampLatest, 3, -1},
		{base, 0, base + 10},
		{base + 11, 1, base + 30},
		{base + 25, 1, base + 30},
		{base + 31, -1, -1},
	}
	for _, tc := range cases {
		off, ts, err := l.ListOffset("t", 0, tc.ts)
		if err != nil || off != tc.off || ts != tc.recTs {
			t.Errorf("ListOffset(%d) = %d, %d, %v; want %d, %d", tc.ts, off, ts, err, tc.off, tc.recTs)
		}
	}
}

func TestTruncateAndEpochs(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	mustCreate(t, l, "t", 1, nil)
	mustAppend(t, l, "t", 0, kv("a", "1"), kv("b", "2"))
	if err := l.SetLeaderEpoch("t", 0, 3); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, "t", 0, kv("c", "3"), kv("d", "4"), kv("e", "5"))
	if err := l.SetLeaderEpoch("t", 0, 2); err == nil {
		t.Fatalf("epoch went backwards")
	}
	if e, end, _ := l.EndOffsetForEpoch("t", 0, 0); e != 0 || end != 2 {
		t.Fatalf("epoch 0 ends at %d (epoch %d), want 2", end, e)
	}
	if e, end, _ := l.EndOffsetForEpoch("t", 0, 2); e != 0 || end != 2 {
		t.Fatalf("epoch 2 → %d %d, want epoch 0 end 2", e, end)
	}
	if e, end, _ := l.EndOffsetForEpoch("t", 0, 5); e != 3 || end != 5 {
		t.Fatalf("epoch 5 → %d %d", e, end)
	}
	res, _ := l.Read("t", 0, 2, ReadOptions{})
	if res.Batches[0].LeaderEpoch != 3 {
		t.Fatalf("batch epoch %d", res.Batches[0].LeaderEpoch)
	}
	// Truncate in the middle of the second batch.
	if err := l.Truncate("t", 0, 3); err != nil {
		t.Fatal(err)
	}
	check := func(l *Log) {
		t.Helper()
		if got := describe(readAll(t, l, "t", 0, 0)); got != "0:a=1 1:b=2 2:c=3 " {
			t.Fatalf("after truncate: %s", got)
		}
		st, _ := l.State("t", 0)
		if st.LogEndOffset != 3 || st.HighWatermark != 3 {
			t.Fatalf("state %+v", st)
		}
	}
	check(l)
	l.Close()
	l = openTest(t, dir, Options{})
	check(l)
	if r := mustAppend(t, l, "t", 0, kv("f", "6")); r.BaseOffset != 3 {
		t.Fatalf("append after truncate at %d", r.BaseOffset)
	}
	// Truncating below epoch 3's start removes its epoch entry.
	if err := l.Truncate("t", 0, 1); err != nil {
		t.Fatal(err)
	}
	if e, end, _ := l.EndOffsetForEpoch("t", 0, 9); e != 3 || end != 1 {
		t.Fatalf("after truncate to 1: epoch %d end %d", e, end)
	}
}

func TestExternalHighWatermark(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{ExternalHighWatermark: true})
	mustCreate(t, l, "t", 1, nil)
	mustAppend(t, l, "t", 0, kv("a", "1"), kv("b", "2"))
	if res, err := l.Read("t", 0, 0, ReadOptions{}); err != nil || len(res.Batches) != 0 {
		t.Fatalf("consumer saw records above the HW: %v %+v", err, res)
	}
	if res, err := l.Read("t", 0, 0, ReadOptions{UpTo: UpToLogEnd}); err != nil || len(res.Batches) != 1 {
		t.Fatalf("follower read: %v %+v", err, res)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- l.WaitForData(ctx, "t", 0, 0) }()
	if err := l.SetHighWatermark("t", 0, 99); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("wait: %v", err)
	}
	if st, _ := l.State("t", 0); st.HighWatermark != 2 {
		t.Fatalf("HW not capped at LEO: %d", st.HighWatermark)
	}
}

func TestGroupOffsets(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	if err := l.CommitOffsets("g1", []GroupOffset{{Topic: "a", Partition: 0, Offset: 5, Metadata: "m"}, {Topic: "a", Partition: 1, Offset: 7, LeaderEpoch: 2}}); err != nil {
		t.Fatal(err)
	}
	if err := l.CommitOffsets("g2", []GroupOffset{{Topic: "b", Partition: 0, Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := l.CommitOffsets("g1", []GroupOffset{{Topic: "a", Partition: 0, Offset: 6}}); err != nil {
		t.Fatal(err)
	}
	if err := l.CommitOffsets("", nil); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("empty group: %v", err)
	}
	l.Close()
	l = openTest(t, dir, Options{})
	offs, err := l.FetchOffsets("g1")
	if err != nil || len(offs) != 2 || offs[0].Offset != 6 || offs[0].Metadata != "" || offs[1].Offset != 7 || offs[1].LeaderEpoch != 2 || offs[1].CommitTimeMs == 0 {
		t.Fatalf("g1: %v %+v", err, offs)
	}
	groups, _ := l.Groups()
	if fmt.Sprint(groups) != "[g1 g2]" {
		t.Fatalf("groups %v", groups)
	}
	if err := l.DeleteGroupOffsets("g1"); err != nil {
		t.Fatal(err)
	}
	if offs, _ := l.FetchOffsets("g1"); len(offs) != 0 {
		t.Fatalf("not deleted: %+v", offs)
	}
}

func TestMaxMessageBytes(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	mustCreate(t, l, "t", 1, map[string]string{"max.message.bytes": "1000"})
	big := Record{Value: bytes.Repeat([]byte("x"), 1000)}
	if _, err := l.Append(context.Background(), Write{Records: []PartitionRecords{{Topic: "t", Records: []Record{kv("a", "1"), big}}}}); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("oversized record in a batch: %v", err)
	}
	small := make([]Record, 50)
	for i := range small {
		small[i] = Record{Value: bytes.Repeat([]byte("y"), 500)}
	}
	if _, err := l.Append(context.Background(), Write{Records: []PartitionRecords{{Topic: "t", Records: small}}}); err != nil {
		t.Fatalf("a batch of small records larger than the limit: %v", err)
	}
}
