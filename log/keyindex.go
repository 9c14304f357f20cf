package log

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// The key index of a topic (TopicSpec.KeyIndex) maps each record key of a
// partition to the offset of the key's latest record, so that Latest
// answers "what did this key last hold" without scanning the partition.
//
// Entries are written in the same pebble batch as the records they point
// to, so a record and its entry are durable together. Nothing else keeps
// them exact, and nothing needs to: Latest checks what an entry points to
// before it answers.
//
//   - Retention removes records but leaves their entries: an entry below
//     the log start answers "not found".
//   - Compaction keeps the latest record of every key, which is what the
//     entry points to; when it drops an expired tombstone it deletes the
//     tombstone's entry too (a crash in between leaves an entry pointing
//     to a missing record, which answers "not found").
//   - Truncation leaves entries past the new log end. Offsets are assigned
//     again after a truncation, so such an entry may point to another
//     key's record; Latest compares the key and answers "not found". An
//     entry that points to a record of its own key was written with that
//     record, so it is right.
//
// An entry past the high watermark (a record written but not yet
// committed) answers "not found" too: Latest reads only committed records.
// A key's earlier records are not indexed, so a stale entry cannot fall
// back to them.
//
// A topic created without an index gets one with EnableKeyIndex, which
// scans the topic once with its partitions locked.

// ErrNoKeyIndex is returned by Latest for a topic created without a key
// index.
var ErrNoKeyIndex = errors.New("topic has no key index")

// maxIndexedKey is the longest key stored in an index key as it is;
// longer keys are stored as a hash, and Latest compares the record's key
// with the one asked for.
const maxIndexedKey = 512

// Tags of an index key, after the partition: the key itself or its hash.
const (
	indexTagKey  byte = 0x00
	indexTagHash byte = 0x01
)

// indexValueLen is the length of an index entry: offset:8 | batch base:8.
const indexValueLen = 16

// longKeyHash is the hash of a key longer than maxIndexedKey: the first 16
// bytes of its SHA-256. Tests replace it to force collisions.
var longKeyHash = func(dst, key []byte) []byte {
	sum := sha256.Sum256(key)
	return append(dst, sum[:16]...)
}

// appendIndexKey appends the index key of a record key to dst:
// prefix | topic id:4 | partition:4 | 0x00 | key, or, for a key longer
// than maxIndexedKey, prefix | topic id:4 | partition:4 | 0x01 | hash:16.
func appendIndexKey(dst []byte, topicID uint32, partition int32, key []byte) []byte {
	dst = append(dst, prefixKeyIndex)
	dst = binary.BigEndian.AppendUint32(dst, topicID)
	dst = binary.BigEndian.AppendUint32(dst, uint32(partition))
	if len(key) <= maxIndexedKey {
		dst = append(dst, indexTagKey)
		return append(dst, key...)
	}
	dst = append(dst, indexTagHash)
	return longKeyHash(dst, key)
}

// indexer adds the index entries of appended batches to a pebble batch,
// reusing one scratch buffer (pebble copies keys and values).
type indexer struct {
	key []byte
	val [indexValueLen]byte
}

// add adds the entry of the record at offset with key; null keys are not
// indexed.
func (ix *indexer) add(b *pebble.Batch, topicID uint32, partition int32, key []byte, offset, base int64) {
	if key == nil {
		return
	}
	ix.key = appendIndexKey(ix.key[:0], topicID, partition, key)
	binary.BigEndian.PutUint64(ix.val[0:], uint64(offset))
	binary.BigEndian.PutUint64(ix.val[8:], uint64(base))
	_ = b.Set(ix.key, ix.val[:], nil)
}

// addRecords indexes records appended at offsets base, base+1, ...
func (ix *indexer) addRecords(b *pebble.Batch, topicID uint32, partition int32, recs []Record, base int64) {
	for i := range recs {
		ix.add(b, topicID, partition, recs[i].Key, base+int64(i), base)
	}
}

// addRaw indexes the records of a stored Kafka batch (raw, after the
// stored CRC), which checkRawBatch or encodeBatch made well-formed.
func (ix *indexer) addRaw(b *pebble.Batch, topicID uint32, partition int32, raw []byte, h BatchHeader) error {
	return forEachKey(raw, h, func(offset int64, key []byte) {
		ix.add(b, topicID, partition, key, offset, h.BaseOffset)
	})
}

// forEachKey calls fn with the offset and key of every record of an
// uncompressed Kafka batch, without decoding values and headers.
func forEachKey(raw []byte, h BatchHeader, fn func(offset int64, key []byte)) error {
	if h.Compression() != 0 {
		return fmt.Errorf("record batch at offset %d is compressed (codec %d)", h.BaseOffset, h.Compression())
	}
	d := decoder{b: raw[batchHeaderLen:]}
	for i := int32(0); i < h.RecordCount; i++ {
		length := d.varint()
		if d.err != nil || length < 0 || length > int64(len(d.b)) {
			return fmt.Errorf("record %d of batch at offset %d: bad length", i, h.BaseOffset)
		}
		rd := decoder{b: d.b[:length]}
		d.b = d.b[length:]
		rd.byte()   // attributes
		rd.varint() // timestamp delta
		offDelta := rd.varint()
		key := rd.varBytes()
		if rd.err != nil {
			return fmt.Errorf("record %d of batch at offset %d: %w", i, h.BaseOffset, rd.err)
		}
		fn(h.BaseOffset+offDelta, key)
	}
	return nil
}

// Latest returns the latest committed record of key in a partition of a
// topic created with a key index: found is false when the key has none
// (never written, removed by retention, an expired tombstone dropped by
// compaction, cut by truncation, or not yet below the high watermark). A
// tombstone is found, with a nil Value. A null key is never found. A topic
// without a key index is ErrNoKeyIndex; a damaged batch a
// *CorruptionError. The record is the caller's.
func (l *Log) Latest(topic string, part int32, key []byte) (rec Record, found bool, err error) {
	if l.closed.Load() {
		return Record{}, false, ErrClosed
	}
	p, err := l.partition(topic, part)
	if err != nil {
		return Record{}, false, err
	}
	t := p.topic.Load()
	if !t.keyIndex.Load() {
		return Record{}, false, fmt.Errorf("%w: topic %q has none; EnableKeyIndex gives it one", ErrNoKeyIndex, topic)
	}
	if key == nil {
		return Record{}, false, nil
	}
	ik := appendIndexKey(make([]byte, 0, 10+min(len(key), maxIndexedKey)), t.id, p.id, key)
	v, closer, err := l.db.Get(ik)
	if errors.Is(err, pebble.ErrNotFound) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("topic %q partition %d: read key index: %w", topic, part, err)
	}
	if len(v) != indexValueLen {
		closer.Close()
		return Record{}, false, fmt.Errorf("%w: topic %q partition %d: key index entry of %d bytes", ErrCorrupt, topic, part, len(v))
	}
	offset := int64(binary.BigEndian.Uint64(v[0:]))
	base := int64(binary.BigEndian.Uint64(v[8:]))
	closer.Close()
	if offset < p.logStart.Load() || offset >= p.hw.Load() {
		return Record{}, false, nil
	}
	v, closer, err = l.db.Get(batchKey(t.id, p.id, base))
	if errors.Is(err, pebble.ErrNotFound) {
		return Record{}, false, nil // compaction emptied the batch
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("topic %q partition %d: read batch at offset %d: %w", topic, part, base, err)
	}
	defer closer.Close()
	// The batch's checksum is not verified here: a lookup reads one
	// record of what may be a large batch, and pebble checksums its
	// blocks. Read verifies it; the structure is checked below.
	if len(v) < storedCRCLen {
		return Record{}, false, &CorruptionError{Topic: topic, Partition: part, Offset: base, Err: errShortBatch}
	}
	raw := v[storedCRCLen:]
	h, err := parseBatchHeader(raw)
	if err == nil && h.BaseOffset != base {
		err = fmt.Errorf("batch header says base offset %d", h.BaseOffset)
	}
	if err != nil {
		return Record{}, false, &CorruptionError{Topic: topic, Partition: part, Offset: base, Err: err}
	}
	if offset > h.LastOffset {
		return Record{}, false, nil
	}
	rec, found, err = findRecord(raw, h, offset)
	if err != nil {
		return Record{}, false, &CorruptionError{Topic: topic, Partition: part, Offset: base, Err: err}
	}
	// After a truncation the offset may hold another key's record; a
	// long key's hash may collide. Compaction may have dropped it.
	if !found || rec.Key == nil || !bytes.Equal(rec.Key, key) {
		return Record{}, false, nil
	}
	return rec.clone(), true, nil
}

// findRecord returns the record at offset of an uncompressed Kafka batch,
// decoding only that one; found is false when the batch has no record
// there (compaction removed it). The record aliases raw.
func findRecord(raw []byte, h BatchHeader, offset int64) (rec Record, found bool, err error) {
	if h.Compression() != 0 {
		return Record{}, false, fmt.Errorf("record batch at offset %d is compressed (codec %d)", h.BaseOffset, h.Compression())
	}
	d := decoder{b: raw[batchHeaderLen:]}
	for i := int32(0); i < h.RecordCount; i++ {
		start := d.b
		length := d.varint()
		if d.err != nil || length < 0 || length > int64(len(d.b)) {
			return Record{}, false, fmt.Errorf("record %d of batch at offset %d: bad length", i, h.BaseOffset)
		}
		rd := decoder{b: d.b[:length]}
		d.b = d.b[length:]
		rd.byte()
		rd.varint()
		off := h.BaseOffset + rd.varint()
		if rd.err != nil {
			return Record{}, false, fmt.Errorf("record %d of batch at offset %d: %w", i, h.BaseOffset, rd.err)
		}
		if off < offset {
			continue
		}
		if off > offset {
			return Record{}, false, nil
		}
		one := h
		one.RecordCount = 1
		recs, err := decodeSection(start[:len(start)-len(d.b)], one, nil)
		if err != nil {
			return Record{}, false, err
		}
		return recs[0], true, nil
	}
	return Record{}, false, nil
}

// clone copies a record out of the buffer it aliases.
func (r Record) clone() Record {
	c := Record{Offset: r.Offset, Timestamp: r.Timestamp}
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Value)
	}
	buf := make([]byte, 0, n)
	take := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		buf = append(buf, b...)
		return buf[len(buf)-len(b) : len(buf) : len(buf)]
	}
	c.Key = take(r.Key)
	c.Value = take(r.Value)
	if r.Headers != nil {
		c.Headers = make([]Header, len(r.Headers))
		for i, h := range r.Headers {
			c.Headers[i] = Header{Key: h.Key, Value: take(h.Value)}
		}
	}
	return c
}

// EnableKeyIndex turns on the key index of an existing topic: it indexes
// every record the topic holds, then appends keep the index as for a topic
// created with TopicSpec.KeyIndex. Appends to the topic, its cleaning and
// truncation wait while its partitions are scanned; other topics are not
// held up. A topic that has an index is left alone. A crash before it
// returns leaves the topic without an index (the entries written so far
// are overwritten by the next EnableKeyIndex).
func (l *Log) EnableKeyIndex(name string) error {
	if err := l.writable(); err != nil {
		return err
	}
	l.indexMu.Lock()
	defer l.indexMu.Unlock()
	t, err := l.topic(name)
	if err != nil {
		return err
	}
	if t.keyIndex.Load() {
		return nil
	}
	records, err := l.indexPartitions(t)
	if err != nil {
		return err
	}
	// Appends index from now on; persist the flag. The meta write takes
	// l.mu, which must not be taken under the partitions' locks.
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return ErrClosed
	}
	if cur, ok := l.mu.topics[name]; ok && cur.id == t.id {
		m := topicMeta{ID: cur.id, Name: cur.name, Partitions: int32(len(cur.parts)), ReplicationFactor: cur.replicas,
			Config: cur.cfg.Load().overrides, CreatedMs: cur.createdMs, KeyIndex: true}
		b := l.db.NewBatch()
		defer b.Close()
		if err := l.putTopicMeta(b, m); err != nil {
			return err
		}
		if err := b.Commit(pebble.Sync); err != nil {
			return l.fail(fmt.Errorf("enable the key index of topic %q: %w", name, err))
		}
	}
	l.logger.Info("log: key index enabled", "topic", name, "records_indexed", records)
	return nil
}

// indexPartitions writes the index entries of every record of t's
// partitions, and sets t's flag, with every partition locked.
func (l *Log) indexPartitions(t *topic) (int64, error) {
	for _, p := range t.parts {
		p.cleanMu.Lock()
		p.mu.Lock()
	}
	defer func() {
		for _, p := range t.parts {
			p.mu.Unlock()
			p.cleanMu.Unlock()
		}
	}()
	if t.deleted.Load() {
		return 0, fmt.Errorf("%w: topic %q was deleted", ErrUnknownTopic, t.name)
	}
	var ix indexer
	var records int64
	for _, p := range t.parts {
		b := l.db.NewBatch()
		err := p.scanBatches(p.logStart.Load(), p.mu.leo, func(key, stored []byte) error {
			raw, h, err := openStored(stored)
			if err != nil {
				return &CorruptionError{Topic: t.name, Partition: p.id, Offset: keyOffset(key), Err: err}
			}
			if err := ix.addRaw(b, t.id, p.id, raw, h); err != nil {
				return &CorruptionError{Topic: t.name, Partition: p.id, Offset: h.BaseOffset, Err: err}
			}
			records += int64(h.RecordCount)
			if b.Len() >= 4<<20 {
				if err := b.Commit(pebble.NoSync); err != nil {
					return l.fail(fmt.Errorf("index topic %q partition %d: %w", t.name, p.id, err))
				}
				b.Reset()
			}
			return nil
		})
		if err == nil {
			if err = b.Commit(pebble.Sync); err != nil {
				err = l.fail(fmt.Errorf("index topic %q partition %d: %w", t.name, p.id, err))
			}
		}
		b.Close()
		if err != nil {
			return 0, err
		}
	}
	t.keyIndex.Store(true)
	return records, nil
}

// indexedRecord is a record's key and offset.
type indexedRecord struct {
	key    string
	offset int64
}

// forgetIndexed adds to b the deletion of the index entries that still
// point to recs (records compaction removed). Requires p.mu, so that no
// append replaces an entry between the check and the commit.
func (p *partition) forgetIndexed(b *pebble.Batch, recs []indexedRecord) error {
	t := p.topic.Load()
	var ik []byte
	for _, r := range recs {
		ik = appendIndexKey(ik[:0], t.id, p.id, []byte(r.key))
		v, closer, err := p.log.db.Get(ik)
		if errors.Is(err, pebble.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("topic %q partition %d: read key index: %w", t.name, p.id, err)
		}
		points := len(v) == indexValueLen && int64(binary.BigEndian.Uint64(v)) == r.offset
		closer.Close()
		if points {
			_ = b.Delete(ik, nil)
		}
	}
	return nil
}
