package connecttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connect"
)

// SourceHarness describes a source kind to RunSource.
type SourceHarness struct {
	Kind connect.SourceKind
	// Config returns a valid config block (the YAML under "config:", see
	// the package doc) for a fresh, isolated instance: its own database,
	// slot, tables.
	Config func(t *testing.T) string
	// BadConfigs maps config blocks to the field the problem must name:
	// "rate", or a path within the block such as "columns[0].type".
	BadConfigs map[string]string
	// Produce makes the instance's database commit n new changes. Nil for a
	// source that emits by itself (datagen).
	Produce func(t *testing.T, n int)
	// Identity returns a stable id of an event (table, key and version, or
	// a sequence number) that no other event of the instance has.
	Identity func(ev connect.ChangeEvent) string
	// Unreachable, when set, returns a config block whose database cannot
	// be reached (a closed port): Open or Read must fail with a classed
	// error.
	Unreachable func(t *testing.T) string
	// Nondeterministic says that the events after a position may differ
	// between two runs resumed there; the resume check then only asks
	// that nothing from before the position comes again. Default: false,
	// the events after a position are the same in every run.
	Nondeterministic bool
	// Events is how many events the resume check reads before it takes a
	// position. Default: 40.
	Events int
	// Timeout bounds each subtest's waiting for events. Default: 1m.
	Timeout time.Duration
}

// garbagePosition is no position of any source.
var garbagePosition = connect.Position("\x00connecttest: not a position \xff")

// RunSource runs the acceptance suite against h (see the package doc).
func RunSource(t *testing.T, h SourceHarness) {
	if h.Kind == nil || h.Config == nil || h.Identity == nil {
		t.Fatal("SourceHarness needs Kind, Config and Identity")
	}
	if h.Events <= 0 {
		h.Events = 40
	}
	if h.Timeout <= 0 {
		h.Timeout = time.Minute
	}
	t.Run("config/valid", func(t *testing.T) { checkValidConfig(t, h.Kind, h.Config(t)) })
	checkBadConfigs(t, h.Kind, h.BadConfigs)
	t.Run("resume", func(t *testing.T) { sourceResume(t, h) })
	t.Run("cancel", func(t *testing.T) { sourceCancel(t, h) })
	t.Run("bad_position", func(t *testing.T) { sourceBadPosition(t, h) })
	if h.Unreachable != nil {
		t.Run("unreachable", func(t *testing.T) { sourceUnreachable(t, h) })
	}
}

// newSource builds an instance of the harness's kind from block.
func newSource(t *testing.T, h SourceHarness, block string) connect.Source {
	t.Helper()
	c := Connector(t, h.Kind, block)
	src, err := h.Kind.NewSource(c, Env(t))
	if err != nil {
		t.Fatalf("NewSource: %v", err)
	}
	return src
}

// boundary is a batch boundary: the position after the first n events.
type boundary struct {
	n   int
	pos connect.Position
}

// run reads one instance of a source, keeping what it read.
type run struct {
	t        *testing.T
	h        SourceHarness
	src      connect.Source
	ids      []string
	seen     map[string]int // identity → index in ids
	bounds   []boundary
	produced int // changes asked of Produce
	bad      int // malformed events reported
}

func newRun(t *testing.T, h SourceHarness, src connect.Source) *run {
	return &run{t: t, h: h, src: src, seen: map[string]int{}}
}

// readUntil reads batches until done says so, producing more changes
// whenever everything produced has been read. It fails the test at ctx's
// end.
func (r *run) readUntil(ctx context.Context, what string, done func() bool) {
	t := r.t
	t.Helper()
	for !done() {
		if r.h.Produce != nil && len(r.ids) >= r.produced {
			r.h.Produce(t, r.h.Events)
			r.produced += r.h.Events
		}
		b, err := r.src.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("waiting for %s: read %d events in %d positioned batches before the deadline (%v): Read: %v", what, len(r.ids), len(r.bounds), r.h.Timeout, err)
			}
			t.Fatalf("waiting for %s: Read after %d events: %v (class %s)", what, len(r.ids), err, connect.Class(err))
		}
		for _, ev := range b.Events {
			r.event(ev)
		}
		if b.Position != nil {
			r.bounds = append(r.bounds, boundary{n: len(r.ids), pos: b.Position})
		}
	}
}

// event checks one event and records its identity.
func (r *run) event(ev connect.ChangeEvent) {
	id := r.h.Identity(ev)
	where := fmt.Sprintf("event %d (%s)", len(r.ids), id)
	if msg := malformed(ev); msg != "" {
		r.complain("%s: %s", where, msg)
	}
	if id == "" {
		r.complain("%s: Identity returned an empty id", where)
	}
	if prev, dup := r.seen[id]; dup {
		r.complain("%s: duplicate of event %d", where, prev)
	}
	r.seen[id] = len(r.ids)
	r.ids = append(r.ids, id)
}

// complain reports a problem with an event, up to a limit.
func (r *run) complain(format string, args ...any) {
	r.t.Helper()
	r.bad++
	switch {
	case r.bad <= 10:
		r.t.Errorf(format, args...)
	case r.bad == 11:
		r.t.Errorf("... further event problems not shown")
	}
}

// malformed says what is wrong with ev's shape, or "".
func malformed(ev connect.ChangeEvent) string {
	if ev.Table == nil {
		return "no Table"
	}
	if ev.Topic == "" {
		return "no Topic"
	}
	n := len(ev.Table.Columns)
	if ev.Before != nil && len(ev.Before) != n {
		return fmt.Sprintf("Before has %d values for %d columns", len(ev.Before), n)
	}
	if ev.After != nil && len(ev.After) != n {
		return fmt.Sprintf("After has %d values for %d columns", len(ev.After), n)
	}
	for _, k := range ev.Table.Key {
		if k < 0 || k >= n {
			return fmt.Sprintf("Table.Key index %d out of %d columns", k, n)
		}
	}
	switch ev.Op {
	case connect.OpCreate, connect.OpRead:
		if ev.After == nil || ev.Before != nil {
			return fmt.Sprintf("op %q needs After and no Before", ev.Op)
		}
	case connect.OpUpdate:
		if ev.After == nil {
			return "op \"u\" without After"
		}
	case connect.OpDelete:
		if ev.Before == nil || ev.After != nil {
			return "op \"d\" needs Before and no After"
		}
	case connect.OpTruncate:
	default:
		return fmt.Sprintf("unknown op %q", ev.Op)
	}
	return ""
}

func sourceResume(t *testing.T, h SourceHarness) {
	ctx, cancel := context.WithTimeout(t.Context(), h.Timeout)
	defer cancel()
	block := h.Config(t)

	// First run: from the start, past a boundary P at half the events.
	src := newSource(t, h, block)
	if err := src.Open(ctx, nil); err != nil {
		t.Fatalf("Open(nil): %v (class %s)", err, connect.Class(err))
	}
	first := newRun(t, h, src)
	half := (h.Events + 1) / 2
	pick := func() (boundary, bool) {
		for _, b := range first.bounds {
			if b.n >= half {
				return b, true
			}
		}
		return boundary{}, false
	}
	first.readUntil(ctx, fmt.Sprintf("%d events with a positioned batch past %d and events after it", h.Events, half), func() bool {
		p, ok := pick()
		return ok && len(first.ids) >= h.Events && len(first.ids) > p.n
	})
	p, _ := pick()
	if err := src.Ack(ctx, p.pos); err != nil {
		t.Errorf("Ack(P=%q): %v", p.pos, err)
	}
	if err := src.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	before := map[string]bool{}
	for _, id := range first.ids[:p.n] {
		before[id] = true
	}
	tail := first.ids[p.n:]
	t.Logf("first run: %d events, P=%q after %d of them", len(first.ids), p.pos, p.n)

	// Second run: a new instance opened at P continues right after it.
	src = newSource(t, h, block)
	if err := src.Open(ctx, p.pos); err != nil {
		t.Fatalf("Open(P=%q): %v (class %s)", p.pos, err, connect.Class(err))
	}
	defer func() {
		if err := src.Close(); err != nil {
			t.Errorf("Close of the resumed source: %v", err)
		}
	}()
	second := newRun(t, h, src)
	if h.Nondeterministic {
		// The changes after P may not come again; make new ones.
		second.produced = -1
		second.readUntil(ctx, "an event after P", func() bool { return len(second.ids) > 0 })
	} else {
		second.produced = len(tail) // they are in the database already
		second.readUntil(ctx, fmt.Sprintf("the %d events the first run read after P", len(tail)), func() bool { return len(second.ids) >= len(tail) })
	}
	for i, id := range second.ids {
		if before[id] {
			t.Errorf("resumed at P, event %d (%s) is a duplicate: it came before P in the first run", i, id)
			break
		}
	}
	if !h.Nondeterministic {
		for i, id := range tail {
			if second.ids[i] != id {
				t.Errorf("resumed at P, event %d is %s, want %s (the first run's event %d): the stream did not continue exactly after P\nfirst run after P: %s\nresumed run:       %s",
					i, second.ids[i], id, p.n+i, clipIDs(tail), clipIDs(second.ids))
				break
			}
		}
	}
	if err := src.Ack(ctx, p.pos); err != nil {
		t.Errorf("resumed source: Ack(P): %v", err)
	}
	if n := len(second.bounds); n > 0 {
		last := second.bounds[n-1].pos
		if err := src.Ack(ctx, last); err != nil {
			t.Errorf("resumed source: Ack(%q): %v", last, err)
		}
	}
}

// clipIDs shows the first few ids.
func clipIDs(ids []string) string {
	const show = 8
	if len(ids) > show {
		return strings.Join(ids[:show], " ") + fmt.Sprintf(" ... (%d in all)", len(ids))
	}
	return strings.Join(ids, " ")
}

func sourceCancel(t *testing.T, h SourceHarness) {
	src := newSource(t, h, h.Config(t))
	if err := src.Open(t.Context(), nil); err != nil {
		t.Fatalf("Open(nil): %v (class %s)", err, connect.Class(err))
	}
	defer src.Close()

	// Cancel while Read runs: a source with nothing to read is blocked in
	// it, one with plenty is producing batches; both must notice soon.
	ctx, cancel := context.WithCancel(t.Context())
	stop := time.AfterFunc(50*time.Millisecond, cancel)
	defer stop.Stop()
	result := make(chan error, 1)
	go func() {
		const maxAfterCancel = 100
		after := 0
		for {
			_, err := src.Read(ctx)
			if err != nil {
				result <- err
				return
			}
			if ctx.Err() != nil {
				if after++; after > maxAfterCancel {
					result <- fmt.Errorf("Read returned %d batches after its ctx was cancelled", after)
					return
				}
			}
		}
	}()
	select {
	case err := <-result:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Read with a cancelled ctx returned %v, want ctx.Err() (context.Canceled)", err)
		}
	case <-time.After(h.Timeout):
		t.Fatalf("Read did not return within %v of its ctx being cancelled", h.Timeout)
	}

	// A ctx cancelled before the call.
	if _, err := src.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with an already cancelled ctx returned %v, want context.Canceled", err)
	}
}

// notRetriable reports whether err is explicitly classed fatal,
// resync-needed or corruption.
func notRetriable(err error) bool {
	return errors.Is(err, connect.ErrFatal) || errors.Is(err, connect.ErrResyncNeeded) || errors.Is(err, connect.ErrCorruption)
}

func sourceBadPosition(t *testing.T, h SourceHarness) {
	ctx, cancel := context.WithTimeout(t.Context(), h.Timeout)
	defer cancel()
	src := newSource(t, h, h.Config(t))
	err := src.Open(ctx, garbagePosition)
	if err == nil {
		defer src.Close()
		if h.Produce != nil {
			h.Produce(t, 1)
		}
		var b connect.SourceBatch
		b, err = src.Read(ctx)
		if err == nil {
			t.Fatalf("opened at garbage position %q, Read returned %d events: a position that cannot be parsed must fail, not start anew", garbagePosition, len(b.Events))
		}
		if ctx.Err() != nil {
			t.Fatalf("opened at garbage position %q, neither Open nor Read failed before the deadline: %v", garbagePosition, err)
		}
	}
	if !notRetriable(err) {
		t.Errorf("opening at garbage position %q: error %q is classed %s; want fatal, resync-needed or corruption (retrying will not fix a position)", garbagePosition, err, connect.Class(err))
	}
	t.Logf("garbage position: %v", err)
}

func sourceUnreachable(t *testing.T, h SourceHarness) {
	ctx, cancel := context.WithTimeout(t.Context(), h.Timeout)
	defer cancel()
	src := newSource(t, h, h.Unreachable(t))
	err := src.Open(ctx, nil)
	if err == nil {
		defer src.Close()
		_, err = src.Read(ctx)
		if err == nil {
			t.Fatal("Open and Read of an unreachable database both succeeded")
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the unreachable database was still being tried at the deadline (%v): %v", h.Timeout, err)
	}
	if !errors.Is(err, connect.ErrRetriable) && !errors.Is(err, connect.ErrFatal) {
		t.Errorf("unreachable database: error %q is not classed; wrap it with connect.Retriable or connect.Fatal", err)
	}
	t.Logf("unreachable: %v (class %s)", err, connect.Class(err))
}
