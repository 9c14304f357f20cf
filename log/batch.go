package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Kafka record batch v2 (magic 2), the format every stored batch uses. The
// header is 61 bytes; the Kafka CRC covers attributes through the end.
const (
	batchHeaderLen = 61

	offBaseOffset      = 0
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// storedCRCLen is the length of sluice's own checksum that precedes
	// every stored batch; it covers the whole Kafka batch, header included.
	storedCRCLen = 4

	attrCompressionMask = 0x07
	attrTransactional   = 0x10
	attrControl         = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one record of a partition. Key and Value are nil when null (a
// nil Value is a tombstone). Timestamp is milliseconds since the Unix epoch.
// Offset is assigned by the log on append and ignored there.
type Record struct {
	Offset    int64
	Timestamp int64
	Key       []byte
	Value     []byte
	Headers   []Header
}

// size is an estimate of a record's encoded size, used for byte limits.
func (r *Record) size() int {
	n := 21 + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

// BatchHeader holds the fields of a stored batch's header.
type BatchHeader struct {
	BaseOffset    int64
	LastOffset    int64
	LeaderEpoch   int32
	Attributes    int16
	BaseTimestamp int64
	MaxTimestamp  int64
	ProducerID    int64
	ProducerEpoch int16
	BaseSequence  int32
	RecordCount   int32
}

// Compression returns the Kafka compression codec of the batch (0 = none).
func (h BatchHeader) Compression() int { return int(h.Attributes & attrCompressionMask) }

// IsControl reports whether the batch is a transaction control batch.
func (h BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// Batch is one stored record batch as read back from the log. Raw is the
// Kafka record batch v2 exactly as a Kafka Fetch response carries it; it is
// owned by the caller.
type Batch struct {
	BatchHeader
	Raw []byte
}

// Records decodes the batch's records. The returned slices alias b.Raw.
func (b *Batch) Records() ([]Record, error) {
	return decodeRecords(b.Raw, b.BatchHeader, nil)
}

// AppendRecords decodes the batch's records and appends them to dst.
func (b *Batch) AppendRecords(dst []Record) ([]Record, error) {
	return decodeRecords(b.Raw, b.BatchHeader, dst)
}

var errShortBatch = errors.New("record batch shorter than its header")

// parseBatchHeader reads the header of a Kafka v2 batch.
func parseBatchHeader(raw []byte) (BatchHeader, error) {
	if len(raw) < batchHeaderLen {
		return BatchHeader{}, errShortBatch
	}
	be := binary.BigEndian
	if raw[offMagic] != 2 {
		return BatchHeader{}, fmt.Errorf("record batch magic %d, want 2", raw[offMagic])
	}
	length := int64(int32(be.Uint32(raw[offBatchLength:])))
	if length != int64(len(raw))-12 {
		return BatchHeader{}, fmt.Errorf("record batch length field %d does not match its %d bytes", length, len(raw)-12)
	}
	h := BatchHeader{
		BaseOffset:    int64(be.Uint64(raw[offBaseOffset:])),
		LeaderEpoch:   int32(be.Uint32(raw[offLeaderEpoch:])),
		Attributes:    int16(be.Uint16(raw[offAttributes:])),
		BaseTimestamp: int64(be.Uint64(raw[offBaseTimestamp:])),
		MaxTimestamp:  int64(be.Uint64(raw[offMaxTimestamp:])),
		ProducerID:    int64(be.Uint64(raw[offProducerID:])),
		ProducerEpoch: int16(be.Uint16(raw[offProducerEpoch:])),
		BaseSequence:  int32(be.Uint32(raw[offBaseSequence:])),
		RecordCount:   int32(be.Uint32(raw[offRecordCount:])),
	}
	delta := int32(be.Uint32(raw[offLastOffsetDelta:]))
	if delta < 0 || h.RecordCount < 0 {
		return BatchHeader{}, fmt.Errorf("record batch has negative last offset delta %d or record count %d", delta, h.RecordCount)
	}
	h.LastOffset = h.BaseOffset + int64(delta)
	return h, nil
}

// checkKafkaCRC verifies the Kafka CRC-32C of a v2 batch.
func checkKafkaCRC(raw []byte) error {
	want := binary.BigEndian.Uint32(raw[offCRC:])
	if got := crc32.Checksum(raw[offAttributes:], castagnoli); got != want {
		return fmt.Errorf("record batch CRC %08x, want %08x", got, want)
	}
	return nil
}

// encodeBatch appends a stored batch (sluice CRC + Kafka v2 batch) holding
// recs to dst. Offsets are base, base+1, ...; timestamps of zero are
// replaced by now.
func encodeBatch(dst []byte, base int64, epoch int32, pb *ProducerBatch, recs []Record, now int64) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, storedCRCLen+batchHeaderLen)...)
	be := binary.BigEndian
	baseTs, maxTs := int64(-1), int64(-1)
	for i := range recs {
		ts := recs[i].Timestamp
		if ts == 0 {
			ts = now
		}
		if baseTs < 0 || ts < baseTs {
			baseTs = ts
		}
		if ts > maxTs {
			maxTs = ts
		}
	}
	for i := range recs {
		r := &recs[i]
		ts := r.Timestamp
		if ts == 0 {
			ts = now
		}
		dst = appendRecord(dst, r, ts-baseTs, int64(i))
	}
	hdr := dst[start+storedCRCLen:]
	be.PutUint64(hdr[offBaseOffset:], uint64(base))
	be.PutUint32(hdr[offBatchLength:], uint32(len(hdr)-12))
	be.PutUint32(hdr[offLeaderEpoch:], uint32(epoch))
	hdr[offMagic] = 2
	be.PutUint16(hdr[offAttributes:], 0)
	be.PutUint32(hdr[offLastOffsetDelta:], uint32(len(recs)-1))
	be.PutUint64(hdr[offBaseTimestamp:], uint64(baseTs))
	be.PutUint64(hdr[offMaxTimestamp:], uint64(maxTs))
	if pb != nil {
		be.PutUint64(hdr[offProducerID:], uint64(pb.ID))
		be.PutUint16(hdr[offProducerEpoch:], uint16(pb.Epoch))
		be.PutUint32(hdr[offBaseSequence:], uint32(pb.BaseSequence))
	} else {
		be.PutUint64(hdr[offProducerID:], ^uint64(0))
		be.PutUint16(hdr[offProducerEpoch:], ^uint16(0))
		be.PutUint32(hdr[offBaseSequence:], ^uint32(0))
	}
	be.PutUint32(hdr[offRecordCount:], uint32(len(recs)))
	be.PutUint32(hdr[offCRC:], crc32.Checksum(hdr[offAttributes:], castagnoli))
	sealStored(dst[start:])
	return dst
}

// sealStored writes sluice's CRC over a stored batch.
func sealStored(stored []byte) {
	binary.BigEndian.PutUint32(stored, crc32.Checksum(stored[storedCRCLen:], castagnoli))
}

// openStored verifies sluice's CRC of a stored batch and returns the Kafka
// batch inside with its header.
func openStored(stored []byte) ([]byte, BatchHeader, error) {
	if len(stored) < storedCRCLen+batchHeaderLen {
		return nil, BatchHeader{}, errShortBatch
	}
	raw := stored[storedCRCLen:]
	if got, want := crc32.Checksum(raw, castagnoli), binary.BigEndian.Uint32(stored); got != want {
		return nil, BatchHeader{}, fmt.Errorf("stored batch checksum %08x, want %08x", got, want)
	}
	h, err := parseBatchHeader(raw)
	return raw, h, err
}

func appendRecord(dst []byte, r *Record, tsDelta, offDelta int64) []byte {
	// The body is written after a length placeholder sized for the body.
	body := r.encodedBodyLen(tsDelta, offDelta)
	dst = binary.AppendVarint(dst, int64(body))
	dst = append(dst, 0) // attributes
	dst = binary.AppendVarint(dst, tsDelta)
	dst = binary.AppendVarint(dst, offDelta)
	dst = appendVarBytes(dst, r.Key)
	dst = appendVarBytes(dst, r.Value)
	dst = binary.AppendVarint(dst, int64(len(r.Headers)))
	for _, h := range r.Headers {
		dst = binary.AppendVarint(dst, int64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendVarBytes(dst, h.Value)
	}
	return dst
}

func (r *Record) encodedBodyLen(tsDelta, offDelta int64) int {
	n := 1 + varintLen(tsDelta) + varintLen(offDelta)
	n += varBytesLen(r.Key) + varBytesLen(r.Value)
	n += varintLen(int64(len(r.Headers)))
	for _, h := range r.Headers {
		n += varintLen(int64(len(h.Key))) + len(h.Key) + varBytesLen(h.Value)
	}
	return n
}

func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}

func varBytesLen(b []byte) int {
	if b == nil {
		return 1
	}
	return varintLen(int64(len(b))) + len(b)
}

func appendVarBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// ParseKafkaBatch parses the header of the first Kafka record batch v2 in
// raw (a Produce request's records may hold several), checks its Kafka CRC,
// and returns the header and the batch's length in bytes. Compressed
// batches are allowed; their records section is raw[61:n].
func ParseKafkaBatch(raw []byte) (BatchHeader, int, error) {
	if len(raw) < batchHeaderLen {
		return BatchHeader{}, 0, errShortBatch
	}
	n := int64(int32(binary.BigEndian.Uint32(raw[offBatchLength:]))) + 12
	if n < batchHeaderLen || n > int64(len(raw)) {
		return BatchHeader{}, 0, fmt.Errorf("record batch length %d does not fit in %d bytes", n, len(raw))
	}
	raw = raw[:n]
	h, err := parseBatchHeader(raw)
	if err != nil {
		return h, 0, err
	}
	if err := checkKafkaCRC(raw); err != nil {
		return h, 0, err
	}
	return h, int(n), nil
}

// DecodeKafkaRecords decodes the records section of a batch (after the
// 61-byte header, decompressed if the batch was compressed) and appends
// the records to dst. The records alias section.
func DecodeKafkaRecords(h BatchHeader, section []byte, dst []Record) ([]Record, error) {
	return decodeSection(section, h, dst)
}

// decodeRecords decodes the records of an uncompressed Kafka v2 batch.
func decodeRecords(raw []byte, h BatchHeader, dst []Record) ([]Record, error) {
	if h.Compression() != 0 {
		return dst, fmt.Errorf("record batch at offset %d is compressed (codec %d); sluice stores batches uncompressed", h.BaseOffset, h.Compression())
	}
	return decodeSection(raw[batchHeaderLen:], h, dst)
}

func decodeSection(section []byte, h BatchHeader, dst []Record) ([]Record, error) {
	if h.RecordCount > int32(len(section)) {
		return dst, fmt.Errorf("record batch at offset %d claims %d records in %d bytes", h.BaseOffset, h.RecordCount, len(section))
	}
	d := decoder{b: section}
	if cap(dst)-len(dst) < int(h.RecordCount) {
		n := make([]Record, len(dst), len(dst)+int(h.RecordCount))
		copy(n, dst)
		dst = n
	}
	for i := int32(0); i < h.RecordCount; i++ {
		length := d.varint()
		if d.err != nil || length < 0 || length > int64(len(d.b)) {
			return dst, fmt.Errorf("record %d of batch at offset %d: bad length", i, h.BaseOffset)
		}
		rd := decoder{b: d.b[:length]}
		d.b = d.b[length:]
		rd.byte() // attributes
		tsDelta := rd.varint()
		offDelta := rd.varint()
		r := Record{
			Timestamp: h.BaseTimestamp + tsDelta,
			Offset:    h.BaseOffset + offDelta,
		}
		r.Key = rd.varBytes()
		r.Value = rd.varBytes()
		nh := rd.varint()
		if nh < 0 || nh > int64(len(rd.b)) {
			return dst, fmt.Errorf("record %d of batch at offset %d: bad header count %d", i, h.BaseOffset, nh)
		}
		if nh > 0 {
			r.Headers = make([]Header, nh)
			for j := range r.Headers {
				k := rd.varBytes()
				r.Headers[j] = Header{Key: string(k), Value: rd.varBytes()}
			}
		}
		if rd.err != nil {
			return dst, fmt.Errorf("record %d of batch at offset %d: %w", i, h.BaseOffset, rd.err)
		}
		if r.Offset < h.BaseOffset || r.Offset > h.LastOffset {
			return dst, fmt.Errorf("record %d of batch at offset %d: offset delta %d outside the batch", i, h.BaseOffset, offDelta)
		}
		dst = append(dst, r)
	}
	return dst, nil
}

var errTruncatedRecord = errors.New("truncated record")

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.err = errTruncatedRecord
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errTruncatedRecord
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varBytes() []byte {
	n := d.varint()
	if d.err != nil || n < 0 {
		return nil
	}
	if n > int64(len(d.b)) {
		d.err = errTruncatedRecord
		d.b = nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func crcKafka(hdr []byte) uint32 { return crc32.Checksum(hdr[offAttributes:], castagnoli) }

// checkRawBatch validates a producer's uncompressed Kafka v2 batch for
// storing as it is: header, length, Kafka CRC, and every record's
// structure, with offset deltas 0, 1, 2, ... (as Kafka requires of
// producers). On a compacted topic every record needs a key; no record may
// exceed max.message.bytes. It returns the header and the record count.
func checkRawBatch(raw []byte, cfg TopicConfig) (BatchHeader, int, error) {
	h, n, err := ParseKafkaBatch(raw)
	if err == nil && n != len(raw) {
		err = fmt.Errorf("%d bytes after the record batch", len(raw)-n)
	}
	if err == nil && h.Compression() != 0 {
		err = fmt.Errorf("record batch is compressed (codec %d); decompress it first", h.Compression())
	}
	if err == nil && (h.IsControl() || h.Attributes&attrTransactional != 0) {
		err = errors.New("transactional and control batches are not supported")
	}
	if err == nil && (h.RecordCount <= 0 || h.LastOffset-h.BaseOffset != int64(h.RecordCount)-1) {
		err = fmt.Errorf("record batch has %d records but a last offset delta of %d", h.RecordCount, h.LastOffset-h.BaseOffset)
	}
	if err != nil {
		return h, 0, fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	d := decoder{b: raw[batchHeaderLen:]}
	for i := int32(0); i < h.RecordCount; i++ {
		length := d.varint()
		if d.err != nil || length < 0 || length > int64(len(d.b)) {
			return h, 0, fmt.Errorf("%w: record %d: bad length", ErrInvalidRecord, i)
		}
		rd := decoder{b: d.b[:length]}
		d.b = d.b[length:]
		rd.byte()
		rd.varint() // timestamp delta
		if off := rd.varint(); off != int64(i) {
			return h, 0, fmt.Errorf("%w: record %d has offset delta %d", ErrInvalidRecord, i, off)
		}
		keyLen := rd.varint()
		if keyLen >= 0 {
			if keyLen > int64(len(rd.b)) {
				return h, 0, fmt.Errorf("%w: record %d: key overruns the record", ErrInvalidRecord, i)
			}
			rd.b = rd.b[keyLen:]
		} else if keyLen == -1 && cfg.Compact {
			return h, 0, fmt.Errorf("%w: the topic is compacted and record %d has no key; give every record a key", ErrInvalidRecord, i)
		}
		rd.varBytes() // value
		nh := rd.varint()
		if nh < 0 || nh > int64(len(rd.b)) {
			return h, 0, fmt.Errorf("%w: record %d: bad header count", ErrInvalidRecord, i)
		}
		for j := int64(0); j < nh; j++ {
			rd.varBytes()
			rd.varBytes()
		}
		if rd.err != nil || len(rd.b) != 0 || keyLen < -1 {
			return h, 0, fmt.Errorf("%w: record %d is malformed", ErrInvalidRecord, i)
		}
		if cfg.MaxMessageBytes > 0 && batchHeaderLen+int(length) > cfg.MaxMessageBytes {
			return h, 0, fmt.Errorf("%w: record %d of %d bytes exceeds max.message.bytes %d", ErrRecordTooLarge, i, batchHeaderLen+length, cfg.MaxMessageBytes)
		}
	}
	if len(d.b) != 0 {
		return h, 0, fmt.Errorf("%w: %d bytes after the last record", ErrInvalidRecord, len(d.b))
	}
	return h, int(h.RecordCount), nil
}
