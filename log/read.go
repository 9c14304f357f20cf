package log

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"
)

// UpTo bounds a read.
type UpTo int

const (
	// UpToHighWatermark reads only committed records (consumers).
	UpToHighWatermark UpTo = iota
	// UpToLogEnd reads everything written (replication followers).
	UpToLogEnd
)

// ReadOptions bound a read.
type ReadOptions struct {
	// MaxBytes bounds the stored bytes returned; the first batch is
	// returned whole even when larger. Default: 1 MiB.
	MaxBytes int
	// UpTo selects the readable end. Default: UpToHighWatermark.
	UpTo UpTo
}

// ReadResult holds batches in offset order and the partition's offsets at
// the time of the read.
type ReadResult struct {
	Batches        []Batch
	HighWatermark  int64
	LogStartOffset int64
	LogEndOffset   int64
}

// Read returns the batches from the one containing offset onwards. The
// first batch may start before offset (batches are returned whole, as
// Kafka does); callers skip records below offset. Reading at the readable
// end returns no batches and no error; outside [log start, readable end]
// is ErrOffsetOutOfRange. A batch failing its checksum is a
// *CorruptionError naming topic, partition and offset.
func (l *Log) Read(topic string, part int32, offset int64, opts ReadOptions) (ReadResult, error) {
	p, err := l.partition(topic, part)
	if err != nil {
		return ReadResult{}, err
	}
	return p.read(offset, opts)
}

func (p *partition) read(offset int64, opts ReadOptions) (ReadResult, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 1 << 20
	}
	res := ReadResult{HighWatermark: p.hw.Load(), LogStartOffset: p.logStart.Load(), LogEndOffset: p.leo.Load()}
	end := res.HighWatermark
	if opts.UpTo == UpToLogEnd {
		end = res.LogEndOffset
	}
	t := p.topic.Load()
	if offset < res.LogStartOffset || offset > end {
		return res, fmt.Errorf("%w: topic %q partition %d: offset %d is outside [%d, %d]", ErrOffsetOutOfRange, t.name, p.id, offset, res.LogStartOffset, end)
	}
	if offset == end {
		return res, nil
	}
	iter, err := p.log.db.NewIter(&pebble.IterOptions{
		LowerBound: batchKey(t.id, p.id, res.LogStartOffset),
		UpperBound: batchKey(t.id, p.id, end),
	})
	if err != nil {
		return res, err
	}
	defer iter.Close()
	ok := iter.SeekLT(batchKey(t.id, p.id, offset+1))
	if ok {
		// The batch before may end before offset (compaction gaps).
		if _, h, err := openStored(iter.Value()); err == nil && h.LastOffset < offset {
			ok = iter.Next()
		}
	} else {
		ok = iter.First()
	}
	total := 0
	for ; ok; ok = iter.Next() {
		v := iter.Value()
		if total > 0 && total+len(v) > opts.MaxBytes {
			break
		}
		base := keyOffset(iter.Key())
		stored := append([]byte(nil), v...)
		raw, h, err := openStored(stored)
		if err == nil && h.BaseOffset != base {
			err = fmt.Errorf("batch header says base offset %d", h.BaseOffset)
		}
		if err != nil {
			return res, &CorruptionError{Topic: t.name, Partition: p.id, Offset: base, Err: err}
		}
		res.Batches = append(res.Batches, Batch{BatchHeader: h, Raw: raw})
		total += len(v)
	}
	if err := iter.Error(); err != nil {
		return res, fmt.Errorf("topic %q partition %d: read at offset %d: %w", t.name, p.id, offset, err)
	}
	return res, nil
}

// PartitionState is a snapshot of a partition's offsets and size.
type PartitionState struct {
	Topic          string
	Partition      int32
	LogStartOffset int64
	LogEndOffset   int64
	HighWatermark  int64
	LeaderEpoch    int32
	Bytes          int64
	Segments       int
}

// State returns a partition's offsets and size.
func (l *Log) State(topic string, part int32) (PartitionState, error) {
	p, err := l.partition(topic, part)
	if err != nil {
		return PartitionState{}, err
	}
	return p.state(), nil
}

func (p *partition) state() PartitionState {
	p.mu.Lock()
	defer p.mu.Unlock()
	name, id := p.name()
	return PartitionState{
		Topic: name, Partition: id,
		LogStartOffset: p.logStart.Load(), LogEndOffset: p.mu.leo, HighWatermark: p.hw.Load(),
		LeaderEpoch: p.mu.leaderEpoch, Bytes: p.size.Load(), Segments: len(p.mu.segments),
	}
}

// States returns the state of every partition of every topic.
func (l *Log) States() []PartitionState {
	l.mu.RLock()
	var parts []*partition
	for _, t := range l.mu.topics {
		parts = append(parts, t.parts...)
	}
	l.mu.RUnlock()
	out := make([]PartitionState, 0, len(parts))
	for _, p := range parts {
		out = append(out, p.state())
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// Changed returns a channel that is closed when the partition's readable
// end, log end or existence changes. Take it before reading to not miss a
// change.
func (l *Log) Changed(topic string, part int32) (<-chan struct{}, error) {
	p, err := l.partition(topic, part)
	if err != nil {
		return nil, err
	}
	return p.changed(), nil
}

// WaitForData blocks until the partition's readable end passes offset, the
// partition changes otherwise, or ctx ends. It returns ctx's error only.
func (l *Log) WaitForData(ctx context.Context, topic string, part int32, offset int64) error {
	p, err := l.partition(topic, part)
	if err != nil {
		return err
	}
	ch := p.changed()
	if p.hw.Load() > offset {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Special timestamps of ListOffset, as Kafka's ListOffsets request has them.
const (
	TimestampLatest   int64 = -1
	TimestampEarliest int64 = -2
)

// ListOffset returns the earliest offset (TimestampEarliest), the high
// watermark (TimestampLatest), or the first offset whose record timestamp
// is at or after ts with that timestamp; -1, -1 when there is none.
func (l *Log) ListOffset(topic string, part int32, ts int64) (offset int64, timestamp int64, err error) {
	p, err := l.partition(topic, part)
	if err != nil {
		return 0, 0, err
	}
	switch ts {
	case TimestampEarliest:
		return p.logStart.Load(), -1, nil
	case TimestampLatest:
		return p.hw.Load(), -1, nil
	}
	if ts < 0 {
		return 0, 0, fmt.Errorf("%w: timestamp %d", ErrOffsetOutOfRange, ts)
	}
	p.mu.Lock()
	var from int64 = -1
	for _, s := range p.mu.segments {
		if s.MaxTimestamp >= ts {
			from = s.Base
			break
		}
	}
	p.mu.Unlock()
	if from < 0 {
		return -1, -1, nil
	}
	from = max(from, p.logStart.Load())
	hw := p.hw.Load()
	for from < hw {
		res, err := p.read(from, ReadOptions{MaxBytes: 4 << 20})
		if err != nil {
			if errors.Is(err, ErrOffsetOutOfRange) {
				return -1, -1, nil
			}
			return 0, 0, err
		}
		if len(res.Batches) == 0 {
			break
		}
		for _, b := range res.Batches {
			if b.MaxTimestamp < ts {
				continue
			}
			recs, err := b.Records()
			if err != nil {
				return 0, 0, &CorruptionError{Topic: topic, Partition: part, Offset: b.BaseOffset, Err: err}
			}
			for _, r := range recs {
				if r.Offset >= from && r.Timestamp >= ts {
					return r.Offset, r.Timestamp, nil
				}
			}
		}
		from = res.Batches[len(res.Batches)-1].LastOffset + 1
	}
	return -1, -1, nil
}
