package log

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// partition is one partition's state. Lock order: cleanMu, then mu; several
// partitions' mu are taken in (topic id, partition) order.
type partition struct {
	log   *Log
	topic atomic.Pointer[topic]
	id    int32

	// cleanMu serialises the cleaner with truncation and topic deletion.
	cleanMu sync.Mutex

	mu struct {
		sync.Mutex
		// leo is the next offset to assign.
		leo int64
		// segments are in offset order; the last is the active segment.
		segments []segment
		// epochs maps leader epochs to their first offset, ascending.
		epochs      []epochEntry
		leaderEpoch int32
		// cleanedTo is the first offset the compactor has not cleaned.
		cleanedTo int64
		// tombstonesDue is when the oldest kept tombstone expires; zero
		// (unknown, after open) makes the next cleaner pass look.
		tombstonesDue int64
		// producers holds idempotent producers' recent batches.
		producers map[int64]*producerState
	}

	// Readers use these without mu.
	hw       atomic.Int64
	logStart atomic.Int64
	leo      atomic.Int64
	size     atomic.Int64

	notifyMu sync.Mutex
	notify   chan struct{}
}

// segment is a run of offsets [Base, next segment's Base); its stored form
// is under its segment key.
type segment struct {
	Base         int64
	CreatedMs    int64
	MaxTimestamp int64
	Bytes        int64
	Records      int64
	// Last is the last offset written to the segment, Base-1 when empty.
	Last int64
}

const segmentValueLen = 40

func (s segment) encode() []byte {
	v := make([]byte, segmentValueLen)
	be := binary.BigEndian
	be.PutUint64(v[0:], uint64(s.CreatedMs))
	be.PutUint64(v[8:], uint64(s.MaxTimestamp))
	be.PutUint64(v[16:], uint64(s.Bytes))
	be.PutUint64(v[24:], uint64(s.Records))
	be.PutUint64(v[32:], uint64(s.Last))
	return v
}

func decodeSegment(base int64, v []byte) (segment, error) {
	if len(v) != segmentValueLen {
		return segment{}, fmt.Errorf("segment record of %d bytes, want %d", len(v), segmentValueLen)
	}
	be := binary.BigEndian
	return segment{
		Base:         base,
		CreatedMs:    int64(be.Uint64(v[0:])),
		MaxTimestamp: int64(be.Uint64(v[8:])),
		Bytes:        int64(be.Uint64(v[16:])),
		Records:      int64(be.Uint64(v[24:])),
		Last:         int64(be.Uint64(v[32:])),
	}, nil
}

type epochEntry struct {
	Epoch       int32
	StartOffset int64
}

// partState is the stored partition state.
type partState struct {
	LogStart    int64
	CleanedTo   int64
	LeaderEpoch int32
}

const partStateLen = 20

func (s partState) encode() []byte {
	v := make([]byte, partStateLen)
	binary.BigEndian.PutUint64(v[0:], uint64(s.LogStart))
	binary.BigEndian.PutUint64(v[8:], uint64(s.CleanedTo))
	binary.BigEndian.PutUint32(v[16:], uint32(s.LeaderEpoch))
	return v
}

func newPartition(l *Log, t *topic, id int32) *partition {
	p := &partition{log: l, id: id, notify: make(chan struct{})}
	p.topic.Store(t)
	return p
}

func (p *partition) name() (string, int32) { return p.topic.Load().name, p.id }

// initEmpty writes the state of a new, empty partition into b.
func (p *partition) initEmpty(b *pebble.Batch, nowMs int64) {
	t := p.topic.Load()
	seg := segment{Base: 0, CreatedMs: nowMs, MaxTimestamp: -1, Last: -1}
	_ = b.Set(segmentKey(t.id, p.id, 0), seg.encode(), nil)
	_ = b.Set(partKey(prefixPartition, t.id, p.id), partState{}.encode(), nil)
	p.mu.segments = []segment{seg}
}

func (p *partition) stateLocked() partState {
	return partState{LogStart: p.logStart.Load(), CleanedTo: p.mu.cleanedTo, LeaderEpoch: p.mu.leaderEpoch}
}

// load reads the partition's state at open, verifies the tail of its log
// and cuts off a torn or corrupt tail.
func (p *partition) load() error {
	l := p.log
	t := p.topic.Load()
	v, closer, err := l.db.Get(partKey(prefixPartition, t.id, p.id))
	if err != nil {
		return fmt.Errorf("%w: topic %q partition %d: state missing: %v", ErrCorrupt, t.name, p.id, err)
	}
	if len(v) != partStateLen {
		closer.Close()
		return fmt.Errorf("%w: topic %q partition %d: state of %d bytes", ErrCorrupt, t.name, p.id, len(v))
	}
	st := partState{
		LogStart:    int64(binary.BigEndian.Uint64(v[0:])),
		CleanedTo:   int64(binary.BigEndian.Uint64(v[8:])),
		LeaderEpoch: int32(binary.BigEndian.Uint32(v[16:])),
	}
	closer.Close()
	p.logStart.Store(st.LogStart)
	p.mu.cleanedTo = st.CleanedTo
	p.mu.leaderEpoch = st.LeaderEpoch

	// Segments.
	lo, hi := partSpan(prefixSegment, t.id, p.id)
	iter, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for iter.First(); iter.Valid(); iter.Next() {
		s, err := decodeSegment(keyOffset(iter.Key()), iter.Value())
		if err != nil {
			iter.Close()
			return fmt.Errorf("%w: topic %q partition %d: %v", ErrCorrupt, t.name, p.id, err)
		}
		p.mu.segments = append(p.mu.segments, s)
	}
	if err := iter.Close(); err != nil {
		return err
	}
	if len(p.mu.segments) == 0 {
		return fmt.Errorf("%w: topic %q partition %d has no segments", ErrCorrupt, t.name, p.id)
	}

	// Leader epochs.
	lo, hi = partSpan(prefixEpoch, t.id, p.id)
	lo, hi = lo[:9], prefixEnd(lo[:9])
	iter, err = l.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for iter.First(); iter.Valid(); iter.Next() {
		k := iter.Key()
		p.mu.epochs = append(p.mu.epochs, epochEntry{
			Epoch:       int32(binary.BigEndian.Uint32(k[9:])),
			StartOffset: int64(binary.BigEndian.Uint64(iter.Value())),
		})
	}
	if err := iter.Close(); err != nil {
		return err
	}

	if err := p.recoverTail(); err != nil {
		return err
	}
	if err := p.loadProducers(); err != nil {
		return err
	}
	var size int64
	for _, s := range p.mu.segments {
		size += s.Bytes
	}
	p.size.Store(size)
	p.hw.Store(p.mu.leo)
	return nil
}

// recoverTail finds the last batch whose checksum holds, deletes any
// corrupt batches after it, and sets the log end offset.
func (p *partition) recoverTail() error {
	l := p.log
	t := p.topic.Load()
	lo, hi := partSpan(prefixBatch, t.id, p.id)
	iter, err := l.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer iter.Close()
	var cut [][]byte
	lastGood := int64(-1)
	for ok := iter.Last(); ok; ok = iter.Prev() {
		base := keyOffset(iter.Key())
		_, h, err := openStored(iter.Value())
		if err == nil && h.BaseOffset != base {
			err = fmt.Errorf("batch header says base offset %d", h.BaseOffset)
		}
		if err == nil {
			lastGood = h.LastOffset
			break
		}
		l.logger.Warn("log: cutting corrupt or torn batch at the log tail", "topic", t.name, "partition", p.id, "offset", base, "err", err)
		cut = append(cut, append([]byte(nil), iter.Key()...))
	}
	if err := iter.Error(); err != nil {
		return err
	}
	active := p.mu.segments[len(p.mu.segments)-1]
	leo := max(lastGood+1, active.Base, p.logStart.Load())
	p.mu.leo = leo
	p.leo.Store(leo)
	if len(cut) == 0 {
		return nil
	}
	b := l.db.NewBatch()
	defer b.Close()
	for _, k := range cut {
		_ = b.Delete(k, nil)
	}
	// Segments that now start beyond the log end go; the new active
	// segment's summary is recomputed from its batches.
	for len(p.mu.segments) > 1 && p.mu.segments[len(p.mu.segments)-1].Base > leo {
		s := p.mu.segments[len(p.mu.segments)-1]
		_ = b.Delete(segmentKey(t.id, p.id, s.Base), nil)
		p.mu.segments = p.mu.segments[:len(p.mu.segments)-1]
	}
	i := len(p.mu.segments) - 1
	s, err := p.summarize(p.mu.segments[i].Base, leo, p.mu.segments[i].CreatedMs)
	if err != nil {
		return err
	}
	p.mu.segments[i] = s
	_ = b.Set(segmentKey(t.id, p.id, s.Base), s.encode(), nil)
	for len(p.mu.epochs) > 0 && p.mu.epochs[len(p.mu.epochs)-1].StartOffset >= leo {
		e := p.mu.epochs[len(p.mu.epochs)-1]
		_ = b.Delete(epochKey(t.id, p.id, e.Epoch), nil)
		p.mu.epochs = p.mu.epochs[:len(p.mu.epochs)-1]
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("topic %q partition %d: cut corrupt tail: %w", t.name, p.id, err)
	}
	l.logger.Warn("log: recovered partition after cutting its tail", "topic", t.name, "partition", p.id, "batches_cut", len(cut), "log_end_offset", leo)
	return nil
}

// summarize recomputes a segment's summary from its batches in [base, end).
func (p *partition) summarize(base, end int64, createdMs int64) (segment, error) {
	t := p.topic.Load()
	s := segment{Base: base, CreatedMs: createdMs, MaxTimestamp: -1, Last: base - 1}
	iter, err := p.log.db.NewIter(&pebble.IterOptions{
		LowerBound: batchKey(t.id, p.id, base), UpperBound: batchKey(t.id, p.id, end),
	})
	if err != nil {
		return s, err
	}
	defer iter.Close()
	for iter.First(); iter.Valid(); iter.Next() {
		_, h, err := openStored(iter.Value())
		if err != nil {
			return s, &CorruptionError{Topic: t.name, Partition: p.id, Offset: keyOffset(iter.Key()), Err: err}
		}
		s.Bytes += int64(len(iter.Value()))
		s.Records += int64(h.RecordCount)
		s.Last = h.LastOffset
		s.MaxTimestamp = max(s.MaxTimestamp, h.MaxTimestamp)
	}
	return s, iter.Error()
}

// wake tells waiting readers that the partition changed.
func (p *partition) wake() {
	p.notifyMu.Lock()
	close(p.notify)
	p.notify = make(chan struct{})
	p.notifyMu.Unlock()
}

func (p *partition) changed() <-chan struct{} {
	p.notifyMu.Lock()
	defer p.notifyMu.Unlock()
	return p.notify
}

// advanceHW raises the high watermark to hw if it is higher.
func (p *partition) advanceHW(hw int64) {
	for {
		cur := p.hw.Load()
		if hw <= cur {
			return
		}
		if p.hw.CompareAndSwap(cur, hw) {
			p.wake()
			return
		}
	}
}
