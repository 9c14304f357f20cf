package kafkaapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

// The tests here call the Coordinator's handlers as the server does, with
// members blocking in JoinGroup and SyncGroup on their own goroutines. They
// run in testing/synctest bubbles: the coordinator's timers run on the
// bubble's virtual clock, which moves only when every goroutine is blocked,
// so expiry is exercised through the real driver, deterministically and
// without waiting.

// memOffsets is an in-memory OffsetStore.
type memOffsets struct {
	mu      sync.Mutex
	groups  map[string]map[string]sluicelog.GroupOffset // group → topic/partition → offset
	commits int
	fail    error
}

func newMemOffsets() *memOffsets {
	return &memOffsets{groups: map[string]map[string]sluicelog.GroupOffset{}}
}

func memOffsetsKey(topic string, p int32) string { return fmt.Sprintf("%s\x00%010d", topic, p) }

func (s *memOffsets) CommitOffsets(group string, offsets []sluicelog.GroupOffset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return fmt.Errorf("commit offsets of group %q: %w", group, s.fail)
	}
	s.commits++
	if s.groups[group] == nil {
		s.groups[group] = map[string]sluicelog.GroupOffset{}
	}
	for _, o := range offsets {
		o.CommitTimeMs = 1
		s.groups[group][memOffsetsKey(o.Topic, o.Partition)] = o
	}
	return nil
}

func (s *memOffsets) FetchOffsets(group string) ([]sluicelog.GroupOffset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.groups[group] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []sluicelog.GroupOffset
	for _, k := range keys {
		out = append(out, s.groups[group][k])
	}
	return out, nil
}

func (s *memOffsets) DeleteGroupOffsets(group string, topics ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(topics) == 0 {
		delete(s.groups, group)
		return nil
	}
	for k, o := range s.groups[group] {
		if slices.Contains(topics, o.Topic) {
			delete(s.groups[group], k)
		}
	}
	return nil
}

func (s *memOffsets) Groups() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for g, offs := range s.groups {
		if len(offs) > 0 {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out, nil
}

func newGroupTestCoordinator(t *testing.T, store OffsetStore, delay time.Duration) *Coordinator {
	c := NewCoordinator(store, CoordinatorOptions{
		Logger:                slog.New(slog.NewTextHandler(io.Discard, nil)),
		InitialRebalanceDelay: delay,
	})
	t.Cleanup(c.Close)
	return c
}

func wantGroupCode(t *testing.T, what string, got, want int16) {
	t.Helper()
	if got != want {
		t.Errorf("%s: error %s, want %s", what, groupCodeName(got), groupCodeName(want))
	}
}

type groupJoinOpt func(*kmsg.JoinGroupRequest)

func joinVersion(v int16) groupJoinOpt { return func(r *kmsg.JoinGroupRequest) { r.Version = v } }
func joinInstance(id string) groupJoinOpt {
	return func(r *kmsg.JoinGroupRequest) { r.InstanceID = kmsg.StringPtr(id) }
}

func groupJoinRequest(group, memberID, meta string, opts ...groupJoinOpt) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 9
	req.Group = group
	req.MemberID = memberID
	req.SessionTimeoutMillis = 10_000
	req.RebalanceTimeoutMillis = 30_000
	req.ProtocolType = "consumer"
	req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte(meta)}}
	for _, o := range opts {
		o(req)
	}
	return req
}

// groupJoin joins as modern clients do: without an id, and again with the
// id MEMBER_ID_REQUIRED hands out.
func groupJoin(ctx context.Context, c *Coordinator, group, meta string, opts ...groupJoinOpt) *kmsg.JoinGroupResponse {
	req := groupJoinRequest(group, "", meta, opts...)
	resp := c.JoinGroup(ctx, req)
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		req.MemberID = resp.MemberID
		resp = c.JoinGroup(ctx, req)
	}
	return resp
}

func groupSync(ctx context.Context, c *Coordinator, group, member string, gen int32, assign map[string]string) *kmsg.SyncGroupResponse {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Version = 5
	req.Group, req.MemberID, req.Generation = group, member, gen
	req.ProtocolType, req.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	for _, id := range slices.Sorted(maps.Keys(assign)) {
		req.GroupAssignment = append(req.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: []byte(assign[id])})
	}
	return c.SyncGroup(ctx, req)
}

func groupHeartbeat(ctx context.Context, c *Coordinator, group, member string, gen int32) int16 {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group, req.MemberID, req.Generation = group, member, gen
	return c.Heartbeat(ctx, req).ErrorCode
}

// member runs one consumer's join and sync: the leader assigns "p-<id>" to
// every member it is told of.
type groupMemberResult struct {
	join       *kmsg.JoinGroupResponse
	assignment string
	syncErr    int16
}

func runGroupMember(ctx context.Context, c *Coordinator, group, meta string, opts ...groupJoinOpt) groupMemberResult {
	j := groupJoin(ctx, c, group, meta, opts...)
	if j.ErrorCode != 0 {
		return groupMemberResult{join: j}
	}
	var assign map[string]string
	if j.LeaderID == j.MemberID {
		assign = map[string]string{}
		for _, m := range j.Members {
			assign[m.MemberID] = "p-" + string(m.ProtocolMetadata)
		}
	}
	s := groupSync(ctx, c, group, j.MemberID, j.Generation, assign)
	return groupMemberResult{join: j, assignment: string(s.MemberAssignment), syncErr: s.ErrorCode}
}

func TestGroupMemberIDRequired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newGroupTestCoordinator(t, newMemOffsets(), 0)
		ctx := WithClient(context.Background(), "kgo", "/10.0.0.7")

		req := groupJoinRequest("g", "", "m1")
		resp := c.JoinGroup(ctx, req)
		wantGroupCode(t, "first join", resp.ErrorCode, kerr.MemberIDRequired.Code)
		if !strings.HasPrefix(resp.MemberID, "kgo-") || len(resp.MemberID) != len("kgo-")+36 || resp.Generation != -1 {
			t.Fatalf("MEMBER_ID_REQUIRED answer: member %q generation %d", resp.MemberID, resp.Generation)
		}
		req.MemberID = resp.MemberID
		resp = c.JoinGroup(ctx, req)
		wantGroupCode(t, "second join", resp.ErrorCode, 0)
		if resp.Generation != 1 || resp.LeaderID != req.MemberID || resp.MemberID != req.MemberID ||
			deref(resp.Protocol) != "range" || deref(resp.ProtocolType) != "consumer" ||
			len(resp.Members) != 1 || string(resp.Members[0].ProtocolMetadata) != "m1" {
			t.Fatalf("join answer: %+v", resp)
		}

		// Before v4 there is no MEMBER_ID_REQUIRED step.
		resp = c.JoinGroup(ctx, groupJoinRequest("g3", "", "m", joinVersion(3)))
		wantGroupCode(t, "v3 join", resp.ErrorCode, 0)
		if !strings.HasPrefix(resp.MemberID, "kgo-") || resp.Generation != 1 || resp.ProtocolType != nil {
			t.Fatalf("v3 join answer: %+v", resp)
		}
		// A static member joins straight away.
		resp = c.JoinGroup(ctx, groupJoinRequest("g5", "", "m", joinInstance("i1")))
		wantGroupCode(t, "static join", resp.ErrorCode, 0)
		if resp.Members[0].InstanceID == nil || *resp.Members[0].InstanceID != "i1" {
			t.Fatalf("static join answer: %+v", resp)
		}

		bad := groupJoinRequest("", "", "m")
		wantGroupCode(t, "empty group id", c.JoinGroup(ctx, bad).ErrorCode, kerr.InvalidGroupID.Code)
		bad = groupJoinRequest("g", "", "m")
		bad.SessionTimeoutMillis = 1000
		wantGroupCode(t, "short session", c.JoinGroup(ctx, bad).ErrorCode, kerr.InvalidSessionTimeout.Code)
		bad.SessionTimeoutMillis = int32((31 * time.Minute).Milliseconds())
		wantGroupCode(t, "long session", c.JoinGroup(ctx, bad).ErrorCode, kerr.InvalidSessionTimeout.Code)
		wantGroupCode(t, "unknown member", c.JoinGroup(ctx, groupJoinRequest("g", "nobody", "m")).ErrorCode, kerr.UnknownMemberID.Code)
		wantGroupCode(t, "unknown group", c.JoinGroup(ctx, groupJoinRequest("nogroup", "nobody", "m")).ErrorCode, kerr.UnknownMemberID.Code)
		other := groupJoinRequest("g", "", "m")
		other.ProtocolType = "connect"
		wantGroupCode(t, "other protocol type", c.JoinGroup(ctx, other).ErrorCode, kerr.InconsistentGroupProtocol.Code)
	})
}

// Three members start together; the initial rebalance delay gathers them in
// one generation, the leader assigns, and each gets its own assignment.
func TestGroupThreeMembersJoinAndSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newGroupTestCoordinator(t, newMemOffsets(), 3*time.Second)
		start := time.Now()
		results := make([]groupMemberResult, 3)
		var wg sync.WaitGroup
		for i := range results {
			wg.Go(func() {
				ctx := WithClient(context.Background(), fmt.Sprintf("client-%d", i), fmt.Sprintf("/10.0.0.%d", i))
				results[i] = runGroupMember(ctx, c, "g", fmt.Sprint(i))
			})
		}
		wg.Wait()
		// Members arrived during the first 3s delay, so it was extended
		// once, as Kafka does; none arrived during the second.
		if waited := time.Since(start); waited != 6*time.Second {
			t.Errorf("the join phase took %v, want twice the initial delay of 3s", waited)
		}
		leaders := 0
		for i, r := range results {
			wantGroupCode(t, "join", r.join.ErrorCode, 0)
			wantGroupCode(t, "sync", r.syncErr, 0)
			if r.join.Generation != 1 {
				t.Errorf("member %d: generation %d, want 1", i, r.join.Generation)
			}
			if want := fmt.Sprintf("p-%d", i); r.assignment != want {
				t.Errorf("member %d: assignment %q, want %q", i, r.assignment, want)
			}
			if r.join.LeaderID == r.join.MemberID {
				leaders++
				if len(r.join.Members) != 3 {
					t.Errorf("leader told of %d members, want 3", len(r.join.Members))
				}
			} else if len(r.join.Members) != 0 {
				t.Errorf("follower %d told of members: %+v", i, r.join.Members)
			}
		}
		if leaders != 1 {
			t.Fatalf("%d leaders, want 1", leaders)
		}

		d := kmsg.NewPtrDescribeGroupsRequest()
		d.Version = 5
		d.Groups = []string{"g"}
		dg := c.DescribeGroups(context.Background(), d).Groups[0]
		if dg.State != "Stable" || dg.ProtocolType != "consumer" || dg.Protocol != "range" || len(dg.Members) != 3 {
			t.Fatalf("describe: %+v", dg)
		}
		for _, m := range dg.Members {
			i := strings.TrimPrefix(m.ClientID, "client-")
			if !strings.HasPrefix(m.MemberID, m.ClientID+"-") || m.ClientHost != "/10.0.0."+i ||
				string(m.ProtocolMetadata) != i || string(m.MemberAssignment) != "p-"+i {
				t.Errorf("described member: %+v", m)
			}
		}
	})
}

// A member joining a Stable group starts a rebalance; the existing member
// learns it from its heartbeat, rejoins, and both land in generation 2.
func TestGroupHeartbeatSignalsRebalance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newGroupTestCoordinator(t, newMemOffsets(), 0)
		ctx := context.Background()
		a := runGroupMember(ctx, c, "g", "a")
		if a.join.Generation != 1 || a.assignment != "p-a" {
			t.Fatalf("first member: %+v", a)
		}
		wantGroupCode(t, "heartbeat while stable", groupHeartbeat(ctx, c, "g", a.join.MemberID, 1), 0)

		bDone := make(chan groupMemberResult)
		go func() { bDone <- runGroupMember(ctx, c, "g", "b") }()
		synctest.Wait() // b waits in JoinGroup
		wantGroupCode(t, "heartbeat after a join", groupHeartbeat(ctx, c, "g", a.join.MemberID, 1), kerr.RebalanceInProgress.Code)

		req := groupJoinRequest("g", a.join.MemberID, "a")
		j := c.JoinGroup(ctx, req)
		wantGroupCode(t, "rejoin", j.ErrorCode, 0)
		if j.Generation != 2 || j.LeaderID != a.join.MemberID || len(j.Members) != 2 {
			t.Fatalf("rejoin: %+v", j)
		}
		s := groupSync(ctx, c, "g", j.MemberID, 2, map[string]string{j.Members[0].MemberID: "x", j.Members[1].MemberID: "y"})
		wantGroupCode(t, "leader sync", s.ErrorCode, 0)
		b := <-bDone
		wantGroupCode(t, "b sync", b.syncErr, 0)
		if b.join.Generation != 2 || b.assignment != "y" || string(s.MemberAssignment) != "x" {
			t.Fatalf("b: %+v; leader's assignment %q", b, s.MemberAssignment)
		}
		wantGroupCode(t, "stale heartbeat", groupHeartbeat(ctx, c, "g", a.join.MemberID, 1), kerr.IllegalGeneration.Code)
		wantGroupCode(t, "heartbeat", groupHeartbeat(ctx, c, "g", b.join.MemberID, 2), 0)
		wantGroupCode(t, "unknown member heartbeat", groupHeartbeat(ctx, c, "g", "nobody", 2), kerr.UnknownMemberID.Code)
		wantGroupCode(t, "unknown group heartbeat", groupHeartbeat(ctx, c, "nogroup", "nobody", 2), kerr.UnknownMemberID.Code)
	})
}

// A member that stops heartbeating is removed when its session ends, by the
// coordinator's own timer, and the others are told to rebalance.
func TestGroupSessionExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newGroupTestCoordinator(t, newMemOffsets(), 3*time.Second)
		ctx := context.Background()
		var a, b groupMemberResult
		var wg sync.WaitGroup
		wg.Go(func() { a = runGroupMember(ctx, c, "g", "a") })
		wg.Go(func() { b = runGroupMember(ctx, c, "g", "b") })
		wg.Wait()
		if a.join.Generation != 1 || b.join.Generation != 1 {
			t.Fatalf("generations %d and %d, want 1", a.join.Generation, b.join.Generation)
		}
		// a heartbeats every 3s; b is silent and its 10s session ends.
		start := time.Now()
		var code int16
		for code == 0 && time.Since(start) < time.Minute {
			<-time.After(3 * time.Second) // virtual time
			code = groupHeartbeat(ctx, c, "g", a.join.MemberID, 1)
		}
		wantGroupCode(t, "heartbeat after b's session ended", code, kerr.RebalanceInProgress.Code)
		if d := time.Since(start); d != 12*time.Second {
			t.Errorf("rebalance noticed after %v, want 12s (the first heartbeat after b's 10s session)", d)
		}
		a2 := runGroupMember(ctx, c, "g", "a", func(r *kmsg.JoinGroupRequest) { r.MemberID = a.join.MemberID })
		if a2.join.Generation != 2 || len(a2.join.Members) != 1 || a2.assignment != "p-a" {
			t.Fatalf("rejoin after b expired: %+v", a2)
		}
		wantGroupCode(t, "expired member's heartbeat", groupHeartbeat(ctx, c, "g", b.join.MemberID, 1), kerr.UnknownMemberID.Code)

		// A new member starts a rebalance; a does not rejoin (nor
		// heartbeat) and the join phase ends without it when its session
		// does.
		start = time.Now()
		cj := c.JoinGroup(ctx, groupJoinRequest("g", "", "c", joinVersion(3)))
		wantGroupCode(t, "c join", cj.ErrorCode, 0)
		if cj.Generation != 3 || len(cj.Members) != 1 || cj.LeaderID != cj.MemberID {
			t.Fatalf("c join: %+v", cj)
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("c's join waited %v, want a's session of 10s", d)
		}
	})
}

func TestGroupLeaveRebalances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newGroupTestCoordinator(t, newMemOffsets(), time.Second)
		ctx := context.Background()
		var a, b groupMemberResult
		var wg sync.WaitGroup
		wg.Go(func() { a = runGroupMember(ctx, c, "g", "a") })
		wg.Go(func() { b = runGroupMember(ctx, c, "g", "b") })
		wg.Wait()

		l := kmsg.NewPtrLeaveGroupRequest()
		l.Version = 1
		l.Group, l.MemberID = "g", b.join.MemberID
		wantGroupCode(t, "v1 leave", c.LeaveGroup(ctx, l).ErrorCode, 0)
		wantGroupCode(t, "v1 leave again", c.LeaveGroup(ctx, l).ErrorCode, kerr.UnknownMemberID.Code)
		wantGroupCode(t, "heartbeat", groupHeartbeat(ctx, c, "g", a.join.MemberID, 1), kerr.RebalanceInProgress.Code)

		l = kmsg.NewPtrLeaveGroupRequest()
		l.Version = 5
		l.Group = "g"
		l.Members = []kmsg.LeaveGroupRequestMember{{MemberID: a.join.MemberID}, {MemberID: "nobody"}}
		resp := c.LeaveGroup(ctx, l)
		if resp.ErrorCode != 0 || len(resp.Members) != 2 || resp.Members[0].ErrorCode != 0 || resp.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
			t.Fatalf("v5 leave: %+v", resp)
		}
		d := kmsg.NewPtrDescribeGroupsRequest()
		d.Groups = []string{"g"}
		if dg := c.DescribeGroups(ctx, d).Groups[0]; dg.State != "Empty" || len(dg.Members) != 0 {
			t.Fatalf("after everyone left: %+v", dg)
		}
	})
}

func TestGroupOffsetCommitFetch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemOffsets()
		c := newGroupTestCoordinator(t, store, 0)
		ctx := context.Background()
		m := runGroupMember(ctx, c, "g", "a")

		commit := kmsg.NewPtrOffsetCommitRequest()
		commit.Version = 8
		commit.Group, commit.Generation, commit.MemberID = "g", m.join.Generation, m.join.MemberID
		p0 := kmsg.NewOffsetCommitRequestTopicPartition()
		p0.Partition, p0.Offset, p0.LeaderEpoch, p0.Metadata = 0, 42, 3, kmsg.StringPtr("meta")
		p2 := kmsg.NewOffsetCommitRequestTopicPartition()
		p2.Partition, p2.Offset = 2, 7
		big := kmsg.NewOffsetCommitRequestTopicPartition()
		big.Partition, big.Offset, big.Metadata = 3, 1, kmsg.StringPtr(strings.Repeat("x", 5000))
		commit.Topics = []kmsg.OffsetCommitRequestTopic{
			{Topic: "orders", Partitions: []kmsg.OffsetCommitRequestTopicPartition{p0, p2, big}},
		}
		cr := c.OffsetCommit(ctx, commit)
		if len(cr.Topics) != 1 || len(cr.Topics[0].Partitions) != 3 {
			t.Fatalf("commit response: %+v", cr)
		}
		wantGroupCode(t, "commit p0", cr.Topics[0].Partitions[0].ErrorCode, 0)
		wantGroupCode(t, "commit p2", cr.Topics[0].Partitions[1].ErrorCode, 0)
		wantGroupCode(t, "commit oversized metadata", cr.Topics[0].Partitions[2].ErrorCode, kerr.OffsetMetadataTooLarge.Code)
		if store.commits != 1 {
			t.Errorf("%d store writes for one commit, want 1", store.commits)
		}
		// A v2 commit carries no leader epoch.
		v2 := kmsg.NewPtrOffsetCommitRequest()
		v2.Version = 2
		v2.Group, v2.Generation, v2.MemberID = "g", m.join.Generation, m.join.MemberID
		q := kmsg.NewOffsetCommitRequestTopicPartition()
		q.Partition, q.Offset, q.LeaderEpoch = 0, 5, 9
		v2.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "users", Partitions: []kmsg.OffsetCommitRequestTopicPartition{q}}}
		wantGroupCode(t, "v2 commit", c.OffsetCommit(ctx, v2).Topics[0].Partitions[0].ErrorCode, 0)

		// v5: named partitions, one never committed.
		f := kmsg.NewPtrOffsetFetchRequest()
		f.Version = 5
		f.Group = "g"
		f.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "orders", Partitions: []int32{0, 1, 2}}}
		fr := c.OffsetFetch(ctx, f)
		got := fmt.Sprint(groupFetchedV7(fr))
		want := "[orders/0=42@3 \"meta\" orders/1=-1@-1 \"\" orders/2=7@-1 \"\"]"
		if fr.ErrorCode != 0 || got != want {
			t.Fatalf("v5 fetch: error %s, %s, want %s", groupCodeName(fr.ErrorCode), got, want)
		}
		// v7 with no topics: everything the group committed.
		f.Version, f.Topics = 7, nil
		got = fmt.Sprint(groupFetchedV7(c.OffsetFetch(ctx, f)))
		want = "[orders/0=42@3 \"meta\" orders/2=7@-1 \"\" users/0=5@-1 \"\"]"
		if got != want {
			t.Fatalf("v7 fetch all: %s, want %s", got, want)
		}
		// v8: several groups, one unknown.
		f8 := kmsg.NewPtrOffsetFetchRequest()
		f8.Version = 8
		f8.Groups = []kmsg.OffsetFetchRequestGroup{
			{Group: "g", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "users", Partitions: []int32{0, 1}}}},
			{Group: "other", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "users", Partitions: []int32{0}}}},
			{Group: "g"},
			{Group: ""},
		}
		fr8 := c.OffsetFetch(ctx, f8)
		var lines []string
		for _, g := range fr8.Groups {
			var ps []string
			for _, t := range g.Topics {
				for _, p := range t.Partitions {
					ps = append(ps, fmt.Sprintf("%s/%d=%d@%d", t.Topic, p.Partition, p.Offset, p.LeaderEpoch))
				}
			}
			lines = append(lines, fmt.Sprintf("%s %s %v", g.Group, groupCodeName(g.ErrorCode), ps))
		}
		got = strings.Join(lines, "; ")
		want = "g NONE [users/0=5@-1 users/1=-1@-1]; other NONE [users/0=-1@-1]; g NONE [orders/0=42@3 orders/2=7@-1 users/0=5@-1];  INVALID_GROUP_ID []"
		if got != want {
			t.Fatalf("v8 fetch:\n got %s\nwant %s", got, want)
		}

		// Wrong generation and unknown members are refused, and nothing
		// is written.
		commit.Generation = 9
		wantGroupCode(t, "stale commit", c.OffsetCommit(ctx, commit).Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration.Code)
		commit.Generation, commit.MemberID = m.join.Generation, "nobody"
		wantGroupCode(t, "unknown member commit", c.OffsetCommit(ctx, commit).Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID.Code)
		commit.Generation, commit.MemberID = -1, ""
		wantGroupCode(t, "simple commit to a group with members", c.OffsetCommit(ctx, commit).Topics[0].Partitions[0].ErrorCode, kerr.UnknownMemberID.Code)
		if store.commits != 2 {
			t.Errorf("%d store writes, want 2", store.commits)
		}

		// A store failure is retriable for the client.
		store.mu.Lock()
		store.fail = sluicelog.ErrFailed
		store.mu.Unlock()
		commit.Generation, commit.MemberID = m.join.Generation, m.join.MemberID
		wantGroupCode(t, "commit with a failed store", c.OffsetCommit(ctx, commit).Topics[0].Partitions[0].ErrorCode, kerr.CoordinatorNotAvailable.Code)
	})
}

func groupFetchedV7(r *kmsg.OffsetFetchResponse) []string {
	var out []string
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			out = append(out, fmt.Sprintf("%s/%d=%d@%d %q", t.Topic, p.Partition, p.Offset, p.LeaderEpoch, deref(p.Metadata)))
			if p.ErrorCode != 0 {
				out = append(out, groupCodeName(p.ErrorCode))
			}
		}
	}
	return out
}

// Tools such as kcat commit with generation -1 and no member id, to groups
// nobody has joined.
func TestGroupSimpleCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemOffsets()
		c := newGroupTestCoordinator(t, store, 0)
		ctx := context.Background()
		for _, v := range []int16{0, 1, 2, 5, 8} {
			req := kmsg.NewPtrOffsetCommitRequest()
			req.Version = v
			req.Group = fmt.Sprintf("tool-%d", v)
			p := kmsg.NewOffsetCommitRequestTopicPartition()
			p.Offset = int64(v) + 10
			req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{p}}}
			wantGroupCode(t, fmt.Sprintf("v%d simple commit", v), c.OffsetCommit(ctx, req).Topics[0].Partitions[0].ErrorCode, 0)
			offs, _ := store.FetchOffsets(req.Group)
			if len(offs) != 1 || offs[0].Offset != int64(v)+10 {
				t.Errorf("v%d: stored %+v", v, offs)
			}
		}
		// A generation for a group that does not exist is stale.
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version = 8
		req.Group, req.Generation, req.MemberID = "nogroup", 4, "m"
		req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{kmsg.NewOffsetCommitRequestTopicPartition()}}}
		wantGroupCode(t, "commit to an unknown group", c.OffsetCommit(ctx, req).Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration.Code)
		req.Group = ""
		wantGroupCode(t, "commit without group", c.OffsetCommit(ctx, req).Topics[0].Partitions[0].ErrorCode, kerr.InvalidGroupID.Code)
	})
}

func TestGroupDescribeListDelete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemOffsets()
		_ = store.CommitOffsets("offsets-only", []sluicelog.GroupOffset{{Topic: "t", Offset: 1}})
		c := newGroupTestCoordinator(t, store, 0)
		ctx := WithClient(context.Background(), "cli", "/1.2.3.4")
		m := runGroupMember(ctx, c, "active", "a")
		// A group rebalancing: "active2" has a member waiting in JoinGroup
		// for the other to rejoin.
		runGroupMember(ctx, c, "active2", "x")
		go groupJoin(ctx, c, "active2", "y")
		synctest.Wait()

		d := kmsg.NewPtrDescribeGroupsRequest()
		d.Version = 5
		d.IncludeAuthorizedOperations = true
		d.Groups = []string{"active", "offsets-only", "unknown", "active2"}
		var got []string
		for _, g := range c.DescribeGroups(ctx, d).Groups {
			got = append(got, fmt.Sprintf("%s:%s:%s:%s:%d:%s:%d", g.Group, groupCodeName(g.ErrorCode), g.State, g.ProtocolType, len(g.Members), g.Protocol, g.AuthorizedOperations))
		}
		want := []string{
			"active:NONE:Stable:consumer:1:range:328",
			"offsets-only:NONE:Empty::0::328",
			"unknown:NONE:Dead::0::328",
			"active2:NONE:PreparingRebalance:consumer:2::328",
		}
		if !slices.Equal(got, want) {
			t.Errorf("describe:\n got %q\nwant %q", got, want)
		}

		list := func(v int16, states ...string) []string {
			req := kmsg.NewPtrListGroupsRequest()
			req.Version = v
			req.StatesFilter = states
			resp := c.ListGroups(ctx, req)
			wantGroupCode(t, "list", resp.ErrorCode, 0)
			var out []string
			for _, g := range resp.Groups {
				out = append(out, g.Group+":"+g.ProtocolType+":"+g.GroupState)
			}
			return out
		}
		if got, want := list(4), []string{"active:consumer:Stable", "active2:consumer:PreparingRebalance", "offsets-only::Empty"}; !slices.Equal(got, want) {
			t.Errorf("list v4: %q, want %q", got, want)
		}
		if got, want := list(4, "Empty", "stable"), []string{"active:consumer:Stable", "offsets-only::Empty"}; !slices.Equal(got, want) {
			t.Errorf("list v4 filtered: %q, want %q", got, want)
		}
		if got, want := list(2), []string{"active:consumer:", "active2:consumer:", "offsets-only::"}; !slices.Equal(got, want) {
			t.Errorf("list v2: %q, want %q", got, want)
		}

		del := kmsg.NewPtrDeleteGroupsRequest()
		del.Version = 2
		del.Groups = []string{"active", "offsets-only", "unknown", ""}
		got = nil
		for _, g := range c.DeleteGroups(ctx, del).Groups {
			got = append(got, g.Group+":"+groupCodeName(g.ErrorCode))
		}
		want = []string{"active:NON_EMPTY_GROUP", "offsets-only:NONE", "unknown:GROUP_ID_NOT_FOUND", ":INVALID_GROUP_ID"}
		if !slices.Equal(got, want) {
			t.Errorf("delete: %q, want %q", got, want)
		}
		if offs, _ := store.FetchOffsets("offsets-only"); len(offs) != 0 {
			t.Errorf("offsets left after delete: %+v", offs)
		}

		// Once its member left, the group (with offsets) can go.
		commit := kmsg.NewPtrOffsetCommitRequest()
		commit.Version = 8
		commit.Group, commit.Generation, commit.MemberID = "active", m.join.Generation, m.join.MemberID
		commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{kmsg.NewOffsetCommitRequestTopicPartition()}}}
		wantGroupCode(t, "commit", c.OffsetCommit(ctx, commit).Topics[0].Partitions[0].ErrorCode, 0)
		l := kmsg.NewPtrLeaveGroupRequest()
		l.Version = 0
		l.Group, l.MemberID = "active", m.join.MemberID
		wantGroupCode(t, "leave", c.LeaveGroup(ctx, l).ErrorCode, 0)
		del.Groups = []string{"active"}
		wantGroupCode(t, "delete after leave", c.DeleteGroups(ctx, del).Groups[0].ErrorCode, 0)
		if offs, _ := store.FetchOffsets("active"); len(offs) != 0 {
			t.Errorf("offsets left after delete: %+v", offs)
		}
		if got, want := list(4), []string{"active2:consumer:PreparingRebalance"}; !slices.Equal(got, want) {
			t.Errorf("list after deletes: %q, want %q", got, want)
		}
		// The deleted group's old member is unknown; the name is free.
		wantGroupCode(t, "old member heartbeat", groupHeartbeat(ctx, c, "active", m.join.MemberID, 1), kerr.UnknownMemberID.Code)
		if r := runGroupMember(ctx, c, "active", "b"); r.join.ErrorCode != 0 || r.join.Generation != 1 {
			t.Errorf("join after delete: %+v", r.join)
		}
	})
}

func TestGroupCloseAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newGroupTestCoordinator(t, newMemOffsets(), 0)
		ctx := context.Background()
		a := runGroupMember(ctx, c, "g", "a")

		// A JoinGroup whose connection goes away returns.
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan *kmsg.JoinGroupResponse)
		go func() { done <- groupJoin(cctx, c, "g", "b") }()
		synctest.Wait()
		cancel()
		wantGroupCode(t, "cancelled join", (<-done).ErrorCode, kerr.RebalanceInProgress.Code)

		// Close wakes a waiting JoinGroup: c waits for a to rejoin.
		go func() { done <- groupJoin(ctx, c, "g", "c") }()
		synctest.Wait()
		c.Close()
		wantGroupCode(t, "join waiting at close", (<-done).ErrorCode, kerr.CoordinatorNotAvailable.Code)
		wantGroupCode(t, "join after close", groupJoin(ctx, c, "g", "c").ErrorCode, kerr.CoordinatorNotAvailable.Code)
		wantGroupCode(t, "heartbeat after close", groupHeartbeat(ctx, c, "g", a.join.MemberID, 1), kerr.CoordinatorNotAvailable.Code)
	})
}

// Every handler's response encodes at every supported version and decodes
// back as a response of that version.
func TestGroupResponsesEncodeAtEveryVersion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newGroupTestCoordinator(t, newMemOffsets(), 0)
		ctx := context.Background()
		m := runGroupMember(ctx, c, "g", "a")
		member, gen := m.join.MemberID, m.join.Generation
		check := func(req kmsg.Request, resp kmsg.Response) {
			t.Helper()
			if resp.GetVersion() != req.GetVersion() {
				t.Errorf("%s v%d answered with v%d", kmsg.NameForKey(req.Key()), req.GetVersion(), resp.GetVersion())
			}
			back := req.ResponseKind()
			if err := back.ReadFrom(resp.AppendTo(nil)); err != nil {
				t.Errorf("%s v%d: response does not decode: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
			}
		}
		for v := int16(0); v <= 9; v++ {
			req := groupJoinRequest("g", member, "a", joinVersion(v))
			check(req, c.JoinGroup(ctx, req))
		}
		for v := int16(0); v <= 5; v++ {
			req := kmsg.NewPtrSyncGroupRequest()
			req.Version, req.Group, req.MemberID, req.Generation = v, "g", member, gen
			check(req, c.SyncGroup(ctx, req))
		}
		for v := int16(0); v <= 4; v++ {
			req := kmsg.NewPtrHeartbeatRequest()
			req.Version, req.Group, req.MemberID, req.Generation = v, "g", member, gen
			check(req, c.Heartbeat(ctx, req))
		}
		for v := int16(0); v <= 8; v++ {
			req := kmsg.NewPtrOffsetCommitRequest()
			req.Version, req.Group = v, fmt.Sprint("tool-", v)
			req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{kmsg.NewOffsetCommitRequestTopicPartition()}}}
			check(req, c.OffsetCommit(ctx, req))
		}
		for v := int16(0); v <= 8; v++ {
			req := kmsg.NewPtrOffsetFetchRequest()
			req.Version, req.Group = v, "tool-1"
			req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
			req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "tool-1"}}
			check(req, c.OffsetFetch(ctx, req))
		}
		for v := int16(0); v <= 5; v++ {
			req := kmsg.NewPtrDescribeGroupsRequest()
			req.Version, req.Groups = v, []string{"g", "tool-1", "x"}
			check(req, c.DescribeGroups(ctx, req))
		}
		for v := int16(0); v <= 4; v++ {
			req := kmsg.NewPtrListGroupsRequest()
			req.Version = v
			check(req, c.ListGroups(ctx, req))
		}
		for v := int16(0); v <= 2; v++ {
			req := kmsg.NewPtrDeleteGroupsRequest()
			req.Version, req.Groups = v, []string{fmt.Sprint("tool-", v), "x"}
			check(req, c.DeleteGroups(ctx, req))
		}
		for v := int16(0); v <= 5; v++ {
			req := kmsg.NewPtrLeaveGroupRequest()
			req.Version, req.Group, req.MemberID = v, "g", "nobody"
			req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: "nobody"}}
			check(req, c.LeaveGroup(ctx, req))
		}
	})
}
