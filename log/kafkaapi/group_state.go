package kafkaapi

import (
	"bytes"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// phase is a classic consumer group's state, by Kafka's names.
type phase int8

const (
	phaseEmpty phase = iota
	phasePreparingRebalance
	phaseCompletingRebalance
	phaseStable
	phaseDead
)

var phaseNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

func (p phase) String() string { return phaseNames[p] }

// ticket names one blocked JoinGroup or SyncGroup call. The state machine
// hands a ticket to a caller that must wait, and later answers it with a
// reply; the driver maps tickets to channels.
type ticket uint64

// reply answers a ticket. join is meaningful for a JoinGroup ticket, sync for
// a SyncGroup ticket.
type reply struct {
	to   ticket
	join joinResult
	sync syncResult
}

type protocol struct {
	name     string
	metadata []byte
}

type member struct {
	id, instanceID       string
	clientID, clientHost string
	protocols            []protocol
	session, rebalance   time.Duration
	// expires is when the session ends unless a heartbeat (or another
	// request proving liveness) comes first. It does not run while the
	// member waits in JoinGroup or SyncGroup.
	expires time.Time
	// seq orders members by when they first joined: output order, and
	// who becomes leader when the leader goes.
	seq        uint64
	joinWait   ticket // non-zero: joined this rebalance, the JoinGroup answer is owed
	syncWait   ticket // non-zero: a SyncGroup waits for the leader's assignment
	assignment []byte
}

// joinRequest is a JoinGroup as the state machine needs it, already
// validated (group id, session timeout bounds).
type joinRequest struct {
	memberID   string
	instanceID string
	// newMemberID is the id to give the member if it needs one; the driver
	// generates it so that the state machine stays deterministic.
	newMemberID string
	// requireKnownID is set for JoinGroup v4+: a member without an id gets
	// MEMBER_ID_REQUIRED and an id, and must join again with it.
	requireKnownID       bool
	clientID, clientHost string
	protocolType         string
	protocols            []protocol
	session, rebalance   time.Duration
}

type joinMember struct {
	id, instanceID string
	metadata       []byte
}

type joinResult struct {
	err          int16
	memberID     string
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      []joinMember // the leader's answer only
}

type syncRequest struct {
	memberID, instanceID string
	generation           int32
	protocolType         *string // v5+
	protocol             *string // v5+
	assignments          map[string][]byte
}

type syncResult struct {
	err          int16
	protocolType string
	protocol     string
	assignment   []byte
}

type leaveMember struct{ memberID, instanceID string }

type groupSummary struct {
	state        string
	protocolType string
	protocol     string
	members      []memberSummary
}

type memberSummary struct {
	id, instanceID       string
	clientID, clientHost string
	metadata, assignment []byte
}

// groupState is one classic consumer group as a pure state machine: every
// method takes the current time and returns decisions (results, tickets to
// wait on, replies to earlier tickets). It has no goroutines, clocks or locks;
// the caller serialises calls.
type groupState struct {
	id           string
	initialDelay time.Duration

	phase        phase
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      map[string]*member
	static       map[string]string    // group.instance.id → member id
	pending      map[string]time.Time // ids handed out with MEMBER_ID_REQUIRED → when they lapse

	seq     uint64
	tickets ticket

	// PreparingRebalance: the join phase ends when every member has
	// joined, or at joinDeadline. After an Empty group's first join it
	// cannot end before delayUntil (group.initial.rebalance.delay.ms),
	// which moves on while new members keep arriving.
	joinDeadline   time.Time
	delaying       bool
	delayUntil     time.Time
	newMemberAdded bool

	// Members of the generation that have not sent SyncGroup yet; at
	// syncDeadline they are removed and the group rebalances.
	pendingSync  map[string]bool
	syncDeadline time.Time

	out []reply
}

func newGroupState(id string, initialDelay time.Duration) *groupState {
	return &groupState{
		id:           id,
		initialDelay: initialDelay,
		members:      make(map[string]*member),
		static:       make(map[string]string),
		pending:      make(map[string]time.Time),
		pendingSync:  make(map[string]bool),
	}
}

func (g *groupState) take() []reply {
	out := g.out
	g.out = nil
	return out
}

func (g *groupState) nextTicket() ticket {
	g.tickets++
	return g.tickets
}

func (g *groupState) sortedMembers() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].seq < ms[j].seq })
	return ms
}

// fenced reports whether instanceID belongs to another member id.
func (g *groupState) fenced(instanceID, memberID string) bool {
	if instanceID == "" {
		return false
	}
	id, ok := g.static[instanceID]
	return ok && id != memberID
}

// candidates returns the protocols every member supports, in the order of the
// longest-standing member's preference.
func (g *groupState) candidates() []string {
	ms := g.sortedMembers()
	if len(ms) == 0 {
		return nil
	}
	var out []string
	for _, p := range ms[0].protocols {
		all := true
		for _, m := range ms[1:] {
			if !supportsName(m.protocols, p.name) {
				all = false
				break
			}
		}
		if all && !slices.Contains(out, p.name) {
			out = append(out, p.name)
		}
	}
	return out
}

func supportsName(ps []protocol, name string) bool {
	for _, p := range ps {
		if p.name == name {
			return true
		}
	}
	return false
}

// supports reports whether a member with these protocols may join: the first
// member needs a protocol type and at least one protocol; later ones the
// group's protocol type and a protocol every member supports.
func (g *groupState) supports(protocolType string, ps []protocol) bool {
	if len(g.members) == 0 {
		return protocolType != "" && len(ps) > 0
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, name := range g.candidates() {
		if supportsName(ps, name) {
			return true
		}
	}
	return false
}

// selectProtocol picks the generation's protocol as Kafka does: every member
// votes for its most preferred protocol among those all support; the most
// votes win, ties going to the longest-standing member's preference.
func (g *groupState) selectProtocol() string {
	cands := g.candidates()
	if len(cands) == 0 {
		return ""
	}
	votes := make(map[string]int)
	for _, m := range g.members {
		for _, p := range m.protocols {
			if slices.Contains(cands, p.name) {
				votes[p.name]++
				break
			}
		}
	}
	best := cands[0]
	for _, c := range cands[1:] {
		if votes[c] > votes[best] {
			best = c
		}
	}
	return best
}

func metadataFor(ps []protocol, name string) []byte {
	for _, p := range ps {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

func sameProtocols(a, b []protocol) bool {
	return slices.EqualFunc(a, b, func(x, y protocol) bool {
		return x.name == y.name && bytes.Equal(x.metadata, y.metadata)
	})
}

func (g *groupState) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalance)
	}
	return d
}

func (g *groupState) addMember(id string, r joinRequest) *member {
	if len(g.members) == 0 {
		g.protocolType = r.protocolType
	}
	g.seq++
	m := &member{id: id, instanceID: r.instanceID, seq: g.seq}
	g.update(m, r)
	g.members[id] = m
	if r.instanceID != "" {
		g.static[r.instanceID] = id
	}
	if g.leader == "" {
		g.leader = id
	}
	return m
}

func (g *groupState) update(m *member, r joinRequest) {
	m.protocols = r.protocols
	m.session, m.rebalance = r.session, r.rebalance
	m.clientID, m.clientHost = r.clientID, r.clientHost
}

// awaitJoin records that m has joined this rebalance and returns the ticket
// its JoinGroup waits on. An earlier JoinGroup of the same member still
// waiting is answered REBALANCE_IN_PROGRESS: the newer one gets the result.
func (g *groupState) awaitJoin(m *member) ticket {
	if m.joinWait != 0 {
		g.out = append(g.out, reply{to: m.joinWait, join: joinResult{err: kerr.RebalanceInProgress.Code, memberID: m.id, generation: -1}})
	}
	m.joinWait = g.nextTicket()
	return m.joinWait
}

// generationResult is the JoinGroup answer for m in the current generation.
func (g *groupState) generationResult(m *member, withMembers bool) joinResult {
	res := joinResult{
		memberID:     m.id,
		generation:   g.generation,
		protocolType: g.protocolType,
		protocol:     g.protocol,
		leader:       g.leader,
	}
	if withMembers {
		for _, o := range g.sortedMembers() {
			res.members = append(res.members, joinMember{id: o.id, instanceID: o.instanceID, metadata: metadataFor(o.protocols, g.protocol)})
		}
	}
	return res
}

// join handles a JoinGroup. A non-zero ticket means the caller waits for
// the reply to it (which may already be among the replies returned);
// otherwise the result is the answer.
func (g *groupState) join(now time.Time, r joinRequest) (joinResult, ticket, []reply) {
	res, t := g.joinStep(now, r)
	return res, t, g.take()
}

func (g *groupState) joinStep(now time.Time, r joinRequest) (joinResult, ticket) {
	fail := func(code int16) (joinResult, ticket) {
		return joinResult{err: code, memberID: r.memberID, generation: -1}, 0
	}
	if g.phase == phaseDead {
		return fail(kerr.CoordinatorNotAvailable.Code)
	}
	if !g.supports(r.protocolType, r.protocols) {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	if r.memberID == "" {
		if r.instanceID != "" {
			if old, ok := g.static[r.instanceID]; ok {
				return g.rejoinStatic(now, old, r)
			}
			return joinResult{}, g.addAndRebalance(now, r.newMemberID, r)
		}
		if r.requireKnownID {
			g.pending[r.newMemberID] = now.Add(r.session)
			return joinResult{err: kerr.MemberIDRequired.Code, memberID: r.newMemberID, generation: -1}, 0
		}
		return joinResult{}, g.addAndRebalance(now, r.newMemberID, r)
	}
	if _, ok := g.pending[r.memberID]; ok {
		delete(g.pending, r.memberID)
		return joinResult{}, g.addAndRebalance(now, r.memberID, r)
	}
	if g.fenced(r.instanceID, r.memberID) {
		return fail(kerr.FencedInstanceID.Code)
	}
	m, ok := g.members[r.memberID]
	if !ok || (r.instanceID != "" && g.static[r.instanceID] != r.memberID) {
		return fail(kerr.UnknownMemberID.Code)
	}
	switch g.phase {
	case phasePreparingRebalance:
		g.update(m, r)
		t := g.awaitJoin(m)
		g.tryCompleteJoin(now)
		return joinResult{}, t
	case phaseCompletingRebalance:
		// The member lost its JoinGroup answer (or retried): it gets
		// the generation again, unless its protocols changed.
		if sameProtocols(m.protocols, r.protocols) {
			m.expires = now.Add(m.session)
			return g.generationResult(m, m.id == g.leader), 0
		}
	case phaseStable:
		// A follower with unchanged protocols gets the current
		// generation; the leader rejoining (say, because it saw new
		// partitions) or changed protocols start a rebalance.
		if m.id != g.leader && sameProtocols(m.protocols, r.protocols) {
			m.expires = now.Add(m.session)
			return g.generationResult(m, false), 0
		}
	}
	g.update(m, r)
	t := g.awaitJoin(m)
	g.prepareRebalance(now)
	return joinResult{}, t
}

func (g *groupState) addAndRebalance(now time.Time, id string, r joinRequest) ticket {
	m := g.addMember(id, r)
	t := g.awaitJoin(m)
	switch g.phase {
	case phasePreparingRebalance:
		if g.delaying {
			g.newMemberAdded = true
		}
		g.tryCompleteJoin(now)
	default:
		g.prepareRebalance(now)
	}
	return t
}

// rejoinStatic handles a JoinGroup without member id from a known static
// member (typically the same process restarted): the member gets the new id
// and the old id is fenced. In a Stable group with unchanged protocols that is
// all: it gets the current generation and, through SyncGroup, its assignment,
// without a rebalance.
func (g *groupState) rejoinStatic(now time.Time, oldID string, r joinRequest) (joinResult, ticket) {
	m := g.members[oldID]
	prevLeader := g.leader
	g.answerWaits(m, kerr.FencedInstanceID.Code)
	delete(g.members, oldID)
	m.id = r.newMemberID
	g.members[m.id] = m
	g.static[r.instanceID] = m.id
	if g.leader == oldID {
		g.leader = m.id
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[m.id] = true
	}
	unchanged := sameProtocols(m.protocols, r.protocols)
	g.update(m, r)
	m.expires = now.Add(m.session)
	switch g.phase {
	case phaseStable:
		if unchanged {
			res := g.generationResult(m, false)
			// The old leader id, so that a restarted leader does not
			// compute an assignment a Stable group would not use.
			res.leader = prevLeader
			return res, 0
		}
	case phasePreparingRebalance:
		t := g.awaitJoin(m)
		g.tryCompleteJoin(now)
		return joinResult{}, t
	}
	t := g.awaitJoin(m)
	g.prepareRebalance(now)
	return joinResult{}, t
}

func (g *groupState) answerWaits(m *member, code int16) {
	if m.joinWait != 0 {
		g.out = append(g.out, reply{to: m.joinWait, join: joinResult{err: code, memberID: m.id, generation: -1}})
		m.joinWait = 0
	}
	if m.syncWait != 0 {
		g.out = append(g.out, reply{to: m.syncWait, sync: syncResult{err: code}})
		m.syncWait = 0
	}
}

// prepareRebalance starts a join phase: SyncGroups still waiting are told
// REBALANCE_IN_PROGRESS, and every member has to join again.
func (g *groupState) prepareRebalance(now time.Time) {
	if g.phase == phaseCompletingRebalance {
		for _, m := range g.sortedMembers() {
			m.assignment = nil
			if m.syncWait != 0 {
				g.out = append(g.out, reply{to: m.syncWait, sync: syncResult{err: kerr.RebalanceInProgress.Code}})
				m.syncWait = 0
				// Its session was paused while it waited.
				m.expires = now.Add(m.session)
			}
		}
	}
	clear(g.pendingSync)
	g.syncDeadline = time.Time{}
	initial := g.phase == phaseEmpty
	g.phase = phasePreparingRebalance
	rt := g.rebalanceTimeout()
	g.joinDeadline = now.Add(rt)
	g.delaying, g.newMemberAdded = false, false
	if initial && g.initialDelay > 0 {
		g.delaying = true
		g.delayUntil = now.Add(min(g.initialDelay, rt))
	}
	g.tryCompleteJoin(now)
}

func (g *groupState) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if m.joinWait == 0 {
			return false
		}
	}
	return true
}

func (g *groupState) tryCompleteJoin(now time.Time) {
	if g.phase == phasePreparingRebalance && !g.delaying && g.allJoined() {
		g.completeJoin(now)
	}
}

// completeJoin ends the join phase: dynamic members that did not join again
// are removed (static ones stay for their session), the generation advances
// and every joined member gets its answer, the leader with everyone's
// metadata.
func (g *groupState) completeJoin(now time.Time) {
	g.delaying = false
	var joined []*member
	for _, m := range g.sortedMembers() {
		switch {
		case m.joinWait != 0:
			joined = append(joined, m)
		case m.instanceID == "":
			g.removeMember(m.id, kerr.UnknownMemberID.Code)
		}
	}
	if len(joined) == 0 && len(g.members) > 0 {
		// Only absent static members are left: wait another rebalance
		// timeout for them to come back or for their sessions to end.
		g.joinDeadline = now.Add(g.rebalanceTimeout())
		return
	}
	if l := g.members[g.leader]; len(joined) > 0 && (l == nil || l.joinWait == 0) {
		g.leader = joined[0].id
	}
	g.generation++
	g.joinDeadline = time.Time{}
	if len(g.members) == 0 {
		g.phase = phaseEmpty
		g.protocol = ""
		g.leader = ""
		return
	}
	g.protocol = g.selectProtocol()
	g.phase = phaseCompletingRebalance
	for id := range g.members {
		g.pendingSync[id] = true
	}
	g.syncDeadline = now.Add(g.rebalanceTimeout())
	for _, m := range joined {
		g.out = append(g.out, reply{to: m.joinWait, join: g.generationResult(m, m.id == g.leader)})
		m.joinWait = 0
		m.expires = now.Add(m.session)
	}
}

// removeMember drops a member, answering its waiting calls with code.
func (g *groupState) removeMember(id string, code int16) {
	m := g.members[id]
	g.answerWaits(m, code)
	delete(g.members, id)
	if m.instanceID != "" && g.static[m.instanceID] == id {
		delete(g.static, m.instanceID)
	}
	delete(g.pendingSync, id)
	if g.leader == id {
		g.leader = ""
		if ms := g.sortedMembers(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
}

// removeAndRebalance drops a member that left or failed: the others must
// learn of it through a rebalance.
func (g *groupState) removeAndRebalance(now time.Time, id string) {
	g.removeMember(id, kerr.UnknownMemberID.Code)
	switch g.phase {
	case phaseStable, phaseCompletingRebalance:
		g.prepareRebalance(now)
	case phasePreparingRebalance:
		g.tryCompleteJoin(now)
	}
}

// sync handles a SyncGroup; a non-zero ticket means the caller waits for the
// leader's assignment.
func (g *groupState) sync(now time.Time, r syncRequest) (syncResult, ticket, []reply) {
	res, t := g.syncStep(now, r)
	return res, t, g.take()
}

func (g *groupState) syncStep(now time.Time, r syncRequest) (syncResult, ticket) {
	fail := func(code int16) (syncResult, ticket) { return syncResult{err: code}, 0 }
	if g.phase == phaseDead {
		return fail(kerr.CoordinatorNotAvailable.Code)
	}
	if g.fenced(r.instanceID, r.memberID) {
		return fail(kerr.FencedInstanceID.Code)
	}
	m, ok := g.members[r.memberID]
	if !ok {
		return fail(kerr.UnknownMemberID.Code)
	}
	if r.generation != g.generation {
		return fail(kerr.IllegalGeneration.Code)
	}
	if (r.protocolType != nil && *r.protocolType != g.protocolType) || (r.protocol != nil && *r.protocol != g.protocol) {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	switch g.phase {
	case phasePreparingRebalance:
		return fail(kerr.RebalanceInProgress.Code)
	case phaseCompletingRebalance:
		delete(g.pendingSync, m.id)
		if m.syncWait != 0 {
			g.out = append(g.out, reply{to: m.syncWait, sync: syncResult{err: kerr.RebalanceInProgress.Code}})
		}
		m.syncWait = g.nextTicket()
		t := m.syncWait
		if m.id == g.leader {
			g.phase = phaseStable
			for _, o := range g.sortedMembers() {
				o.assignment = r.assignments[o.id]
				if o.syncWait != 0 {
					g.out = append(g.out, reply{to: o.syncWait, sync: g.syncResult(o)})
					o.syncWait = 0
					o.expires = now.Add(o.session)
				}
			}
		}
		return syncResult{}, t
	case phaseStable:
		delete(g.pendingSync, m.id)
		m.expires = now.Add(m.session)
		return g.syncResult(m), 0
	}
	return fail(kerr.UnknownMemberID.Code)
}

func (g *groupState) syncResult(m *member) syncResult {
	return syncResult{protocolType: g.protocolType, protocol: g.protocol, assignment: m.assignment}
}

// heartbeat handles a Heartbeat and returns its error code.
func (g *groupState) heartbeat(now time.Time, memberID, instanceID string, generation int32) int16 {
	if g.phase == phaseDead {
		return kerr.CoordinatorNotAvailable.Code
	}
	if g.fenced(instanceID, memberID) {
		return kerr.FencedInstanceID.Code
	}
	m, ok := g.members[memberID]
	if !ok {
		return kerr.UnknownMemberID.Code
	}
	if generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	m.expires = now.Add(m.session)
	if g.phase == phasePreparingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// leave handles a LeaveGroup and returns an error code per member.
func (g *groupState) leave(now time.Time, ls []leaveMember) ([]int16, []reply) {
	codes := make([]int16, len(ls))
	for i, l := range ls {
		codes[i] = g.leaveOne(now, l)
	}
	return codes, g.take()
}

func (g *groupState) leaveOne(now time.Time, l leaveMember) int16 {
	if g.phase == phaseDead {
		return kerr.CoordinatorNotAvailable.Code
	}
	if l.instanceID != "" {
		id, ok := g.static[l.instanceID]
		if !ok {
			return kerr.UnknownMemberID.Code
		}
		if l.memberID != "" && l.memberID != id {
			return kerr.FencedInstanceID.Code
		}
		g.removeAndRebalance(now, id)
		return 0
	}
	if _, ok := g.pending[l.memberID]; ok {
		delete(g.pending, l.memberID)
		g.tryCompleteJoin(now)
		return 0
	}
	if _, ok := g.members[l.memberID]; !ok {
		return kerr.UnknownMemberID.Code
	}
	g.removeAndRebalance(now, l.memberID)
	return 0
}

// commitAllowed checks an OffsetCommit's member and generation. Generation
// -1 with no member id is a commit by a client that does not use group
// management, allowed while the group has no members.
func (g *groupState) commitAllowed(now time.Time, memberID, instanceID string, generation int32) int16 {
	if g.phase == phaseDead {
		return kerr.CoordinatorNotAvailable.Code
	}
	if g.fenced(instanceID, memberID) {
		return kerr.FencedInstanceID.Code
	}
	if generation < 0 && g.phase == phaseEmpty {
		return 0
	}
	m, ok := g.members[memberID]
	if !ok {
		return kerr.UnknownMemberID.Code
	}
	if generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	if g.phase == phaseCompletingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	// Stable, or PreparingRebalance: members commit what they consumed
	// before they rejoin, as Kafka allows.
	m.expires = now.Add(m.session)
	return 0
}

// expire applies everything due at now: lapsed member ids handed out with
// MEMBER_ID_REQUIRED, ended sessions, the end of the join phase and of the
// sync phase.
func (g *groupState) expire(now time.Time) []reply {
	if g.phase == phaseDead {
		return nil
	}
	for id, until := range g.pending {
		if !now.Before(until) {
			delete(g.pending, id)
		}
	}
	for _, m := range g.sortedMembers() {
		if _, ok := g.members[m.id]; !ok || m.joinWait != 0 || m.syncWait != 0 {
			continue
		}
		if !now.Before(m.expires) {
			g.removeAndRebalance(now, m.id)
		}
	}
	if g.phase == phasePreparingRebalance {
		switch {
		case g.delaying && !now.Before(g.delayUntil):
			if g.newMemberAdded && now.Before(g.joinDeadline) {
				g.newMemberAdded = false
				g.delayUntil = now.Add(g.initialDelay)
				if g.joinDeadline.Before(g.delayUntil) {
					g.delayUntil = g.joinDeadline
				}
			} else {
				g.completeJoin(now)
			}
		case !g.delaying && !now.Before(g.joinDeadline):
			g.completeJoin(now)
		default:
			g.tryCompleteJoin(now)
		}
	}
	if (g.phase == phaseCompletingRebalance || g.phase == phaseStable) && len(g.pendingSync) > 0 && !now.Before(g.syncDeadline) {
		for _, m := range g.sortedMembers() {
			if g.pendingSync[m.id] {
				g.removeMember(m.id, kerr.UnknownMemberID.Code)
			}
		}
		g.prepareRebalance(now)
	}
	return g.take()
}

// deadline is the next time expire has work to do; zero when there is none.
func (g *groupState) deadline() time.Time {
	var d time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	if g.phase == phaseDead {
		return d
	}
	for _, until := range g.pending {
		consider(until)
	}
	for _, m := range g.members {
		if m.joinWait == 0 && m.syncWait == 0 {
			consider(m.expires)
		}
	}
	if g.phase == phasePreparingRebalance {
		if g.delaying {
			consider(g.delayUntil)
		} else {
			consider(g.joinDeadline)
		}
	}
	if len(g.pendingSync) > 0 {
		consider(g.syncDeadline)
	}
	return d
}

// describe summarises the group as DescribeGroups shows it: member metadata
// and assignments only while Stable, as Kafka does.
func (g *groupState) describe() groupSummary {
	s := groupSummary{state: g.phase.String(), protocolType: g.protocolType}
	stable := g.phase == phaseStable
	if stable {
		s.protocol = g.protocol
	}
	for _, m := range g.sortedMembers() {
		ms := memberSummary{id: m.id, instanceID: m.instanceID, clientID: m.clientID, clientHost: m.clientHost}
		if stable {
			ms.metadata = metadataFor(m.protocols, g.protocol)
			ms.assignment = m.assignment
		}
		s.members = append(s.members, ms)
	}
	return s
}

// markDead ends the group (DeleteGroups): nothing is accepted any more.
func (g *groupState) markDead() {
	g.phase = phaseDead
	for _, m := range g.sortedMembers() {
		g.answerWaits(m, kerr.CoordinatorNotAvailable.Code)
	}
}
