package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func mustCreateIndexed(t testing.TB, l *Log, name string, parts int32, cfg map[string]string) {
	t.Helper()
	if _, err := l.CreateTopic(TopicSpec{Name: name, Partitions: parts, Config: cfg, KeyIndex: true}); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

// latest describes Latest's answer as "offset:value", "<nil>" for a
// tombstone's value, or "none".
func latest(t testing.TB, l *Log, topic string, part int32, key string) string {
	t.Helper()
	rec, ok, err := l.Latest(topic, part, []byte(key))
	if err != nil {
		t.Fatalf("latest %s/%d %q: %v", topic, part, key, err)
	}
	if !ok {
		return "none"
	}
	if !bytes.Equal(rec.Key, []byte(key)) {
		t.Fatalf("latest of %q returned key %q", key, rec.Key)
	}
	if rec.Value == nil {
		return fmt.Sprintf("%d:<nil>", rec.Offset)
	}
	return fmt.Sprintf("%d:%s", rec.Offset, rec.Value)
}

func TestLatestFollowsUpdatesAndTombstones(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	mustCreateIndexed(t, l, "c", 2, nil)
	mustAppend(t, l, "c", 0, kv("a", "a1"), kv("b", "b1"))
	mustAppend(t, l, "c", 0, kv("a", "a2"))
	mustAppend(t, l, "c", 0, kv("c", "c1"), kv("a", "a3"), kv("c", "c2"))
	mustAppend(t, l, "c", 1, kv("a", "other partition"))
	mustAppend(t, l, "c", 0, kv("b", "<nil>"), Record{Value: []byte("null key")})
	for _, tc := range []struct {
		part      int32
		key, want string
	}{
		{0, "a", "4:a3"},
		{0, "b", "6:<nil>"}, // a tombstone is found, with a nil value
		{0, "c", "5:c2"},
		{0, "d", "none"},
		{1, "a", "0:other partition"},
		{1, "b", "none"},
	} {
		if got := latest(t, l, "c", tc.part, tc.key); got != tc.want {
			t.Errorf("partition %d key %q: %s, want %s", tc.part, tc.key, got, tc.want)
		}
	}
	if _, ok, err := l.Latest("c", 0, nil); ok || err != nil {
		t.Fatalf("a null key: %v %v", ok, err)
	}
	// An empty key is a key.
	mustAppend(t, l, "c", 0, Record{Key: []byte{}, Value: []byte("empty")})
	if got := latest(t, l, "c", 0, ""); got != "8:empty" {
		t.Fatalf("empty key: %s", got)
	}

	mustCreate(t, l, "plain", 1, nil)
	mustAppend(t, l, "plain", 0, kv("a", "1"))
	if _, _, err := l.Latest("plain", 0, []byte("a")); !errors.Is(err, ErrNoKeyIndex) {
		t.Fatalf("a topic without an index: %v, want ErrNoKeyIndex", err)
	}
	if _, _, err := l.Latest("nope", 0, []byte("a")); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("an unknown topic: %v", err)
	}
	if _, _, err := l.Latest("c", 2, []byte("a")); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("an unknown partition: %v", err)
	}
}

func TestLatestOnlyBelowHighWatermark(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{ExternalHighWatermark: true})
	mustCreateIndexed(t, l, "c", 1, nil)
	mustAppend(t, l, "c", 0, kv("a", "1"), kv("a", "2"))
	if got := latest(t, l, "c", 0, "a"); got != "none" {
		t.Fatalf("uncommitted record: %s", got)
	}
	l.SetHighWatermark("c", 0, 1)
	// The index points to offset 1, not yet committed; offset 0 is not
	// indexed any more.
	if got := latest(t, l, "c", 0, "a"); got != "none" {
		t.Fatalf("uncommitted latest: %s", got)
	}
	l.SetHighWatermark("c", 0, 2)
	if got := latest(t, l, "c", 0, "a"); got != "1:2" {
		t.Fatalf("committed: %s", got)
	}
}

func TestLatestAfterTruncate(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	mustCreateIndexed(t, l, "c", 1, nil)
	mustAppend(t, l, "c", 0, kv("a", "a0"), kv("b", "b1"))
	mustAppend(t, l, "c", 0, kv("a", "a2"), kv("c", "c3"), kv("b", "b4"))
	if err := l.Truncate("c", 0, 3); err != nil { // keeps a0 b1 a2; the batch at 2 is rewritten
		t.Fatal(err)
	}
	for key, want := range map[string]string{"a": "2:a2", "b": "none", "c": "none"} {
		if got := latest(t, l, "c", 0, key); got != want {
			t.Errorf("after truncate, %q: %s, want %s", key, got, want)
		}
	}
	// Offsets 3 and 4 are assigned again; b's entry points to 4, which
	// now holds another key.
	mustAppend(t, l, "c", 0, kv("d", "d3"), kv("e", "e4"))
	if got := latest(t, l, "c", 0, "b"); got != "none" {
		t.Fatalf("stale entry after re-append: %s", got)
	}
	if got := latest(t, l, "c", 0, "e"); got != "4:e4" {
		t.Fatalf("re-appended key: %s", got)
	}
	mustAppend(t, l, "c", 0, kv("b", "b5"))
	if got := latest(t, l, "c", 0, "b"); got != "5:b5" {
		t.Fatalf("key written again: %s", got)
	}
}

func TestLatestAfterRetentionAndRestart(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	l := openTest(t, dir, Options{Now: c.Now})
	mustCreateIndexed(t, l, "r", 1, map[string]string{"segment.bytes": "200", "retention.ms": "60000"})
	for i := 0; i < 5; i++ {
		mustAppend(t, l, "r", 0, kv(fmt.Sprint("k", i), fmt.Sprint("v", i)))
	}
	c.Advance(10 * time.Minute)
	mustAppend(t, l, "r", 0, kv("k3", "v5"))
	mustAppend(t, l, "r", 0, kv("k4", "v6"))
	cleanNow(t, l) // the segments of offsets 0..4 expire
	if st, _ := l.State("r", 0); st.LogStartOffset < 3 {
		t.Fatalf("retention: %+v, want log start past k0..k2", st)
	}
	for key, want := range map[string]string{"k0": "none", "k1": "none", "k2": "none", "k3": "5:v5", "k4": "6:v6"} {
		if got := latest(t, l, "r", 0, key); got != want {
			t.Errorf("after retention, %s: %s, want %s", key, got, want)
		}
	}

	// Persisted: a reopened log still has the index and its entries, and
	// keeps the flag through config changes and new partitions.
	mustCreateIndexed(t, l, "p", 1, nil)
	mustAppend(t, l, "p", 0, kv("x", "1"), kv("y", "2"), kv("x", "3"))
	if err := l.AlterTopicConfig("p", map[string]string{"retention.ms": "-1"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.CreatePartitions("p", 2); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = openTest(t, dir, Options{Now: c.Now})
	if info, _ := l.Topic("p"); !info.KeyIndex {
		t.Fatalf("key index flag lost: %+v", info)
	}
	if got := latest(t, l, "p", 0, "x"); got != "2:3" {
		t.Fatalf("after restart: %s", got)
	}
	mustAppend(t, l, "p", 1, kv("x", "new partition"))
	if got := latest(t, l, "p", 1, "x"); got != "0:new partition" {
		t.Fatalf("new partition: %s", got)
	}
}

func TestLatestLongKeysAndCollisions(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	mustCreateIndexed(t, l, "c", 1, nil)
	long1 := strings.Repeat("a", maxIndexedKey+1)
	long2 := strings.Repeat("b", maxIndexedKey+100)
	edge := strings.Repeat("c", maxIndexedKey) // stored as it is
	mustAppend(t, l, "c", 0, kv(long1, "1"), kv(long2, "2"), kv(edge, "3"), kv(long1, "4"))
	for key, want := range map[string]string{long1: "3:4", long2: "1:2", edge: "2:3", long1 + "x": "none"} {
		if got := latest(t, l, "c", 0, key); got != want {
			t.Errorf("%.10q…: %s, want %s", key, got, want)
		}
	}

	// Every long key hashes alike: the last one written owns the entry,
	// and the other is not found rather than answered with the wrong
	// record.
	saved := longKeyHash
	longKeyHash = func(dst, _ []byte) []byte { return append(dst, make([]byte, 16)...) }
	defer func() { longKeyHash = saved }()
	mustCreateIndexed(t, l, "collide", 1, nil)
	mustAppend(t, l, "collide", 0, kv(long1, "1"), kv(long2, "2"))
	if got := latest(t, l, "collide", 0, long2); got != "1:2" {
		t.Fatalf("last writer: %s", got)
	}
	if got := latest(t, l, "collide", 0, long1); got != "none" {
		t.Fatalf("colliding key: %s, want none", got)
	}
}

// TestLatestRawBatches checks that producer batches stored as they are
// (the Kafka API's path) are indexed too, idempotent duplicates once.
func TestLatestRawBatches(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	mustCreateIndexed(t, l, "k", 1, map[string]string{"cleanup.policy": "compact"})
	raw := func(seq int32, recs ...Record) []byte {
		return encodeBatch(nil, 0, 0, &ProducerBatch{ID: 7, Epoch: 0, BaseSequence: seq}, recs, 1_700_000_000_000)[storedCRCLen:]
	}
	ctx := context.Background()
	for i, w := range []Write{
		{Records: []PartitionRecords{{Topic: "k", Raw: raw(0, kv("a", "1"), kv("b", "2"))}}},
		{Records: []PartitionRecords{{Topic: "k", Raw: raw(2, kv("a", "3"))}}},
		{Records: []PartitionRecords{{Topic: "k", Raw: raw(2, kv("a", "3"))}}}, // a retry
	} {
		if _, err := l.Append(ctx, w); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	if got := latest(t, l, "k", 0, "a"); got != "2:3" {
		t.Fatalf("raw batch: %s", got)
	}
	if got := latest(t, l, "k", 0, "b"); got != "1:2" {
		t.Fatalf("raw batch: %s", got)
	}
	// message.timestamp.type LogAppendTime decodes a raw batch first.
	mustCreateIndexed(t, l, "lat", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	if _, err := l.Append(ctx, Write{Records: []PartitionRecords{{Topic: "lat", Raw: raw(0, kv("z", "9"))}}}); err != nil {
		t.Fatal(err)
	}
	if got := latest(t, l, "lat", 0, "z"); got != "0:9" {
		t.Fatalf("log append time: %s", got)
	}
}

func TestLatestThroughCompaction(t *testing.T) {
	c := newClock()
	l := openTest(t, t.TempDir(), Options{Now: c.Now})
	mustCreateIndexed(t, l, "c", 1, map[string]string{
		"cleanup.policy": "compact", "segment.bytes": "300", "min.cleanable.dirty.ratio": "0.01",
		"delete.retention.ms": "10000", "min.compaction.lag.ms": "0",
	})
	want := map[string]string{}
	for i := 0; i < 40; i++ {
		k := string(rune('a' + i%4))
		v := fmt.Sprintf("%s%d", k, i)
		if k == "d" && i == 39 {
			v = "<nil>"
		}
		r := mustAppend(t, l, "c", 0, kv(k, v))
		want[k] = fmt.Sprintf("%d:%s", r.BaseOffset, v)
	}
	mustAppend(t, l, "c", 0, kv("z", "active"))
	before := len(readAll(t, l, "c", 0, 0))
	cleanNow(t, l)
	if after := len(readAll(t, l, "c", 0, 0)); after >= before {
		t.Fatalf("compaction removed nothing: %d → %d", before, after)
	}
	for k, w := range want {
		if got := latest(t, l, "c", 0, k); got != w {
			t.Errorf("after compaction, %q: %s, want %s", k, got, w)
		}
	}
	// The tombstone expires and compaction drops it: d is gone.
	c.Advance(time.Minute)
	mustAppend(t, l, "c", 0, kv("z", "later"))
	cleanNow(t, l)
	if got := latest(t, l, "c", 0, "d"); got != "none" {
		t.Fatalf("expired tombstone: %s", got)
	}
	info, _ := l.Topic("c")
	if _, closer, err := l.db.Get(appendIndexKey(nil, info.ID, 0, []byte("d"))); err == nil {
		closer.Close()
		t.Fatal("the expired tombstone's index entry is still there")
	}
	if _, closer, err := l.db.Get(appendIndexKey(nil, info.ID, 0, []byte("a"))); err != nil {
		t.Fatalf("a's index entry: %v", err)
	} else {
		closer.Close()
	}
	if got := latest(t, l, "c", 0, "a"); got != want["a"] {
		t.Fatalf("a after the second pass: %s", got)
	}
}

func TestDeleteTopicRemovesKeyIndex(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	mustCreateIndexed(t, l, "c", 1, nil)
	mustAppend(t, l, "c", 0, kv("a", "1"))
	if err := l.DeleteTopic("c"); err != nil {
		t.Fatal(err)
	}
	if dump := dumpKeys(t, l.db); strings.Contains(dump, "\n09") {
		t.Fatalf("index entries left after delete:\n%s", dump)
	}
	mustCreateIndexed(t, l, "c", 1, nil)
	if got := latest(t, l, "c", 0, "a"); got != "none" {
		t.Fatalf("recreated topic sees the old key: %s", got)
	}
}

// TestEnableKeyIndex indexes an existing topic while appends go on, and
// checks every key's latest record against a scan of the log.
func TestEnableKeyIndex(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	l := openTest(t, dir, Options{Now: c.Now})
	mustCreate(t, l, "t", 3, map[string]string{"cleanup.policy": "compact", "segment.bytes": "500", "min.cleanable.dirty.ratio": "0.01"})
	ctx := context.Background()
	for i := 0; i < 200; i++ {
		part := int32(i % 3)
		rec := kv(fmt.Sprint("k", i%17), fmt.Sprint("v", i))
		if i%10 == 0 {
			raw := encodeBatch(nil, 0, 0, nil, []Record{rec}, c.Now().UnixMilli())[storedCRCLen:]
			if _, err := l.Append(ctx, Write{Records: []PartitionRecords{{Topic: "t", Partition: part, Raw: raw}}}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mustAppend(t, l, "t", part, rec)
	}
	cleanNow(t, l)
	if _, _, err := l.Latest("t", 0, []byte("k1")); !errors.Is(err, ErrNoKeyIndex) {
		t.Fatalf("before: %v", err)
	}

	// Appends go on while the index is built.
	done := make(chan struct{})
	appended := make(chan int)
	go func() {
		n := 0
		defer func() { appended <- n }()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := l.Append(ctx, Write{Records: []PartitionRecords{{Topic: "t", Partition: int32(n % 3), Records: []Record{kv(fmt.Sprint("k", n%23), fmt.Sprint("w", n))}}}}); err != nil {
				t.Error(err)
				return
			}
			n++
		}
	}()
	if err := l.EnableKeyIndex("t"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, "t", 1, kv("after", "1"))
	close(done)
	t.Logf("%d appends while indexing", <-appended)
	if err := l.EnableKeyIndex("t"); err != nil { // a second time does nothing
		t.Fatal(err)
	}
	if err := l.CreatePartitions("t", 4); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, "t", 3, kv("k1", "new partition"))

	check := func(l *Log) {
		t.Helper()
		for part := int32(0); part < 4; part++ {
			want := map[string]string{}
			for _, r := range readAll(t, l, "t", part, 0) {
				want[string(r.Key)] = fmt.Sprintf("%d:%s", r.Offset, r.Value)
			}
			if len(want) == 0 {
				t.Fatalf("partition %d is empty", part)
			}
			for k, w := range want {
				if got := latest(t, l, "t", part, k); got != w {
					t.Errorf("partition %d key %q: %s, want %s", part, k, got, w)
				}
			}
		}
	}
	check(l)
	l.Close()
	l = openTest(t, dir, Options{Now: c.Now})
	if info, _ := l.Topic("t"); !info.KeyIndex {
		t.Fatalf("key index not persisted: %+v", info)
	}
	check(l)
	if err := l.EnableKeyIndex("nope"); !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("unknown topic: %v", err)
	}
}

// TestCompactionKeepsEntriesOfRewrittenKeys: an expired tombstone whose
// key was written again later goes, and the key's entry, which points to
// the later record, stays.
func TestCompactionKeepsEntriesOfRewrittenKeys(t *testing.T) {
	c := newClock()
	l := openTest(t, t.TempDir(), Options{Now: c.Now})
	mustCreateIndexed(t, l, "c", 1, map[string]string{
		"cleanup.policy": "compact", "segment.bytes": "200", "min.cleanable.dirty.ratio": "0.01",
		"delete.retention.ms": "1000", "min.compaction.lag.ms": "0",
	})
	mustAppend(t, l, "c", 0, kv("x", "1"))
	mustAppend(t, l, "c", 0, kv("x", "<nil>"))
	for i := 0; i < 6; i++ {
		mustAppend(t, l, "c", 0, kv(fmt.Sprint("y", i), "filler"))
	}
	c.Advance(time.Minute)
	r := mustAppend(t, l, "c", 0, kv("x", "2"))
	cleanNow(t, l)
	cleanNow(t, l)
	for _, rec := range readAll(t, l, "c", 0, 0) {
		if string(rec.Key) == "x" && rec.Value == nil {
			t.Fatalf("the expired tombstone is still in the log")
		}
	}
	if got, want := latest(t, l, "c", 0, "x"), fmt.Sprintf("%d:2", r.BaseOffset); got != want {
		t.Fatalf("x: %s, want %s", got, want)
	}
}
