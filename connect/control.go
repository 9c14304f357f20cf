package connect

import (
	"context"
	"errors"
)

// Connector and task states, as Kafka Connect names them.
const (
	StateUnassigned = "UNASSIGNED"
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateStopped    = "STOPPED"
	StateFailed     = "FAILED"
	StateRestarting = "RESTARTING"
)

// ErrUnknownConnector is returned for a connector name the runtime does
// not run. ErrConflict for an operation the connector's state forbids
// (altering offsets of a running connector).
var (
	ErrUnknownConnector = errors.New("unknown connector")
	ErrConflict         = errors.New("conflicting connector state")
	// ErrBadOffsets: an offsets request body has the wrong shape.
	ErrBadOffsets = errors.New("bad offsets")
	// ErrUnsupported: the connector's kind cannot do what was asked (an
	// ad-hoc snapshot of a sink, or of a source that is no Snapshotter).
	ErrUnsupported = errors.New("not supported by the connector kind")
)

// ConnectorInfo is GET /connectors/{name}: the connector's config and tasks.
type ConnectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []TaskID          `json:"tasks"`
	Type   string            `json:"type"` // "source" or "sink"
}

// TaskID names a task.
type TaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// ConnectorStatus is GET /connectors/{name}/status, in Kafka Connect's shape.
type ConnectorStatus struct {
	Name      string       `json:"name"`
	Connector StateInfo    `json:"connector"`
	Tasks     []TaskStatus `json:"tasks"`
	Type      string       `json:"type"`
}

// StateInfo is a state with where it runs and, when failed, why.
type StateInfo struct {
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

// TaskStatus is one task's state, plus sluice's progress details.
type TaskStatus struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
	// Details holds connector progress (snapshot rows done and
	// total, lag) and the last error's class.
	Details map[string]any `json:"details,omitempty"`
}

// Offsets is GET /connectors/{name}/offsets (KIP-875): for a source, its
// stored position; for a sink, its committed offset per topic partition.
type Offsets struct {
	Offsets []OffsetEntry `json:"offsets"`
}

// OffsetEntry is one partition's offset. For sources, Partition is
// {"server": <name>} and Offset {"position": <the position as text>}; for
// sinks, Partition is {"kafka_topic", "kafka_partition"} and Offset
// {"kafka_offset"}, as Kafka Connect has them.
type OffsetEntry struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

// Controller is the runtime as an operator steers it: the admin REST API
// and the CLI call it. Methods are safe for concurrent use and return
// ErrUnknownConnector (wrapped) for unknown names.
type Controller interface {
	Connectors() []string
	Connector(name string) (ConnectorInfo, error)
	Status(name string) (ConnectorStatus, error)
	Pause(name string) error
	Resume(name string) error
	// Stop stops the connector's tasks and keeps it stopped (KIP-875);
	// Resume starts it again.
	Stop(name string) error
	// Restart restarts the connector; with includeTasks its tasks too,
	// with onlyFailed only those that failed.
	Restart(name string, includeTasks, onlyFailed bool) error
	RestartTask(name string, task int) error
	Offsets(name string) (Offsets, error)
	// AlterOffsets and ResetOffsets need a STOPPED connector
	// (ErrConflict otherwise).
	AlterOffsets(name string, o Offsets) error
	ResetOffsets(name string) error
	// RequestSnapshot asks a running source connector to read tables
	// again (an ad-hoc snapshot, see Snapshotter) and returns once every
	// task's source has made the request durable. Errors: ErrUnknownConnector;
	// ErrUnsupported for a sink or a source kind that is no Snapshotter;
	// ErrConflict when the connector is not RUNNING or a task failed; the
	// source's own error, with its class (ErrFatal: a bad request such as
	// an unknown table); ErrRetriable while a task is (re)connecting.
	RequestSnapshot(ctx context.Context, name string, tables []string) error
}

// SourceProgress is what one open source task reports about itself
// through Status, for the metrics.
type SourceProgress struct {
	Connector string
	Task      int
	Status    map[string]any
}
