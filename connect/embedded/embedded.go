// Package embedded is connect.Log over the embedded log of this node.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-cdc/sluice/connect"
	sluicelog "github.com/sluice-cdc/sluice/log"
)

// Log is connect.Log over the node's embedded log.
type Log struct {
	log               *sluicelog.Log
	defaultPartitions int32
	replicationFactor int16
}

// New returns connect.Log over l; topics the runtime creates get
// partitions and replicationFactor (the node's defaults).
func New(l *sluicelog.Log, partitions int32, replicationFactor int16) *Log {
	if partitions < 1 {
		partitions = 1
	}
	if replicationFactor < 1 {
		replicationFactor = 1
	}
	return &Log{log: l, defaultPartitions: partitions, replicationFactor: replicationFactor}
}

var (
	_ connect.Log           = (*Log)(nil)
	_ connect.AsyncAppender = (*Log)(nil)
	_ connect.KeyLookup     = (*Log)(nil)
)

func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sluicelog.ErrUnknownTopic):
		return fmt.Errorf("%w: %w", connect.ErrUnknownTopic, err)
	case errors.Is(err, sluicelog.ErrOffsetOutOfRange):
		return fmt.Errorf("%w: %w", connect.ErrOffsetOutOfRange, err)
	case errors.Is(err, sluicelog.ErrFailed), errors.Is(err, sluicelog.ErrCorrupt):
		return connect.Fatal(err)
	case errors.Is(err, sluicelog.ErrInvalidRecord), errors.Is(err, sluicelog.ErrRecordTooLarge):
		return connect.Fatal(err) // writing the same records again cannot help
	case errors.Is(err, sluicelog.ErrClosed):
		return connect.Retriable(err)
	case errors.Is(err, sluicelog.ErrNoKeyIndex):
		return fmt.Errorf("%w: %w", connect.ErrNoKeyIndex, err)
	}
	return err
}

// EnsureTopic creates the topic when absent. An existing topic is given a
// key index when spec asks for one and it has none: its records are
// indexed once (log.EnableKeyIndex).
func (e *Log) EnsureTopic(ctx context.Context, spec connect.TopicSpec) (int32, error) {
	if info, err := e.log.Topic(spec.Name); err == nil {
		if spec.KeyIndex && !info.KeyIndex {
			if err := e.log.EnableKeyIndex(spec.Name); err != nil {
				return 0, mapErr(err)
			}
		}
		return info.Partitions, nil
	}
	parts := spec.Partitions
	if parts <= 0 {
		parts = e.defaultPartitions
	}
	info, err := e.log.CreateTopic(sluicelog.TopicSpec{Name: spec.Name, Partitions: parts, ReplicationFactor: e.replicationFactor, Config: spec.Config, KeyIndex: spec.KeyIndex})
	if errors.Is(err, sluicelog.ErrTopicExists) {
		info, err = e.log.Topic(spec.Name)
	}
	if err != nil {
		return 0, mapErr(err)
	}
	return info.Partitions, nil
}

func (e *Log) Partitions(ctx context.Context, topic string) (int32, error) {
	info, err := e.log.Topic(topic)
	if err != nil {
		return 0, mapErr(err)
	}
	return info.Partitions, nil
}

func (e *Log) Topics() []string {
	var out []string
	for _, t := range e.log.Topics() {
		out = append(out, t.Name)
	}
	return out
}

func (e *Log) Append(ctx context.Context, records []connect.Record, meta map[string][]byte) error {
	wait, err := e.AppendAsync(ctx, records, meta)
	if err != nil {
		return err
	}
	return wait()
}

// AppendAsync implements connect.AsyncAppender.
func (e *Log) AppendAsync(ctx context.Context, records []connect.Record, meta map[string][]byte) (func() error, error) {
	var w sluicelog.Write
	type tp struct {
		topic string
		part  int32
	}
	idx := map[tp]int{}
	for i := range records {
		r := &records[i]
		k := tp{r.Topic, r.Partition}
		j, ok := idx[k]
		if !ok {
			j = len(w.Records)
			idx[k] = j
			w.Records = append(w.Records, sluicelog.PartitionRecords{Topic: r.Topic, Partition: r.Partition})
		}
		rec := sluicelog.Record{Timestamp: r.Timestamp, Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			rec.Headers = append(rec.Headers, sluicelog.Header{Key: h.Key, Value: h.Value})
		}
		w.Records[j].Records = append(w.Records[j].Records, rec)
	}
	for k, v := range meta {
		w.Meta = append(w.Meta, sluicelog.MetaEntry{Key: k, Value: v})
	}
	if len(w.Records) == 0 && len(w.Meta) == 0 {
		return func() error { return nil }, nil
	}
	p, err := e.log.AppendAsync(ctx, w)
	if err != nil {
		return nil, mapErr(err)
	}
	return func() error {
		_, err := p.Wait()
		return mapErr(err)
	}, nil
}

func (e *Log) Meta(ctx context.Context, key string) ([]byte, bool, error) {
	v, ok, err := e.log.Meta(key)
	return v, ok, mapErr(err)
}

func (e *Log) Fetch(ctx context.Context, topic string, partition int32, offset int64, maxBytes int) ([]connect.Record, int64, error) {
	res, err := e.log.Read(topic, partition, offset, sluicelog.ReadOptions{MaxBytes: maxBytes})
	if err != nil {
		return nil, offset, mapErr(err)
	}
	var out []connect.Record
	next := offset
	var recs []sluicelog.Record
	for _, b := range res.Batches {
		recs, err = b.AppendRecords(recs[:0])
		if err != nil {
			return nil, offset, connect.Fatal(fmt.Errorf("topic %q partition %d offset %d: %w", topic, partition, b.BaseOffset, err))
		}
		for _, r := range recs {
			if r.Offset < offset {
				continue
			}
			cr := connect.Record{Topic: topic, Partition: partition, Offset: r.Offset, Timestamp: r.Timestamp, Key: r.Key, Value: r.Value}
			for _, h := range r.Headers {
				cr.Headers = append(cr.Headers, connect.Header{Key: h.Key, Value: h.Value})
			}
			out = append(out, cr)
		}
		next = b.LastOffset + 1
	}
	return out, next, nil
}

func (e *Log) Offsets(ctx context.Context, topic string, partition int32) (int64, int64, error) {
	st, err := e.log.State(topic, partition)
	if err != nil {
		return 0, 0, mapErr(err)
	}
	return st.LogStartOffset, st.HighWatermark, nil
}

func (e *Log) Wait(ctx context.Context, topic string, partition int32, offset int64, d time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_ = e.log.WaitForData(ctx, topic, partition, offset)
}

func (e *Log) CommitOffsets(ctx context.Context, group string, offsets []connect.GroupOffset) error {
	offs := make([]sluicelog.GroupOffset, len(offsets))
	for i, o := range offsets {
		offs[i] = sluicelog.GroupOffset{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset, LeaderEpoch: -1}
	}
	return mapErr(e.log.CommitOffsets(group, offs))
}

func (e *Log) FetchOffsets(ctx context.Context, group string) ([]connect.GroupOffset, error) {
	offs, err := e.log.FetchOffsets(group)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]connect.GroupOffset, len(offs))
	for i, o := range offs {
		out[i] = connect.GroupOffset{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset}
	}
	return out, nil
}

func (e *Log) DeleteOffsets(ctx context.Context, group string) error {
	return mapErr(e.log.DeleteGroupOffsets(group))
}

// Latest implements connect.KeyLookup with the log's key index.
func (e *Log) Latest(ctx context.Context, topic string, partition int32, key []byte) (connect.Record, bool, error) {
	r, ok, err := e.log.Latest(topic, partition, key)
	if err != nil || !ok {
		return connect.Record{}, false, mapErr(err)
	}
	cr := connect.Record{Topic: topic, Partition: partition, Offset: r.Offset, Timestamp: r.Timestamp, Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		cr.Headers = append(cr.Headers, connect.Header{Key: h.Key, Value: h.Value})
	}
	return cr, true, nil
}
