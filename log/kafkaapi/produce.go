package kafkaapi

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/segmentio/kafka-go/compress"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

// maxDecompressed bounds a batch's decompressed size.
const maxDecompressed = 256 << 20

var (
	errCorruptMessage = errors.New("corrupt record batch")
	errOldFormat      = errors.New("record batches before magic 2 are not supported")
)

// decodeProduceBatch checks a partition's produce payload. An uncompressed
// batch is returned as raw, for the log to validate and store as it is; a
// compressed one is decompressed into records with its producer identity.
// Kafka requires exactly one batch per partition from produce v3 on.
func decodeProduceBatch(raw []byte) ([]sluicelog.Record, *sluicelog.ProducerBatch, []byte, error) {
	if len(raw) >= 17 && raw[16] != 2 {
		return nil, nil, nil, errOldFormat
	}
	h, n, err := sluicelog.ParseKafkaBatch(raw)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", errCorruptMessage, err)
	}
	if n != len(raw) {
		return nil, nil, nil, fmt.Errorf("%w: a produce request must carry exactly one record batch per partition", sluicelog.ErrInvalidRecord)
	}
	if h.IsControl() || h.Attributes&0x10 != 0 {
		return nil, nil, nil, fmt.Errorf("%w: transactional and control batches are not supported", sluicelog.ErrInvalidRecord)
	}
	if h.Compression() == 0 {
		return nil, nil, raw, nil
	}
	section := raw[61:]
	codec := compress.Compression(h.Compression()).Codec()
	if codec == nil {
		return nil, nil, nil, fmt.Errorf("%w: unknown compression codec %d", errCorruptMessage, h.Compression())
	}
	r := codec.NewReader(bytes.NewReader(section))
	section, err = io.ReadAll(io.LimitReader(r, maxDecompressed+1))
	r.Close()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %s decompression: %v", errCorruptMessage, codec.Name(), err)
	}
	if len(section) > maxDecompressed {
		return nil, nil, nil, fmt.Errorf("%w: batch decompresses to more than %d bytes", sluicelog.ErrInvalidRecord, maxDecompressed)
	}
	recs, err := sluicelog.DecodeKafkaRecords(h, section, nil)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", errCorruptMessage, err)
	}
	if len(recs) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: empty record batch", sluicelog.ErrInvalidRecord)
	}
	var pb *sluicelog.ProducerBatch
	if h.ProducerID >= 0 {
		pb = &sluicelog.ProducerBatch{ID: h.ProducerID, Epoch: h.ProducerEpoch, BaseSequence: h.BaseSequence}
	}
	return recs, pb, nil, nil
}

func produceErrCode(err error) int16 {
	switch {
	case errors.Is(err, errOldFormat):
		return kerr.UnsupportedForMessageFormat.Code
	case errors.Is(err, errCorruptMessage):
		return kerr.CorruptMessage.Code
	}
	return errCode(err)
}

func (s *Server) produce(ctx context.Context, req *kmsg.ProduceRequest) func() kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	type wait struct {
		ti, pi  int // index into resp.Topics and its Partitions
		pending *sluicelog.Pending
	}
	var waits []wait
	local := s.cluster.LocalID()
	for _, rt := range req.Topics {
		tr := kmsg.NewProduceResponseTopic()
		tr.Topic = rt.Topic
		info, terr := s.log.Topic(rt.Topic)
		if errors.Is(terr, sluicelog.ErrUnknownTopic) && s.opts.AutoCreateTopics {
			info, terr = s.autoCreate(rt.Topic)
		}
		for _, rp := range rt.Partitions {
			pr := kmsg.NewProduceResponseTopicPartition()
			pr.Partition, pr.BaseOffset, pr.LogAppendTime, pr.LogStartOffset = rp.Partition, -1, -1, -1
			var err error
			var code int16
			switch {
			case req.TransactionID != nil:
				code = kerr.TransactionalIDAuthorizationFailed.Code
				err = errors.New("transactions are not supported by sluice")
			case req.Acks != 0 && req.Acks != 1 && req.Acks != -1:
				code = kerr.InvalidRequiredAcks.Code
			case terr != nil:
				code, err = errCode(terr), terr
			case rp.Partition < 0 || rp.Partition >= info.Partitions:
				code = kerr.UnknownTopicOrPartition.Code
			case s.cluster.Partition(rt.Topic, rp.Partition).Leader != local:
				code = kerr.NotLeaderForPartition.Code
			}
			if code == 0 && info.Config.MaxMessageBytes > 0 && len(rp.Records) > info.Config.MaxMessageBytes {
				// Kafka limits the whole batch a producer sends.
				code = kerr.MessageTooLarge.Code
				err = fmt.Errorf("record batch of %d bytes exceeds max.message.bytes %d of topic %q", len(rp.Records), info.Config.MaxMessageBytes, rt.Topic)
			}
			if code == 0 {
				var recs []sluicelog.Record
				var pb *sluicelog.ProducerBatch
				var raw []byte
				recs, pb, raw, err = decodeProduceBatch(rp.Records)
				if err == nil {
					var p *sluicelog.Pending
					p, err = s.log.AppendAsync(ctx, sluicelog.Write{Records: []sluicelog.PartitionRecords{{
						Topic: rt.Topic, Partition: rp.Partition, Records: recs, Raw: raw, Producer: pb,
					}}})
					if err == nil {
						waits = append(waits, wait{ti: len(resp.Topics), pi: len(tr.Partitions), pending: p})
						tr.Partitions = append(tr.Partitions, pr)
						continue
					}
				}
				code = produceErrCode(err)
			}
			pr.ErrorCode = code
			pr.ErrorMessage = errMsg(err)
			tr.Partitions = append(tr.Partitions, pr)
		}
		resp.Topics = append(resp.Topics, tr)
	}
	return func() kmsg.Response {
		for _, w := range waits {
			rp := &resp.Topics[w.ti].Partitions[w.pi]
			res, err := w.pending.Wait()
			if err != nil {
				rp.ErrorCode, rp.ErrorMessage = errCode(err), errMsg(err)
				continue
			}
			rp.BaseOffset = res[0].BaseOffset
			rp.LogStartOffset = 0
			if st, err := s.log.State(res[0].Topic, res[0].Partition); err == nil {
				rp.LogStartOffset = st.LogStartOffset
			}
		}
		if req.Acks == 0 {
			return nil
		}
		return resp
	}
}

// producerIDs hands out producer ids in durable blocks, so that ids are
// never reused across restarts.
type producerIDs struct {
	log  *sluicelog.Log
	mu   sync.Mutex
	next int64
	end  int64
}

const (
	producerIDKey   = "kafka/producer-id-block-end"
	producerIDBlock = 1000
)

func newProducerIDs(l *sluicelog.Log) *producerIDs { return &producerIDs{log: l} }

func (p *producerIDs) allocate(ctx context.Context) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.next == p.end {
		v, ok, err := p.log.Meta(producerIDKey)
		if err != nil {
			return 0, err
		}
		start := int64(0)
		if ok && len(v) == 8 {
			start = int64(binary.BigEndian.Uint64(v))
		}
		end := start + producerIDBlock
		if err := p.log.SetMeta(ctx, sluicelog.MetaEntry{Key: producerIDKey, Value: binary.BigEndian.AppendUint64(nil, uint64(end))}); err != nil {
			return 0, err
		}
		p.next, p.end = start, end
	}
	id := p.next
	p.next++
	return id, nil
}

func (s *Server) initProducerID(req *kmsg.InitProducerIDRequest) *kmsg.InitProducerIDResponse {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp
	}
	if req.ProducerID >= 0 && req.ProducerEpoch >= 0 {
		// KIP-360: an idempotent producer bumps its epoch after an error.
		if req.ProducerEpoch == 1<<15-1 {
			resp.ErrorCode = kerr.InvalidProducerEpoch.Code
			return resp
		}
		resp.ProducerID, resp.ProducerEpoch = req.ProducerID, req.ProducerEpoch+1
		return resp
	}
	id, err := s.producerIDs.allocate(s.ctx)
	if err != nil {
		resp.ErrorCode = errCode(err)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp
}
