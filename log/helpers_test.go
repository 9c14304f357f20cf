package log

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func openTest(t testing.TB, dir string, opts Options) *Log {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(&syncBuffer{}, nil))
	}
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func mustCreate(t testing.TB, l *Log, name string, parts int32, cfg map[string]string) {
	t.Helper()
	if _, err := l.CreateTopic(TopicSpec{Name: name, Partitions: parts, Config: cfg}); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
}

func kv(k, v string) Record {
	r := Record{Key: []byte(k)}
	if v != "<nil>" {
		r.Value = []byte(v)
	}
	return r
}

func mustAppend(t testing.TB, l *Log, topic string, part int32, recs ...Record) AppendResult {
	t.Helper()
	res, err := l.Append(context.Background(), Write{Records: []PartitionRecords{{Topic: topic, Partition: part, Records: recs}}})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return res[0]
}

// readAll returns every readable record of a partition from offset from.
func readAll(t testing.TB, l *Log, topic string, part int32, from int64) []Record {
	t.Helper()
	var out []Record
	for {
		res, err := l.Read(topic, part, from, ReadOptions{MaxBytes: 64 << 10})
		if err != nil {
			t.Fatalf("read %s/%d@%d: %v", topic, part, from, err)
		}
		if len(res.Batches) == 0 {
			return out
		}
		for _, b := range res.Batches {
			recs, err := b.Records()
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			for _, r := range recs {
				if r.Offset >= from {
					out = append(out, r)
				}
			}
			from = b.LastOffset + 1
		}
	}
}

func describe(recs []Record) string {
	var b bytes.Buffer
	for _, r := range recs {
		v := "<nil>"
		if r.Value != nil {
			v = string(r.Value)
		}
		fmt.Fprintf(&b, "%d:%s=%s ", r.Offset, r.Key, v)
	}
	return b.String()
}
