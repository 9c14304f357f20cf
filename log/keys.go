package log

import (
	"encoding/binary"
)

// Key prefixes of the pebble keyspace; see doc.go for the layout.
const (
	prefixFormat    byte = 0x00 // format version
	prefixTopic     byte = 0x01 // topic metadata, by name
	prefixBatch     byte = 0x02 // record batches
	prefixPartition byte = 0x03 // partition state
	prefixSegment   byte = 0x04 // segment metadata
	prefixGroup     byte = 0x05 // consumer-group committed offsets
	prefixMeta      byte = 0x06 // caller metadata (source positions)
	prefixEpoch     byte = 0x07 // leader-epoch start offsets
	prefixProducer  byte = 0x08 // idempotent producer state
	prefixKeyIndex  byte = 0x09 // latest offset of each key (topics with a key index)
)

// formatKey holds the on-disk format version.
var formatKey = []byte{prefixFormat, 'f', 'o', 'r', 'm', 'a', 't'}

// formatVersion is the on-disk format this code writes and reads.
const formatVersion = "sluice-log-1"

func topicKey(name string) []byte {
	return append([]byte{prefixTopic}, name...)
}

// partKey is prefix | topic id | partition, the stem of partition-scoped keys.
func partKey(prefix byte, topicID uint32, partition int32) []byte {
	k := make([]byte, 9, 17)
	k[0] = prefix
	binary.BigEndian.PutUint32(k[1:], topicID)
	binary.BigEndian.PutUint32(k[5:], uint32(partition))
	return k
}

// offsetKey is partKey followed by a big-endian offset (batches, segments).
func offsetKey(prefix byte, topicID uint32, partition int32, offset int64) []byte {
	return binary.BigEndian.AppendUint64(partKey(prefix, topicID, partition), uint64(offset))
}

func batchKey(topicID uint32, partition int32, base int64) []byte {
	return offsetKey(prefixBatch, topicID, partition, base)
}

func segmentKey(topicID uint32, partition int32, base int64) []byte {
	return offsetKey(prefixSegment, topicID, partition, base)
}

func epochKey(topicID uint32, partition int32, epoch int32) []byte {
	return binary.BigEndian.AppendUint32(partKey(prefixEpoch, topicID, partition), uint32(epoch))
}

// keyOffset returns the offset at the end of an offsetKey.
func keyOffset(k []byte) int64 {
	return int64(binary.BigEndian.Uint64(k[len(k)-8:]))
}

// topicSpan returns [start, end) covering every key of a topic id under prefix.
func topicSpan(prefix byte, topicID uint32) ([]byte, []byte) {
	start := []byte{prefix, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(start[1:], topicID)
	end := []byte{prefix, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(end[1:], topicID+1)
	if topicID == ^uint32(0) {
		end = []byte{prefix + 1}
	}
	return start, end
}

// partSpan returns [start, end) covering a partition's keys under prefix.
func partSpan(prefix byte, topicID uint32, partition int32) ([]byte, []byte) {
	return offsetKey(prefix, topicID, partition, 0), offsetKey(prefix, topicID, partition, -1)
}

// groupKey is prefix | group | 0x00 | topic | 0x00 | partition.
func groupKey(group, topic string, partition int32) []byte {
	k := make([]byte, 0, 1+len(group)+1+len(topic)+1+4)
	k = append(k, prefixGroup)
	k = append(k, group...)
	k = append(k, 0)
	k = append(k, topic...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint32(k, uint32(partition))
}

func groupPrefix(group string) []byte {
	k := append([]byte{prefixGroup}, group...)
	return append(k, 0)
}

func metaKey(key string) []byte {
	return append([]byte{prefixMeta}, key...)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

func producerKey(topicID uint32, partition int32, pid int64) []byte {
	return offsetKey(prefixProducer, topicID, partition, pid)
}
