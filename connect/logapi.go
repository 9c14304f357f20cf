package connect

import (
	"context"
	"errors"
	"time"
)

// Log is how the runtime reaches topics: the embedded log, or (later) an
// external Kafka cluster. Implementations are safe for concurrent use.
type Log interface {
	// EnsureTopic creates the topic when absent and returns its
	// partition count.
	EnsureTopic(ctx context.Context, spec TopicSpec) (int32, error)
	// Partitions returns a topic's partition count.
	Partitions(ctx context.Context, topic string) (int32, error)
	// Append writes records (Partition set) and, in the same atomic and
	// durable write, the metadata entries (a nil value deletes one). It
	// returns once everything is durable.
	Append(ctx context.Context, records []Record, meta map[string][]byte) error
	// Meta reads a metadata entry.
	Meta(ctx context.Context, key string) ([]byte, bool, error)
	// Fetch returns records of a partition from offset on, up to about
	// maxBytes, and the offset to fetch next. It does not wait: at the
	// end it returns no records and next == offset.
	Fetch(ctx context.Context, topic string, partition int32, offset int64, maxBytes int) (records []Record, next int64, err error)
	// Offsets returns a partition's first offset and its high watermark.
	Offsets(ctx context.Context, topic string, partition int32) (start, end int64, err error)
	// Wait returns when the partition may have records at or after
	// offset, when d has passed, or when ctx ends.
	Wait(ctx context.Context, topic string, partition int32, offset int64, d time.Duration)
	// CommitOffsets stores a consumer group's offsets durably.
	CommitOffsets(ctx context.Context, group string, offsets []GroupOffset) error
	// FetchOffsets returns a group's committed offsets.
	FetchOffsets(ctx context.Context, group string) ([]GroupOffset, error)
	// DeleteOffsets removes a group's committed offsets.
	DeleteOffsets(ctx context.Context, group string) error
}

// AsyncAppender is an optional Log feature: AppendAsync queues a write in
// order with every other write and returns without waiting for it to
// become durable; wait blocks until it is (and must be called exactly
// once). A source task then prepares its next batch while the previous
// one is being fsynced, and still acknowledges positions only once
// they are durable.
type AsyncAppender interface {
	AppendAsync(ctx context.Context, records []Record, meta map[string][]byte) (wait func() error, err error)
}

// KeyLookup is an optional Log feature: the latest record of a key.
// Latest returns the latest durable record whose key is key in a
// partition of a topic created with TopicSpec.KeyIndex; a tombstone is
// found, with a nil Value. found is false when the key has none there
// (never written, or removed by retention or compaction). A topic
// created without a key index is an error wrapping ErrNoKeyIndex. It is
// safe for concurrent use, also with appends.
type KeyLookup interface {
	Latest(ctx context.Context, topic string, partition int32, key []byte) (rec Record, found bool, err error)
}

// ErrNoKeyIndex is KeyLookup's error for a topic without a key index.
var ErrNoKeyIndex = errors.New("topic has no key index")

// TopicSpec describes a topic the runtime creates.
type TopicSpec struct {
	Name       string
	Partitions int32 // 0: the node's default
	Config     map[string]string
	// KeyIndex asks for an index of every key's latest record, for
	// KeyLookup; EnsureTopic gives an existing topic one (the embedded
	// log indexes its records then). A Log without KeyLookup ignores it.
	KeyIndex bool
}

// GroupOffset is a committed offset: the next offset the group reads.
type GroupOffset struct {
	Topic     string
	Partition int32
	Offset    int64
}
