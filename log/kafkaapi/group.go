// Consumer groups: the classic group coordinator (group*.go).
//
// Files: group.go (Coordinator, its options, the offset store contract, the
// driver that turns state-machine decisions into channel sends and timers),
// group_state.go (groupState, the pure state machine of one group),
// group_membership.go (JoinGroup, SyncGroup, Heartbeat, LeaveGroup),
// group_offsets.go (OffsetCommit, OffsetFetch), group_admin.go
// (DescribeGroups, ListGroups, DeleteGroups).
//
// State machine. A group is Empty (no members), PreparingRebalance (the join
// phase: every member must send JoinGroup again), CompletingRebalance (the
// join phase is over, the generation is numbered, members wait for the
// leader's assignment in SyncGroup), Stable (assignments handed out) or Dead
// (deleted). A new member, a member leaving or failing, a leader rejoining or
// a member changing its protocols moves the group to PreparingRebalance. The
// join phase ends when every member has joined (and no member id handed out
// with MEMBER_ID_REQUIRED is still outstanding) or at the rebalance timeout,
// when dynamic members that did not join are removed (static ones stay for
// their session); the generation then increments, and the leader stays
// leader if it rejoined, else the longest-standing member that did takes
// over. A session that ends removes its member; a member waiting in
// JoinGroup or SyncGroup has its session paused. Members that do not send
// SyncGroup within the rebalance timeout are removed too.
//
// groupState holds all of this. Each of its methods takes "now" and returns
// decisions: a result to return at once, or a ticket the caller must wait on,
// plus replies to earlier tickets; deadline says when it next needs
// expire(now). It has no goroutines, clocks or locks, and its tests are
// scripts with explicit times (testdata/group_*.txt).
//
// Locking. Coordinator.mu guards the map of groups and the closed flag; it is
// a leaf lock, never held while taking a group's lock. group.mu guards one
// group's state machine, its waiting callers and its timer. A group's lock is
// held across the offset store's CommitOffsets and DeleteGroupOffsets, so a
// commit and a delete of the same group are ordered; other groups are not
// affected.
//
// What blocks. JoinGroup waits (without any lock) until its join phase ends;
// SyncGroup of a follower waits until the leader's SyncGroup arrives or the
// rebalance is abandoned. Both return when their context is done; the member
// stays registered as Kafka's does, and a retried JoinGroup picks up the
// generation. OffsetCommit blocks for the store's durable write. The driver
// runs expire from one time.AfterFunc timer per group, re-armed after every
// step to the state machine's next deadline. Close stops the timers and
// answers every waiting call with COORDINATOR_NOT_AVAILABLE.
//
// Membership lives only in memory: after a restart a group exists as its
// committed offsets (listed as Empty) until members join again, as Kafka
// rebuilds it. The coordinator manages whichever groups it is asked about;
// routing groups to nodes (FindCoordinator) is the server's business.

package kafkaapi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-cdc/sluice/log"
)

// OffsetStore is where committed offsets live; the embedded log implements
// it. Its methods may be called concurrently, for different groups and for
// the same one. Offsets are durable when CommitOffsets returns nil.
type OffsetStore interface {
	// CommitOffsets stores a group's offsets in one durable write.
	CommitOffsets(group string, offsets []log.GroupOffset) error
	// FetchOffsets returns every committed offset of a group, none when
	// it has none.
	FetchOffsets(group string) ([]log.GroupOffset, error)
	// DeleteGroupOffsets removes a group's offsets: all of them when
	// topics is empty, else those of the named topics.
	DeleteGroupOffsets(group string, topics ...string) error
	// Groups lists the groups that have committed offsets.
	Groups() ([]string, error)
}

var _ OffsetStore = (*log.Log)(nil)

// CoordinatorOptions configures a Coordinator. The zero value is usable.
type CoordinatorOptions struct {
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Logger receives generation changes and store failures. Default:
	// slog.Default().
	Logger *slog.Logger
	// InitialRebalanceDelay (Kafka's group.initial.rebalance.delay.ms)
	// holds the first join phase of an Empty group open so that members
	// starting together land in one generation; each member arriving
	// extends it, up to the rebalance timeout. Default: 0.
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout bound the session timeout a
	// member may ask for (group.min/max.session.timeout.ms); JoinGroup
	// outside them fails with INVALID_SESSION_TIMEOUT. Default: 6s and
	// 30m.
	MinSessionTimeout, MaxSessionTimeout time.Duration
}

func (o *CoordinatorOptions) ensureDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MinSessionTimeout == 0 {
		o.MinSessionTimeout = 6 * time.Second
	}
	if o.MaxSessionTimeout == 0 {
		o.MaxSessionTimeout = 30 * time.Minute
	}
}

// Coordinator is the classic consumer-group coordinator of one broker: it
// manages the groups it is asked about, keeping membership in memory and
// committed offsets in an OffsetStore. Its handlers are safe for concurrent
// use; JoinGroup and SyncGroup block until the rebalance lets them answer or
// their context is done.
type Coordinator struct {
	store OffsetStore
	opts  CoordinatorOptions
	log   *slog.Logger

	mu struct {
		sync.Mutex
		closed bool
		groups map[string]*group
	}
}

// group is one group's state machine with its driver state.
type group struct {
	id string
	mu struct {
		sync.Mutex
		state   *groupState
		closed  bool // the coordinator closed
		removed bool // deleted: look the group up again
		waiters map[ticket]waiter
		timer   *time.Timer
		timerAt time.Time
		logged  int32 // the last generation logged
	}
}

type waiter struct {
	ch   chan reply
	sync bool // a SyncGroup waits, else a JoinGroup
}

// NewCoordinator returns a coordinator keeping offsets in store.
func NewCoordinator(store OffsetStore, opts CoordinatorOptions) *Coordinator {
	opts.ensureDefaults()
	c := &Coordinator{store: store, opts: opts, log: opts.Logger.With("component", "group-coordinator")}
	c.mu.groups = make(map[string]*group)
	return c
}

// Close stops the timers and answers every waiting JoinGroup and SyncGroup
// with COORDINATOR_NOT_AVAILABLE; later calls get the same error. Committed
// offsets are untouched.
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return
	}
	c.mu.closed = true
	groups := make([]*group, 0, len(c.mu.groups))
	for _, g := range c.mu.groups {
		groups = append(groups, g)
	}
	c.mu.Unlock()
	for _, g := range groups {
		g.mu.Lock()
		g.mu.closed = true
		if g.mu.timer != nil {
			g.mu.timer.Stop()
		}
		code := kerr.CoordinatorNotAvailable.Code
		for t, w := range g.mu.waiters {
			w.ch <- reply{to: t, join: joinResult{err: code, generation: -1}, sync: syncResult{err: code}}
		}
		clear(g.mu.waiters)
		g.mu.Unlock()
	}
}

func (c *Coordinator) now() time.Time { return c.opts.Now() }

// lockGroup returns the group named id with its lock held; with create set it
// makes a new Empty group when there is none, and created says so. A nil
// group with a zero code means there is no such group; a non-zero code is the
// error to answer with.
func (c *Coordinator) lockGroup(id string, create bool) (g *group, created bool, code int16) {
	for {
		c.mu.Lock()
		if c.mu.closed {
			c.mu.Unlock()
			return nil, false, kerr.CoordinatorNotAvailable.Code
		}
		g = c.mu.groups[id]
		created = false
		if g == nil {
			if !create {
				c.mu.Unlock()
				return nil, false, 0
			}
			g = &group{id: id}
			g.mu.state = newGroupState(id, c.opts.InitialRebalanceDelay)
			g.mu.waiters = make(map[ticket]waiter)
			c.mu.groups[id] = g
			created = true
		}
		c.mu.Unlock()
		g.mu.Lock()
		switch {
		case g.mu.closed:
			g.mu.Unlock()
			return nil, false, kerr.CoordinatorNotAvailable.Code
		case g.mu.removed:
			g.mu.Unlock()
			continue
		}
		return g, created, 0
	}
}

// forget removes g (locked, with nothing waiting) from the coordinator; a
// handler that already holds a pointer to it looks the id up again.
func (c *Coordinator) forget(g *group) {
	g.mu.state.markDead()
	g.mu.removed = true
	if g.mu.timer != nil {
		g.mu.timer.Stop()
	}
	c.mu.Lock()
	if c.mu.groups[g.id] == g {
		delete(c.mu.groups, g.id)
	}
	c.mu.Unlock()
}

// apply carries out a step's decisions on g (locked): it registers the
// caller's wait on t (when non-zero), delivers replies to waiting callers,
// logs a new generation and re-arms the timer. The returned channel receives
// the reply to t.
func (c *Coordinator) apply(g *group, t ticket, isSync bool, out []reply) chan reply {
	var ch chan reply
	if t != 0 {
		ch = make(chan reply, 1)
		g.mu.waiters[t] = waiter{ch: ch, sync: isSync}
	}
	for _, r := range out {
		if w, ok := g.mu.waiters[r.to]; ok {
			delete(g.mu.waiters, r.to)
			w.ch <- r // buffered, and each ticket is answered once
		}
	}
	if s := g.mu.state; s.generation != g.mu.logged {
		g.mu.logged = s.generation
		c.log.Debug("group generation", "group", g.id, "generation", s.generation, "state", s.phase.String(),
			"protocol", s.protocol, "leader", s.leader, "members", len(s.members))
	}
	c.arm(g)
	return ch
}

// arm sets g's timer (g locked) to the state machine's next deadline.
func (c *Coordinator) arm(g *group) {
	d := g.mu.state.deadline()
	if g.mu.closed || g.mu.removed || d.IsZero() {
		if g.mu.timer != nil {
			g.mu.timer.Stop()
		}
		g.mu.timerAt = time.Time{}
		return
	}
	if g.mu.timer != nil && g.mu.timerAt.Equal(d) {
		return
	}
	delay := d.Sub(c.now())
	if delay < time.Millisecond {
		// Due already (the clock may be coarse or injected): soon, but
		// never a busy loop.
		delay = time.Millisecond
	}
	g.mu.timerAt = d
	if g.mu.timer == nil {
		g.mu.timer = time.AfterFunc(delay, func() { c.fire(g) })
		return
	}
	g.mu.timer.Reset(delay)
}

// fire runs g's expiry step; the timer calls it.
func (c *Coordinator) fire(g *group) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.closed || g.mu.removed {
		return
	}
	g.mu.timerAt = time.Time{}
	c.apply(g, 0, false, g.mu.state.expire(c.now()))
}

// await waits for the reply to t. When ctx ends first the wait is withdrawn
// and ok is false; the member stays as the state machine left it.
func (c *Coordinator) await(ctx context.Context, g *group, t ticket, ch chan reply) (r reply, ok bool) {
	select {
	case r = <-ch:
		return r, true
	case <-ctx.Done():
	}
	g.mu.Lock()
	delete(g.mu.waiters, t)
	g.mu.Unlock()
	select {
	case r = <-ch: // answered before the wait was withdrawn
		return r, true
	default:
		return reply{}, false
	}
}

type clientKey struct{}

type clientInfo struct{ id, host string }

// WithClient returns ctx carrying the client id and host of the connection a
// request came on; JoinGroup records them for DescribeGroups and builds member
// ids from the client id.
func WithClient(ctx context.Context, clientID, host string) context.Context {
	return context.WithValue(ctx, clientKey{}, clientInfo{id: clientID, host: host})
}

func clientFrom(ctx context.Context) (clientID, host string) {
	ci, _ := ctx.Value(clientKey{}).(clientInfo)
	return ci.id, ci.host
}

// newMemberID returns clientID-<random UUID>, Kafka's member id form.
func newMemberID(clientID string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", clientID, b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// validGroupID reports whether id can name a group: non-empty, and storable.
func validGroupID(id string) bool {
	return id != "" && !strings.ContainsRune(id, 0)
}

// storeErrorCode maps an OffsetStore error to the Kafka error code a client
// should act on: storage trouble is COORDINATOR_NOT_AVAILABLE (retriable,
// as Kafka answers when its offsets log cannot be written).
func storeErrorCode(err error) int16 {
	switch {
	case errors.Is(err, log.ErrInvalidTopic):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, log.ErrInvalidRecord):
		return kerr.InvalidGroupID.Code
	default:
		return kerr.CoordinatorNotAvailable.Code
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
