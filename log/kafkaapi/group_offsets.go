package kafkaapi

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-cdc/sluice/log"
)

// maxOffsetMetadata is Kafka's offset.metadata.max.bytes default.
const maxOffsetMetadata = 4096

// OffsetCommit handles OffsetCommit v0–8. A member of the group commits with
// its member id and generation; generation -1 without a member id (and every
// v0 commit) is a commit by a client that does not use group management,
// accepted while the group has no members. The offsets are stored in one
// durable write before the response.
func (c *Coordinator) OffsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	codes := make([][]int16, len(req.Topics))
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
	}
	defer func() {
		for i, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for j, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = codes[i][j]
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}()
	all := func(code int16) *kmsg.OffsetCommitResponse {
		for i := range codes {
			for j := range codes[i] {
				codes[i][j] = code
			}
		}
		return resp
	}
	if !validGroupID(req.Group) {
		return all(kerr.InvalidGroupID.Code)
	}
	generation, memberID, instanceID := req.Generation, req.MemberID, ""
	if req.Version == 0 {
		generation, memberID = -1, ""
	}
	if req.Version >= 7 {
		instanceID = deref(req.InstanceID)
	}
	g, _, code := c.lockGroup(req.Group, generation < 0)
	switch {
	case code != 0:
		return all(code)
	case g == nil:
		// No such group, and the commit claims a generation of one.
		return all(kerr.IllegalGeneration.Code)
	}
	defer g.mu.Unlock()
	code = g.mu.state.commitAllowed(c.now(), memberID, instanceID, generation)
	c.arm(g)
	if code != 0 {
		return all(code)
	}

	var offsets []log.GroupOffset
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			md := deref(p.Metadata)
			if len(md) > maxOffsetMetadata {
				codes[i][j] = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			epoch := int32(-1)
			if req.Version >= 6 {
				epoch = p.LeaderEpoch
			}
			offsets = append(offsets, log.GroupOffset{Topic: t.Topic, Partition: p.Partition, Offset: p.Offset, LeaderEpoch: epoch, Metadata: md})
		}
	}
	if len(offsets) == 0 {
		return resp
	}
	if err := c.store.CommitOffsets(req.Group, offsets); err != nil {
		c.log.Error("committing offsets failed", "group", req.Group, "err", err)
		code := storeErrorCode(err)
		for i := range codes {
			for j := range codes[i] {
				if codes[i][j] == 0 {
					codes[i][j] = code
				}
			}
		}
	}
	return resp
}

// fetchedTopic is one topic of an OffsetFetch answer, before it is put in
// the version's shape.
type fetchedTopic struct {
	topic      string
	partitions []log.GroupOffset // Offset -1 when nothing is committed
}

// fetchOffsets returns a group's committed offsets for the requested topics
// and partitions, or for all its topics when all is set.
func (c *Coordinator) fetchOffsets(group string, all bool, topics map[string][]int32, order []string) ([]fetchedTopic, int16) {
	if !validGroupID(group) {
		return nil, kerr.InvalidGroupID.Code
	}
	c.mu.Lock()
	closed := c.mu.closed
	c.mu.Unlock()
	if closed {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	stored, err := c.store.FetchOffsets(group)
	if err != nil {
		c.log.Error("fetching offsets failed", "group", group, "err", err)
		return nil, storeErrorCode(err)
	}
	if all {
		byTopic := make(map[string]int)
		var out []fetchedTopic
		for _, o := range stored {
			i, ok := byTopic[o.Topic]
			if !ok {
				i = len(out)
				byTopic[o.Topic] = i
				out = append(out, fetchedTopic{topic: o.Topic})
			}
			out[i].partitions = append(out[i].partitions, o)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].topic < out[j].topic })
		for _, t := range out {
			sort.Slice(t.partitions, func(i, j int) bool { return t.partitions[i].Partition < t.partitions[j].Partition })
		}
		return out, 0
	}
	type tp struct {
		topic     string
		partition int32
	}
	have := make(map[tp]log.GroupOffset, len(stored))
	for _, o := range stored {
		have[tp{o.Topic, o.Partition}] = o
	}
	out := make([]fetchedTopic, 0, len(order))
	for _, t := range order {
		ft := fetchedTopic{topic: t}
		for _, p := range topics[t] {
			o, ok := have[tp{t, p}]
			if !ok {
				o = log.GroupOffset{Topic: t, Partition: p, Offset: -1, LeaderEpoch: -1}
			}
			ft.partitions = append(ft.partitions, o)
		}
		out = append(out, ft)
	}
	return out, 0
}

// OffsetFetch handles OffsetFetch v0–8 (v8 asks for several groups at once).
// Partitions without a committed offset answer offset -1, no metadata and no
// error. RequireStable (v7+) is accepted and needs nothing: there are no
// transactional offsets.
func (c *Coordinator) OffsetFetch(ctx context.Context, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			topics, order := map[string][]int32{}, []string(nil)
			for _, t := range rg.Topics {
				if _, ok := topics[t.Topic]; !ok {
					order = append(order, t.Topic)
				}
				topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
			}
			got, code := c.fetchOffsets(rg.Group, rg.Topics == nil, topics, order)
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group = rg.Group
			g.ErrorCode = code
			for _, ft := range got {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = ft.topic
				for _, o := range ft.partitions {
					rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					rp.Partition = o.Partition
					rp.Offset = o.Offset
					rp.LeaderEpoch = o.LeaderEpoch
					rp.Metadata = kmsg.StringPtr(o.Metadata)
					rt.Partitions = append(rt.Partitions, rp)
				}
				g.Topics = append(g.Topics, rt)
			}
			resp.Groups = append(resp.Groups, g)
		}
		return resp
	}

	topics, order := map[string][]int32{}, []string(nil)
	for _, t := range req.Topics {
		if _, ok := topics[t.Topic]; !ok {
			order = append(order, t.Topic)
		}
		topics[t.Topic] = append(topics[t.Topic], t.Partitions...)
	}
	got, code := c.fetchOffsets(req.Group, req.Version >= 2 && req.Topics == nil, topics, order)
	if code != 0 {
		if req.Version >= 2 {
			resp.ErrorCode = code
			return resp
		}
		// v0–1 have no group-level error: put it on every partition.
		for _, t := range order {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t
			for _, p := range topics[t] {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition = p
				rp.Offset = -1
				rp.Metadata = kmsg.StringPtr("")
				rp.ErrorCode = code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	for _, ft := range got {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = ft.topic
		for _, o := range ft.partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition = o.Partition
			rp.Offset = o.Offset
			if req.Version >= 5 {
				rp.LeaderEpoch = o.LeaderEpoch
			}
			rp.Metadata = kmsg.StringPtr(o.Metadata)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
