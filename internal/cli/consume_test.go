package cli

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consumed parses consume's output, failing on anything but JSON lines.
func consumed(t *testing.T, out string) []consumedRecord {
	t.Helper()
	var recs []consumedRecord
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" && out == "" {
			break
		}
		var r consumedRecord
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("output line %d is not a record: %v\n%s", i+1, err, line)
		}
		recs = append(recs, r)
	}
	return recs
}

// values returns the values of recs in output order.
func values(recs []consumedRecord) []string {
	var vs []string
	for _, r := range recs {
		if r.Value == nil {
			vs = append(vs, "<null>")
			continue
		}
		vs = append(vs, *r.Value)
	}
	return vs
}

// murmur2 is Kafka's Utils.murmur2, written out from the Java source: the
// reference for which partition a key belongs to.
func murmur2(data []byte) int32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	n := len(data)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := binary.LittleEndian.Uint32(data[i:])
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

func TestMurmur2MatchesKafka(t *testing.T) {
	// Values from Kafka's UtilsTest.testMurmur2.
	for in, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := murmur2([]byte(in)); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestProduceConsumeKeyed produces 100 keyed lines and reads exactly those
// back, each in the partition Kafka's partitioner picks for its key.
func TestProduceConsumeKeyed(t *testing.T) {
	addr := startWireNode(t)
	wireOK(t, "", "topics", "create", "kv", "--partitions", "3", "--bootstrap", addr)
	var in strings.Builder
	for i := range 100 {
		fmt.Fprintf(&in, "key-%03d\tvalue %03d ✓\n", i, i)
	}
	before := time.Now().Add(-time.Second)
	_, stderr := wireOK(t, in.String(), "produce", "kv", "--keyed", "--bootstrap", addr)
	if stderr != "produced 100 records\n" {
		t.Errorf("produce stderr = %q", stderr)
	}
	stdout, stderr := wireOK(t, "", "consume", "kv", "--from-beginning", "--bootstrap", addr)
	if stderr != "" {
		t.Errorf("consume stderr = %q", stderr)
	}
	recs := consumed(t, stdout)
	if len(recs) != 100 {
		t.Fatalf("consumed %d records, want 100:\n%s", len(recs), stdout)
	}
	seen := map[string]bool{}
	next := map[int32]int64{}
	lines := strings.Split(stdout, "\n")
	for i, r := range recs {
		if r.Key == nil || r.Value == nil || r.KeyEncoding != "" || r.ValueEncoding != "" {
			t.Fatalf("record %d = %+v: want UTF-8 key and value", i, r)
		}
		var n int
		if _, err := fmt.Sscanf(*r.Key, "key-%03d", &n); err != nil || *r.Value != fmt.Sprintf("value %03d ✓", n) || seen[*r.Key] {
			t.Fatalf("record %d: key %q value %q (duplicate: %v)", i, *r.Key, *r.Value, seen[*r.Key])
		}
		seen[*r.Key] = true
		if want := (murmur2([]byte(*r.Key)) & 0x7fffffff) % 3; r.Partition != want {
			t.Errorf("key %q in partition %d; Kafka's partitioner puts it in %d", *r.Key, r.Partition, want)
		}
		if r.Offset != next[r.Partition] {
			t.Errorf("record %d: partition %d offset %d, want %d", i, r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition] = r.Offset + 1
		ts, err := time.Parse(time.RFC3339Nano, r.Timestamp)
		if err != nil || ts.UnixMilli() != r.TimestampMs || ts.Location() != time.UTC || ts.Before(before) || ts.After(time.Now().Add(time.Second)) {
			t.Errorf("record %d: timestamp %q (%v), timestamp_ms %d", i, r.Timestamp, err, r.TimestampMs)
		}
		// The exact line, field order included.
		want := fmt.Sprintf(`{"topic":"kv","partition":%d,"offset":%d,"timestamp":%q,"timestamp_ms":%d,"key":%q,"value":%q,"headers":[]}`,
			r.Partition, r.Offset, r.Timestamp, r.TimestampMs, *r.Key, *r.Value)
		if lines[i] != want {
			t.Errorf("line %d:\n got %s\nwant %s", i, lines[i], want)
		}
	}
	if len(next) != 3 {
		t.Errorf("100 keys landed in %d partitions, want all 3", len(next))
	}

	// --partition reads one partition only.
	stdout, _ = wireOK(t, "", "consume", "kv", "--from-beginning", "--partition", "2", "--bootstrap", addr)
	part := consumed(t, stdout)
	if int64(len(part)) != next[2] {
		t.Errorf("--partition 2 printed %d records, want %d", len(part), next[2])
	}
	for _, r := range part {
		if r.Partition != 2 {
			t.Errorf("--partition 2 printed a record of partition %d", r.Partition)
		}
	}
}

// TestConsumeRecordFormat checks null, binary and header rendering of
// records written by a Kafka client directly.
func TestConsumeRecordFormat(t *testing.T) {
	addr := startWireNode(t)
	wireOK(t, "", "topics", "create", "fmt", "--bootstrap", addr)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts := time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	recs := []*kgo.Record{
		{Topic: "fmt", Key: []byte("k"), Value: []byte(`{"a":"<b>"}`), Timestamp: ts,
			Headers: []kgo.RecordHeader{{Key: "h1", Value: []byte("v1")}, {Key: "bin", Value: []byte{0xff, 0x00}}, {Key: "nil"}}},
		{Topic: "fmt", Key: []byte{0xde, 0xad, 0xbe, 0xef}, Value: nil, Timestamp: ts}, // a tombstone
		{Topic: "fmt", Value: []byte{}, Timestamp: ts},                                 // null key, empty value
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	stdout, _ := wireOK(t, "", "consume", "fmt", "--from-beginning", "--bootstrap", addr)
	want := `{"topic":"fmt","partition":0,"offset":0,"timestamp":"2025-01-02T03:04:05.678Z","timestamp_ms":1735787045678,"key":"k","value":"{\"a\":\"<b>\"}","headers":[{"key":"h1","value":"v1"},{"key":"bin","value":"/wA=","value_encoding":"base64"},{"key":"nil","value":null}]}
{"topic":"fmt","partition":0,"offset":1,"timestamp":"2025-01-02T03:04:05.678Z","timestamp_ms":1735787045678,"key":"3q2+7w==","key_encoding":"base64","value":null,"headers":[]}
{"topic":"fmt","partition":0,"offset":2,"timestamp":"2025-01-02T03:04:05.678Z","timestamp_ms":1735787045678,"key":null,"value":"","headers":[]}
`
	if stdout != want {
		t.Errorf("consume printed\n%s\nwant\n%s", stdout, want)
	}
}

// TestConsumeGroupResumes consumes as a group twice: the second run prints
// only what was produced after the first.
func TestConsumeGroupResumes(t *testing.T) {
	addr := startWireNode(t)
	wireOK(t, "", "topics", "create", "events", "--partitions", "2", "--bootstrap", addr)
	lines := func(from, to int) string {
		var b strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "k%d\tv%d\n", i, i)
		}
		return b.String()
	}
	wireOK(t, lines(0, 10), "produce", "events", "--keyed", "--bootstrap", addr)
	stdout, _ := wireOK(t, "", "consume", "events", "--group", "g", "--from-beginning", "--bootstrap", addr)
	if got := consumed(t, stdout); len(got) != 10 {
		t.Fatalf("first group run printed %d records, want 10:\n%s", len(got), stdout)
	}
	wireOK(t, lines(10, 13), "produce", "events", "--keyed", "--bootstrap", addr)
	stdout, _ = wireOK(t, "", "consume", "events", "--group", "g", "--from-beginning", "--bootstrap", addr)
	got := map[string]bool{}
	for _, v := range values(consumed(t, stdout)) {
		got[v] = true
	}
	if len(got) != 3 || !got["v10"] || !got["v11"] || !got["v12"] || strings.Count(stdout, "\n") != 3 {
		t.Errorf("second group run printed\n%s\nwant exactly v10, v11 and v12", stdout)
	}
	stdout, _ = wireOK(t, "", "consume", "events", "--group", "g", "--bootstrap", addr)
	if stdout != "" {
		t.Errorf("third group run printed\n%s\nwant nothing", stdout)
	}
	// A new group without --from-beginning starts at the end.
	stdout, _ = wireOK(t, "", "consume", "events", "--group", "other", "--bootstrap", addr)
	if stdout != "" {
		t.Errorf("a new group without --from-beginning printed\n%s\nwant nothing", stdout)
	}
	// --max commits only what it printed.
	stdout, _ = wireOK(t, "", "consume", "events", "--group", "limited", "--from-beginning", "--max", "4", "--bootstrap", addr)
	first := consumed(t, stdout)
	// (--from-beginning for the partition that may have no commit yet.)
	stdout, _ = wireOK(t, "", "consume", "events", "--group", "limited", "--from-beginning", "--bootstrap", addr)
	rest := consumed(t, stdout)
	if len(first) != 4 || len(rest) != 9 {
		t.Fatalf("--max 4 then the rest: %d and %d records, want 4 and 9", len(first), len(rest))
	}
	all := map[string]bool{}
	for _, v := range append(values(first), values(rest)...) {
		all[v] = true
	}
	if len(all) != 13 {
		t.Errorf("--max 4 then the rest printed %d distinct records, want 13", len(all))
	}
}

func TestConsumeMaxAndOffset(t *testing.T) {
	addr := startWireNode(t)
	var in strings.Builder
	for i := range 20 {
		fmt.Fprintf(&in, "r%d\n", i)
	}
	wireOK(t, "", "topics", "create", "seq", "--bootstrap", addr)
	wireOK(t, in.String(), "produce", "seq", "--bootstrap", addr)
	for _, tc := range []struct {
		args   []string
		want   []string
		stderr string
	}{
		{args: []string{"--from-beginning", "--max", "5"}, want: []string{"r0", "r1", "r2", "r3", "r4"}},
		{args: []string{"--offset", "15"}, want: []string{"r15", "r16", "r17", "r18", "r19"}},
		{args: []string{"--offset", "7", "--max", "2", "--partition", "0"}, want: []string{"r7", "r8"}},
		{args: []string{"--offset", "20"}},
		{args: []string{"--offset", "25"}, stderr: "sluice: topic \"seq\" partition 0: offset 25 is beyond the end, 20; starting at the end\n"},
		{args: nil}, // from the end, without --follow: nothing
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			stdout, stderr := wireOK(t, "", append([]string{"consume", "seq", "--bootstrap", addr}, tc.args...)...)
			got := values(consumed(t, stdout))
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || stderr != tc.stderr {
				t.Errorf("printed %v, stderr %q; want %v, %q", got, stderr, tc.want, tc.stderr)
			}
		})
	}
	code, _, stderr := wire(t, "", "consume", "seq", "--partition", "1", "--bootstrap", addr)
	if code != ExitUsage || stderr != "sluice: consume: topic \"seq\" has partitions 0 to 0, not 1\n" {
		t.Errorf("--partition 1: exit %d, stderr %q", code, stderr)
	}
}

// TestConsumeFollow waits for records produced after it started, and stops
// cleanly when its context ends.
func TestConsumeFollow(t *testing.T) {
	addr := startWireNode(t)
	wireOK(t, "", "topics", "create", "live", "--partitions", "2", "--bootstrap", addr)
	wireOK(t, "old\n", "produce", "live", "--bootstrap", addr)
	for _, extra := range [][]string{nil, {"--group", "followers"}} {
		t.Run(fmt.Sprint(extra), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			args := append([]string{"consume", "live", "--follow", "--bootstrap", addr}, extra...)
			go func() { done <- Main(ctx, args, strings.NewReader(""), &stdout, &stderr) }()
			// Produce until the consumer has printed a record: it may
			// start after the first produce (it starts at the end).
			deadline := time.NewTimer(30 * time.Second)
			defer deadline.Stop()
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for n := 0; !strings.Contains(stdout.String(), `"value":"new`); n++ {
				if n%10 == 0 {
					wireOK(t, fmt.Sprintf("new %d\n", n), "produce", "live", "--bootstrap", addr)
				}
				select {
				case code := <-done:
					t.Fatalf("consume --follow exited %d before printing; stderr:\n%s", code, stderr.String())
				case <-deadline.C:
					t.Fatalf("consume --follow printed nothing new within 30s; stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
				case <-tick.C:
				}
			}
			cancel()
			select {
			case code := <-done:
				if code != ExitOK {
					t.Errorf("consume --follow exited %d after cancel, want 0; stderr:\n%s", code, stderr.String())
				}
			case <-time.After(30 * time.Second):
				t.Fatal("consume --follow did not return within 30s of cancel")
			}
			if strings.Contains(stdout.String(), `"value":"old"`) {
				t.Errorf("consume --follow printed a record from before it started:\n%s", stdout.String())
			}
		})
	}
}

func TestConsumeUnknownTopic(t *testing.T) {
	addr := startWireNode(t)
	for _, args := range [][]string{
		{"consume", "nope", "--from-beginning"},
		{"consume", "nope", "--group", "g"},
		{"topics", "describe", "nope"},
	} {
		code, stdout, stderr := wire(t, "", append(args, "--bootstrap", addr)...)
		if want := "sluice: topic \"nope\" does not exist; \"sluice topics list\" shows the topics there are\n"; code != ExitFailure || stdout != "" || stderr != want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1 and %q", strings.Join(args, " "), code, stdout, stderr, want)
		}
	}
	// Reading a topic does not create it, even with auto-creation on.
	stdout, _ := wireOK(t, "", "topics", "list", "--bootstrap", addr)
	if stdout != "NAME  PARTITIONS  REPLICATION-FACTOR\n" {
		t.Errorf("topics after reading a missing one:\n%s", stdout)
	}
}
