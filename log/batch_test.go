package log

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"testing"
	"testing/quick"
)

func TestBatchRoundTrip(t *testing.T) {
	f := func(keys, values [][]byte, nullMask uint64, base uint32, epoch int32) bool {
		n := min(len(keys), len(values))
		if n == 0 {
			return true
		}
		recs := make([]Record, n)
		for i := range recs {
			recs[i] = Record{Key: keys[i], Value: values[i], Timestamp: 1_700_000_000_000 + int64(i*7%5)}
			if recs[i].Key == nil {
				recs[i].Key = []byte{}
			}
			if nullMask&(1<<(i%64)) != 0 {
				recs[i].Value = nil
			} else if recs[i].Value == nil {
				recs[i].Value = []byte{}
			}
			if i%3 == 0 {
				recs[i].Headers = []Header{{Key: "k", Value: values[i]}, {Key: "", Value: nil}}
			}
		}
		stored := encodeBatch(nil, int64(base), epoch, nil, recs, 5)
		raw, h, err := openStored(stored)
		if err != nil || checkKafkaCRC(raw) != nil {
			t.Logf("open: %v", err)
			return false
		}
		if h.BaseOffset != int64(base) || h.LastOffset != int64(base)+int64(n)-1 || h.LeaderEpoch != epoch || int(h.RecordCount) != n {
			t.Logf("header %+v", h)
			return false
		}
		got, err := decodeRecords(raw, h, nil)
		if err != nil || len(got) != n {
			t.Logf("decode: %v", err)
			return false
		}
		for i := range got {
			w := recs[i]
			g := got[i]
			if g.Offset != int64(base)+int64(i) || g.Timestamp != w.Timestamp || !bytes.Equal(g.Key, w.Key) ||
				(g.Value == nil) != (w.Value == nil) || !bytes.Equal(g.Value, w.Value) || len(g.Headers) != len(w.Headers) {
				t.Logf("record %d: got %+v want %+v", i, g, w)
				return false
			}
			for j := range g.Headers {
				if g.Headers[j].Key != w.Headers[j].Key || (g.Headers[j].Value == nil) != (w.Headers[j].Value == nil) {
					return false
				}
			}
		}
		// rewriteBatch keeping everything reproduces the batch.
		same, dropped, err := rewriteBatch(raw, h, func(int64, []byte, bool, int64) bool { return true }, -1)
		return err == nil && dropped == 0 && bytes.Equal(same, stored)
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 300, Rand: nil}); err != nil {
		t.Fatal(err)
	}
}

// TestRewriteBatchMatchesReference compares rewriteBatch, which splices
// record bytes, with decoding, filtering and comparing record by record.
func TestRewriteBatchMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < 200; iter++ {
		n := 1 + rng.IntN(20)
		recs := make([]Record, n)
		for i := range recs {
			recs[i] = kv(string(rune('a'+rng.IntN(4))), string(make([]byte, rng.IntN(30))))
			if rng.IntN(5) == 0 {
				recs[i].Value = nil
			}
		}
		stored := encodeBatch(nil, 100, 1, nil, recs, 1000)
		raw, h, _ := openStored(stored)
		keepMask := rng.Uint64()
		keep := func(off int64, _ []byte, _ bool, _ int64) bool { return keepMask&(1<<(off-100)) != 0 }
		nb, _, err := rewriteBatch(raw, h, keep, -1)
		if err != nil {
			t.Fatal(err)
		}
		all, _ := decodeRecords(raw, h, nil)
		var want []Record
		for _, r := range all {
			if keep(r.Offset, nil, false, 0) {
				want = append(want, r)
			}
		}
		if nb == nil {
			if len(want) != 0 {
				t.Fatalf("rewrite dropped everything, want %d", len(want))
			}
			continue
		}
		nraw, nh, err := openStored(nb)
		if err != nil || checkKafkaCRC(nraw) != nil {
			t.Fatalf("rewritten batch invalid: %v", err)
		}
		got, err := decodeRecords(nraw, nh, nil)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("rewrite: %v\n got %s\nwant %s", err, describe(got), describe(want))
		}
		if nh.LastOffset != h.LastOffset {
			t.Fatalf("last offset changed %d → %d", h.LastOffset, nh.LastOffset)
		}
	}
}

// FuzzStoredBatch feeds arbitrary bytes to the stored-batch decoder, the
// record decoder and the rewriter: they must return errors, never panic or
// read out of bounds.
func FuzzStoredBatch(f *testing.F) {
	f.Add(encodeBatch(nil, 0, 0, nil, []Record{kv("a", "1")}, 1))
	f.Add(encodeBatch(nil, 7, 2, nil, []Record{kv("a", "1"), {Key: nil, Value: nil, Headers: []Header{{Key: "h", Value: []byte("v")}}}}, 1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Fix the length and both checksums so that the fuzzer gets past
		// them to the structure.
		if len(data) >= storedCRCLen+batchHeaderLen {
			hdr := data[storedCRCLen:]
			binary.BigEndian.PutUint32(hdr[offBatchLength:], uint32(len(hdr)-12))
			binary.BigEndian.PutUint32(hdr[offCRC:], crcKafka(hdr))
		}
		if len(data) >= storedCRCLen {
			sealStored(data)
		}
		raw, h, err := openStored(data)
		if err != nil {
			return
		}
		recs, err := decodeRecords(raw, h, nil)
		if err == nil && len(recs) != int(h.RecordCount) {
			t.Fatalf("decoded %d records, header says %d", len(recs), h.RecordCount)
		}
		_, _, _ = rewriteBatch(raw, h, func(off int64, _ []byte, _ bool, _ int64) bool { return off%2 == 0 }, -1)
		// A batch the producer path accepts must decode.
		if _, n, err := checkRawBatch(raw, TopicConfig{}); err == nil {
			if recs, err := decodeRecords(raw, h, nil); err != nil || len(recs) != n {
				t.Fatalf("checkRawBatch accepted a batch that decodes to %d records (%v), want %d", len(recs), err, n)
			}
		}
	})
}
