package connect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Ad-hoc snapshots, and the open source of a task.
//
// A source task builds, opens and closes its source again on every retry
// (source_task.go). While the source is open, the task publishes it with
// setLive, so that the admin API can reach it: RequestSnapshot and
// SourceProgress call the open source under liveSource's read lock.
// setLive(nil) runs before the source's Close: it cancels the context of
// the calls in flight and waits for them under the write lock. So no call
// reaches a source after its Close has begun, and a call never holds up a
// retry for longer than it takes the source to notice its context ended.

// Values of connector.snapshots: whether the connector's sources are
// Snapshotters, known once one was open.
const (
	snapshotsUnknown int32 = iota
	snapshotsYes
	snapshotsNo
)

// liveSource is a task's source while it is open. Only the task's own
// goroutine writes it (setLive); others read it under the read lock.
type liveSource struct {
	sync.RWMutex
	src Source
	// ctx ends when src stops being live; calls into src end with it.
	ctx    context.Context
	cancel context.CancelFunc
}

// setLive publishes src, just opened, as the task's live source; nil
// withdraws it before the source closes, cancelling and waiting for the
// calls in flight. Only the task's goroutine calls it.
func (t *task) setLive(src Source) {
	if t.live.cancel != nil {
		t.live.cancel() // the calls in flight give up,
	}
	var ctx context.Context
	var cancel context.CancelFunc
	if src != nil {
		ctx, cancel = context.WithCancel(context.Background())
		if _, ok := src.(Snapshotter); ok {
			t.c.snapshots.Store(snapshotsYes)
		} else {
			t.c.snapshots.Store(snapshotsNo)
		}
	}
	t.live.Lock() // and are waited for.
	t.live.src, t.live.ctx, t.live.cancel = src, ctx, cancel
	t.live.Unlock()
}

// withLive calls f with the live source and a context that ends with ctx
// or when the source stops being live; with a nil source when there is
// none. live reports whether the source stopped being live during f.
func (t *task) withLive(ctx context.Context, f func(ctx context.Context, src Source) error) (live bool, err error) {
	t.live.RLock()
	defer t.live.RUnlock()
	if t.live.src == nil {
		return false, f(ctx, nil)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(t.live.ctx, cancel)
	defer stop()
	err = f(ctx, t.live.src)
	return t.live.ctx.Err() == nil, err
}

// requestSnapshot asks every task's open source for an ad-hoc snapshot of
// tables, in task order; the first failure ends the request (the tasks
// before it have made theirs durable). See Controller.RequestSnapshot.
func (c *connector) requestSnapshot(ctx context.Context, tables []string) error {
	if c.role != RoleSource {
		return mark(ErrUnsupported, fmt.Errorf("connector %q: connector kind %s cannot take ad-hoc snapshots: it is a sink; \"sluice connectors reset %s\" replays its topics instead", c.name, c.cfg.Kind, c.name))
	}
	if c.snapshots.Load() == snapshotsNo {
		return c.unsupported()
	}
	c.mu.Lock()
	target := c.mu.target
	tasks := slices.Clone(c.mu.tasks)
	c.mu.Unlock()
	if target != StateRunning {
		return mark(ErrConflict, fmt.Errorf("connector %q is %s; an ad-hoc snapshot needs it RUNNING: run \"sluice connectors resume %s\", then ask again", c.name, target, c.name))
	}
	for _, t := range tasks {
		t.mu.Lock()
		state := t.mu.state
		t.mu.Unlock()
		if state == StateFailed {
			return mark(ErrConflict, fmt.Errorf("connector %q: task %d is FAILED; an ad-hoc snapshot needs it RUNNING: see \"sluice connectors status %s\", fix the cause, run \"sluice connectors restart %s --include-tasks --only-failed\", then ask again", c.name, t.id, c.name, c.name))
		}
	}
	if len(tasks) == 0 {
		return Retriable(fmt.Errorf("connector %q has no tasks yet (it is starting); try again shortly", c.name))
	}
	for _, t := range tasks {
		if err := t.requestSnapshot(ctx, tables); err != nil {
			return err
		}
	}
	return nil
}

func (c *connector) unsupported() error {
	return mark(ErrUnsupported, fmt.Errorf("connector %q: connector kind %s cannot take ad-hoc snapshots; \"sluice connectors reset %s\" starts it over with a new snapshot of all its tables instead", c.name, c.cfg.Kind, c.name))
}

// requestSnapshot asks the task's open source for an ad-hoc snapshot.
func (t *task) requestSnapshot(ctx context.Context, tables []string) error {
	c := t.c
	var open bool
	live, err := t.withLive(ctx, func(ctx context.Context, src Source) error {
		if src == nil {
			return nil
		}
		open = true
		sn, ok := src.(Snapshotter)
		if !ok {
			return c.unsupported()
		}
		return sn.RequestSnapshot(ctx, tables)
	})
	switch {
	case !open:
		return Retriable(fmt.Errorf("connector %q: task %d has no open source right now: it is starting, waiting for a worker, or retrying after an error (see \"sluice connectors status %s\"); try again shortly", c.name, t.id, c.name))
	case errors.Is(err, ErrUnsupported):
		return err
	case err != nil && !live && ctx.Err() == nil:
		return Retriable(fmt.Errorf("connector %q: task %d closed its source while taking the request (a retry or a restart); ask again: %w", c.name, t.id, err))
	case err != nil && strings.Contains(err.Error(), strconv.Quote(c.name)):
		return err // it names the connector already
	case err != nil:
		return fmt.Errorf("connector %q: %w", c.name, err)
	}
	return nil
}

// sourceProgress appends the Status of every open source task of the
// connector that reports one.
func (c *connector) sourceProgress(out []SourceProgress) []SourceProgress {
	if c.role != RoleSource {
		return out
	}
	c.mu.Lock()
	tasks := slices.Clone(c.mu.tasks)
	c.mu.Unlock()
	slices.SortFunc(tasks, func(a, b *task) int { return cmp.Compare(a.id, b.id) })
	for _, t := range tasks {
		_, _ = t.withLive(context.Background(), func(_ context.Context, src Source) error {
			if st, ok := src.(Status); ok {
				if m := st.Status(); len(m) > 0 {
					out = append(out, SourceProgress{Connector: c.name, Task: t.id, Status: m})
				}
			}
			return nil
		})
	}
	return out
}
