package kafkaapi

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

// defaultFetchMaxBytes is Kafka's fetch.max.bytes default, used for Fetch
// versions without a MaxBytes field.
const defaultFetchMaxBytes = 50 << 20

// fetch answers at once when MinBytes are available or MaxWaitMillis has
// passed; in between it waits for any of the requested partitions to
// change, so consumers long-poll instead of spinning.
func (s *Server) fetch(ctx context.Context, req *kmsg.FetchRequest) *kmsg.FetchResponse {
	deadline := time.Now().Add(time.Duration(req.MaxWaitMillis) * time.Millisecond)
	var timer *time.Timer
	for {
		var chans []<-chan struct{}
		if req.MaxWaitMillis > 0 {
			chans = s.changeChannels(req)
		}
		resp, total, errs := s.fetchOnce(req)
		if total >= int(req.MinBytes) || errs || req.MaxWaitMillis <= 0 || len(chans) == 0 {
			return resp
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return resp
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		cases := make([]reflect.SelectCase, 0, len(chans)+2)
		cases = append(cases,
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
		for _, ch := range chans {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		chosen, _, _ := reflect.Select(cases)
		if chosen <= 1 {
			resp, _, _ = s.fetchOnce(req)
			return resp
		}
	}
}

func (s *Server) changeChannels(req *kmsg.FetchRequest) []<-chan struct{} {
	var chans []<-chan struct{}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			if ch, err := s.log.Changed(t.Topic, p.Partition); err == nil {
				chans = append(chans, ch)
			}
		}
	}
	return chans
}

// fetchOnce reads every requested partition once. It returns the response,
// the record bytes in it, and whether any partition has an error (which is
// answered at once).
func (s *Server) fetchOnce(req *kmsg.FetchRequest) (*kmsg.FetchResponse, int, bool) {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.Version >= 7 && req.SessionID != 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, 0, true
	}
	maxBytes := int(req.MaxBytes)
	if req.Version < 3 || maxBytes <= 0 {
		maxBytes = defaultFetchMaxBytes
	}
	upTo := sluicelog.UpToHighWatermark
	if req.ReplicaID >= 0 || req.ReplicaState.ID >= 0 {
		upTo = sluicelog.UpToLogEnd
	}
	local := s.cluster.LocalID()
	total, anyErr := 0, false
	for _, rt := range req.Topics {
		tr := kmsg.NewFetchResponseTopic()
		tr.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			pr := kmsg.NewFetchResponseTopicPartition()
			pr.Partition = rp.Partition
			// Empty, never null: librdkafka rejects a null record set.
			pr.RecordBatches = []byte{}
			pr.HighWatermark, pr.LastStableOffset, pr.LogStartOffset = -1, -1, -1
			pr.PreferredReadReplica = -1
			info := s.cluster.Partition(rt.Topic, rp.Partition)
			st, err := s.log.State(rt.Topic, rp.Partition)
			switch {
			case err != nil:
				pr.ErrorCode = errCode(err)
			case info.Leader != local:
				pr.ErrorCode = kerr.NotLeaderForPartition.Code
			case rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch < info.LeaderEpoch:
				pr.ErrorCode = kerr.FencedLeaderEpoch.Code
			case rp.CurrentLeaderEpoch > info.LeaderEpoch:
				pr.ErrorCode = kerr.UnknownLeaderEpoch.Code
			}
			if pr.ErrorCode != 0 {
				anyErr = true
				tr.Partitions = append(tr.Partitions, pr)
				continue
			}
			limit := min(int(rp.PartitionMaxBytes), maxBytes-total)
			if limit <= 0 && total > 0 {
				pr.HighWatermark, pr.LastStableOffset, pr.LogStartOffset = st.HighWatermark, st.HighWatermark, st.LogStartOffset
				tr.Partitions = append(tr.Partitions, pr)
				continue
			}
			res, err := s.log.Read(rt.Topic, rp.Partition, rp.FetchOffset, sluicelog.ReadOptions{MaxBytes: max(limit, 1), UpTo: upTo})
			pr.HighWatermark, pr.LastStableOffset, pr.LogStartOffset = res.HighWatermark, res.HighWatermark, res.LogStartOffset
			if err != nil {
				pr.ErrorCode = errCode(err)
				if errors.Is(err, sluicelog.ErrCorrupt) {
					s.logger.Error("kafka: fetch hit corrupt data", "err", err)
				}
				anyErr = true
				tr.Partitions = append(tr.Partitions, pr)
				continue
			}
			n := 0
			for i, b := range res.Batches {
				if total+n+len(b.Raw) > maxBytes && (total+n > 0 || i > 0) {
					break
				}
				n += len(b.Raw)
			}
			if n > 0 {
				buf := make([]byte, 0, n)
				for _, b := range res.Batches {
					if len(buf)+len(b.Raw) > n {
						break
					}
					buf = append(buf, b.Raw...)
				}
				pr.RecordBatches = buf
				total += n
			}
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return resp, total, anyErr
}

func (s *Server) listOffsets(req *kmsg.ListOffsetsRequest) *kmsg.ListOffsetsResponse {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	local := s.cluster.LocalID()
	for _, rt := range req.Topics {
		tr := kmsg.NewListOffsetsResponseTopic()
		tr.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			pr := kmsg.NewListOffsetsResponseTopicPartition()
			pr.Partition, pr.Timestamp, pr.Offset, pr.LeaderEpoch = rp.Partition, -1, -1, -1
			info := s.cluster.Partition(rt.Topic, rp.Partition)
			st, err := s.log.State(rt.Topic, rp.Partition)
			switch {
			case err != nil:
				pr.ErrorCode = errCode(err)
			case info.Leader != local:
				pr.ErrorCode = kerr.NotLeaderForPartition.Code
			case rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch < info.LeaderEpoch:
				pr.ErrorCode = kerr.FencedLeaderEpoch.Code
			case rp.CurrentLeaderEpoch > info.LeaderEpoch:
				pr.ErrorCode = kerr.UnknownLeaderEpoch.Code
			default:
				ts := rp.Timestamp
				if ts == -3 { // max timestamp (KIP-734)
					ts = s.maxTimestamp(rt.Topic, rp.Partition)
				}
				off, recTs, err := s.log.ListOffset(rt.Topic, rp.Partition, ts)
				if err != nil {
					pr.ErrorCode = errCode(err)
					break
				}
				pr.Offset, pr.Timestamp = off, recTs
				if rp.Timestamp == -1 || rp.Timestamp == -2 {
					pr.LeaderEpoch = st.LeaderEpoch
				}
				if req.Version == 0 {
					pr.OldStyleOffsets = []int64{off}
					if rp.MaxNumOffsets <= 0 || off < 0 {
						pr.OldStyleOffsets = nil
					}
				}
			}
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return resp
}

// maxTimestamp returns the largest record timestamp of a partition, or -1.
func (s *Server) maxTimestamp(topic string, part int32) int64 {
	st, err := s.log.State(topic, part)
	if err != nil {
		return -1
	}
	maxTs := int64(-1)
	for off := st.LogStartOffset; off < st.HighWatermark; {
		res, err := s.log.Read(topic, part, off, sluicelog.ReadOptions{MaxBytes: 4 << 20})
		if err != nil || len(res.Batches) == 0 {
			break
		}
		for _, b := range res.Batches {
			maxTs = max(maxTs, b.MaxTimestamp)
			off = b.LastOffset + 1
		}
	}
	return maxTs
}

func (s *Server) offsetForLeaderEpoch(req *kmsg.OffsetForLeaderEpochRequest) *kmsg.OffsetForLeaderEpochResponse {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	local := s.cluster.LocalID()
	for _, rt := range req.Topics {
		tr := kmsg.NewOffsetForLeaderEpochResponseTopic()
		tr.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			pr := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			pr.Partition, pr.LeaderEpoch, pr.EndOffset = rp.Partition, -1, -1
			info := s.cluster.Partition(rt.Topic, rp.Partition)
			_, err := s.log.State(rt.Topic, rp.Partition)
			switch {
			case err != nil:
				pr.ErrorCode = errCode(err)
			case info.Leader != local && req.ReplicaID < 0:
				pr.ErrorCode = kerr.NotLeaderForPartition.Code
			case rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch < info.LeaderEpoch:
				pr.ErrorCode = kerr.FencedLeaderEpoch.Code
			case rp.CurrentLeaderEpoch > info.LeaderEpoch:
				pr.ErrorCode = kerr.UnknownLeaderEpoch.Code
			default:
				e, end, err := s.log.EndOffsetForEpoch(rt.Topic, rp.Partition, rp.LeaderEpoch)
				if err != nil {
					pr.ErrorCode = errCode(err)
					break
				}
				pr.LeaderEpoch, pr.EndOffset = e, end
			}
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return resp
}
