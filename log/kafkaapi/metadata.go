package kafkaapi

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

func (s *Server) metadata(req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	for _, b := range s.cluster.Brokers() {
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID, mb.Host, mb.Port = b.ID, b.Host, b.Port
		if b.Rack != "" {
			rack := b.Rack
			mb.Rack = &rack
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	cid := s.cluster.ClusterID()
	resp.ClusterID = &cid
	resp.ControllerID = s.cluster.ControllerID()

	var names []string
	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range s.log.Topics() {
			names = append(names, t.Name)
		}
	} else {
		for _, t := range req.Topics {
			if t.Topic == nil {
				continue // lookup by topic id is not supported; ids are not advertised
			}
			names = append(names, *t.Topic)
		}
	}
	autoCreate := s.opts.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, name := range names {
		mt := kmsg.NewMetadataResponseTopic()
		n := name
		mt.Topic = &n
		info, err := s.log.Topic(name)
		if errors.Is(err, sluicelog.ErrUnknownTopic) && autoCreate && !all {
			info, err = s.autoCreate(name)
		}
		if err != nil {
			mt.ErrorCode = errCode(err)
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		for p := int32(0); p < info.Partitions; p++ {
			pi := s.cluster.Partition(name, p)
			mp := kmsg.NewMetadataResponseTopicPartition()
			mp.Partition, mp.Leader, mp.LeaderEpoch = p, pi.Leader, pi.LeaderEpoch
			mp.Replicas, mp.ISR = pi.Replicas, pi.ISR
			if pi.Leader < 0 {
				mp.ErrorCode = kerr.LeaderNotAvailable.Code
			}
			mt.Partitions = append(mt.Partitions, mp)
		}
		resp.Topics = append(resp.Topics, mt)
	}
	return resp
}

// autoCreate creates a topic with the node's defaults; a concurrent
// creation of the same topic is not an error.
func (s *Server) autoCreate(name string) (sluicelog.TopicInfo, error) {
	info, err := s.log.CreateTopic(sluicelog.TopicSpec{Name: name, Partitions: s.opts.DefaultPartitions, ReplicationFactor: s.opts.DefaultReplicationFactor})
	if errors.Is(err, sluicelog.ErrTopicExists) {
		return s.log.Topic(name)
	}
	if err == nil {
		s.logger.Info("kafka: auto-created topic", "topic", name, "partitions", s.opts.DefaultPartitions)
	}
	return info, err
}

func (s *Server) findCoordinator(req *kmsg.FindCoordinatorRequest) *kmsg.FindCoordinatorResponse {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	keys := req.CoordinatorKeys
	if req.Version < 4 {
		keys = []string{req.CoordinatorKey}
	}
	brokers := map[int32]Broker{}
	for _, b := range s.cluster.Brokers() {
		brokers[b.ID] = b
	}
	for _, key := range keys {
		var code int16
		var msg *string
		var b Broker
		switch {
		case req.CoordinatorType != 0:
			code = kerr.InvalidRequest.Code
			m := fmt.Sprintf("coordinator type %d is not supported: sluice has no transactions", req.CoordinatorType)
			msg = &m
		case key == "":
			code = kerr.InvalidGroupID.Code
		default:
			var ok bool
			b, ok = brokers[s.cluster.Coordinator(key)]
			if !ok {
				code = kerr.CoordinatorNotAvailable.Code
			}
		}
		if req.Version < 4 {
			resp.ErrorCode, resp.ErrorMessage = code, msg
			resp.NodeID, resp.Host, resp.Port = b.ID, b.Host, b.Port
			if code != 0 {
				resp.NodeID = -1
			}
			continue
		}
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.ErrorCode, c.ErrorMessage = key, code, msg
		c.NodeID, c.Host, c.Port = b.ID, b.Host, b.Port
		if code != 0 {
			c.NodeID = -1
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp
}
