package connect

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// positionKey is the log metadata key of a source connector's position.
func positionKey(connector string) string { return "connect/source/" + connector + "/position" }

// partialKey is the log metadata key of the number of items (events, then
// messages, batch by batch) a source has had written after its stored
// position: the first part of a transaction too large for one batch. It
// is written with every batch that carries no position and deleted with
// every batch that does. After a restart the source replays from the
// position, and the runtime drops that many items, which are already in
// the log: a source replays a transaction identically, so nothing is
// written twice.
func partialKey(connector string) string { return "connect/source/" + connector + "/partial" }

// readPartial reads the partial count; a missing or unreadable entry is 0
// (an unreadable one is reported).
func readPartial(ctx context.Context, l Log, connector string) (int64, error) {
	b, ok, err := l.Meta(ctx, partialKey(connector))
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("stored partial-transaction count %q of connector %q is damaged: %w", b, connector, ErrCorruption)
	}
	return n, nil
}

// dropItems removes the first n items (events, then messages) of b and
// returns how many it removed.
func dropItems(b *SourceBatch, n int64) int64 {
	dropped := min(n, int64(len(b.Events)))
	b.Events = b.Events[dropped:]
	if m := min(n-dropped, int64(len(b.Messages))); m > 0 {
		b.Messages = b.Messages[m:]
		dropped += m
	}
	return dropped
}

// runSource runs a source task until ctx ends or a fatal error: it opens
// the source at the stored position and pumps batches into the log. A
// retriable failure closes the source and opens it again at the last
// durable position after a backoff, so nothing is skipped or repeated.
func (t *task) runSource(ctx context.Context) error {
	kind := t.c.kind.(SourceKind)
	return t.retrying(ctx, "source", func(ctx context.Context) (bool, error) { return t.sourceOnce(ctx, kind) })
}

// retrying runs once until ctx ends or it fails with an error that is not
// retriable, or errors.retries is used up. Retries back off exponentially;
// a run that made progress resets the count.
func (t *task) retrying(ctx context.Context, what string, once func(context.Context) (bool, error)) error {
	c := t.c
	failures := 0
	for {
		if !t.waitRunning(ctx) {
			return nil
		}
		progressed, err := once(ctx)
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
		t.logger.Warn("connect: "+what+" failed; retrying", "err", err, "retry", failures, "backoff", wait)
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
	src, err := kind.NewSource(c.cfg, Env{Name: c.name, Task: t.id, Logger: t.logger, Previous: t.previousFunc(), ReadTopic: c.r.readTopic})
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
	skip, err := readPartial(ctx, c.r.log, c.name)
	if err != nil {
		return false, err
	}
	if err := src.Open(ctx, pos); err != nil {
		return false, fmt.Errorf("open source: %w", err)
	}
	t.setLive(src) // the admin API may call it now (snapshot.go)
	defer t.setLive(nil)
	var partial int64 = skip // items written after the stored position
	t.detail("last_error", nil)
	conv := newSourceConverter(t)
	async, _ := c.r.log.(AsyncAppender)
	// Writes are queued in order; a settler goroutine waits for each to
	// be durable and only then acknowledges its position, while this
	// loop reads and converts the next batch. The channel bounds the
	// batches in flight.
	type inflight struct {
		wait         func() error
		pos          Position
		events, recs int
		records      []Record
		start        time.Time
	}
	pending := make(chan inflight, 1)
	settleErr := make(chan error, 1)
	var durable atomic.Bool
	settled := make(chan struct{})
	go func() {
		defer close(settled)
		failed := false
		for b := range pending {
			err := b.wait() // always called: it releases the write
			if failed {
				continue
			}
			if err != nil {
				failed = true
				settleErr <- fmt.Errorf("write %d records to the log: %w", b.recs, err)
				continue
			}
			durable.Store(true)
			c.r.metrics.SourceBatch(c.name, t.id, b.events, b.recs, time.Since(b.start))
			sourceRecords(c.r.metrics, c.name, t.id, b.records)
			if b.pos != nil {
				if err := src.Ack(ctx, b.pos); err != nil && ctx.Err() == nil {
					failed = true
					settleErr <- fmt.Errorf("acknowledge position: %w", err)
					continue
				}
			}
		}
	}()
	defer func() {
		close(pending)
		<-settled
		progressed = durable.Load()
		select {
		case serr := <-settleErr:
			if err == nil && ctx.Err() == nil {
				err = serr
			}
		default:
		}
	}()
	// A reader goroutine reads the next batch while this loop converts
	// and queues the one before: the source's decoding and the
	// conversion run on two cores. It is stopped and waited for before
	// the source is closed.
	type read struct {
		batch SourceBatch
		err   error
		pause bool // the connector is pausing: the main loop waits
		stop  bool // ctx ended while paused
	}
	reads := make(chan read, 1)
	rctx, rcancel := context.WithCancel(ctx)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		send := func(r read) bool {
			select {
			case reads <- r:
				return true
			case <-rctx.Done():
				return false
			}
		}
		for {
			if target, _ := c.target(); target != StateRunning {
				// The main loop shows the task PAUSED and waits; so
				// does this goroutine, without reading.
				if !send(read{pause: true}) {
					return
				}
				if !t.awaitRunning(rctx, false) {
					send(read{stop: true})
					return
				}
				continue
			}
			var r read
			r.batch, r.err = src.Read(rctx)
			if !send(r) || r.err != nil {
				return
			}
		}
	}()
	defer func() {
		rcancel()
		<-readerDone
	}()
	for {
		var r read
		select {
		case r = <-reads:
		case <-ctx.Done():
			return false, nil
		}
		if r.stop {
			return false, nil
		}
		if r.err != nil {
			return false, r.err
		}
		// A pause, or a batch read just before one, waits for the
		// resume: a paused task writes nothing.
		if !t.waitRunning(ctx) {
			return false, nil
		}
		if r.pause {
			continue
		}
		batch := r.batch
		if skip > 0 {
			skip -= dropItems(&batch, skip)
		}
		recs, err := conv.records(ctx, batch)
		if err != nil {
			return false, err
		}
		var meta map[string][]byte
		switch n := int64(len(batch.Events) + len(batch.Messages)); {
		case batch.Position != nil:
			meta = map[string][]byte{positionKey(c.name): batch.Position, partialKey(c.name): nil}
			partial, skip = 0, 0
		case n > 0:
			partial += n
			meta = map[string][]byte{partialKey(c.name): strconv.AppendInt(nil, partial, 10)}
		}
		if len(recs) == 0 && meta == nil {
			continue
		}
		start := time.Now()
		var wait func() error
		if async != nil {
			wait, err = async.AppendAsync(ctx, recs, meta)
		} else {
			err = c.r.log.Append(ctx, recs, meta)
			wait = func() error { return nil }
		}
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, fmt.Errorf("write %d records to the log: %w", len(recs), err)
		}
		select {
		case pending <- inflight{wait: wait, pos: batch.Position, events: len(batch.Events), recs: len(recs), records: recs, start: start}:
		case err := <-settleErr:
			wait()
			return false, err
		}
	}
}

// sourceConverter turns a source's batches into records: key changes
// split, envelopes built, transforms applied, converted, tombstones added,
// partitions chosen.
type sourceConverter struct {
	t      *task
	mu     sync.Mutex // guards topics: events convert in parallel
	topics map[string]int32
}

func newSourceConverter(t *task) *sourceConverter {
	return &sourceConverter{t: t, topics: map[string]int32{}}
}

// partitions returns a topic's partition count, creating the topic on
// first use: compacted (TopicDefaults) when its records have keys; a topic
// of keyless records (a table without a primary key) cannot be compacted,
// so it gets cleanup.policy delete, keeping the same week of history. A
// keyed topic gets a key index when the source kind asks for previous
// images of ev's table (PreviousImager).
func (sc *sourceConverter) partitions(ctx context.Context, topic string, keyed bool, ev *ChangeEvent) (int32, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if n, ok := sc.topics[topic]; ok {
		return n, nil
	}
	r := sc.t.c.r
	cfg := r.opts.TopicDefaults
	if !keyed {
		cfg = map[string]string{"cleanup.policy": "delete", "retention.ms": strconv.Itoa(7 * 24 * 3600 * 1000)}
	}
	n, err := r.log.EnsureTopic(ctx, TopicSpec{Name: topic, Config: cfg, KeyIndex: keyed && wantsPreviousImages(sc.t.c.kind, ev)})
	if err != nil {
		return 0, fmt.Errorf("create topic %q: %w", topic, err)
	}
	sc.topics[topic] = n
	return n, nil
}

// parallelMin is the batch size from which a batch's events are converted
// on several goroutines (envelope and encoding dominate a source task's
// CPU, and the order of the records is kept).
const parallelMin = 256

func (sc *sourceConverter) records(ctx context.Context, b SourceBatch) ([]Record, error) {
	workers := runtime.GOMAXPROCS(0)
	if len(b.Events) < parallelMin || workers < 2 {
		out := make([]Record, 0, len(b.Events)+len(b.Messages))
		out, err := sc.convertEvents(ctx, b.Events, out)
		if err != nil {
			return nil, err
		}
		return sc.convertMessages(ctx, b.Messages, out)
	}
	parts := make([][]Record, workers)
	errs := make([]error, workers)
	per := (len(b.Events) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(b.Events))
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[w], errs[w] = sc.convertEvents(ctx, b.Events[lo:hi], make([]Record, 0, hi-lo))
		}()
	}
	wg.Wait()
	n := len(b.Messages)
	for w := range parts {
		if errs[w] != nil {
			return nil, errs[w]
		}
		n += len(parts[w])
	}
	out := make([]Record, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return sc.convertMessages(ctx, b.Messages, out)
}

// convertEvents appends the records of events to out, in order.
func (sc *sourceConverter) convertEvents(ctx context.Context, events []ChangeEvent, out []Record) ([]Record, error) {
	c := sc.t.c
	var err error
	fast := len(c.chain) == 0 && c.conv.Name() == "json"
	var enc eventEncoder
	var lastTopic string // the topic of the last fast record, and its partition count
	var lastN int32
	one := func(ev *ChangeEvent) error {
		if fast && !(ev.Op == OpTruncate && ev.Table != nil && len(ev.Table.Key) > 0) {
			// No transforms, the json converter: write the envelope's
			// bytes straight from the event. An encoding error takes
			// the general path, which reports it.
			if k, v, err := enc.encode(ev); err == nil {
				n := lastN
				if ev.Topic != lastTopic || lastTopic == "" {
					if n, err = sc.partitions(ctx, ev.Topic, k != nil, ev); err != nil {
						return err
					}
					lastTopic, lastN = ev.Topic, n
				}
				p := Partition(k, n)
				out = append(out, Record{Topic: ev.Topic, Partition: p, Key: k, Value: v})
				if ev.Op == OpDelete && c.tombstones() && k != nil {
					out = append(out, Record{Topic: ev.Topic, Partition: p, Key: k})
				}
				return nil
			}
		}
		key, value := Envelope(ev)
		m := Message{Topic: ev.Topic, Key: key, Value: value, Event: ev}
		if ev.Op == OpTruncate && ev.Table != nil && len(ev.Table.Key) > 0 {
			// A truncate concerns every row, so it goes to every
			// partition; the table's topic is compacted, which takes no
			// null key, so its key is the empty struct ({}).
			m.Key = &Struct{Name: ev.Topic + ".Key"}
			out, err = sc.addAll(ctx, &m, out)
			return err
		}
		if out, err = sc.add(ctx, &m, out); err != nil {
			return err
		}
		if ev.Op == OpDelete && c.tombstones() && key != nil {
			m = Message{Topic: ev.Topic, Key: key, Event: ev}
			out, err = sc.add(ctx, &m, out)
		}
		return err
	}
	for i := range events {
		if events[i].Source.Version == "" {
			events[i].Source.Version = c.r.opts.Version
		}
		if !KeyChanged(&events[i]) {
			if err := one(&events[i]); err != nil {
				return nil, err
			}
			continue
		}
		split := SplitKeyChange(&events[i])
		for j := range split {
			if err := one(&split[j]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// InternalTopicPrefix starts the names of the topics sluice keeps for
// itself (a source's schema history): the connector's transforms do not
// apply to messages bound for them, so a route or filter meant for the
// change events cannot move or drop them.
const InternalTopicPrefix = "__sluice."

func (sc *sourceConverter) convertMessages(ctx context.Context, msgs []Message, out []Record) ([]Record, error) {
	var err error
	for i := range msgs {
		m := msgs[i]
		if strings.HasPrefix(m.Topic, InternalTopicPrefix) {
			out, err = sc.addInternal(ctx, &m, out)
		} else {
			out, err = sc.add(ctx, &m, out)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// addInternal converts a message bound for an internal topic, without
// transforms, and appends its record to out.
func (sc *sourceConverter) addInternal(ctx context.Context, m *Message, out []Record) ([]Record, error) {
	k, v, err := sc.t.c.conv.Encode(m)
	if err != nil {
		return out, Fatal(fmt.Errorf("encode a record of internal topic %q: %w", m.Topic, err))
	}
	n, err := sc.partitions(ctx, m.Topic, k != nil, nil)
	if err != nil {
		return out, err
	}
	return append(out, Record{Topic: m.Topic, Partition: Partition(k, n), Timestamp: m.Timestamp, Key: k, Value: v, Headers: m.Headers}), nil
}

// add transforms and converts one message and appends its record to out.
func (sc *sourceConverter) add(ctx context.Context, m *Message, out []Record) ([]Record, error) {
	return sc.addTo(ctx, m, out, false)
}

// addAll transforms and converts one message and appends a copy of its
// record for every partition of its topic to out.
func (sc *sourceConverter) addAll(ctx context.Context, m *Message, out []Record) ([]Record, error) {
	return sc.addTo(ctx, m, out, true)
}

func (sc *sourceConverter) addTo(ctx context.Context, m *Message, out []Record, every bool) ([]Record, error) {
	c := sc.t.c
	m, err := c.chain.Apply(m)
	if err != nil {
		return out, sc.tolerate("transform", m, err)
	}
	if m == nil {
		return out, nil
	}
	k, v, err := c.conv.Encode(m)
	if err != nil {
		return out, sc.tolerate("converter", m, err)
	}
	n, err := sc.partitions(ctx, m.Topic, k != nil, m.Event)
	if err != nil {
		return out, err
	}
	rec := Record{Topic: m.Topic, Partition: Partition(k, n), Timestamp: m.Timestamp, Key: k, Value: v, Headers: m.Headers}
	if !every {
		return append(out, rec), nil
	}
	for p := range n {
		rec.Partition = p
		out = append(out, rec)
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
