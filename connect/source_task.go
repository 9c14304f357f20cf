package connect

import (
	"context"
	"fmt"
	"time"
)

// positionKey is the log metadata key of a source connector's position.
func positionKey(connector string) string { return "connect/source/" + connector + "/position" }

// runSource runs a source task until ctx ends or a fatal error: it opens
// the source at the stored position and pumps batches into the log. A
// retriable failure closes the source and opens it again at the last
// durable position after a backoff, so nothing is skipped or repeated.
func (t *task) runSource(ctx context.Context) error {
	c := t.c
	kind := c.kind.(SourceKind)
	failures := 0
	for {
		if !t.waitRunning(ctx) {
			return nil
		}
		progressed, err := t.sourceOnce(ctx, kind)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			failures = 0
		}
		if !IsRetriable(err) {
			return err
		}
		failures++
		if lim := c.cfg.Errors.Retries; lim >= 0 && failures > lim {
			return fmt.Errorf("gave up after %d retries: %w", lim, err)
		}
		wait := c.r.backoff(failures - 1)
		t.logger.Warn("connect: source failed; retrying", "err", err, "retry", failures, "backoff", wait)
		t.detail("last_error", err.Error())
		t.detail("retries", failures)
		c.r.metrics.Retry(c.name, t.id)
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// sourceOnce opens the source and pumps until an error. It reports
// whether any batch became durable.
func (t *task) sourceOnce(ctx context.Context, kind SourceKind) (progressed bool, err error) {
	c := t.c
	src, err := kind.NewSource(c.cfg, Env{Name: c.name, Task: t.id, Logger: t.logger})
	if err != nil {
		return false, Fatal(fmt.Errorf("build source: %w", err))
	}
	defer src.Close()
	if st, ok := src.(Status); ok {
		t.mu.Lock()
		t.mu.status = st
		t.mu.Unlock()
	}
	pos, _, err := c.r.log.Meta(ctx, positionKey(c.name))
	if err != nil {
		return false, fmt.Errorf("read the stored position: %w", err)
	}
	if err := src.Open(ctx, pos); err != nil {
		return false, fmt.Errorf("open source: %w", err)
	}
	t.detail("last_error", nil)
	conv := newSourceConverter(t)
	for {
		if !t.waitRunning(ctx) {
			return progressed, nil
		}
		batch, err := src.Read(ctx)
		if err != nil {
			return progressed, err
		}
		recs, err := conv.records(ctx, batch)
		if err != nil {
			return progressed, err
		}
		var meta map[string][]byte
		if batch.Position != nil {
			meta = map[string][]byte{positionKey(c.name): batch.Position}
		}
		if len(recs) == 0 && meta == nil {
			continue
		}
		start := time.Now()
		if err := c.r.log.Append(ctx, recs, meta); err != nil {
			if ctx.Err() != nil {
				return progressed, nil
			}
			return progressed, fmt.Errorf("write %d records to the log: %w", len(recs), err)
		}
		progressed = true
		c.r.metrics.SourceBatch(c.name, t.id, len(batch.Events), len(recs), time.Since(start))
		if batch.Position != nil {
			if err := src.Ack(ctx, batch.Position); err != nil && ctx.Err() == nil {
				return progressed, fmt.Errorf("acknowledge position: %w", err)
			}
		}
	}
}

// sourceConverter turns a source's batches into records: key changes
// split, envelopes built, transforms applied, converted, tombstones added,
// partitions chosen.
type sourceConverter struct {
	t      *task
	topics map[string]int32
}

func newSourceConverter(t *task) *sourceConverter {
	return &sourceConverter{t: t, topics: map[string]int32{}}
}

func (sc *sourceConverter) partitions(ctx context.Context, topic string) (int32, error) {
	if n, ok := sc.topics[topic]; ok {
		return n, nil
	}
	r := sc.t.c.r
	n, err := r.log.EnsureTopic(ctx, TopicSpec{Name: topic, Config: r.opts.TopicDefaults})
	if err != nil {
		return 0, fmt.Errorf("create topic %q: %w", topic, err)
	}
	sc.topics[topic] = n
	return n, nil
}

func (sc *sourceConverter) records(ctx context.Context, b SourceBatch) ([]Record, error) {
	c := sc.t.c
	out := make([]Record, 0, len(b.Events)+len(b.Messages))
	add := func(m *Message) error {
		m, err := c.chain.Apply(m)
		if err != nil {
			return sc.tolerate("transform", m, err)
		}
		if m == nil {
			return nil
		}
		k, v, err := c.conv.Encode(m)
		if err != nil {
			return sc.tolerate("converter", m, err)
		}
		n, err := sc.partitions(ctx, m.Topic)
		if err != nil {
			return err
		}
		out = append(out, Record{Topic: m.Topic, Partition: Partition(k, n), Timestamp: m.Timestamp, Key: k, Value: v, Headers: m.Headers})
		return nil
	}
	for i := range b.Events {
		for _, ev := range SplitKeyChange(&b.Events[i]) {
			ev := ev
			key, value := Envelope(&ev)
			if err := add(&Message{Topic: ev.Topic, Key: key, Value: value, Event: &ev}); err != nil {
				return nil, err
			}
			if ev.Op == OpDelete && c.tombstones() {
				if err := add(&Message{Topic: ev.Topic, Key: key, Event: &ev}); err != nil {
					return nil, err
				}
			}
		}
	}
	for i := range b.Messages {
		m := b.Messages[i]
		if err := add(&m); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// tolerate applies errors.tolerance to a failed transform or conversion:
// "none" fails the task; "all" logs the event and skips it (counted, never
// silent).
func (sc *sourceConverter) tolerate(stage string, m *Message, err error) error {
	c := sc.t.c
	c.r.metrics.Error(c.name, sc.t.id, stage)
	if c.cfg.Errors.Tolerance != "all" {
		return Fatal(fmt.Errorf("%s failed for a record of topic %q: %w; set errors.tolerance: all to skip such records", stage, topicOf(m), err))
	}
	sc.t.logger.Error("connect: skipping a record (errors.tolerance: all)", "stage", stage, "topic", topicOf(m), "err", err)
	sc.t.detail("skipped_records", sc.t.skipped.Add(1))
	return nil
}

func topicOf(m *Message) string {
	if m == nil {
		return ""
	}
	return m.Topic
}

// tombstones reports whether deletes are followed by a tombstone
// (tombstones_on_delete, default true).
func (c *connector) tombstones() bool {
	return c.cfg.TombstonesOnDelete == nil || *c.cfg.TombstonesOnDelete
}
