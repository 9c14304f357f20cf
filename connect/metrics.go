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
	// SourceRecords counts the records of a durable source batch that
	// went to one topic; the runtime calls it once per topic of the batch,
	// after SourceBatch.
	SourceRecords(connector string, task int, topic string, n int)
}

type noMetrics struct{}

func (noMetrics) SourceBatch(string, int, int, int, time.Duration) {}
func (noMetrics) SinkBatch(string, int, int, time.Duration)        {}
func (noMetrics) Error(string, int, string)                        {}
func (noMetrics) Retry(string, int)                                {}
func (noMetrics) DeadLettered(string, int, int)                    {}
func (noMetrics) SinkLag(string, string, int32, int64)             {}
func (noMetrics) SourceRecords(string, int, string, int)           {}

// sourceRecords reports the records of a durable source batch to m, in
// one SourceRecords call per topic.
func sourceRecords(m Metrics, connector string, task int, recs []Record) {
	for _, c := range countTopics(recs) {
		m.SourceRecords(connector, task, c.topic, c.n)
	}
}

// topicCount is how many records of a batch went to one topic.
type topicCount struct {
	topic string
	n     int
}

// maxTopicScan is the number of topics up to which countTopics finds a
// topic by scanning its list; beyond, it keeps a map.
const maxTopicScan = 16

// countTopics counts recs by topic, in the order the topics first come.
// A batch's records come in runs of one topic, from few topics, so it
// compares each record's topic with the previous one's first.
func countTopics(recs []Record) []topicCount {
	var counts []topicCount
	var index map[string]int // topic → counts index, past maxTopicScan topics
	last := -1               // the counts index of the previous record's topic
	for i := range recs {
		topic := recs[i].Topic
		if last >= 0 && counts[last].topic == topic {
			counts[last].n++
			continue
		}
		last = -1
		if index != nil {
			if k, ok := index[topic]; ok {
				last = k
			}
		} else {
			for k := range counts {
				if counts[k].topic == topic {
					last = k
					break
				}
			}
		}
		if last < 0 {
			last = len(counts)
			counts = append(counts, topicCount{topic: topic})
			switch {
			case index != nil:
				index[topic] = last
			case len(counts) > maxTopicScan:
				index = make(map[string]int, 2*len(counts))
				for k, c := range counts {
					index[c.topic] = k
				}
			}
		}
		counts[last].n++
	}
	return counts
}
