package connect

import "time"

// Metrics receives the runtime's measurements per connector and task.
// Implementations must be safe for concurrent use and must not block.
type Metrics interface {
	// SourceBatch counts a source batch made durable: events read,
	// records written, and how long the log write took.
	SourceBatch(connector string, task int, events, records int, d time.Duration)
	// SinkBatch counts a sink batch: records read and delivered.
	SinkBatch(connector string, task int, records int, d time.Duration)
	// Error counts a failure at a stage (source, sink, transform,
	// converter, task).
	Error(connector string, task int, stage string)
	// Retry counts a retry after a retriable failure.
	Retry(connector string, task int)
	// DeadLettered counts records sent to the dead-letter topic.
	DeadLettered(connector string, task int, n int)
	// SinkLag reports a sink partition's lag: log end minus committed.
	SinkLag(connector, topic string, partition int32, lag int64)
}

type noMetrics struct{}

func (noMetrics) SourceBatch(string, int, int, int, time.Duration) {}
func (noMetrics) SinkBatch(string, int, int, time.Duration)        {}
func (noMetrics) Error(string, int, string)                        {}
func (noMetrics) Retry(string, int)                                {}
func (noMetrics) DeadLettered(string, int, int)                    {}
func (noMetrics) SinkLag(string, string, int32, int64)             {}
