package log

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

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

	// Size the pebble batch up front: growing it by doubling copies large
	// batches several times.
	size := 256
	for _, j := range jobs {
		size += 128 + len(j.raw)
		for k := range j.recs {
			size += j.recs[k].size()
		}
		if j.t.keyIndex.Load() {
			// An index entry per record: its key again, and 36 bytes.
			size += len(j.raw) + 36*j.n
			for k := range j.recs {
				size += len(j.recs[k].Key)
			}
		}
	}
	for _, e := range w.Meta {
		size += 32 + len(e.Key) + len(e.Value)
	}
	b := l.db.NewBatchWithSize(size)
	nowMs := l.now().UnixMilli()
	buf := getBuf()
	defer putBuf(buf)
	pd := &Pending{l: l, results: results}
	var ix indexer
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
		if j.t.keyIndex.Load() {
			if j.raw != nil {
				// checkRawBatch has walked these records: cannot fail.
				_ = ix.addRaw(b, j.t.id, p.id, stored[storedCRCLen:], hdr)
			} else {
				ix.addRecords(b, j.t.id, p.id, recs, base)
			}
		}
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
