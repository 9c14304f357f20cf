// Package log is sluice's embedded log: Kafka-style topics and partitions
// stored in one pebble database.
//
// # Semantics
//
// A topic has partitions; a partition is a sequence of records with dense
// offsets that are never reused. Records arrive in batches; every stored
// batch is a Kafka record batch v2 (so the Kafka wire API serves stored
// bytes as they are) and carries the leader epoch that wrote it. The log end
// offset (LEO) is the next offset to assign; the high watermark (HW) is the
// end of what consumers may read. On a single node the HW follows the durable
// LEO; under replication (Options.ExternalHighWatermark) the caller sets it.
//
// Durability: with FsyncAlways (the default) Append returns only after its
// write is fsynced. Offsets are assigned and the write is queued to pebble's
// write-ahead log under the partition locks, and the fsync is awaited after
// the locks are released, so concurrent appenders share one fsync (group
// commit) while the order in the WAL matches the order of offsets. After a
// failed write or fsync the log refuses every further write (ErrFailed):
// what reached the disk is unknown, and only a reopen, which replays the
// WAL, can tell. FsyncInterval acknowledges after the write and fsyncs
// every Options.FsyncInterval.
//
// Append writes records of several partitions plus metadata entries
// (Write.Meta) in one atomic pebble batch: the connect runtime stores a
// source's position this way, so records and position are durable together
// or not at all.
//
// A partition is divided into segments, runs of offsets rolled by
// segment.bytes and segment.ms. Retention (cleanup.policy delete) removes
// whole segments from the front by retention.ms and retention.bytes, never
// the active segment and never one reaching the HW. Compaction (compact)
// rewrites segments below the active one, and below min.compaction.lag.ms,
// keeping for each key only its last record and dropping tombstones older
// than delete.retention.ms; it runs when the dirty share of the cleanable
// bytes reaches min.cleanable.dirty.ratio. Compaction keeps offsets, order
// and batch base offsets; batches it empties are deleted, so offsets may
// have gaps, and a read at a missing offset starts at the next one. The
// decisions are pure functions in cleaner_plan.go; cleaner.go acts on them.
//
// # On-disk layout
//
// Everything lives in one pebble database (<data_dir>/log). Integers in keys
// are big-endian so that keys sort by number. Topic id is a uint32 assigned
// at creation and never reused, so a deleted and recreated topic never sees
// old records.
//
//	key                                              value
//	0x00 "format"                                    "sluice-log-1"
//	0x01 <topic name>                                JSON {id, name, partitions, replication_factor, config, created_ms, key_index}
//	0x02 <topic id:4> <partition:4> <base offset:8>  stored batch (below)
//	0x03 <topic id:4> <partition:4>                  partition state: log start:8 | cleaned to:8 | leader epoch:4
//	0x04 <topic id:4> <partition:4> <base offset:8>  segment: created ms:8 | max timestamp:8 | bytes:8 | records:8 | last offset:8
//	0x05 <group> 0x00 <topic> 0x00 <partition:4>     committed offset:8 | leader epoch:4 | commit ms:8 | metadata
//	0x06 <key>                                       caller metadata (Write.Meta)
//	0x07 <topic id:4> <partition:4> <epoch:4>        first offset of that leader epoch:8
//	0x08 <topic id:4> <partition:4> <producer id:8>  producer epoch:2 | batches:1 | (first seq:4 | last seq:4 | first offset:8 | last offset:8)...
//	0x09 <topic id:4> <partition:4> 0x00 <key>       key index: offset of the key's latest record:8 | base offset of its batch:8
//	0x09 <topic id:4> <partition:4> 0x01 <hash:16>   the same for a key longer than 512 bytes (SHA-256, first 16 bytes)
//
// The key index (0x09) exists only for topics created with
// TopicSpec.KeyIndex, or given one by EnableKeyIndex ("key_index" in the
// topic record). Its entries are
// written in the same pebble batch as the records. Retention and
// truncation leave them alone, and compaction only deletes those of the
// expired tombstones it drops: Latest checks that an entry points to a
// committed record of the same key, and otherwise answers "not found"
// (keyindex.go).
//
// A stored batch is sluice's CRC-32C (Castagnoli) of the bytes that follow,
// then a Kafka record batch v2, uncompressed, whose baseOffset is the
// partition offset of its first record:
//
//	+---------+----------------------------------------------------------+
//	| crc:4   | Kafka record batch v2                                    |
//	+---------+----------------------------------------------------------+
//	          | baseOffset:8 | batchLength:4 | partitionLeaderEpoch:4 |
//	          | magic:1 (=2) | crc:4 (CRC-32C of attributes..end) |
//	          | attributes:2 | lastOffsetDelta:4 | baseTimestamp:8 |
//	          | maxTimestamp:8 | producerId:8 | producerEpoch:2 |
//	          | baseSequence:4 | recordCount:4 | records... |
//
// Each record is Kafka's: length varint, attributes:1, timestampDelta
// varint, offsetDelta varint, key (varint length, -1 for null, bytes),
// value (likewise; null is a tombstone), header count varint, then headers
// (key length varint, key, value length varint or -1, value).
//
// The golden test (golden_test.go, testdata/layout.golden) pins this
// layout: a log written with a fixed clock must produce exactly those keys
// and values, and those keys and values must read back as the same records.
//
// # Recovery and corruption
//
// pebble replays its write-ahead log at open and stops at a torn tail. Then
// every partition's last batches are checked against their CRC and key; a
// corrupt or torn tail is cut back to the last good batch and logged, and the
// LEO set from it. A batch failing its check in the middle of a partition is
// never skipped: Read returns a *CorruptionError naming topic, partition and
// offset.
//
// # Files
//
//	doc.go           this overview
//	log.go           Log, Open/Close, topics, metadata, options, metrics hook
//	partition.go     partition state, segments, recovery of the tail at open
//	append.go        Append, AppendAsync (group commit), idempotent batches
//	read.go          Read, offsets and states, ListOffset, waiting for data
//	producer.go      idempotent producer state
//	batch.go         Kafka record batch v2 encoding and the stored batch
//	keys.go          the key layout
//	topicconfig.go   Kafka topic configs and their defaults
//	truncate.go      truncation, high watermark and leader epochs (replication)
//	keyindex.go      the optional key index, Latest and EnableKeyIndex
//	groups.go        consumer-group committed offsets
//	cleaner_plan.go  retention and compaction decisions (pure)
//	cleaner.go       retention and compaction I/O, the cleaner loop
//	errors.go        error classes
//
// # Locks
//
// Log.mu guards the topic map. Each partition has cleanMu (cleaner,
// truncation, deletion) and mu (appends, segments, epochs); take cleanMu
// before mu, and several partitions' mu in (topic id, partition) order.
// Log.indexMu (EnableKeyIndex, CreatePartitions) comes before Log.mu, and
// EnableKeyIndex never takes Log.mu while it holds partition locks.
// HW, LEO, log start and size are atomics that readers use without locks.
package log
