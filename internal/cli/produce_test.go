package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

func TestProduceLines(t *testing.T) {
	addr := startWireNode(t)
	wireOK(t, "", "topics", "create", "p", "--partitions", "3", "--bootstrap", addr)
	// --partition, an empty line (an empty value), CRLF line ends and a
	// last line without a newline.
	_, stderr := wireOK(t, "a\n\r\nb\r\nc", "produce", "p", "--partition", "2", "--bootstrap", addr)
	if stderr != "produced 4 records\n" {
		t.Errorf("stderr = %q", stderr)
	}
	stdout, _ := wireOK(t, "", "consume", "p", "--from-beginning", "--bootstrap", addr)
	recs := consumed(t, stdout)
	if got := strings.Join(values(recs), "|"); got != "a||b|c" {
		t.Errorf("values %q, want a||b|c", got)
	}
	for _, r := range recs {
		if r.Partition != 2 || r.Key != nil {
			t.Errorf("record %+v: want partition 2 and a null key", r)
		}
	}
	// --keyed splits at the first TAB only; an empty key is "", not null.
	wireOK(t, "\tno key\nk\tv\twith tab\n", "produce", "p", "--keyed", "--partition", "0", "--bootstrap", addr)
	stdout, _ = wireOK(t, "", "consume", "p", "--from-beginning", "--partition", "0", "--bootstrap", addr)
	recs = consumed(t, stdout)
	if len(recs) != 2 || recs[0].Key == nil || *recs[0].Key != "" || *recs[0].Value != "no key" || *recs[1].Key != "k" || *recs[1].Value != "v\twith tab" {
		t.Errorf("keyed records:\n%s", stdout)
	}
	// Without a key and without --partition, records still land.
	_, stderr = wireOK(t, "x\ny\nz\n", "produce", "p", "--bootstrap", addr)
	if stderr != "produced 3 records\n" {
		t.Errorf("stderr = %q", stderr)
	}
	// Nothing on stdin is nothing produced.
	_, stderr = wireOK(t, "", "produce", "p", "--bootstrap", addr)
	if stderr != "produced 0 records\n" {
		t.Errorf("stderr = %q", stderr)
	}
}

func TestProduceLargeLines(t *testing.T) {
	addr := startWireNode(t)
	wireOK(t, "", "topics", "create", "big", "--bootstrap", addr)
	// Above the Kafka client's default batch limit (1000012 bytes), within
	// the topic's max.message.bytes (1048588).
	big := strings.Repeat("x", 1_040_000)
	_, stderr := wireOK(t, big+"\nsmall\n", "produce", "big", "--bootstrap", addr)
	if stderr != "produced 2 records\n" {
		t.Fatalf("stderr = %q", stderr)
	}
	stdout, _ := wireOK(t, "", "consume", "big", "--from-beginning", "--bootstrap", addr)
	if got := values(consumed(t, stdout)); len(got) != 2 || got[0] != big || got[1] != "small" {
		t.Errorf("consumed %d records back, the first of %d bytes", len(got), len(got[0]))
	}

	// A line above 1 MiB is refused and nothing after it is read.
	code, _, stderr := wire(t, "ok\n"+strings.Repeat("y", 1<<20+1)+"\nafter\n", "produce", "big", "--bootstrap", addr)
	if code != ExitFailure || stderr != "produced 1 record\nsluice: stdin line 2 is longer than 1 MiB; produce reads one record of at most 1 MiB per line\n" {
		t.Errorf("over-long line: exit %d, stderr %q", code, stderr)
	}
	// A line the topic's max.message.bytes refuses names the config.
	code, _, stderr = wire(t, strings.Repeat("z", 1<<20)+"\n", "produce", "big", "--bootstrap", addr)
	if code != ExitFailure || !strings.Contains(stderr, "sluice: produce stdin line 1: topic \"big\": ") || !strings.Contains(stderr, "max.message.bytes (1048588)") {
		t.Errorf("1 MiB line: exit %d, stderr %q", code, stderr)
	}
}

func TestProduceErrors(t *testing.T) {
	addr := startWireNode(t)
	wireOK(t, "", "topics", "create", "compacted", "--set", "cleanup.policy=compact", "--bootstrap", addr)
	for _, tc := range []struct {
		stdin  string
		args   []string
		code   int
		stderr []string
	}{
		{"a\tb\n", []string{"compacted"}, ExitFailure, []string{
			"produced 0 records\n",
			"sluice: produce stdin line 1: topic \"compacted\": INVALID_RECORD: ",
			"cleanup.policy=compact), so every record needs a key: give KEY<TAB>VALUE lines with --keyed\n"}},
		{"k\tv\nno tab\nk\tw\n", []string{"compacted", "--keyed"}, ExitFailure, []string{
			"produced 1 record\nsluice: stdin line 2 has no TAB between key and value (--keyed)\n"}},
		{"x\n", []string{"compacted", "--partition", "1"}, ExitUsage, []string{
			"sluice: produce: topic \"compacted\" has partitions 0 to 0, not 1\n"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := wire(t, tc.stdin, append([]string{"produce", "--bootstrap", addr}, tc.args...)...)
			if code != tc.code || stdout != "" {
				t.Errorf("exit %d, stdout %q; want %d and nothing", code, stdout, tc.code)
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr %q lacks %q", stderr, want)
				}
			}
		})
	}
	stdout, _ := wireOK(t, "", "consume", "compacted", "--from-beginning", "--bootstrap", addr)
	if got := values(consumed(t, stdout)); fmt.Sprint(got) != "[v]" {
		t.Errorf("compacted topic holds %v, want [v] (the line before the bad one)", got)
	}
}

func TestProduceAutoCreatesTopic(t *testing.T) {
	addr := startWireNode(t) // log.auto_create_topics: true
	wireOK(t, "hello\n", "produce", "fresh", "--bootstrap", addr)
	stdout, _ := wireOK(t, "", "consume", "fresh", "--from-beginning", "--bootstrap", addr)
	if got := values(consumed(t, stdout)); fmt.Sprint(got) != "[hello]" {
		t.Errorf("fresh topic holds %v", got)
	}
}

// TestProduceInterrupted stops produce while stdin stays open, as a
// terminal does: what was read is produced and it exits 0.
func TestProduceInterrupted(t *testing.T) {
	addr := startWireNode(t)
	wireOK(t, "", "topics", "create", "typed", "--bootstrap", addr)
	stdin, typing := io.Pipe()
	defer typing.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"produce", "typed", "--bootstrap", addr}, stdin, io.Discard, &stderr)
	}()
	if _, err := io.WriteString(typing, "one\ntwo\n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		stdout, _ := wireOK(t, "", "consume", "typed", "--from-beginning", "--bootstrap", addr)
		if len(consumed(t, stdout)) == 2 {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("produce exited %d with stdin open; stderr:\n%s", code, stderr.String())
		case <-deadline.C:
			t.Fatalf("the typed lines were not produced within 30s; stderr:\n%s", stderr.String())
		case <-tick.C:
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitOK || stderr.String() != "produced 2 records\n" {
			t.Errorf("interrupted produce: exit %d, stderr %q; want 0 and the count", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("produce did not return within 30s of the interrupt while stdin stayed open")
	}
}
