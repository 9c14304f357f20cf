package kafkaapi

import (
	"bytes"
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup handles JoinGroup v0–9. It blocks until the join phase ends (see
// the package notes) or ctx is done.
func (c *Coordinator) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
	resp.MemberID = req.MemberID
	resp.Generation = -1
	if !validGroupID(req.Group) {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	if session < c.opts.MinSessionTimeout || session > c.opts.MaxSessionTimeout {
		resp.ErrorCode = kerr.InvalidSessionTimeout.Code
		return resp
	}
	rebalance := session
	if req.Version >= 1 && req.RebalanceTimeoutMillis > 0 {
		rebalance = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	clientID, host := clientFrom(ctx)
	r := joinRequest{
		memberID:       req.MemberID,
		newMemberID:    newMemberID(clientID),
		requireKnownID: req.Version >= 4,
		clientID:       clientID,
		clientHost:     host,
		protocolType:   req.ProtocolType,
		session:        session,
		rebalance:      rebalance,
	}
	if req.Version >= 5 {
		r.instanceID = deref(req.InstanceID)
	}
	for _, p := range req.Protocols {
		r.protocols = append(r.protocols, protocol{name: p.Name, metadata: bytes.Clone(p.Metadata)})
	}

	g, _, code := c.lockGroup(req.Group, req.MemberID == "")
	if code != 0 || g == nil {
		resp.ErrorCode = code
		if g == nil && code == 0 {
			resp.ErrorCode = kerr.UnknownMemberID.Code
		}
		return resp
	}
	res, t, out := g.mu.state.join(c.now(), r)
	ch := c.apply(g, t, false, out)
	g.mu.Unlock()
	if t != 0 {
		rep, ok := c.await(ctx, g, t, ch)
		if !ok {
			resp.ErrorCode = kerr.RebalanceInProgress.Code
			return resp
		}
		res = rep.join
	}
	return fillJoinResponse(resp, res)
}

func fillJoinResponse(resp *kmsg.JoinGroupResponse, res joinResult) *kmsg.JoinGroupResponse {
	resp.ErrorCode = res.err
	if res.memberID != "" {
		resp.MemberID = res.memberID
	}
	if res.err != 0 {
		resp.Generation = -1
		return resp
	}
	resp.Generation = res.generation
	if resp.Version >= 7 {
		resp.ProtocolType = kmsg.StringPtr(res.protocolType)
	}
	resp.Protocol = kmsg.StringPtr(res.protocol)
	resp.LeaderID = res.leader
	for _, m := range res.members {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = m.id
		if resp.Version >= 5 && m.instanceID != "" {
			jm.InstanceID = kmsg.StringPtr(m.instanceID)
		}
		jm.ProtocolMetadata = m.metadata
		resp.Members = append(resp.Members, jm)
	}
	return resp
}

// SyncGroup handles SyncGroup v0–5. A follower's call blocks until the
// leader's assignment arrives, the rebalance is abandoned, or ctx is done.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	if !validGroupID(req.Group) {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	r := syncRequest{memberID: req.MemberID, generation: req.Generation}
	if req.Version >= 3 {
		r.instanceID = deref(req.InstanceID)
	}
	if req.Version >= 5 {
		r.protocolType, r.protocol = req.ProtocolType, req.Protocol
	}
	if len(req.GroupAssignment) > 0 {
		r.assignments = make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			r.assignments[a.MemberID] = bytes.Clone(a.MemberAssignment)
		}
	}

	g, _, code := c.lockGroup(req.Group, false)
	if code != 0 || g == nil {
		resp.ErrorCode = code
		if g == nil && code == 0 {
			resp.ErrorCode = kerr.UnknownMemberID.Code
		}
		return resp
	}
	res, t, out := g.mu.state.sync(c.now(), r)
	ch := c.apply(g, t, true, out)
	g.mu.Unlock()
	if t != 0 {
		rep, ok := c.await(ctx, g, t, ch)
		if !ok {
			resp.ErrorCode = kerr.RebalanceInProgress.Code
			return resp
		}
		res = rep.sync
	}
	resp.ErrorCode = res.err
	if res.err != 0 {
		return resp
	}
	if resp.Version >= 5 {
		resp.ProtocolType = kmsg.StringPtr(res.protocolType)
		resp.Protocol = kmsg.StringPtr(res.protocol)
	}
	resp.MemberAssignment = res.assignment
	return resp
}

// Heartbeat handles Heartbeat v0–4: it keeps the member's session alive and
// tells it when it must rejoin (REBALANCE_IN_PROGRESS).
func (c *Coordinator) Heartbeat(ctx context.Context, req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	if !validGroupID(req.Group) {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	var instanceID string
	if req.Version >= 3 {
		instanceID = deref(req.InstanceID)
	}
	g, _, code := c.lockGroup(req.Group, false)
	if code != 0 || g == nil {
		resp.ErrorCode = code
		if g == nil && code == 0 {
			resp.ErrorCode = kerr.UnknownMemberID.Code
		}
		return resp
	}
	defer g.mu.Unlock()
	resp.ErrorCode = g.mu.state.heartbeat(c.now(), req.MemberID, instanceID, req.Generation)
	c.arm(g)
	return resp
}

// LeaveGroup handles LeaveGroup v0–5: v0–2 name one member, v3+ a batch
// (which may name static members by group.instance.id alone).
func (c *Coordinator) LeaveGroup(ctx context.Context, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	if !validGroupID(req.Group) {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	var ls []leaveMember
	if req.Version < 3 {
		ls = []leaveMember{{memberID: req.MemberID}}
	} else {
		for _, m := range req.Members {
			ls = append(ls, leaveMember{memberID: m.MemberID, instanceID: deref(m.InstanceID)})
		}
	}
	codes := make([]int16, len(ls))
	g, _, code := c.lockGroup(req.Group, false)
	switch {
	case code != 0:
		resp.ErrorCode = code
		return resp
	case g == nil:
		for i := range codes {
			codes[i] = kerr.UnknownMemberID.Code
		}
	default:
		var out []reply
		codes, out = g.mu.state.leave(c.now(), ls)
		c.apply(g, 0, false, out)
		g.mu.Unlock()
	}
	if req.Version < 3 {
		resp.ErrorCode = codes[0]
		return resp
	}
	for i, l := range req.Members {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID = l.MemberID
		rm.InstanceID = l.InstanceID
		rm.ErrorCode = codes[i]
		resp.Members = append(resp.Members, rm)
	}
	return resp
}
