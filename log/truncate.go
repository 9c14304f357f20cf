package log

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Truncate removes every offset at or above offset from a partition (a
// replication follower does this to match its leader). A batch that spans
// offset is rewritten to keep only its records below offset. The high
// watermark drops to the new log end if it was above.
func (l *Log) Truncate(topic string, part int32, offset int64) error {
	if err := l.writable(); err != nil {
		return err
	}
	p, err := l.partition(topic, part)
	if err != nil {
		return err
	}
	p.cleanMu.Lock()
	defer p.cleanMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.truncateLocked(offset)
}

func (p *partition) truncateLocked(offset int64) error {
	l := p.log
	t := p.topic.Load()
	if offset >= p.mu.leo {
		return nil
	}
	if offset < p.logStart.Load() {
		return fmt.Errorf("%w: topic %q partition %d: cannot truncate to %d below the log start %d", ErrOffsetOutOfRange, t.name, p.id, offset, p.logStart.Load())
	}
	b := l.db.NewBatch()
	defer b.Close()
	// The batch spanning offset, if any, keeps its records below offset.
	iter, err := l.db.NewIter(&pebble.IterOptions{
		LowerBound: batchKey(t.id, p.id, 0), UpperBound: batchKey(t.id, p.id, offset+1),
	})
	if err != nil {
		return err
	}
	if iter.Last() {
		stored := append([]byte(nil), iter.Value()...)
		raw, h, err := openStored(stored)
		if err != nil {
			iter.Close()
			return &CorruptionError{Topic: t.name, Partition: p.id, Offset: keyOffset(iter.Key()), Err: err}
		}
		if h.BaseOffset < offset && h.LastOffset >= offset {
			nb, _, err := rewriteBatch(raw, h, func(off int64, _ []byte, _ bool, _ int64) bool { return off < offset }, offset-1)
			if err != nil {
				iter.Close()
				return &CorruptionError{Topic: t.name, Partition: p.id, Offset: h.BaseOffset, Err: err}
			}
			_ = b.Set(batchKey(t.id, p.id, h.BaseOffset), nb, nil)
		}
	}
	if err := iter.Close(); err != nil {
		return err
	}
	_ = b.DeleteRange(batchKey(t.id, p.id, offset), batchKey(t.id, p.id, -1), nil)
	// Segments starting at or above offset go, except that one must stay.
	for len(p.mu.segments) > 1 && p.mu.segments[len(p.mu.segments)-1].Base >= offset {
		s := p.mu.segments[len(p.mu.segments)-1]
		_ = b.Delete(segmentKey(t.id, p.id, s.Base), nil)
		p.mu.segments = p.mu.segments[:len(p.mu.segments)-1]
	}
	// Make the batch changes visible to summarize by committing them
	// first; the segment summary follows in a second write. A crash in
	// between leaves a segment summary that overstates, which recoverTail
	// and the next truncate or append correct.
	if err := b.Commit(pebble.Sync); err != nil {
		return l.fail(fmt.Errorf("truncate topic %q partition %d: %w", t.name, p.id, err))
	}
	i := len(p.mu.segments) - 1
	s, err := p.summarize(p.mu.segments[i].Base, offset, p.mu.segments[i].CreatedMs)
	if err != nil {
		return err
	}
	if s.Base > offset {
		s.Base = offset
	}
	b2 := l.db.NewBatch()
	defer b2.Close()
	if s.Base != p.mu.segments[i].Base {
		_ = b2.Delete(segmentKey(t.id, p.id, p.mu.segments[i].Base), nil)
	}
	p.mu.segments[i] = s
	_ = b2.Set(segmentKey(t.id, p.id, s.Base), s.encode(), nil)
	for len(p.mu.epochs) > 0 && p.mu.epochs[len(p.mu.epochs)-1].StartOffset >= offset {
		e := p.mu.epochs[len(p.mu.epochs)-1]
		_ = b2.Delete(epochKey(t.id, p.id, e.Epoch), nil)
		p.mu.epochs = p.mu.epochs[:len(p.mu.epochs)-1]
	}
	p.truncateProducers(b2, offset)
	if p.mu.cleanedTo > offset {
		p.mu.cleanedTo = offset
		_ = b2.Set(partKey(prefixPartition, t.id, p.id), p.stateLocked().encode(), nil)
	}
	if err := b2.Commit(pebble.Sync); err != nil {
		return l.fail(fmt.Errorf("truncate topic %q partition %d: %w", t.name, p.id, err))
	}
	var size int64
	for _, s := range p.mu.segments {
		size += s.Bytes
	}
	p.size.Store(size)
	p.mu.leo = offset
	p.leo.Store(offset)
	if p.hw.Load() > offset {
		p.hw.Store(offset)
	}
	p.wake()
	l.logger.Info("log: partition truncated", "topic", t.name, "partition", p.id, "log_end_offset", offset)
	return nil
}

// SetHighWatermark sets a partition's high watermark (replication). It is
// capped at the log end offset and never moves below the log start.
func (l *Log) SetHighWatermark(topic string, part int32, hw int64) error {
	p, err := l.partition(topic, part)
	if err != nil {
		return err
	}
	hw = min(hw, p.leo.Load())
	hw = max(hw, p.logStart.Load())
	if p.hw.Swap(hw) != hw {
		p.wake()
	}
	return nil
}

// SetLeaderEpoch sets the epoch that later appends to the partition carry.
// Epochs never decrease.
func (l *Log) SetLeaderEpoch(topic string, part int32, epoch int32) error {
	if err := l.writable(); err != nil {
		return err
	}
	p, err := l.partition(topic, part)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if epoch < p.mu.leaderEpoch {
		return fmt.Errorf("%w: topic %q partition %d: leader epoch %d is below the current %d", ErrInvalidRecord, topic, part, epoch, p.mu.leaderEpoch)
	}
	if epoch == p.mu.leaderEpoch {
		return nil
	}
	old := p.mu.leaderEpoch
	p.mu.leaderEpoch = epoch
	t := p.topic.Load()
	// As Kafka does when a replica becomes leader, the new epoch starts
	// at the current log end, even before anything is appended in it.
	b := l.db.NewBatch()
	defer b.Close()
	_ = b.Set(partKey(prefixPartition, t.id, p.id), p.stateLocked().encode(), nil)
	_ = b.Set(epochKey(t.id, p.id, epoch), binary.BigEndian.AppendUint64(nil, uint64(p.mu.leo)), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		p.mu.leaderEpoch = old
		return l.fail(fmt.Errorf("set leader epoch of %q partition %d: %w", topic, part, err))
	}
	p.mu.epochs = append(p.mu.epochs, epochEntry{Epoch: epoch, StartOffset: p.mu.leo})
	return nil
}

// EndOffsetForEpoch answers Kafka's OffsetForLeaderEpoch: the largest epoch
// at or below epoch that wrote to this partition, and the offset where the
// next epoch starts (the log end offset for the latest epoch). It returns
// -1, -1 when no such epoch exists.
func (l *Log) EndOffsetForEpoch(topic string, part int32, epoch int32) (int32, int64, error) {
	p, err := l.partition(topic, part)
	if err != nil {
		return 0, 0, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if epoch >= p.mu.leaderEpoch {
		return p.mu.leaderEpoch, p.mu.leo, nil
	}
	es := p.mu.epochs
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].Epoch <= epoch {
			if i == len(es)-1 {
				return es[i].Epoch, p.mu.leo, nil
			}
			return es[i].Epoch, es[i+1].StartOffset, nil
		}
	}
	return -1, -1, nil
}

// rewriteBatch builds a new stored batch from raw keeping the records for
// which keep returns true. The base offset, producer fields, timestamps and
// the records' own bytes are preserved; lastOffset, when ≥ 0, replaces the
// batch's last offset. It returns nil when no record is kept, and the
// number of records dropped.
func rewriteBatch(raw []byte, h BatchHeader, keep func(offset int64, key []byte, tombstone bool, ts int64) bool, lastOffset int64) ([]byte, int, error) {
	if h.Compression() != 0 {
		return nil, 0, fmt.Errorf("record batch at offset %d is compressed (codec %d)", h.BaseOffset, h.Compression())
	}
	out := make([]byte, storedCRCLen+batchHeaderLen, storedCRCLen+len(raw))
	copy(out[storedCRCLen:], raw[:batchHeaderLen])
	d := decoder{b: raw[batchHeaderLen:]}
	kept, dropped := 0, 0
	for i := int32(0); i < h.RecordCount; i++ {
		start := d.b
		length := d.varint()
		if d.err != nil || length < 0 || length > int64(len(d.b)) {
			return nil, 0, fmt.Errorf("record %d: bad length", i)
		}
		body := d.b[:length]
		rec := start[:len(start)-len(d.b)+int(length)]
		d.b = d.b[length:]
		rd := decoder{b: body}
		rd.byte()
		tsDelta := rd.varint()
		offDelta := rd.varint()
		key := rd.varBytes()
		vlen := rd.varint()
		if rd.err != nil {
			return nil, 0, fmt.Errorf("record %d: %w", i, rd.err)
		}
		if keep(h.BaseOffset+offDelta, key, vlen < 0, h.BaseTimestamp+tsDelta) {
			out = append(out, rec...)
			kept++
		} else {
			dropped++
		}
	}
	if kept == 0 {
		return nil, dropped, nil
	}
	hdr := out[storedCRCLen:]
	be := binary.BigEndian
	be.PutUint32(hdr[offBatchLength:], uint32(len(hdr)-12))
	be.PutUint32(hdr[offRecordCount:], uint32(kept))
	if lastOffset >= 0 {
		be.PutUint32(hdr[offLastOffsetDelta:], uint32(lastOffset-h.BaseOffset))
	}
	be.PutUint32(hdr[offCRC:], crcKafka(hdr))
	sealStored(out)
	return out, dropped, nil
}
