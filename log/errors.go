package log

import (
	"errors"
	"fmt"
)

// Error classes. Every error the log returns wraps one of these, so callers
// decide with errors.Is what to do.
var (
	// ErrUnknownTopic: the topic or partition does not exist.
	ErrUnknownTopic = errors.New("unknown topic or partition")
	// ErrTopicExists: CreateTopic of a name that is taken.
	ErrTopicExists = errors.New("topic already exists")
	// ErrInvalidConfig: a topic config key or value is not acceptable.
	ErrInvalidConfig = errors.New("invalid topic config")
	// ErrInvalidTopic: the topic name or partition count is not acceptable.
	ErrInvalidTopic = errors.New("invalid topic")
	// ErrInvalidRecord: the records cannot be appended as given (for
	// example a null key on a compacted topic, or an oversized batch).
	ErrInvalidRecord = errors.New("invalid record")
	// ErrRecordTooLarge: a record (or, from a Kafka producer, a batch) is
	// larger than the topic's max.message.bytes.
	ErrRecordTooLarge = errors.New("record too large")
	// ErrOffsetOutOfRange: the offset is below the log start or above the
	// readable end.
	ErrOffsetOutOfRange = errors.New("offset out of range")
	// ErrCorrupt: stored data failed its checksum or structure check.
	ErrCorrupt = errors.New("corrupt log data")
	// ErrClosed: the log was closed.
	ErrClosed = errors.New("log closed")
	// ErrFailed: an earlier write or sync failed, and the log accepts no
	// more writes until it is reopened (its durability is unknown).
	ErrFailed = errors.New("log failed after a write error")
)

// CorruptionError names where corrupt data was found.
type CorruptionError struct {
	Topic     string
	Partition int32
	Offset    int64
	Err       error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("topic %q partition %d: batch at offset %d is corrupt: %v; the data directory is damaged — restore it from a replica or a backup", e.Topic, e.Partition, e.Offset, e.Err)
}

// Unwrap returns ErrCorrupt and the cause.
func (e *CorruptionError) Unwrap() []error { return []error{ErrCorrupt, e.Err} }
