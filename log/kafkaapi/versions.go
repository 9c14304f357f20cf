package kafkaapi

import (
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

const (
	apiKeyApiVersions = 18

	errUnsupportedVersion = 35
)

type versionRange struct{ min, max int16 }

// apiVersions are the APIs and versions the server speaks. Versions that
// identify topics by id only (Fetch 13+, Produce 13+) are left out, so
// clients use names.
var apiVersions = map[int16]versionRange{
	0:  {3, 11}, // Produce (record batch v2 only)
	1:  {4, 12}, // Fetch
	2:  {0, 7},  // ListOffsets
	3:  {0, 12}, // Metadata
	8:  {0, 8},  // OffsetCommit
	9:  {0, 8},  // OffsetFetch
	10: {0, 4},  // FindCoordinator
	11: {0, 9},  // JoinGroup
	12: {0, 4},  // Heartbeat
	13: {0, 5},  // LeaveGroup
	14: {0, 5},  // SyncGroup
	15: {0, 5},  // DescribeGroups
	16: {0, 4},  // ListGroups
	18: {0, 3},  // ApiVersions
	19: {0, 7},  // CreateTopics
	20: {0, 6},  // DeleteTopics
	22: {0, 4},  // InitProducerId
	23: {0, 4},  // OffsetForLeaderEpoch
	32: {0, 4},  // DescribeConfigs
	33: {0, 2},  // AlterConfigs
	37: {0, 3},  // CreatePartitions
	42: {0, 2},  // DeleteGroups
	44: {0, 1},  // IncrementalAlterConfigs
}

func apiVersionsResponse(version int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = version
	keys := make([]int, 0, len(apiVersions))
	for k := range apiVersions {
		keys = append(keys, int(k))
	}
	sort.Ints(keys)
	for _, k := range keys {
		vr := apiVersions[int16(k)]
		kv := kmsg.NewApiVersionsResponseApiKey()
		kv.ApiKey, kv.MinVersion, kv.MaxVersion = int16(k), vr.min, vr.max
		resp.ApiKeys = append(resp.ApiKeys, kv)
	}
	return resp
}

// errCode maps a log error to the Kafka error code a client acts on.
func errCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, sluicelog.ErrUnknownTopic):
		return kerr.UnknownTopicOrPartition.Code
	case errors.Is(err, sluicelog.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code
	case errors.Is(err, sluicelog.ErrTopicExists):
		return kerr.TopicAlreadyExists.Code
	case errors.Is(err, sluicelog.ErrInvalidTopic):
		return kerr.InvalidTopicException.Code
	case errors.Is(err, sluicelog.ErrInvalidConfig):
		return kerr.InvalidConfig.Code
	case errors.Is(err, sluicelog.ErrRecordTooLarge):
		return kerr.MessageTooLarge.Code
	case errors.Is(err, sluicelog.ErrInvalidRecord):
		return kerr.InvalidRecord.Code
	case errors.Is(err, sluicelog.ErrOutOfOrderSequence):
		return kerr.OutOfOrderSequenceNumber.Code
	case errors.Is(err, sluicelog.ErrProducerFenced):
		return kerr.InvalidProducerEpoch.Code
	case errors.Is(err, sluicelog.ErrCorrupt):
		return kerr.KafkaStorageError.Code
	case errors.Is(err, sluicelog.ErrFailed), errors.Is(err, sluicelog.ErrClosed):
		return kerr.KafkaStorageError.Code
	}
	return kerr.UnknownServerError.Code
}

func errMsg(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}
