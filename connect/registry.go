package connect

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/sluice-cdc/sluice/configs"
)

// Role says whether a connector kind is a source or a sink.
type Role int

const (
	RoleSource Role = iota + 1
	RoleSink
)

func (r Role) String() string {
	if r == RoleSource {
		return "source"
	}
	return "sink"
}

// Env is what a connector gets from the runtime when it is built.
type Env struct {
	// Name is the connector's name; Task its task number (from 0).
	Name string
	Task int
	// Logger is scoped to the connector and task.
	Logger *slog.Logger
	// Previous returns the after image of the latest record this
	// connector wrote for ev's row: the record the runtime would
	// supersede with ev (same topic and key after transforms), decoded
	// back into values aligned with ev.Table.Columns. found is false
	// when there is none: never written, deleted, removed by retention,
	// or unreadable (a transform dropped the column). It reads only
	// durable records, so a source must itself remember the images of
	// events it has emitted but not yet seen acknowledged. The postgres
	// source fills unchanged TOAST values with it. Nil when the log
	// cannot answer. The runtime sets it for kinds that implement
	// PreviousImager (previous.go, which says how the record is found and
	// read back); it is safe for concurrent use.
	Previous func(ctx context.Context, ev *ChangeEvent) (after []Value, found bool, err error)
	// ReadTopic calls fn with every record of a topic, partition by
	// partition in offset order, from each partition's first offset to
	// its end when the call began; a topic that does not exist has no
	// records. An error from fn stops the reading and is returned. The
	// mysql source reads its schema history with it. Nil outside a
	// runtime.
	ReadTopic func(ctx context.Context, topic string, fn func(Record) error) error
}

// ConnectorKind is one connector kind: its name, role, config check and
// constructors.
type ConnectorKind interface {
	Name() string
	Role() Role
	// Check validates a connector's config block and returns every
	// problem, each naming its field (configs.ProblemAt on the field's
	// node gives it a position). It must not connect anywhere.
	Check(c *configs.Connector) []configs.Problem
	// Tasks says how many tasks to run for c (at most c.TasksMax).
	Tasks(c *configs.Connector) int
}

// SourceKind builds sources.
type SourceKind interface {
	ConnectorKind
	NewSource(c *configs.Connector, env Env) (Source, error)
}

// SinkKind builds sinks.
type SinkKind interface {
	ConnectorKind
	NewSink(c *configs.Connector, env Env) (Sink, error)
}

// Registry maps connector kind names to kinds. cmd/sluice fills one; tests
// build their own.
type Registry struct {
	kinds map[string]ConnectorKind
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{kinds: map[string]ConnectorKind{}} }

// Register adds a kind; a second kind of the same name panics (a
// programming error in cmd/).
func (r *Registry) Register(k ConnectorKind) {
	if _, ok := r.kinds[k.Name()]; ok {
		panic(fmt.Sprintf("connect: connector kind %q registered twice", k.Name()))
	}
	switch k.(type) {
	case SourceKind, SinkKind:
	default:
		panic(fmt.Sprintf("connect: connector kind %q is neither a SourceKind nor a SinkKind", k.Name()))
	}
	r.kinds[k.Name()] = k
}

// Lookup returns a kind by name.
func (r *Registry) Lookup(name string) (ConnectorKind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// Names lists the registered kinds, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ConfigOptions returns the configs.Options that check kinds and connector
// config blocks against this registry.
func (r *Registry) ConfigOptions() configs.Options {
	return configs.Options{
		Kinds: r.Names(),
		CheckConnector: func(c *configs.Connector) []configs.Problem {
			_, probs := ParseTransforms(c.Transforms, "transforms")
			if k, ok := r.kinds[c.Kind]; ok {
				probs = append(probs, k.Check(c)...)
			}
			return probs
		},
	}
}
