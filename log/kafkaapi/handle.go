package kafkaapi

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handle runs a request's handler and returns its reply function. It runs
// on the connection's reader goroutine, so requests of one connection are
// handled in order.
func (s *Server) handle(c *conn, h requestHeader, req kmsg.Request) func() kmsg.Response {
	ctx := WithClient(c.ctx, h.clientID, c.remote)
	done := func(r kmsg.Response) func() kmsg.Response { return func() kmsg.Response { return r } }
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		return done(apiVersionsResponse(r.Version))
	case *kmsg.MetadataRequest:
		return done(s.metadata(r))
	case *kmsg.ProduceRequest:
		return s.produce(ctx, r)
	case *kmsg.FetchRequest:
		return done(s.fetch(ctx, r))
	case *kmsg.ListOffsetsRequest:
		return done(s.listOffsets(r))
	case *kmsg.OffsetForLeaderEpochRequest:
		return done(s.offsetForLeaderEpoch(r))
	case *kmsg.InitProducerIDRequest:
		return done(s.initProducerID(r))
	case *kmsg.CreateTopicsRequest:
		return done(s.createTopics(r))
	case *kmsg.DeleteTopicsRequest:
		return done(s.deleteTopics(r))
	case *kmsg.CreatePartitionsRequest:
		return done(s.createPartitions(r))
	case *kmsg.DescribeConfigsRequest:
		return done(s.describeConfigs(r))
	case *kmsg.AlterConfigsRequest:
		return done(s.alterConfigs(r))
	case *kmsg.IncrementalAlterConfigsRequest:
		return done(s.incrementalAlterConfigs(r))
	case *kmsg.FindCoordinatorRequest:
		return done(s.findCoordinator(r))
	case *kmsg.JoinGroupRequest:
		return done(s.groups.JoinGroup(ctx, r))
	case *kmsg.SyncGroupRequest:
		return done(s.groups.SyncGroup(ctx, r))
	case *kmsg.HeartbeatRequest:
		return done(s.groups.Heartbeat(ctx, r))
	case *kmsg.LeaveGroupRequest:
		return done(s.groups.LeaveGroup(ctx, r))
	case *kmsg.OffsetCommitRequest:
		return done(s.groups.OffsetCommit(ctx, r))
	case *kmsg.OffsetFetchRequest:
		return done(s.groups.OffsetFetch(ctx, r))
	case *kmsg.DescribeGroupsRequest:
		return done(s.groups.DescribeGroups(ctx, r))
	case *kmsg.ListGroupsRequest:
		return done(s.groups.ListGroups(ctx, r))
	case *kmsg.DeleteGroupsRequest:
		return done(s.groups.DeleteGroups(ctx, r))
	}
	// apiVersions admits only the requests above.
	panic("kafkaapi: no handler for " + kmsg.NameForKey(req.Key()))
}
