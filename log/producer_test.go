package log

import (
	"context"
	"errors"
	"testing"
)

func TestIdempotentProducer(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, Options{})
	mustCreate(t, l, "t", 1, nil)
	send := func(l *Log, epoch int16, seq int32, n int) (AppendResult, error) {
		recs := make([]Record, n)
		for i := range recs {
			recs[i] = kv("k", "v")
		}
		res, err := l.Append(context.Background(), Write{Records: []PartitionRecords{{
			Topic: "t", Records: recs, Producer: &ProducerBatch{ID: 7, Epoch: epoch, BaseSequence: seq},
		}}})
		if err != nil {
			return AppendResult{}, err
		}
		return res[0], nil
	}
	r, err := send(l, 0, 0, 3)
	if err != nil || r.BaseOffset != 0 || r.Duplicate {
		t.Fatalf("first: %+v %v", r, err)
	}
	r, err = send(l, 0, 3, 2)
	if err != nil || r.BaseOffset != 3 {
		t.Fatalf("second: %+v %v", r, err)
	}
	r, err = send(l, 0, 0, 3) // a retry of the first batch
	if err != nil || !r.Duplicate || r.BaseOffset != 0 || r.LastOffset != 2 {
		t.Fatalf("retry: %+v %v", r, err)
	}
	if _, err := send(l, 0, 9, 1); !errors.Is(err, ErrOutOfOrderSequence) {
		t.Fatalf("gap: %v", err)
	}
	l.Close()
	l = openTest(t, dir, Options{})
	r, err = send(l, 0, 3, 2) // a retry after a restart
	if err != nil || !r.Duplicate || r.BaseOffset != 3 {
		t.Fatalf("retry after reopen: %+v %v", r, err)
	}
	if st, _ := l.State("t", 0); st.LogEndOffset != 5 {
		t.Fatalf("duplicates written: %+v", st)
	}
	if r, err := send(l, 1, 0, 1); err != nil || r.BaseOffset != 5 {
		t.Fatalf("new epoch: %+v %v", r, err)
	}
	if _, err := send(l, 0, 5, 1); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("old epoch: %v", err)
	}
	res, _ := l.Read("t", 0, 5, ReadOptions{})
	if h := res.Batches[0].BatchHeader; h.ProducerID != 7 || h.ProducerEpoch != 1 || h.BaseSequence != 0 {
		t.Fatalf("producer fields not stored: %+v", h)
	}
}
