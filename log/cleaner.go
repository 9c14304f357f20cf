package log

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// maxKeyMapEntries bounds the compactor's key map; a partition with more
// distinct keys in its dirty segments is cleaned over several passes.
const maxKeyMapEntries = 4 << 20

// RunCleaner runs Clean every interval until ctx ends.
func (l *Log) RunCleaner(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = 30 * time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.Clean(ctx); err != nil && ctx.Err() == nil {
				l.logger.Error("log: cleaner pass failed", "err", err)
			}
		}
	}
}

// Clean runs one pass of retention and compaction over every partition.
// It returns the first error, after trying every partition.
func (l *Log) Clean(ctx context.Context) error {
	l.mu.RLock()
	var parts []*partition
	for _, t := range l.mu.topics {
		parts = append(parts, t.parts...)
	}
	l.mu.RUnlock()
	var first error
	for _, p := range parts {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := l.writable(); err != nil {
			return err
		}
		if err := p.clean(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// clean applies retention, then compaction, to one partition.
func (p *partition) clean() error {
	p.cleanMu.Lock()
	defer p.cleanMu.Unlock()
	t := p.topic.Load()
	if t.deleted.Load() {
		return nil
	}
	cfg := t.cfg.Load().resolved
	nowMs := p.log.now().UnixMilli()

	p.mu.Lock()
	if shouldRoll(p.mu.segments, cfg, p.hw.Load(), nowMs) {
		if err := p.rollLocked(nowMs); err != nil {
			p.mu.Unlock()
			return err
		}
	}
	segs := append([]segment(nil), p.mu.segments...)
	cleanedTo := p.mu.cleanedTo
	force := p.mu.tombstonesDue <= nowMs
	p.mu.Unlock()

	if n := planRetention(segs, cfg, p.hw.Load(), nowMs); n > 0 {
		start := time.Now()
		removed, err := p.deleteSegments(segs, n)
		p.log.metrics.Cleaned(t.name, "retention", time.Since(start), removed, err)
		if err != nil {
			return err
		}
		segs = segs[n:]
	}
	if plan, ok := planCompaction(segs, cfg, p.hw.Load(), cleanedTo, nowMs, force); ok {
		start := time.Now()
		removed, err := p.compact(segs, plan, cfg, nowMs)
		p.log.metrics.Cleaned(t.name, "compaction", time.Since(start), removed, err)
		if err != nil {
			return err
		}
	}
	return nil
}

// rollLocked starts a new, empty active segment at the log end.
func (p *partition) rollLocked(nowMs int64) error {
	t := p.topic.Load()
	s := segment{Base: p.mu.leo, CreatedMs: nowMs, MaxTimestamp: -1, Last: p.mu.leo - 1}
	if err := p.log.db.Set(segmentKey(t.id, p.id, s.Base), s.encode(), pebble.Sync); err != nil {
		return p.log.fail(fmt.Errorf("roll segment of %q partition %d: %w", t.name, p.id, err))
	}
	p.mu.segments = append(p.mu.segments, s)
	return nil
}

// deleteSegments removes the first n segments of segs (retention) and
// moves the log start offset to the next segment's base.
func (p *partition) deleteSegments(segs []segment, n int) (int64, error) {
	l := p.log
	t := p.topic.Load()
	newStart := segs[n].Base
	var removed int64
	b := l.db.NewBatch()
	defer b.Close()
	_ = b.DeleteRange(batchKey(t.id, p.id, 0), batchKey(t.id, p.id, newStart), nil)
	for _, s := range segs[:n] {
		_ = b.Delete(segmentKey(t.id, p.id, s.Base), nil)
		removed += s.Bytes
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Keep the newest epoch entry starting at or below the new start.
	drop := 0
	for drop+1 < len(p.mu.epochs) && p.mu.epochs[drop+1].StartOffset <= newStart {
		drop++
	}
	for _, e := range p.mu.epochs[:drop] {
		_ = b.Delete(epochKey(t.id, p.id, e.Epoch), nil)
	}
	st := p.stateLocked()
	st.LogStart = newStart
	st.CleanedTo = max(st.CleanedTo, newStart)
	_ = b.Set(partKey(prefixPartition, t.id, p.id), st.encode(), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, l.fail(fmt.Errorf("retention of %q partition %d: %w", t.name, p.id, err))
	}
	p.mu.segments = p.mu.segments[n:]
	p.mu.epochs = p.mu.epochs[drop:]
	p.mu.cleanedTo = st.CleanedTo
	p.logStart.Store(newStart)
	p.size.Add(-removed)
	l.logger.Info("log: retention deleted segments", "topic", t.name, "partition", p.id, "segments", n, "bytes", removed, "log_start_offset", newStart)
	return removed, nil
}

// compact rewrites the segments below plan.end keeping, for every key, only
// its last record, and dropping tombstones older than delete.retention.ms.
// Offsets and order are kept; emptied batches are deleted; adjacent small
// segments are merged.
func (p *partition) compact(segs []segment, plan compactionPlan, cfg TopicConfig, nowMs int64) (int64, error) {
	l := p.log
	t := p.topic.Load()
	keys := make(map[string]int64)
	endSeg := plan.endSeg
	for i := plan.firstDirty; i < plan.endSeg; i++ {
		if len(keys) >= maxKeyMapEntries {
			endSeg = i
			break
		}
		err := p.scanBatches(segs[i].Base, segs[i+1].Base, func(key []byte, stored []byte) error {
			raw, h, err := openStored(stored)
			if err != nil {
				return &CorruptionError{Topic: t.name, Partition: p.id, Offset: keyOffset(key), Err: err}
			}
			_, _, err = rewriteBatch(raw, h, func(off int64, k []byte, _ bool, _ int64) bool {
				if k != nil {
					keys[string(k)] = off
				}
				return false
			}, -1)
			if err != nil {
				return &CorruptionError{Topic: t.name, Partition: p.id, Offset: h.BaseOffset, Err: err}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	end := segs[endSeg].Base
	horizon := nowMs - cfg.DeleteRetentionMs
	nextDue := int64(math.MaxInt64)
	// expired are the tombstones dropped for age, whose key index entries
	// go too (if they still point to them) when the pass commits.
	var expired []indexedRecord
	indexed := t.keyIndex.Load()
	keep := func(off int64, k []byte, tomb bool, ts int64) bool {
		if k != nil {
			if last, ok := keys[string(k)]; ok && off < last {
				return false
			}
		}
		if tomb {
			if ts < horizon {
				if indexed && k != nil {
					expired = append(expired, indexedRecord{key: string(k), offset: off})
				}
				return false
			}
			nextDue = min(nextDue, ts+cfg.DeleteRetentionMs)
		}
		return true
	}
	var removed int64
	newSegs := append([]segment(nil), segs[:endSeg]...)
	for i := 0; i < endSeg; i++ {
		b := l.db.NewBatch()
		s := &newSegs[i]
		err := p.scanBatches(s.Base, segs[i+1].Base, func(key []byte, stored []byte) error {
			raw, h, err := openStored(stored)
			if err != nil {
				return &CorruptionError{Topic: t.name, Partition: p.id, Offset: keyOffset(key), Err: err}
			}
			nb, dropped, err := rewriteBatch(raw, h, keep, -1)
			if err != nil {
				return &CorruptionError{Topic: t.name, Partition: p.id, Offset: h.BaseOffset, Err: err}
			}
			if dropped == 0 {
				return nil
			}
			k := append([]byte(nil), key...)
			if nb == nil {
				_ = b.Delete(k, nil)
				s.Bytes -= int64(len(stored))
				removed += int64(len(stored))
			} else {
				_ = b.Set(k, nb, nil)
				s.Bytes -= int64(len(stored) - len(nb))
				removed += int64(len(stored) - len(nb))
			}
			s.Records -= int64(dropped)
			return nil
		})
		if err == nil && b.Count() > 0 {
			_ = b.Set(segmentKey(t.id, p.id, s.Base), s.encode(), nil)
			if cerr := b.Commit(pebble.NoSync); cerr != nil {
				err = l.fail(fmt.Errorf("compaction of %q partition %d: %w", t.name, p.id, cerr))
			}
		}
		b.Close()
		if err != nil {
			return removed, err
		}
	}
	// Merge neighbours whose sum fits in a segment.
	merged := newSegs[:1]
	b := l.db.NewBatch()
	defer b.Close()
	for _, s := range newSegs[1:] {
		prev := &merged[len(merged)-1]
		if prev.Bytes+s.Bytes <= cfg.SegmentBytes {
			_ = b.Delete(segmentKey(t.id, p.id, s.Base), nil)
			prev.Bytes += s.Bytes
			prev.Records += s.Records
			prev.Last = s.Last
			prev.MaxTimestamp = max(prev.MaxTimestamp, s.MaxTimestamp)
			prev.CreatedMs = min(prev.CreatedMs, s.CreatedMs)
			_ = b.Set(segmentKey(t.id, p.id, prev.Base), prev.encode(), nil)
			continue
		}
		merged = append(merged, s)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Under p.mu no append writes an entry meanwhile.
	if err := p.forgetIndexed(b, expired); err != nil {
		return removed, err
	}
	st := p.stateLocked()
	st.CleanedTo = end
	_ = b.Set(partKey(prefixPartition, t.id, p.id), st.encode(), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return removed, l.fail(fmt.Errorf("compaction of %q partition %d: %w", t.name, p.id, err))
	}
	// Segments at and after endSeg are untouched (appends only add to
	// the end), so splice the cleaned prefix in front of them.
	p.mu.segments = append(merged, p.mu.segments[endSeg:]...)
	p.mu.cleanedTo = end
	p.mu.tombstonesDue = nextDue
	p.size.Add(-removed)
	l.logger.Debug("log: compacted partition", "topic", t.name, "partition", p.id, "cleaned_to", end, "removed_bytes", removed, "dirty_ratio", plan.ratio)
	return removed, nil
}

// scanBatches calls fn for every stored batch with base in [from, to).
func (p *partition) scanBatches(from, to int64, fn func(key, stored []byte) error) error {
	t := p.topic.Load()
	iter, err := p.log.db.NewIter(&pebble.IterOptions{
		LowerBound: batchKey(t.id, p.id, from), UpperBound: batchKey(t.id, p.id, to),
	})
	if err != nil {
		return err
	}
	defer iter.Close()
	for iter.First(); iter.Valid(); iter.Next() {
		if err := fn(iter.Key(), iter.Value()); err != nil {
			return err
		}
	}
	return iter.Error()
}
