package connect

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// ErrOffsetOutOfRange is returned by Log.Fetch for an offset the log no
// longer (or not yet) has.
var ErrOffsetOutOfRange = errors.New("offset out of range")

// ErrUnknownTopic is returned by Log for a topic that does not exist.
var ErrUnknownTopic = errors.New("unknown topic")

// group is a sink connector's consumer group, as Kafka Connect names it.
func group(connector string) string { return "connect-" + connector }

type topicPartition struct {
	topic     string
	partition int32
}

// sinkFetchBytes bounds one partition fetch of a sink task.
const sinkFetchBytes = 1 << 20

// runSink runs a sink task: it reads its share of the connector's topic
// partitions from the committed offsets (the earliest offset when there
// are none), hands batches to the sink in partition order, and commits the
// offsets after each batch returns.
func (t *task) runSink(ctx context.Context) error {
	kind := t.c.kind.(SinkKind)
	return t.retrying(ctx, "sink", func(ctx context.Context) (bool, error) { return t.sinkOnce(ctx, kind) })
}

func (t *task) sinkOnce(ctx context.Context, kind SinkKind) (progressed bool, err error) {
	c := t.c
	sink, err := kind.NewSink(c.cfg, Env{Name: c.name, Task: t.id, Logger: t.logger})
	if err != nil {
		return false, Fatal(fmt.Errorf("build sink: %w", err))
	}
	defer sink.Close()
	if st, ok := sink.(Status); ok {
		t.mu.Lock()
		t.mu.status = st
		t.mu.Unlock()
	}
	if err := sink.Open(ctx); err != nil {
		return false, fmt.Errorf("open sink: %w", err)
	}
	t.detail("last_error", nil)
	s := &sinkState{t: t, sink: sink, pos: map[topicPartition]int64{}}
	if err := s.assign(ctx); err != nil {
		return false, err
	}
	// Topics may appear and grow partitions later: look again every few
	// seconds, and often while a topic is still missing.
	refreshEvery := func() time.Duration {
		if len(s.assigned) == 0 || s.waiting {
			return 100 * time.Millisecond
		}
		return 5 * time.Second
	}
	refresh := time.Now().Add(refreshEvery())
	for {
		if !t.waitRunning(ctx) {
			return progressed, nil
		}
		if time.Now().After(refresh) {
			if err := s.assign(ctx); err != nil {
				return progressed, err
			}
			refresh = time.Now().Add(refreshEvery())
		}
		batch, next, err := s.fetch(ctx)
		if err != nil {
			return progressed, err
		}
		if len(batch) == 0 {
			s.wait(ctx)
			continue
		}
		if err := s.deliver(ctx, batch); err != nil {
			return progressed, err
		}
		if err := s.commit(ctx, next); err != nil {
			return progressed, err
		}
		progressed = true
	}
}

// sinkState is a sink task's assignment and read positions.
type sinkState struct {
	t        *task
	sink     Sink
	assigned []topicPartition
	// waiting is true while one of the topics does not exist yet.
	waiting bool
	pos     map[topicPartition]int64
	rr      int // round-robin start among assigned
}

// assign computes the task's partitions: every partition of the
// connector's topics (and topics_regex matches), sorted, dealt round robin
// over the tasks. New partitions start at their committed offset, else at
// the earliest offset (start_from: latest: at the end).
func (s *sinkState) assign(ctx context.Context) error {
	c := s.t.c
	r := c.r
	topics := append([]string(nil), c.cfg.Topics...)
	if c.cfg.TopicsRegex != "" {
		re, err := regexp.Compile("^(?:" + c.cfg.TopicsRegex + ")$")
		if err != nil {
			return Fatal(fmt.Errorf("topics_regex: %w", err))
		}
		if lister, ok := r.log.(interface{ Topics() []string }); ok {
			for _, tp := range lister.Topics() {
				if re.MatchString(tp) {
					topics = append(topics, tp)
				}
			}
		}
	}
	var all []topicPartition
	s.waiting = false
	s.t.detail("waiting_for_topic", nil)
	for _, topic := range topics {
		n, err := r.log.Partitions(ctx, topic)
		if errors.Is(err, ErrUnknownTopic) {
			s.waiting = true
			s.t.detail("waiting_for_topic", topic)
			continue
		}
		if err != nil {
			return err
		}
		for p := int32(0); p < n; p++ {
			all = append(all, topicPartition{topic, p})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].topic != all[j].topic {
			return all[i].topic < all[j].topic
		}
		return all[i].partition < all[j].partition
	})
	var mine []topicPartition
	for i, tp := range all {
		if i%c.ntasks == s.t.id {
			mine = append(mine, tp)
		}
	}
	committed, err := r.log.FetchOffsets(ctx, group(c.name))
	if err != nil {
		return fmt.Errorf("read committed offsets of group %q: %w", group(c.name), err)
	}
	comm := map[topicPartition]int64{}
	for _, o := range committed {
		comm[topicPartition{o.Topic, o.Partition}] = o.Offset
	}
	for _, tp := range mine {
		if _, ok := s.pos[tp]; ok {
			continue
		}
		if off, ok := comm[tp]; ok {
			s.pos[tp] = off
			continue
		}
		start, end, err := r.log.Offsets(ctx, tp.topic, tp.partition)
		if err != nil {
			return err
		}
		if c.cfg.StartFrom == "latest" {
			start = end
		}
		s.pos[tp] = start
	}
	s.assigned = mine
	s.t.detail("partitions", len(mine))
	return nil
}

// fetch reads up to the batch limit from the assigned partitions, round
// robin, each partition's records in offset order. next holds each read
// partition's next offset.
func (s *sinkState) fetch(ctx context.Context) ([]Record, map[topicPartition]int64, error) {
	r := s.t.c.r
	var batch []Record
	next := map[topicPartition]int64{}
	n := len(s.assigned)
	for i := 0; i < n && len(batch) < r.opts.SinkBatch; i++ {
		tp := s.assigned[(s.rr+i)%n]
		off := s.pos[tp]
		recs, nx, err := r.log.Fetch(ctx, tp.topic, tp.partition, off, sinkFetchBytes)
		if errors.Is(err, ErrOffsetOutOfRange) {
			start, end, oerr := r.log.Offsets(ctx, tp.topic, tp.partition)
			if oerr != nil {
				return nil, nil, oerr
			}
			reset := start
			if off > end {
				reset = end
			}
			s.t.logger.Warn("connect: committed offset is out of range; resetting", "topic", tp.topic, "partition", tp.partition, "offset", off, "reset_to", reset)
			s.pos[tp] = reset
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if len(recs) > r.opts.SinkBatch-len(batch) {
			recs = recs[:r.opts.SinkBatch-len(batch)]
			nx = recs[len(recs)-1].Offset + 1
		}
		batch = append(batch, recs...)
		if nx != off {
			next[tp] = nx
		}
	}
	s.rr++
	return batch, next, nil
}

// wait blocks briefly until one of the partitions may have new records.
func (s *sinkState) wait(ctx context.Context) {
	r := s.t.c.r
	if len(s.assigned) == 0 {
		// Waiting for the topics to appear; assign looks again soon.
		sleep(ctx, 100*time.Millisecond)
		return
	}
	if len(s.assigned) == 1 {
		tp := s.assigned[0]
		r.log.Wait(ctx, tp.topic, tp.partition, s.pos[tp], time.Second)
		return
	}
	// Several partitions: a short poll keeps the code simple; the log
	// wait of one partition would starve the others.
	sleep(ctx, 50*time.Millisecond)
}

// deliver writes a batch to the sink, retrying retriable failures; when
// they persist past errors.retries, errors.tolerance decides: none fails
// the task, all sends the batch to the dead-letter topic (or logs and
// skips it when there is none).
func (s *sinkState) deliver(ctx context.Context, batch []Record) error {
	c := s.t.c
	start := time.Now()
	for attempt := 0; ; attempt++ {
		err := s.sink.Write(ctx, batch)
		if err == nil {
			c.r.metrics.SinkBatch(c.name, s.t.id, len(batch), time.Since(start))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.r.metrics.Error(c.name, s.t.id, "sink")
		lim := c.cfg.Errors.Retries
		if IsRetriable(err) && (lim < 0 || attempt < lim) {
			c.r.metrics.Retry(c.name, s.t.id)
			s.t.detail("last_error", err.Error())
			wait := c.r.backoff(attempt)
			s.t.logger.Warn("connect: sink write failed; retrying", "err", err, "retry", attempt+1, "backoff", wait)
			if !sleep(ctx, wait) {
				return ctx.Err()
			}
			continue
		}
		if c.cfg.Errors.Tolerance != "all" {
			return fmt.Errorf("deliver %d records (from %s[%d]@%d): %w", len(batch), batch[0].Topic, batch[0].Partition, batch[0].Offset, err)
		}
		return s.deadLetter(ctx, batch, "sink", err)
	}
}

// deadLetter writes records to the connector's dead-letter topic with the
// error, the stage and the original topic, partition and offset in
// headers (Kafka Connect's header names), or logs them when the connector
// has no dead-letter topic.
func (s *sinkState) deadLetter(ctx context.Context, batch []Record, stage string, cause error) error {
	c := s.t.c
	dlq := c.cfg.Errors.DeadLetterTopic
	if dlq == "" {
		for _, rec := range batch {
			s.t.logger.Error("connect: skipping a record (errors.tolerance: all, no dead-letter topic)", "stage", stage, "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", cause)
		}
		s.t.detail("skipped_records", s.t.skipped.Add(int64(len(batch))))
		return nil
	}
	n, err := c.r.log.EnsureTopic(ctx, TopicSpec{Name: dlq})
	if err != nil {
		return fmt.Errorf("create dead-letter topic %q: %w", dlq, err)
	}
	out := make([]Record, len(batch))
	for i, rec := range batch {
		h := append([]Header(nil), rec.Headers...)
		h = append(h,
			Header{"__connect.errors.topic", []byte(rec.Topic)},
			Header{"__connect.errors.partition", []byte(strconv.Itoa(int(rec.Partition)))},
			Header{"__connect.errors.offset", []byte(strconv.FormatInt(rec.Offset, 10))},
			Header{"__connect.errors.connector.name", []byte(c.name)},
			Header{"__connect.errors.task.id", []byte(strconv.Itoa(s.t.id))},
			Header{"__connect.errors.stage", []byte(stage)},
			Header{"__connect.errors.class.name", []byte(Class(cause))},
			Header{"__connect.errors.exception.message", []byte(cause.Error())},
		)
		out[i] = Record{Topic: dlq, Partition: Partition(rec.Key, n), Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp, Headers: h}
	}
	if err := c.r.log.Append(ctx, out, nil); err != nil {
		return fmt.Errorf("write %d records to dead-letter topic %q: %w", len(out), dlq, err)
	}
	c.r.metrics.DeadLettered(c.name, s.t.id, len(out))
	s.t.detail("dead_lettered_records", s.t.skipped.Add(int64(len(out))))
	s.t.logger.Warn("connect: records sent to the dead-letter topic", "topic", dlq, "records", len(out), "stage", stage, "err", cause)
	return nil
}

// commit stores the offsets after a delivered batch and reports lag.
func (s *sinkState) commit(ctx context.Context, next map[topicPartition]int64) error {
	c := s.t.c
	offs := make([]GroupOffset, 0, len(next))
	for tp, off := range next {
		offs = append(offs, GroupOffset{Topic: tp.topic, Partition: tp.partition, Offset: off})
	}
	if err := c.r.log.CommitOffsets(ctx, group(c.name), offs); err != nil {
		return fmt.Errorf("commit offsets of group %q: %w", group(c.name), err)
	}
	for tp, off := range next {
		s.pos[tp] = off
		if _, end, err := c.r.log.Offsets(ctx, tp.topic, tp.partition); err == nil {
			c.r.metrics.SinkLag(c.name, tp.topic, tp.partition, end-off)
		}
	}
	return nil
}
