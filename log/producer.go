package log

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Idempotent producers (Kafka's KIP-98 without transactions): a batch may
// carry a producer id, epoch and base sequence. The log keeps, per
// partition and producer, the epoch and the last few batches' sequence
// ranges, written in the same atomic write as the batch, so a retried batch
// is recognised after a restart too.

// ProducerBatch identifies an idempotent producer's batch.
type ProducerBatch struct {
	ID           int64
	Epoch        int16
	BaseSequence int32
}

// Producer errors, as Kafka's error codes name them.
var (
	// ErrOutOfOrderSequence: the batch's sequence is not the next one.
	ErrOutOfOrderSequence = errors.New("out of order sequence number")
	// ErrProducerFenced: the batch's epoch is older than the producer's.
	ErrProducerFenced = errors.New("producer epoch is fenced by a newer one")
)

// producerWindow is how many recent batches per producer are remembered
// for duplicate detection (Kafka's max.in.flight limit for idempotence).
const producerWindow = 5

type producerEntry struct {
	firstSeq, lastSeq int32
	firstOff, lastOff int64
}

type producerState struct {
	epoch   int16
	batches []producerEntry // oldest first, at most producerWindow
}

func (s *producerState) encode() []byte {
	v := make([]byte, 3, 3+len(s.batches)*24)
	binary.BigEndian.PutUint16(v, uint16(s.epoch))
	v[2] = byte(len(s.batches))
	for _, b := range s.batches {
		v = binary.BigEndian.AppendUint32(v, uint32(b.firstSeq))
		v = binary.BigEndian.AppendUint32(v, uint32(b.lastSeq))
		v = binary.BigEndian.AppendUint64(v, uint64(b.firstOff))
		v = binary.BigEndian.AppendUint64(v, uint64(b.lastOff))
	}
	return v
}

func decodeProducerState(v []byte) (*producerState, error) {
	if len(v) < 3 || len(v) != 3+int(v[2])*24 {
		return nil, fmt.Errorf("producer state of %d bytes", len(v))
	}
	s := &producerState{epoch: int16(binary.BigEndian.Uint16(v))}
	for i := 0; i < int(v[2]); i++ {
		o := v[3+i*24:]
		s.batches = append(s.batches, producerEntry{
			firstSeq: int32(binary.BigEndian.Uint32(o)),
			lastSeq:  int32(binary.BigEndian.Uint32(o[4:])),
			firstOff: int64(binary.BigEndian.Uint64(o[8:])),
			lastOff:  int64(binary.BigEndian.Uint64(o[16:])),
		})
	}
	return s, nil
}

// checkProducer decides what to do with a producer's batch of n records:
// append it, or answer with the offsets of the identical batch already
// written (dup), or refuse it. Requires p.mu.
func (p *partition) checkProducer(pb *ProducerBatch, n int) (dup *producerEntry, err error) {
	s := p.mu.producers[pb.ID]
	lastSeq := pb.BaseSequence + int32(n) - 1
	if s == nil {
		return nil, nil // a new producer may start at any sequence (Kafka 2.5+)
	}
	if pb.Epoch < s.epoch {
		return nil, fmt.Errorf("%w: producer %d epoch %d < %d", ErrProducerFenced, pb.ID, pb.Epoch, s.epoch)
	}
	if pb.Epoch > s.epoch {
		if pb.BaseSequence != 0 {
			return nil, fmt.Errorf("%w: producer %d new epoch %d must start at sequence 0, got %d", ErrOutOfOrderSequence, pb.ID, pb.Epoch, pb.BaseSequence)
		}
		return nil, nil
	}
	for i := range s.batches {
		b := &s.batches[i]
		if b.firstSeq == pb.BaseSequence && b.lastSeq == lastSeq {
			return b, nil
		}
	}
	if len(s.batches) > 0 {
		last := s.batches[len(s.batches)-1].lastSeq
		want := last + 1
		if last == 1<<31-1 {
			want = 0
		}
		if pb.BaseSequence != want {
			return nil, fmt.Errorf("%w: producer %d expected sequence %d, got %d", ErrOutOfOrderSequence, pb.ID, want, pb.BaseSequence)
		}
	}
	return nil, nil
}

// recordProducer notes an appended producer batch and adds its state to b.
// Requires p.mu.
func (p *partition) recordProducer(b *pebble.Batch, pb *ProducerBatch, n int, base int64) {
	s := p.mu.producers[pb.ID]
	if s == nil || pb.Epoch > s.epoch {
		s = &producerState{epoch: pb.Epoch}
		if p.mu.producers == nil {
			p.mu.producers = map[int64]*producerState{}
		}
		p.mu.producers[pb.ID] = s
	}
	s.batches = append(s.batches, producerEntry{
		firstSeq: pb.BaseSequence, lastSeq: pb.BaseSequence + int32(n) - 1,
		firstOff: base, lastOff: base + int64(n) - 1,
	})
	if len(s.batches) > producerWindow {
		s.batches = s.batches[len(s.batches)-producerWindow:]
	}
	t := p.topic.Load()
	_ = b.Set(producerKey(t.id, p.id, pb.ID), s.encode(), nil)
}

// loadProducers reads the partition's producer states. Requires p.mu or
// exclusive access (open).
func (p *partition) loadProducers() error {
	t := p.topic.Load()
	lo, hi := partSpan(prefixProducer, t.id, p.id)
	iter, err := p.log.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	defer iter.Close()
	for iter.First(); iter.Valid(); iter.Next() {
		s, err := decodeProducerState(iter.Value())
		if err != nil {
			return fmt.Errorf("%w: topic %q partition %d: %v", ErrCorrupt, t.name, p.id, err)
		}
		if p.mu.producers == nil {
			p.mu.producers = map[int64]*producerState{}
		}
		p.mu.producers[keyOffset(iter.Key())] = s
	}
	return iter.Error()
}

// truncateProducers forgets producer batches at or above offset, adding
// the changes to b. Requires p.mu.
func (p *partition) truncateProducers(b *pebble.Batch, offset int64) {
	t := p.topic.Load()
	for id, s := range p.mu.producers {
		keep := s.batches[:0]
		for _, e := range s.batches {
			if e.lastOff < offset {
				keep = append(keep, e)
			}
		}
		s.batches = keep
		if len(keep) == 0 {
			delete(p.mu.producers, id)
			_ = b.Delete(producerKey(t.id, p.id, id), nil)
		} else {
			_ = b.Set(producerKey(t.id, p.id, id), s.encode(), nil)
		}
	}
}
