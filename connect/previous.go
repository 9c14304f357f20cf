package connect

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// PreviousImager is an optional interface of a SourceKind whose sources
// call Env.Previous (the postgres source, to fill unchanged TOAST values).
// When PreviousImages returns true the runtime creates the topics of the
// kind's tasks with a key index (TopicSpec.KeyIndex), which is what lets
// the log answer Previous, and gives the tasks an Env.Previous when the
// log has the KeyLookup feature. A topic that already exists without one
// is given a key index (EnsureTopic) when the task first writes to it, or
// first looks a row of it up.
//
// A key index costs every append a pebble entry per record (about
// 0.5 µs of CPU per record, see log's BenchmarkAppendKeyIndex). A kind
// whose sources look up the rows of only some tables (for the postgres
// source, the tables with columns that can be TOASTed) can also implement
// TablePreviousImager, so that only those tables' topics get one.
type PreviousImager interface {
	PreviousImages() bool
}

// TablePreviousImager is an optional refinement of PreviousImager: a
// topic gets a key index when it is created only if PreviousImagesOf is
// true for the table of the event that creates it. (If a source then looks
// up a row of another table's topic, Env.Previous gives that topic an
// index on the spot, at the cost of one scan of it.)
type TablePreviousImager interface {
	PreviousImagesOf(t *Table) bool
}

// wantsPreviousImages reports whether a connector kind asks for previous
// images, of ev's table when ev is set.
func wantsPreviousImages(k ConnectorKind, ev *ChangeEvent) bool {
	p, ok := k.(PreviousImager)
	if !ok || !p.PreviousImages() {
		return false
	}
	if tp, ok := k.(TablePreviousImager); ok && ev != nil && ev.Table != nil {
		return tp.PreviousImagesOf(ev.Table)
	}
	return true
}

// previousFunc returns the task's Env.Previous, or nil when the source
// kind does not ask for it or the log cannot answer.
func (t *task) previousFunc() func(ctx context.Context, ev *ChangeEvent) ([]Value, bool, error) {
	kl, ok := t.c.r.log.(KeyLookup)
	if !ok || !wantsPreviousImages(t.c.kind, nil) {
		return nil
	}
	f := &previousFinder{t: t, kl: kl, parts: map[string]int32{}, tried: map[string]bool{}, noIndex: map[string]bool{}}
	return f.previous
}

// previousFinder answers Env.Previous for one run of a source task. It is
// safe for concurrent use.
type previousFinder struct {
	t  *task
	kl KeyLookup

	mu      sync.Mutex
	parts   map[string]int32 // partition counts of topics seen
	tried   map[string]bool  // topics ensureIndex was tried on
	noIndex map[string]bool  // topics without a key index, logged once
}

// previous implements Env.Previous (see its contract in registry.go).
//
// It builds the record ev would become as the source task does
// (Envelope, the connector's transforms, its converter for the key, the
// partitioner), looks up that key's latest record, and reads the row
// image back from its value with the connector's converter: the
// envelope's "after" (the json-schema converter's "payload"'s "after"),
// or, after an unwrap transform, the value itself.
//
// The key is that of the row ev changes: for an update that changes the
// key, the row under its old key (ev.Before's); for a delete, its
// ev.Before's. The record is built as an update carrying that row, so
// that transforms which drop deletes (unwrap) still let its key through.
// It carries the row as ev has it (unchanged TOAST values null), so a
// filter that looks at such a column may decide otherwise than it did for
// the record written.
//
// found is false, with no error, when there is no such record or it
// cannot be read back whole: a delete or a tombstone is the latest
// record; a transform drops the record, or drops, masks or overwrites one
// of the table's columns (drop, mask, insert and unwrap fields named like
// a column); a column's JSON does not read back as its kind (the column's
// type changed since; see decodeJSONValue for what reads back); the
// topic has no key index and the log could not give it one. An error is
// the log's.
//
// Transforms that drop a delete and its tombstone (unwrap's defaults,
// delete_handling drop with drop_tombstones; a filter on ops) leave no
// record of it: the row's last image before the delete is still found.
func (f *previousFinder) previous(ctx context.Context, ev *ChangeEvent) ([]Value, bool, error) {
	c := f.t.c
	if ev == nil || ev.Table == nil || len(ev.Table.Key) == 0 || ev.Op == OpTruncate {
		return nil, false, nil
	}
	probe := *ev
	probe.Before = nil
	switch {
	case ev.Op == OpDelete:
		probe.Op, probe.After = OpUpdate, ev.Before
	case KeyChanged(ev):
		probe.After = ev.Before
	}
	if probe.After == nil {
		return nil, false, nil
	}
	key, value := Envelope(&probe)
	m, err := c.chain.Apply(&Message{Topic: probe.Topic, Key: key, Value: value, Event: &probe})
	if err != nil || m == nil || m.Key == nil {
		return nil, false, nil // such a record is never written
	}
	if f.changesColumns(m) {
		return nil, false, nil
	}
	k, _, err := c.conv.Encode(&Message{Topic: m.Topic, Key: m.Key, Event: m.Event})
	if err != nil || k == nil {
		return nil, false, nil
	}
	n, ok, err := f.partitions(ctx, m.Topic)
	if err != nil || !ok {
		return nil, false, err
	}
	rec, found, err := f.kl.Latest(ctx, m.Topic, Partition(k, n), k)
	if errors.Is(err, ErrNoKeyIndex) && f.ensureIndex(ctx, m.Topic) {
		rec, found, err = f.kl.Latest(ctx, m.Topic, Partition(k, n), k)
	}
	if errors.Is(err, ErrNoKeyIndex) {
		f.warnNoIndex(m.Topic)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("look up the latest record of a key in topic %q: %w", m.Topic, err)
	}
	if !found || rec.Value == nil {
		return nil, false, nil
	}
	after, ok := readImage(c.conv, &rec, ev.Table, c.chain.unwraps())
	return after, ok, nil
}

// partitions returns a topic's partition count; ok is false when the
// topic does not exist (nothing was ever written to it).
func (f *previousFinder) partitions(ctx context.Context, topic string) (int32, bool, error) {
	f.mu.Lock()
	n, ok := f.parts[topic]
	f.mu.Unlock()
	if ok {
		return n, true, nil
	}
	n, err := f.t.c.r.log.Partitions(ctx, topic)
	if errors.Is(err, ErrUnknownTopic) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("partitions of topic %q: %w", topic, err)
	}
	f.mu.Lock()
	f.parts[topic] = n
	f.mu.Unlock()
	return n, true, nil
}

// ensureIndex asks the log, once per topic, to give an existing topic
// that was created without one a key index (as the source task does when
// it first writes to it), and reports whether it asked.
func (f *previousFinder) ensureIndex(ctx context.Context, topic string) bool {
	f.mu.Lock()
	tried := f.tried[topic]
	f.tried[topic] = true // not again, whatever happens
	f.mu.Unlock()
	if tried {
		return false
	}
	r := f.t.c.r
	if _, err := r.log.EnsureTopic(ctx, TopicSpec{Name: topic, Config: r.opts.TopicDefaults, KeyIndex: true}); err != nil {
		f.t.logger.Warn("connect: could not give a topic a key index", "topic", topic, "err", err)
		return false
	}
	return true
}

func (f *previousFinder) warnNoIndex(topic string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noIndex[topic] {
		return
	}
	f.noIndex[topic] = true
	f.t.logger.Warn("connect: topic has no key index, so the previous images of its rows cannot be read back; "+
		"the log cannot give it one (see the error logged before)",
		"topic", topic)
}

// changesColumns reports whether the connector's transforms drop, mask
// or overwrite a column of m's table: its image could not be read back
// as it was.
func (f *previousFinder) changesColumns(m *Message) bool {
	cols := m.Event.Table.Columns
	for _, tr := range f.t.c.chain {
		var hit func(name string) bool
		switch x := tr.(type) {
		case *drop:
			hit = x.cols.matcher(m).match
		case *mask:
			hit = x.cols.matcher(m).match
		case *insert:
			hit = func(name string) bool {
				for _, s := range x.static {
					if s.Name == name {
						return true
					}
				}
				for _, mf := range x.fields {
					if mf.name == name {
						return true
					}
				}
				return false
			}
		case *unwrap:
			hit = func(name string) bool {
				for _, mf := range x.fields {
					if mf.name == name {
						return true
					}
				}
				return x.deletes == "rewrite" && name == "__deleted"
			}
		default: // filter and route leave columns alone
			continue
		}
		for i := range cols {
			if hit(cols[i].Name) {
				return true
			}
		}
	}
	return false
}

// unwraps reports whether the chain unwraps envelopes into rows.
func (c Chain) unwraps() bool {
	for _, t := range c {
		if _, ok := t.(*unwrap); ok {
			return true
		}
	}
	return false
}

// readImage reads the row image of table out of a record's value, as the
// converter conv wrote it: an envelope's "after", or with unwrapped the
// value itself. ok is false when the value holds no row (a delete, a
// rewritten delete) or a column is missing or does not read back.
func readImage(conv Converter, rec *Record, table *Table, unwrapped bool) ([]Value, bool) {
	body := rec.Value
	jsonAsString := false
	var ms [32]member
	switch conv.(type) {
	case jsonConverter, rawConverter: // raw encodes like json
	case jsonSchemaConverter:
		top, err := scanObject(body, ms[:0])
		payload, ok := lookup(top, 1, "payload")
		if err != nil || !ok {
			return nil, false
		}
		body, jsonAsString = payload, true
	default:
		return nil, false
	}
	if !unwrapped {
		env, err := scanObject(body, ms[:0])
		if err != nil {
			return nil, false
		}
		op, _ := lookup(env, 3, "op")
		if string(op) == `"d"` || string(op) == `"t"` || op == nil {
			return nil, false
		}
		if body, _ = lookup(env, 1, "after"); body == nil {
			return nil, false
		}
	}
	row, err := scanObject(body, ms[:0])
	if err != nil { // also "after": null
		return nil, false
	}
	if deleted, _ := lookup(row, len(row)-1, "__deleted"); unwrapped && string(deleted) == `"true"` {
		return nil, false
	}
	out := make([]Value, len(table.Columns))
	for i := range table.Columns {
		col := &table.Columns[i]
		raw, ok := lookup(row, i, col.Name)
		if !ok {
			return nil, false
		}
		v, err := decodeJSONValue(raw, col, jsonAsString)
		if err != nil {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}
