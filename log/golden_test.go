package log

import (
	"bufio"
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata golden files")

const goldenPath = "testdata/layout.golden"

// writeGoldenLog writes a small log covering every key kind with a fixed
// clock, so its bytes are deterministic.
func writeGoldenLog(t *testing.T, dir string) *Log {
	c := newClock()
	l := openTest(t, dir, Options{Now: c.Now})
	mustCreate(t, l, "orders", 2, map[string]string{"cleanup.policy": "compact"})
	mustCreate(t, l, "audit", 1, nil)
	ctx := context.Background()
	_, err := l.Append(ctx, Write{
		Records: []PartitionRecords{
			{Topic: "orders", Partition: 0, Records: []Record{
				{Key: []byte(`{"id":1}`), Value: []byte(`{"op":"c"}`), Headers: []Header{{Key: "h", Value: []byte("v")}, {Key: "n", Value: nil}}},
				{Key: []byte(`{"id":1}`), Value: nil},
			}},
			{Topic: "audit", Partition: 0, Records: []Record{{Key: nil, Value: []byte{}, Timestamp: c.Now().UnixMilli() - 5}}},
		},
		Meta: []MetaEntry{{Key: "source/shop-pg", Value: []byte("lsn:0/16B3748")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetLeaderEpoch("orders", 1, 4); err != nil {
		t.Fatal(err)
	}
	c.Advance(1500)
	mustAppend(t, l, "orders", 1, kv("k", "v"))
	if err := l.CommitOffsets("sink-1", []GroupOffset{{Topic: "orders", Partition: 0, Offset: 2, LeaderEpoch: 0, Metadata: "m"}}); err != nil {
		t.Fatal(err)
	}
	// A topic with a key index: a short key, a key updated, a key long
	// enough to be hashed, and a null key (not indexed).
	if _, err := l.CreateTopic(TopicSpec{Name: "customers", Partitions: 1, KeyIndex: true}); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, "customers", 0, kv("a", "1"), kv("b", "2"), kv("a", "3"), Record{Key: []byte(goldenLongKey), Value: []byte("4")}, Record{Value: []byte("5")})
	return l
}

// goldenLongKey is longer than maxIndexedKey, so its index key is a hash.
var goldenLongKey = strings.Repeat("k", maxIndexedKey+1)

func dumpKeys(t *testing.T, db *pebble.DB) string {
	iter, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer iter.Close()
	var b strings.Builder
	for iter.First(); iter.Valid(); iter.Next() {
		fmt.Fprintf(&b, "%s %s\n", hex.EncodeToString(iter.Key()), hex.EncodeToString(iter.Value()))
	}
	return b.String()
}

func TestGoldenLayoutWrite(t *testing.T) {
	l := writeGoldenLog(t, t.TempDir())
	got := "# key value (hex), in key order; see doc.go for the layout. Regenerate: go test ./log -run Golden -rewrite\n" + dumpKeys(t, l.db)
	if *rewrite {
		if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("on-disk layout changed; if this is intended, bump formatVersion, keep reading the old format, and rewrite the golden file.\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// TestGoldenLayoutRead loads the golden keys into an empty store and checks
// that the current code reads them back as the records written.
func TestGoldenLayoutRead(t *testing.T) {
	dir := t.TempDir()
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		kb, err1 := hex.DecodeString(k)
		vb, err2 := hex.DecodeString(v)
		if err1 != nil || err2 != nil {
			t.Fatalf("bad golden line %q", line)
		}
		if err := db.Set(kb, vb, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	l := openTest(t, dir, Options{})
	if got := describe(readAll(t, l, "orders", 0, 0)); got != `0:{"id":1}={"op":"c"} 1:{"id":1}=<nil> ` {
		t.Fatalf("orders/0: %s", got)
	}
	recs := readAll(t, l, "orders", 0, 0)
	if len(recs[0].Headers) != 2 || string(recs[0].Headers[0].Value) != "v" || recs[0].Headers[1].Value != nil || recs[0].Timestamp != 1_700_000_000_000 {
		t.Fatalf("headers/timestamp: %+v", recs[0])
	}
	a := readAll(t, l, "audit", 0, 0)
	if len(a) != 1 || a[0].Key != nil || a[0].Value == nil || a[0].Timestamp != 1_700_000_000_000-5 {
		t.Fatalf("audit: %+v", a)
	}
	if got := describe(readAll(t, l, "orders", 1, 0)); got != "0:k=v " {
		t.Fatalf("orders/1: %s", got)
	}
	res, _ := l.Read("orders", 1, 0, ReadOptions{})
	if res.Batches[0].LeaderEpoch != 4 {
		t.Fatalf("epoch %d", res.Batches[0].LeaderEpoch)
	}
	if e, end, _ := l.EndOffsetForEpoch("orders", 1, 4); e != 4 || end != 1 {
		t.Fatalf("epoch cache: %d %d", e, end)
	}
	if v, ok, _ := l.Meta("source/shop-pg"); !ok || string(v) != "lsn:0/16B3748" {
		t.Fatalf("meta %q", v)
	}
	offs, _ := l.FetchOffsets("sink-1")
	if len(offs) != 1 || offs[0].Offset != 2 || offs[0].Metadata != "m" {
		t.Fatalf("group offsets %+v", offs)
	}
	info, _ := l.Topic("orders")
	if !info.Config.Compact || info.Partitions != 2 || info.KeyIndex {
		t.Fatalf("topic %+v", info)
	}
	if info, _ := l.Topic("customers"); !info.KeyIndex {
		t.Fatalf("customers lost its key index: %+v", info)
	}
	for key, want := range map[string]string{"a": "2:3", "b": "1:2", goldenLongKey: "3:4"} {
		rec, ok, err := l.Latest("customers", 0, []byte(key))
		if err != nil || !ok || fmt.Sprintf("%d:%s", rec.Offset, rec.Value) != want {
			t.Fatalf("latest of %.8q: %d:%s %v %v, want %s", key, rec.Offset, rec.Value, ok, err, want)
		}
	}
}
