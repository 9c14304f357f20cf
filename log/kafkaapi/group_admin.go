package kafkaapi

import (
	"context"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupAuthorizedOperations is what DescribeGroups reports when asked for
// authorized operations: there are no ACLs, so everything a group supports —
// READ (3), DELETE (6) and DESCRIBE (8), as bits of Kafka's AclOperation.
const groupAuthorizedOperations = 1<<3 | 1<<6 | 1<<8

// hasOffsets reports whether the store holds offsets of group.
func (c *Coordinator) hasOffsets(group string) (bool, int16) {
	offsets, err := c.store.FetchOffsets(group)
	if err != nil {
		c.log.Error("fetching offsets failed", "group", group, "err", err)
		return false, storeErrorCode(err)
	}
	return len(offsets) > 0, 0
}

// DescribeGroups handles DescribeGroups v0–5. A group known only by its
// committed offsets is Empty; an unknown one is Dead, without error, as Kafka
// answers.
func (c *Coordinator) DescribeGroups(ctx context.Context, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, id := range req.Groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = id
		dg.State = phaseDead.String()
		if req.Version >= 3 && req.IncludeAuthorizedOperations {
			dg.AuthorizedOperations = groupAuthorizedOperations
		}
		resp.Groups = append(resp.Groups, c.describeGroup(dg, req.Version))
	}
	return resp
}

func (c *Coordinator) describeGroup(dg kmsg.DescribeGroupsResponseGroup, version int16) kmsg.DescribeGroupsResponseGroup {
	if !validGroupID(dg.Group) {
		dg.ErrorCode = kerr.InvalidGroupID.Code
		return dg
	}
	g, _, code := c.lockGroup(dg.Group, false)
	if code != 0 {
		dg.ErrorCode = code
		return dg
	}
	if g == nil {
		has, code := c.hasOffsets(dg.Group)
		dg.ErrorCode = code
		if has {
			dg.State = phaseEmpty.String()
		}
		return dg
	}
	s := g.mu.state.describe()
	g.mu.Unlock()
	dg.State, dg.ProtocolType, dg.Protocol = s.state, s.protocolType, s.protocol
	for _, m := range s.members {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID = m.id
		if version >= 4 && m.instanceID != "" {
			dm.InstanceID = kmsg.StringPtr(m.instanceID)
		}
		dm.ClientID, dm.ClientHost = m.clientID, m.clientHost
		dm.ProtocolMetadata, dm.MemberAssignment = m.metadata, m.assignment
		dg.Members = append(dg.Members, dm)
	}
	return dg
}

// ListGroups handles ListGroups v0–4: the groups in memory and those known
// only by their committed offsets (Empty, with no protocol type), filtered by
// state (v4+, case-insensitive).
func (c *Coordinator) ListGroups(ctx context.Context, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	groups := make([]*group, 0, len(c.mu.groups))
	for _, g := range c.mu.groups {
		groups = append(groups, g)
	}
	c.mu.Unlock()

	listed := make(map[string]kmsg.ListGroupsResponseGroup)
	for _, g := range groups {
		g.mu.Lock()
		s := g.mu.state
		if !g.mu.removed && s.phase != phaseDead {
			lg := kmsg.NewListGroupsResponseGroup()
			lg.Group, lg.ProtocolType, lg.GroupState = g.id, s.protocolType, s.phase.String()
			listed[g.id] = lg
		}
		g.mu.Unlock()
	}
	stored, err := c.store.Groups()
	if err != nil {
		c.log.Error("listing groups with offsets failed", "err", err)
		resp.ErrorCode = storeErrorCode(err)
		return resp
	}
	for _, id := range stored {
		if _, ok := listed[id]; !ok {
			lg := kmsg.NewListGroupsResponseGroup()
			lg.Group, lg.GroupState = id, phaseEmpty.String()
			listed[id] = lg
		}
	}
	for _, lg := range listed {
		if req.Version >= 4 && len(req.StatesFilter) > 0 && !containsFold(req.StatesFilter, lg.GroupState) {
			continue
		}
		if req.Version < 4 {
			lg.GroupState = ""
		}
		resp.Groups = append(resp.Groups, lg)
	}
	sort.Slice(resp.Groups, func(i, j int) bool { return resp.Groups[i].Group < resp.Groups[j].Group })
	return resp
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// DeleteGroups handles DeleteGroups v0–2: a group without members is
// removed with its committed offsets; one with members fails with
// NON_EMPTY_GROUP, an unknown one with GROUP_ID_NOT_FOUND.
func (c *Coordinator) DeleteGroups(ctx context.Context, req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, id := range req.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = id
		dg.ErrorCode = c.deleteGroup(id)
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

func (c *Coordinator) deleteGroup(id string) int16 {
	if !validGroupID(id) {
		return kerr.InvalidGroupID.Code
	}
	// Take the group's lock even for a group known only by its offsets,
	// so that a concurrent commit is ordered before or after the delete.
	g, created, code := c.lockGroup(id, true)
	if code != 0 {
		return code
	}
	defer g.mu.Unlock()
	if g.mu.state.phase != phaseEmpty {
		return kerr.NonEmptyGroup.Code
	}
	if created {
		has, code := c.hasOffsets(id)
		if code != 0 || !has {
			c.forget(g)
			if code != 0 {
				return code
			}
			return kerr.GroupIDNotFound.Code
		}
	}
	if err := c.store.DeleteGroupOffsets(id); err != nil {
		c.log.Error("deleting group offsets failed", "group", id, "err", err)
		return storeErrorCode(err)
	}
	c.forget(g)
	return 0
}
