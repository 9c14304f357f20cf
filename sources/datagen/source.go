package datagen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
)

// KindName is the connector kind's name in config files.
const KindName = "datagen-source"

// Kind is the datagen-source connector kind.
type Kind struct{}

// New returns the datagen-source kind, for a connect.Registry.
func New() *Kind { return &Kind{} }

var _ connect.SourceKind = (*Kind)(nil)

func (*Kind) Name() string       { return KindName }
func (*Kind) Role() connect.Role { return connect.RoleSource }

// Check reports every problem of c's config block.
func (*Kind) Check(c *configs.Connector) []configs.Problem {
	_, problems := ParseConfig(c)
	return problems
}

// Tasks is 1: one stream, one task.
func (*Kind) Tasks(*configs.Connector) int { return 1 }

// NewSource builds a source from c. A config with problems is a fatal error.
func (*Kind) NewSource(c *configs.Connector, env connect.Env) (connect.Source, error) {
	cfg, problems := ParseConfig(c)
	if len(problems) > 0 {
		return nil, connect.Fatal(fmt.Errorf("%s %q: invalid config: %w", KindName, c.Name, &configs.Error{Problems: problems}))
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{name: c.Name, cfg: cfg, gen: newGenerator(cfg), log: log}, nil
}

// Source generates the configured stream. Read runs on one goroutine; Ack
// and Status may run on others (they touch only the atomics).
type Source struct {
	name string
	cfg  Config
	gen  *generator
	log  *slog.Logger

	next  atomic.Uint64 // the sequence number of the next event
	acked atomic.Int64  // the sequence number of the last acknowledged position; -1 none

	// Pacing (rate > 0): event s is due at start + (s−startSeq)/rate.
	start    time.Time
	startSeq uint64
	timer    *time.Timer
}

var _ connect.Source = (*Source)(nil)

// Position returns the position before event seq: "seq=<seq>".
func Position(seq uint64) connect.Position {
	return connect.Position("seq=" + strconv.FormatUint(seq, 10))
}

// ErrBadPosition is the cause of the error for a position datagen did not
// write.
var ErrBadPosition = errors.New("not a datagen-source position")

// ParsePosition returns the sequence number of a position Position wrote.
// It is strict: anything but "seq=" and a canonical decimal number is an
// error wrapping ErrBadPosition.
func ParsePosition(pos connect.Position) (uint64, error) {
	digits, ok := strings.CutPrefix(string(pos), "seq=")
	if ok {
		n, err := strconv.ParseUint(digits, 10, 64)
		if err == nil && strconv.FormatUint(n, 10) == digits {
			return n, nil
		}
	}
	return 0, fmt.Errorf("%q: %w (want \"seq=N\")", configs.Clip(string(pos)), ErrBadPosition)
}

// badPosition is the fatal error for a position that does not parse.
func (s *Source) badPosition(err error) error {
	return connect.Fatal(fmt.Errorf("%s %q: position %w; the stored offset is damaged or belongs to another connector kind: reset it with \"sluice connectors reset %s\"",
		KindName, s.name, err, s.name))
}

// Open starts the stream at pos: event n for "seq=n", event 0 for nil.
func (s *Source) Open(ctx context.Context, pos connect.Position) error {
	var seq uint64
	if pos != nil {
		n, err := ParsePosition(pos)
		if err != nil {
			return s.badPosition(err)
		}
		seq = n
	}
	s.next.Store(seq)
	s.acked.Store(-1)
	s.start, s.startSeq = time.Now(), seq
	s.log.Info("datagen source open", "topic", s.gen.topic, "seq", seq, "rate", s.cfg.Rate)
	return ctx.Err()
}

// maxStall is how far behind its schedule a paced source may fall (the
// runtime was busy) before it forgets the schedule instead of catching up
// in a burst.
const maxStall = time.Second

// Read returns the next events: the rest of the current transaction, or
// with a rate at most about a tenth of a second's worth of them, waiting
// until they are due. A batch that ends a transaction carries the position
// after it. After max_events Read blocks until ctx ends.
func (s *Source) Read(ctx context.Context) (connect.SourceBatch, error) {
	if err := ctx.Err(); err != nil {
		return connect.SourceBatch{}, err
	}
	n := s.next.Load()
	limit, bs := s.cfg.MaxEvents, s.cfg.BatchSize
	if limit > 0 && n >= limit {
		<-ctx.Done()
		return connect.SourceBatch{}, ctx.Err()
	}
	end := (n/bs + 1) * bs
	if limit > 0 && end > limit {
		end = limit
	}
	count := end - n
	if rate := s.cfg.Rate; rate > 0 {
		// About a tenth of a second's worth, at least one event.
		count = uint64(max(1, min(float64(count), rate/10)))
		if err := s.wait(ctx, n, count); err != nil {
			return connect.SourceBatch{}, err
		}
	}
	events := make([]connect.ChangeEvent, count)
	s.gen.events(events, n)
	s.next.Store(n + count)
	b := connect.SourceBatch{Events: events}
	if n+count == end {
		b.Position = Position(end)
	}
	return b, nil
}

// due returns when event seq is due.
func (s *Source) due(seq uint64) time.Time {
	return s.start.Add(time.Duration(float64(seq-s.startSeq) / s.cfg.Rate * float64(time.Second)))
}

// wait waits until the last of count events from n is due.
func (s *Source) wait(ctx context.Context, n, count uint64) error {
	now := time.Now()
	if now.Sub(s.due(n)) > maxStall {
		s.start, s.startSeq = now, n
	}
	d := s.due(n + count - 1).Sub(now)
	if d <= 0 {
		return nil
	}
	if s.timer == nil {
		s.timer = time.NewTimer(d)
	} else {
		s.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		s.timer.Stop()
		return ctx.Err()
	case <-s.timer.C:
		return nil
	}
}

// Ack records that everything before pos is durable; datagen has no
// database to tell.
func (s *Source) Ack(_ context.Context, pos connect.Position) error {
	n, err := ParsePosition(pos)
	if err != nil {
		return s.badPosition(err)
	}
	s.acked.Store(int64(n))
	return nil
}

// Close stops the source's timer.
func (s *Source) Close() error {
	if s.timer != nil {
		s.timer.Stop()
	}
	return nil
}

// Status reports the next sequence number and the last acknowledged one.
func (s *Source) Status() map[string]any {
	st := map[string]any{"next_seq": s.next.Load()}
	if a := s.acked.Load(); a >= 0 {
		st["acked_seq"] = a
	}
	if s.cfg.MaxEvents > 0 {
		st["max_events"] = s.cfg.MaxEvents
	}
	return st
}
