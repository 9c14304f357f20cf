package connect

import (
	"context"
	"errors"
	"fmt"
)

// Position is a source's opaque place in its database's change stream
// (binlog file/pos and GTID set, or LSN). The runtime stores it, together
// with the events before it, in one atomic log write, and hands it back to
// Source.Open after a restart. A position is only ever taken at a
// transaction boundary: resuming from it neither repeats nor skips a
// committed transaction.
type Position []byte

// SourceBatch is what a source hands the runtime in one Read.
type SourceBatch struct {
	// Events are change events in commit order.
	Events []ChangeEvent
	// Messages are records the source builds itself (schema changes,
	// heartbeats); they are written after Events.
	Messages []Message
	// Position, when non-nil, is the position after the batch: once the
	// batch is durable, a restart resumes there. A batch may carry only
	// a position (a heartbeat that moves it forward). Nil leaves the
	// stored position unchanged (the batch ends inside a transaction;
	// a later batch carries the position at its end). Such a batch is
	// written at once, and the runtime counts its events and messages
	// with it; after a restart the source reads again from the stored
	// position and the runtime drops that many items. So a source must
	// read the items after a position again identically: the same
	// events and messages in the same order (as a binlog or WAL
	// replays).
	Position Position
}

// Source captures changes. The runtime calls Open once, then Read in a
// loop from one goroutine, and Ack from another goroutine whenever a batch
// has become durable; Close after Read has returned for the last time.
//
// Durability: a batch is durable (fsynced, and acknowledged by the in-sync
// replicas on a cluster) when Ack is called with its position. Only then
// may a source confirm the position to the database (a Postgres standby
// status update); never before, and never a guessed position.
//
// Errors: Read and Open return errors classed with Retriable, Fatal,
// ResyncNeeded or Corruption (see errors.go); an unclassed error counts as
// retriable. Read returns ctx.Err() when ctx ends.
type Source interface {
	// Open starts reading after pos; nil pos means a fresh start, with
	// the snapshot the configuration asks for.
	Open(ctx context.Context, pos Position) error
	// Read blocks until a batch is ready, and returns it. The batch then
	// belongs to the runtime, which converts it while the next Read
	// runs: the source must not change it, or memory it points to,
	// afterwards.
	Read(ctx context.Context) (SourceBatch, error)
	// Ack reports that everything up to pos is durable.
	Ack(ctx context.Context, pos Position) error
	// Close releases the source's connections.
	Close() error
}

// SinkRecord is a record delivered to a sink, with where it came from.
type SinkRecord = Record

// Sink delivers records somewhere. The runtime calls Open once, then Write
// from one goroutine per task, then Close.
//
// Write receives records in partition order (records of one partition in
// offset order; partitions may interleave) and returns only when all of
// them are delivered; then the runtime commits the group offsets past
// them. Delivery is therefore at-least-once: after a crash the records
// after the last commit come again, and idempotent sinks (upsert by key)
// make the end state exact. An error fails the whole batch; classed
// Retriable it is retried with backoff, classed Fatal the task fails.
type Sink interface {
	Open(ctx context.Context) error
	Write(ctx context.Context, records []SinkRecord) error
	Close() error
}

// Snapshotter is an optional interface of sources that can read tables
// again while streaming goes on (an ad-hoc, incremental snapshot, like
// Debezium's execute-snapshot signal).
type Snapshotter interface {
	// RequestSnapshot asks for tables ("schema.table" for Postgres,
	// "db.table" for MySQL) to be read again. It returns once the request
	// is durable: it survives a restart of sluice. The rows follow as op
	// 'r' events with source.snapshot "incremental", interleaved with the
	// stream so that no concurrent change is lost or overwritten by a
	// stale row. It may be called from any goroutine while the source is
	// open; an error wrapping ErrFatal is a bad request (an unknown
	// table).
	RequestSnapshot(ctx context.Context, tables []string) error
}

// Status is an optional interface of sources and sinks that report
// progress (snapshot rows done and total, lag) for the connector status.
type Status interface {
	Status() map[string]any
}

// Error classes: what the caller should do about an error. Connectors wrap
// their errors with these (fmt.Errorf("...: %w", ErrRetriable)) or use the
// helpers below; the runtime tests with errors.Is.
var (
	// ErrRetriable: try again later (a network cut, a restarting database).
	ErrRetriable = errors.New("retriable")
	// ErrFatal: retrying will not help (bad config, missing permission);
	// the task fails and shows the error until an operator acts.
	ErrFatal = errors.New("fatal")
	// ErrResyncNeeded: the stored position is no longer available in the
	// database (binlog purged, slot dropped); a new snapshot is needed.
	ErrResyncNeeded = errors.New("resync needed")
	// ErrCorruption: data read back is damaged.
	ErrCorruption = errors.New("corruption")
)

// classed is an error with a class.
type classed struct {
	class error
	err   error
}

func (e *classed) Error() string   { return e.err.Error() }
func (e *classed) Unwrap() []error { return []error{e.class, e.err} }

// Retriable marks err as retriable.
func Retriable(err error) error { return mark(ErrRetriable, err) }

// Fatal marks err as fatal.
func Fatal(err error) error { return mark(ErrFatal, err) }

// ResyncNeeded marks err as needing a new snapshot.
func ResyncNeeded(err error) error { return mark(ErrResyncNeeded, err) }

func mark(class, err error) error {
	if err == nil {
		return nil
	}
	return &classed{class: class, err: err}
}

// IsRetriable reports whether err should be retried: it is classed
// retriable, or not classed at all.
func IsRetriable(err error) bool {
	if errors.Is(err, ErrFatal) || errors.Is(err, ErrResyncNeeded) || errors.Is(err, ErrCorruption) {
		return false
	}
	return true
}

// Class names err's class for status output.
func Class(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrFatal):
		return "fatal"
	case errors.Is(err, ErrResyncNeeded):
		return "resync-needed"
	case errors.Is(err, ErrCorruption):
		return "corruption"
	}
	return "retriable"
}

// ConfigError is a bad connector config value, naming the field.
type ConfigError struct {
	Field, Msg, Hint string
}

func (e *ConfigError) Error() string {
	s := fmt.Sprintf("config.%s: %s", e.Field, e.Msg)
	if e.Hint != "" {
		s += "; " + e.Hint
	}
	return s
}

// Unwrap classes a config error as fatal.
func (e *ConfigError) Unwrap() error { return ErrFatal }
