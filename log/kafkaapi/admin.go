package kafkaapi

import (
	"errors"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

const (
	resourceTopic  = 2
	resourceBroker = 4
)

func (s *Server) createTopics(req *kmsg.CreateTopicsRequest) *kmsg.CreateTopicsResponse {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	brokers := int16(len(s.cluster.Brokers()))
	for _, rt := range req.Topics {
		tr := kmsg.NewCreateTopicsResponseTopic()
		tr.Topic = rt.Topic
		tr.NumPartitions, tr.ReplicationFactor = -1, -1
		parts, rf := rt.NumPartitions, rt.ReplicationFactor
		if parts == -1 {
			parts = s.opts.DefaultPartitions
		}
		if rf == -1 {
			rf = s.opts.DefaultReplicationFactor
		}
		cfg := map[string]string{}
		for _, c := range rt.Configs {
			if c.Value != nil {
				cfg[c.Name] = *c.Value
			}
		}
		var err error
		switch {
		case len(rt.ReplicaAssignment) > 0:
			err = fmt.Errorf("%w: manual replica assignment is not supported; give partitions and replication factor", sluicelog.ErrInvalidRecord)
			tr.ErrorCode = kerr.InvalidReplicaAssignment.Code
		case rf < 1 || rf > brokers:
			err = fmt.Errorf("replication factor %d is not possible with %d broker(s)", rf, brokers)
			tr.ErrorCode = kerr.InvalidReplicationFactor.Code
		case parts < 1:
			err = fmt.Errorf("partitions must be at least 1, got %d", parts)
			tr.ErrorCode = kerr.InvalidPartitions.Code
		default:
			if err = sluicelog.ValidTopicName(rt.Topic); err == nil {
				err = sluicelog.ValidateTopicConfig(cfg)
			}
			if err == nil && !req.ValidateOnly {
				_, err = s.log.CreateTopic(sluicelog.TopicSpec{Name: rt.Topic, Partitions: parts, ReplicationFactor: rf, Config: cfg})
			} else if err == nil {
				if _, terr := s.log.Topic(rt.Topic); terr == nil {
					err = fmt.Errorf("%w: %q", sluicelog.ErrTopicExists, rt.Topic)
				}
			}
			tr.ErrorCode = errCode(err)
		}
		if err != nil {
			tr.ErrorMessage = errMsg(err)
		} else {
			tr.NumPartitions, tr.ReplicationFactor = parts, rf
			if info, ierr := s.log.Topic(rt.Topic); ierr == nil {
				tr.Configs = describeTopicConfigs(info, nil, false)
			}
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return resp
}

func describeTopicConfigs(info sluicelog.TopicInfo, keys []string, docs bool) []kmsg.CreateTopicsResponseTopicConfig {
	var out []kmsg.CreateTopicsResponseTopicConfig
	for _, k := range sortedEffective(info, keys) {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		v := info.Effective[k]
		c.Name, c.Value = k, &v
		c.Source = 5 // DEFAULT_CONFIG
		if _, ok := info.Overrides[k]; ok {
			c.Source = 1 // DYNAMIC_TOPIC_CONFIG
		}
		out = append(out, c)
	}
	return out
}

func sortedEffective(info sluicelog.TopicInfo, keys []string) []string {
	if len(keys) == 0 {
		for k := range info.Effective {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

func (s *Server) deleteTopics(req *kmsg.DeleteTopicsRequest) *kmsg.DeleteTopicsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	names := req.TopicNames
	if req.Version >= 6 {
		names = nil
		for _, t := range req.Topics {
			if t.Topic != nil {
				names = append(names, *t.Topic)
			}
		}
	}
	for _, name := range names {
		tr := kmsg.NewDeleteTopicsResponseTopic()
		n := name
		tr.Topic = &n
		err := s.log.DeleteTopic(name)
		tr.ErrorCode, tr.ErrorMessage = errCode(err), errMsg(err)
		resp.Topics = append(resp.Topics, tr)
	}
	return resp
}

func (s *Server) createPartitions(req *kmsg.CreatePartitionsRequest) *kmsg.CreatePartitionsResponse {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	for _, rt := range req.Topics {
		tr := kmsg.NewCreatePartitionsResponseTopic()
		tr.Topic = rt.Topic
		var err error
		if len(rt.Assignment) > 0 {
			err = errors.New("manual replica assignment is not supported")
			tr.ErrorCode = kerr.InvalidReplicaAssignment.Code
		} else if req.ValidateOnly {
			info, terr := s.log.Topic(rt.Topic)
			switch {
			case terr != nil:
				err = terr
			case rt.Count <= info.Partitions:
				err = fmt.Errorf("%w: topic %q has %d partitions; the new count must be larger", sluicelog.ErrInvalidTopic, rt.Topic, info.Partitions)
			}
			tr.ErrorCode = errCode(err)
		} else {
			err = s.log.CreatePartitions(rt.Topic, rt.Count)
			tr.ErrorCode = errCode(err)
		}
		if errors.Is(err, sluicelog.ErrInvalidTopic) {
			tr.ErrorCode = kerr.InvalidPartitions.Code
		}
		tr.ErrorMessage = errMsg(err)
		resp.Topics = append(resp.Topics, tr)
	}
	return resp
}

func (s *Server) describeConfigs(req *kmsg.DescribeConfigsRequest) *kmsg.DescribeConfigsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, r := range req.Resources {
		rr := kmsg.NewDescribeConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
		switch r.ResourceType {
		case resourceTopic:
			info, err := s.log.Topic(r.ResourceName)
			if err != nil {
				rr.ErrorCode, rr.ErrorMessage = errCode(err), errMsg(err)
				break
			}
			for _, k := range sortedEffective(info, r.ConfigNames) {
				v, ok := info.Effective[k]
				if !ok {
					continue
				}
				c := kmsg.NewDescribeConfigsResponseResourceConfig()
				c.Name, c.Value = k, &v
				c.Source = 5 // DEFAULT_CONFIG
				c.IsDefault = true
				if _, over := info.Overrides[k]; over {
					c.Source, c.IsDefault = 1, false
				}
				if req.IncludeSynonyms && !c.IsDefault {
					syn := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
					syn.Name, syn.Value, syn.Source = k, &v, c.Source
					c.ConfigSynonyms = append(c.ConfigSynonyms, syn)
				}
				if req.IncludeDocumentation {
					doc := "Kafka topic config " + k
					c.Documentation = &doc
				}
				c.ConfigType = configType(k)
				rr.Configs = append(rr.Configs, c)
			}
		case resourceBroker:
			// A broker has no dynamic configs in sluice; answer empty.
		default:
			rr.ErrorCode = kerr.InvalidRequest.Code
			msg := fmt.Sprintf("resource type %d is not supported", r.ResourceType)
			rr.ErrorMessage = &msg
		}
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

func configType(k string) kmsg.ConfigType {
	switch k {
	case sluicelog.ConfigCleanupPolicy:
		return kmsg.ConfigTypeList
	case sluicelog.ConfigMinCleanableDirtyRatio:
		return kmsg.ConfigTypeDouble
	case sluicelog.ConfigCompressionType, sluicelog.ConfigMessageTimestampType:
		return kmsg.ConfigTypeString
	case sluicelog.ConfigMinInsyncReplicas, sluicelog.ConfigMaxMessageBytes:
		return kmsg.ConfigTypeInt
	}
	return kmsg.ConfigTypeLong
}

// alterConfigs replaces a topic's overrides with the request's set, as
// Kafka's (non-incremental) AlterConfigs does.
func (s *Server) alterConfigs(req *kmsg.AlterConfigsRequest) *kmsg.AlterConfigsResponse {
	resp := req.ResponseKind().(*kmsg.AlterConfigsResponse)
	for _, r := range req.Resources {
		rr := kmsg.NewAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
		if r.ResourceType != resourceTopic {
			rr.ErrorCode = kerr.InvalidRequest.Code
			msg := "only topic configs can be altered"
			rr.ErrorMessage = &msg
			resp.Resources = append(resp.Resources, rr)
			continue
		}
		set := map[string]string{}
		for _, c := range r.Configs {
			if c.Value != nil {
				set[c.Name] = *c.Value
			}
		}
		info, err := s.log.Topic(r.ResourceName)
		if err == nil {
			var del []string
			for k := range info.Overrides {
				if _, keep := set[k]; !keep {
					del = append(del, k)
				}
			}
			if err = sluicelog.ValidateTopicConfig(set); err == nil && !req.ValidateOnly {
				err = s.log.AlterTopicConfig(r.ResourceName, set, del)
			}
		}
		rr.ErrorCode, rr.ErrorMessage = errCode(err), errMsg(err)
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}

func (s *Server) incrementalAlterConfigs(req *kmsg.IncrementalAlterConfigsRequest) *kmsg.IncrementalAlterConfigsResponse {
	resp := req.ResponseKind().(*kmsg.IncrementalAlterConfigsResponse)
	for _, r := range req.Resources {
		rr := kmsg.NewIncrementalAlterConfigsResponseResource()
		rr.ResourceType, rr.ResourceName = r.ResourceType, r.ResourceName
		if r.ResourceType != resourceTopic {
			rr.ErrorCode = kerr.InvalidRequest.Code
			msg := "only topic configs can be altered"
			rr.ErrorMessage = &msg
			resp.Resources = append(resp.Resources, rr)
			continue
		}
		set := map[string]string{}
		var del []string
		var err error
		for _, c := range r.Configs {
			switch c.Op {
			case 0: // SET
				if c.Value != nil {
					set[c.Name] = *c.Value
				}
			case 1: // DELETE
				if _, known := sluicelog.ConfigDefault(c.Name); !known {
					err = fmt.Errorf("%w: unknown topic config %q", sluicelog.ErrInvalidConfig, c.Name)
				}
				del = append(del, c.Name)
			default: // APPEND, SUBTRACT on list configs
				err = fmt.Errorf("%w: operation %d on %q is not supported; use SET or DELETE", sluicelog.ErrInvalidConfig, c.Op, c.Name)
			}
		}
		if err == nil {
			if _, err = s.log.Topic(r.ResourceName); err == nil {
				if err = sluicelog.ValidateTopicConfig(set); err == nil && !req.ValidateOnly {
					err = s.log.AlterTopicConfig(r.ResourceName, set, del)
				}
			}
		}
		rr.ErrorCode, rr.ErrorMessage = errCode(err), errMsg(err)
		resp.Resources = append(resp.Resources, rr)
	}
	return resp
}
