package log

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

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

// MetaEntry is a caller metadata entry written atomically with records. A
// nil Value deletes the entry.
type MetaEntry struct {
	Key   string
	Value []byte
}

// PartitionRecords are records for one partition.
type PartitionRecords struct {
	Topic     string
	Partition int32
	Records   []Record
	// Raw, instead of Records, is one uncompressed Kafka record batch v2
	// as a producer sent it. It is validated (CRC, structure, sequential
	// offset deltas), then stored as it is with its base offset and
	// leader epoch set: no decoding into Records and encoding again.
	// Its producer id, epoch and sequence are taken from its header.
	Raw []byte
	// Producer, when set, makes the append idempotent: a batch identical
	// to one of the producer's last five is not written again (the result
	// says Duplicate and gives the first write's offsets), and a gap or
	// an old epoch is refused (ErrOutOfOrderSequence, ErrProducerFenced).
	Producer *ProducerBatch
}

// Write is one atomic append: every record of every partition and every
// metadata entry become durable together, or none do.
type Write struct {
	Records []PartitionRecords
	Meta    []MetaEntry
}

// AppendResult says where a partition's records landed.
type AppendResult struct {
	Topic      string
	Partition  int32
	BaseOffset int64
	LastOffset int64
	// Duplicate is true when an idempotent producer's batch had already
	// been written; the offsets are those of that first write.
	Duplicate bool
}

// Append writes w atomically. With FsyncAlways it returns after the write
// is on stable storage; concurrent appends share one fsync. The records get
// consecutive offsets in each partition, in slice order. Timestamps of zero
// become the append time. An error means nothing was acknowledged; after a
// write or sync error the log refuses further writes (ErrFailed).
func (l *Log) Append(ctx context.Context, w Write) ([]AppendResult, error) {
	p, err := l.AppendAsync(ctx, w)
	if err != nil {
		return nil, err
	}
	return p.Wait()
}

// Pending is an append whose offsets are assigned and whose write is queued,
// awaiting its fsync.
type Pending struct {
	l       *Log
	b       *pebbleBatch
	results []AppendResult
	updates []pendingUpdate
}

type pendingUpdate struct {
	p       *partition
	topic   string
	leo     int64
	records int
	bytes   int
}

// Wait waits for the append's fsync and then makes the records readable.
// It must be called exactly once. The results are those Append returns.
func (pd *Pending) Wait() ([]AppendResult, error) {
	l := pd.l
	if pd.b != nil {
		defer pd.b.Close()
		if l.opts.Fsync == FsyncAlways {
			start := time.Now()
			if err := pd.b.SyncWait(); err != nil {
				return nil, l.fail(fmt.Errorf("append fsync: %w", err))
			}
			l.metrics.Synced(time.Since(start))
		}
	}
	for _, u := range pd.updates {
		if !l.opts.ExternalHighWatermark {
			u.p.advanceHW(u.leo)
		} else {
			u.p.wake()
		}
		if u.records > 0 {
			l.metrics.Appended(u.topic, u.records, u.bytes)
		}
	}
	return pd.results, nil
}

// AppendAsync assigns offsets and queues w's write, in order with every
// other append, and returns without waiting for the fsync. Callers that
// must keep several appends in order (a Kafka connection's pipelined
// produce requests) call AppendAsync in that order and Wait afterwards.
func (l *Log) AppendAsync(ctx context.Context, w Write) (*Pending, error) {
	if err := l.writable(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type job struct {
		p   *partition
		t   *topic
		pr  *PartitionRecords
		res int
		// raw is a validated producer batch stored as it is; recs are
		// records to encode; n is the record count of either.
		raw  []byte
		recs []Record
		n    int
	}
	jobs := make([]job, 0, len(w.Records))
	results := make([]AppendResult, len(w.Records))
	for i := range w.Records {
		pr := &w.Records[i]
		if len(pr.Records) == 0 && pr.Raw == nil {
			return nil, fmt.Errorf("%w: no records for topic %q partition %d", ErrInvalidRecord, pr.Topic, pr.Partition)
		}
		p, err := l.partition(pr.Topic, pr.Partition)
		if err != nil {
			return nil, err
		}
		t := p.topic.Load()
		cfg := t.cfg.Load().resolved
		jb := job{p: p, t: t, pr: pr, res: i, recs: pr.Records}
		if pr.Raw != nil {
			h, n, err := checkRawBatch(pr.Raw, cfg)
			if err != nil {
				return nil, fmt.Errorf("topic %q partition %d: %w", pr.Topic, pr.Partition, err)
			}
			jb.n = n
			if h.ProducerID >= 0 && pr.Producer == nil {
				pr.Producer = &ProducerBatch{ID: h.ProducerID, Epoch: h.ProducerEpoch, BaseSequence: h.BaseSequence}
			}
			if cfg.LogAppendTime {
				// The timestamps change: take the slow path.
				if jb.recs, err = decodeRecords(pr.Raw, h, nil); err != nil {
					return nil, fmt.Errorf("%w: %v", ErrInvalidRecord, err)
				}
			} else {
				jb.raw = pr.Raw
			}
		} else {
			jb.n = len(pr.Records)
		}
		if cfg.Compact {
			for j := range jb.recs {
				if jb.recs[j].Key == nil {
					return nil, fmt.Errorf("%w: topic %q is compacted and record %d has no key; give every record a key", ErrInvalidRecord, pr.Topic, j)
				}
			}
		}
		results[i] = AppendResult{Topic: pr.Topic, Partition: pr.Partition}
		jobs = append(jobs, jb)
	}
	for _, e := range w.Meta {
		if e.Key == "" {
			return nil, fmt.Errorf("%w: metadata entry with an empty key", ErrInvalidRecord)
		}
	}
	// Lock partitions in a fixed order; a partition may appear twice.
	order := make([]*partition, 0, len(jobs))
	for _, j := range jobs {
		order = append(order, j.p)
	}
	sort.Slice(order, func(a, b int) bool {
		ta, tb := order[a].topic.Load().id, order[b].topic.Load().id
		if ta != tb {
			return ta < tb
		}
		return order[a].id < order[b].id
	})
	locked := order[:0]
	for i, p := range order {
		if i > 0 && order[i-1] == p {
			continue
		}
		locked = append(locked, p)
	}
	for _, p := range locked {
		p.mu.Lock()
	}
	unlock := func() {
		for _, p := range locked {
			p.mu.Unlock()
		}
	}

	b := l.db.NewBatch()
	nowMs := l.now().UnixMilli()
	buf := getBuf()
	defer putBuf(buf)
	pd := &Pending{l: l, results: results}
	for _, j := range jobs {
		if j.t.deleted.Load() {
			unlock()
			b.Close()
			return nil, fmt.Errorf("%w: topic %q was deleted", ErrUnknownTopic, j.t.name)
		}
		p := j.p
		cfg := j.t.cfg.Load().resolved
		recs := j.recs
		if pb := j.pr.Producer; pb != nil {
			dup, err := p.checkProducer(pb, j.n)
			if err != nil {
				unlock()
				b.Close()
				return nil, fmt.Errorf("topic %q partition %d: %w", j.t.name, p.id, err)
			}
			if dup != nil {
				results[j.res].BaseOffset, results[j.res].LastOffset, results[j.res].Duplicate = dup.firstOff, dup.lastOff, true
				// Answer only once the original is readable.
				pd.updates = append(pd.updates, pendingUpdate{p: p, topic: j.t.name, leo: dup.lastOff + 1})
				continue
			}
		}
		base := p.mu.leo
		start := len(*buf)
		if j.raw != nil {
			*buf = append(*buf, 0, 0, 0, 0)
			*buf = append(*buf, j.raw...)
			stored := (*buf)[start:]
			binary.BigEndian.PutUint64(stored[storedCRCLen+offBaseOffset:], uint64(base))
			binary.BigEndian.PutUint32(stored[storedCRCLen+offLeaderEpoch:], uint32(p.mu.leaderEpoch))
			sealStored(stored)
		} else {
			if cfg.LogAppendTime {
				for k := range recs {
					recs[k].Timestamp = nowMs
				}
			}
			*buf = encodeBatch(*buf, base, p.mu.leaderEpoch, j.pr.Producer, recs, nowMs)
		}
		stored := (*buf)[start:]
		if cfg.MaxMessageBytes > 0 {
			for k := range recs {
				// Kafka counts a record as the batch it would be alone.
				if n := batchHeaderLen + recs[k].size(); n > cfg.MaxMessageBytes {
					unlock()
					b.Close()
					return nil, fmt.Errorf("%w: record %d of %d bytes exceeds max.message.bytes %d of topic %q; raise the topic's max.message.bytes or send smaller records", ErrRecordTooLarge, k, n, cfg.MaxMessageBytes, j.t.name)
				}
			}
		}
		last := base + int64(j.n) - 1
		hdr, _ := parseBatchHeader(stored[storedCRCLen:])
		p.appendLocked(b, stored, hdr, nowMs, cfg)
		if pb := j.pr.Producer; pb != nil {
			p.recordProducer(b, pb, j.n, base)
		}
		results[j.res].BaseOffset, results[j.res].LastOffset = base, last
		pd.updates = append(pd.updates, pendingUpdate{p: p, topic: j.t.name, leo: last + 1, records: j.n, bytes: len(stored)})
	}
	for _, e := range w.Meta {
		if e.Value == nil {
			_ = b.Delete(metaKey(e.Key), nil)
		} else {
			_ = b.Set(metaKey(e.Key), e.Value, nil)
		}
	}
	if b.Empty() {
		unlock()
		b.Close()
		return pd, nil
	}
	var err error
	if l.opts.Fsync == FsyncAlways {
		err = l.db.ApplyNoSyncWait(b, pebble.Sync)
	} else {
		err = l.db.Apply(b, pebble.NoSync)
	}
	unlock()
	if err != nil {
		b.Close()
		return nil, l.fail(fmt.Errorf("append: %w", err))
	}
	pd.b = b
	return pd, nil
}

type pebbleBatch = pebble.Batch

// appendLocked adds one stored batch to b and updates the in-memory state:
// segment roll, segment summary, leader-epoch start, log end offset.
// Requires p.mu.
func (p *partition) appendLocked(b *pebble.Batch, stored []byte, h BatchHeader, nowMs int64, cfg TopicConfig) {
	t := p.topic.Load()
	active := &p.mu.segments[len(p.mu.segments)-1]
	if active.Records > 0 && (active.Bytes+int64(len(stored)) > cfg.SegmentBytes || nowMs-active.CreatedMs >= cfg.SegmentMs) {
		p.mu.segments = append(p.mu.segments, segment{Base: h.BaseOffset, CreatedMs: nowMs, MaxTimestamp: -1, Last: h.BaseOffset - 1})
		active = &p.mu.segments[len(p.mu.segments)-1]
	}
	_ = b.Set(batchKey(t.id, p.id, h.BaseOffset), stored, nil)
	active.Bytes += int64(len(stored))
	active.Records += int64(h.RecordCount)
	active.Last = h.LastOffset
	active.MaxTimestamp = max(active.MaxTimestamp, h.MaxTimestamp)
	_ = b.Set(segmentKey(t.id, p.id, active.Base), active.encode(), nil)
	if n := len(p.mu.epochs); n == 0 || p.mu.epochs[n-1].Epoch < h.LeaderEpoch {
		p.mu.epochs = append(p.mu.epochs, epochEntry{Epoch: h.LeaderEpoch, StartOffset: h.BaseOffset})
		_ = b.Set(epochKey(t.id, p.id, h.LeaderEpoch), binary.BigEndian.AppendUint64(nil, uint64(h.BaseOffset)), nil)
	}
	p.mu.leo = h.LastOffset + 1
	p.leo.Store(p.mu.leo)
	p.size.Add(int64(len(stored)))
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getBuf() *[]byte { b := bufPool.Get().(*[]byte); *b = (*b)[:0]; return b }
func putBuf(b *[]byte) {
	if cap(*b) <= 16<<20 {
		bufPool.Put(b)
	}
}

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
