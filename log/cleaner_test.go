package log

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestShouldRollAndPlanRetention(t *testing.T) {
	cfg, _, _ := resolveConfig(map[string]string{"retention.ms": "1000", "segment.ms": "5000", "retention.bytes": "250"})
	seg := func(base, last, maxTs, bytes, created int64) segment {
		return segment{Base: base, Last: last, MaxTimestamp: maxTs, Bytes: bytes, CreatedMs: created, Records: last - base + 1}
	}
	segs := []segment{seg(0, 9, 100, 100, 0), seg(10, 19, 900, 100, 0), seg(20, 29, 5000, 100, 4000), seg(30, 34, 5200, 50, 5100)}
	cases := []struct {
		name string
		now  int64
		hw   int64
		cfg  TopicConfig
		want int
	}{
		{"by time and size", 2000, 35, cfg, 2},
		{"hw blocks", 2000, 15, cfg, 1},
		{"nothing old, size still over", 1000, 35, cfg, 1},
		{"never the active segment", 1 << 40, 35, cfg, 3},
	}
	for _, tc := range cases {
		if got := planRetention(segs, tc.cfg, tc.hw, tc.now); got != tc.want {
			t.Errorf("%s: planRetention = %d, want %d", tc.name, got, tc.want)
		}
	}
	noDelete := cfg
	noDelete.Delete = false
	if got := planRetention(segs, noDelete, 35, 1<<40); got != 0 {
		t.Errorf("compact-only topic: retention deleted %d segments", got)
	}
	unlimited, _, _ := resolveConfig(map[string]string{"retention.ms": "-1"})
	if got := planRetention(segs, unlimited, 35, 1<<40); got != 0 {
		t.Errorf("retention.ms -1: deleted %d", got)
	}
	if !shouldRoll(segs, cfg, 35, 5100+5000) {
		t.Errorf("segment.ms elapsed: no roll")
	}
	if !shouldRoll(segs, cfg, 35, 7000) {
		t.Errorf("expired active segment: no roll")
	}
	if shouldRoll(segs, cfg, 33, 7000) {
		t.Errorf("rolled an active segment above the HW")
	}
	if shouldRoll([]segment{{Base: 5, Last: 4}}, cfg, 5, 1<<40) {
		t.Errorf("rolled an empty segment")
	}
}

func TestPlanCompaction(t *testing.T) {
	cfg, _, _ := resolveConfig(map[string]string{"cleanup.policy": "compact", "min.compaction.lag.ms": "100", "min.cleanable.dirty.ratio": "0.5"})
	seg := func(base, last, maxTs, bytes int64) segment {
		return segment{Base: base, Last: last, MaxTimestamp: maxTs, Bytes: bytes, Records: 1}
	}
	segs := []segment{seg(0, 9, 10, 100), seg(10, 19, 20, 100), seg(20, 29, 950, 100), seg(30, 30, 990, 10)}
	p, ok := planCompaction(segs, cfg, 31, 0, 1000, false)
	if !ok || p.dirty != 0 || p.end != 20 {
		t.Fatalf("lag keeps segment 20: %+v %v", p, ok)
	}
	p, ok = planCompaction(segs, cfg, 31, 0, 2000, false)
	if !ok || p.end != 30 {
		t.Fatalf("never the active segment: %+v %v", p, ok)
	}
	if _, ok := planCompaction(segs, cfg, 15, 0, 2000, false); !ok {
		t.Fatalf("segment 0 is below the HW and cleanable")
	}
	if p, ok := planCompaction(segs, cfg, 5, 0, 2000, false); ok {
		t.Fatalf("cleaned at the HW: %+v", p)
	}
	// Dirty ratio: 1 of 3 segments dirty is below 0.5.
	if p, ok := planCompaction(segs, cfg, 31, 20, 2000, false); ok {
		t.Fatalf("dirty ratio %.2f below 0.5 cleaned", p.ratio)
	}
	if _, ok := planCompaction(segs, cfg, 31, 20, 2000, true); !ok {
		t.Fatalf("forced pass (tombstones due) not planned")
	}
	if _, ok := planCompaction(segs, cfg, 31, 10, 2000, false); !ok {
		t.Fatalf("2 of 3 dirty not cleaned")
	}
	del := cfg
	del.Compact = false
	if _, ok := planCompaction(segs, del, 31, 0, 2000, false); ok {
		t.Fatalf("delete-only topic compacted")
	}
}

func cleanNow(t *testing.T, l *Log) {
	t.Helper()
	if err := l.Clean(context.Background()); err != nil {
		t.Fatalf("clean: %v", err)
	}
}

func TestRetentionByTimeAndSize(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	l := openTest(t, dir, Options{Now: c.Now})
	mustCreate(t, l, "t", 1, map[string]string{"segment.bytes": "300", "retention.ms": "60000"})
	for i := 0; i < 20; i++ {
		mustAppend(t, l, "t", 0, kv(fmt.Sprint(i), strings.Repeat("v", 50)))
		c.Advance(time.Second)
	}
	st, _ := l.State("t", 0)
	if st.Segments < 4 {
		t.Fatalf("segment.bytes 300 rolled only %d segments", st.Segments)
	}
	cleanNow(t, l)
	if st2, _ := l.State("t", 0); st2.LogStartOffset != 0 {
		t.Fatalf("retention deleted young records: %+v", st2)
	}
	c.Advance(50 * time.Second) // records 0..9 are now older than 60 s
	cleanNow(t, l)
	st, _ = l.State("t", 0)
	if st.LogStartOffset == 0 || st.LogStartOffset > 10 {
		t.Fatalf("log start %d after expiring records 0..9", st.LogStartOffset)
	}
	recs := readAll(t, l, "t", 0, st.LogStartOffset)
	if len(recs) != int(20-st.LogStartOffset) || recs[0].Offset != st.LogStartOffset {
		t.Fatalf("remaining records: %s", describe(recs))
	}
	if _, err := l.Read("t", 0, 0, ReadOptions{}); err == nil {
		t.Fatalf("read below the log start succeeded")
	}
	if off, _, _ := l.ListOffset("t", 0, TimestampEarliest); off != st.LogStartOffset {
		t.Fatalf("earliest %d, want %d", off, st.LogStartOffset)
	}
	// Everything expires: the active segment is rolled and deleted too,
	// and the log end offset is kept.
	c.Advance(time.Hour)
	cleanNow(t, l)
	st, _ = l.State("t", 0)
	if st.LogStartOffset != 20 || st.LogEndOffset != 20 || st.Bytes != 0 {
		t.Fatalf("after full expiry: %+v", st)
	}
	l.Close()
	l = openTest(t, dir, Options{Now: c.Now})
	if r := mustAppend(t, l, "t", 0, kv("x", "y")); r.BaseOffset != 20 {
		t.Fatalf("offset reused after retention: %d", r.BaseOffset)
	}

	// Size: keep at most ~600 bytes.
	mustCreate(t, l, "s", 1, map[string]string{"segment.bytes": "300", "retention.bytes": "600", "retention.ms": "-1"})
	for i := 0; i < 30; i++ {
		mustAppend(t, l, "s", 0, kv(fmt.Sprint(i), strings.Repeat("v", 50)))
	}
	cleanNow(t, l)
	st, _ = l.State("s", 0)
	if st.Bytes > 600+300 || st.LogStartOffset == 0 {
		t.Fatalf("retention.bytes 600: %+v", st)
	}
}

func TestRetentionStopsAtHighWatermark(t *testing.T) {
	c := newClock()
	l := openTest(t, t.TempDir(), Options{Now: c.Now, ExternalHighWatermark: true})
	mustCreate(t, l, "t", 1, map[string]string{"segment.bytes": "200", "retention.ms": "1000"})
	for i := 0; i < 10; i++ {
		mustAppend(t, l, "t", 0, kv(fmt.Sprint(i), strings.Repeat("v", 50)))
	}
	l.SetHighWatermark("t", 0, 3)
	c.Advance(time.Hour)
	cleanNow(t, l)
	st, _ := l.State("t", 0)
	if st.LogStartOffset > 3 {
		t.Fatalf("retention passed the HW: %+v", st)
	}
}

func TestCompaction(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	l := openTest(t, dir, Options{Now: c.Now})
	mustCreate(t, l, "c", 1, map[string]string{
		"cleanup.policy": "compact", "segment.bytes": "400", "min.cleanable.dirty.ratio": "0.01",
		"delete.retention.ms": "10000", "min.compaction.lag.ms": "0",
	})
	// Keys a, b, c updated; b deleted (tombstone); many batches.
	var want = map[string]string{}
	for i := 0; i < 30; i++ {
		k := string(rune('a' + i%3))
		v := fmt.Sprintf("%s%d", k, i)
		if k == "b" && i == 28 {
			v = "<nil>"
		}
		mustAppend(t, l, "c", 0, kv(k, v))
		want[k] = v
	}
	mustAppend(t, l, "c", 0, kv("z", "active")) // lives in the active segment
	before := readAll(t, l, "c", 0, 0)
	cleanNow(t, l)
	after := readAll(t, l, "c", 0, 0)
	if len(after) >= len(before) {
		t.Fatalf("compaction removed nothing: %d → %d", len(before), len(after))
	}
	// Offsets strictly increase and are a subset of the originals.
	orig := map[int64]string{}
	for _, r := range before {
		orig[r.Offset] = string(r.Key) + "=" + string(r.Value)
	}
	last := int64(-1)
	latest := map[string]int64{}
	for _, r := range before {
		latest[string(r.Key)] = r.Offset
	}
	for _, r := range after {
		if r.Offset <= last {
			t.Fatalf("order broken: %s", describe(after))
		}
		last = r.Offset
		if orig[r.Offset] != string(r.Key)+"="+string(r.Value) {
			t.Fatalf("offset %d changed content", r.Offset)
		}
	}
	// The last value of every key survives, with its offset.
	got := map[string]int64{}
	for _, r := range after {
		got[string(r.Key)] = r.Offset
	}
	for k, off := range latest {
		if got[k] != off {
			t.Fatalf("key %s: latest offset %d not kept (have %d): %s", k, off, got[k], describe(after))
		}
	}
	// The tombstone is young: still there. The active segment is untouched.
	tomb := latest["b"]
	if _, ok := got["b"]; !ok {
		t.Fatalf("young tombstone removed")
	}
	if after[len(after)-1].Offset != 30 {
		t.Fatalf("active segment record missing")
	}
	st, _ := l.State("c", 0)
	if st.LogEndOffset != 31 || st.LogStartOffset != 0 {
		t.Fatalf("offsets moved: %+v", st)
	}
	// Reading at a removed offset starts at the next kept one.
	res, err := l.Read("c", 0, 1, ReadOptions{})
	if err != nil || len(res.Batches) == 0 || res.Batches[0].LastOffset < 1 {
		t.Fatalf("read in a gap: %v %+v", err, res)
	}

	// After delete.retention.ms the tombstone goes (it must be out of the
	// active segment, so roll by appending more).
	c.Advance(11 * time.Second)
	for i := 0; i < 10; i++ {
		mustAppend(t, l, "c", 0, kv("z", fmt.Sprint(i)))
	}
	cleanNow(t, l)
	after = readAll(t, l, "c", 0, 0)
	for _, r := range after {
		if r.Offset == tomb {
			t.Fatalf("expired tombstone kept: %s", describe(after))
		}
		if string(r.Key) == "b" {
			t.Fatalf("deleted key b still present: %s", describe(after))
		}
	}
	l.Close()
	l = openTest(t, dir, Options{Now: c.Now})
	again := readAll(t, l, "c", 0, 0)
	if describe(again) != describe(after) {
		t.Fatalf("compaction result changed across reopen")
	}
}

func TestCompactionRespectsLagAndActiveSegment(t *testing.T) {
	c := newClock()
	l := openTest(t, t.TempDir(), Options{Now: c.Now})
	mustCreate(t, l, "c", 1, map[string]string{"cleanup.policy": "compact", "segment.bytes": "200", "min.compaction.lag.ms": "60000", "min.cleanable.dirty.ratio": "0"})
	for i := 0; i < 20; i++ {
		mustAppend(t, l, "c", 0, kv("k", fmt.Sprint(i)))
	}
	cleanNow(t, l)
	if n := len(readAll(t, l, "c", 0, 0)); n != 20 {
		t.Fatalf("records younger than min.compaction.lag.ms compacted: %d left", n)
	}
	c.Advance(2 * time.Minute)
	cleanNow(t, l)
	recs := readAll(t, l, "c", 0, 0)
	if len(recs) == 20 || recs[len(recs)-1].Offset != 19 {
		t.Fatalf("after the lag: %s", describe(recs))
	}
	// The active segment keeps its duplicates.
	st, _ := l.State("c", 0)
	if st.Segments < 1 || len(recs) < 2 {
		t.Fatalf("active segment compacted: %s", describe(recs))
	}
}

func TestCompactDelete(t *testing.T) {
	c := newClock()
	l := openTest(t, t.TempDir(), Options{Now: c.Now})
	mustCreate(t, l, "cd", 1, map[string]string{"cleanup.policy": "compact,delete", "segment.bytes": "200", "retention.ms": "30000", "min.cleanable.dirty.ratio": "0"})
	for i := 0; i < 10; i++ {
		mustAppend(t, l, "cd", 0, kv("old", fmt.Sprint(i)))
	}
	c.Advance(time.Minute)
	for i := 0; i < 10; i++ {
		mustAppend(t, l, "cd", 0, kv("new", fmt.Sprint(i)))
	}
	cleanNow(t, l)
	st, _ := l.State("cd", 0)
	recs := readAll(t, l, "cd", 0, st.LogStartOffset)
	for _, r := range recs {
		if string(r.Key) == "old" {
			t.Fatalf("retention did not apply to compact,delete: %s", describe(recs))
		}
	}
	if len(recs) >= 10 {
		t.Fatalf("compaction did not apply to compact,delete: %s", describe(recs))
	}
}

func TestRunCleanerStops(t *testing.T) {
	l := openTest(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.RunCleaner(ctx, time.Millisecond); close(done) }()
	cancel()
	<-done
}
