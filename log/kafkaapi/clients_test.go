package kafkaapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

// kcatPath finds kcat; under CI=true its absence fails the test.
func kcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		msg := "kcat not found; install the Debian package kcat (apt-get install -y kcat)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

func runKcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatPath(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %v: %v\nstderr: %s\nstdout: %s", args, err, errb.String(), out.String())
	}
	return out.String()
}

func TestKcat(t *testing.T) {
	kcatPath(t)
	ts := startServer(t, Options{AutoCreateTopics: true, DefaultPartitions: 2})
	b := ts.addr
	var in strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&in, "k%d:v%d\n", i%10, i)
	}
	runKcat(t, in.String(), "-b", b, "-P", "-t", "kc", "-K", ":", "-X", "acks=all", "-X", "enable.idempotence=true")
	md := runKcat(t, "", "-b", b, "-L")
	if !strings.Contains(md, `topic "kc" with 2 partitions`) || !strings.Contains(md, "broker 1 at") {
		t.Fatalf("kcat -L:\n%s", md)
	}
	out := runKcat(t, "", "-b", b, "-C", "-t", "kc", "-o", "beginning", "-e", "-f", "%k=%s@%p/%o\n")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 100 {
		t.Fatalf("kcat consumed %d records, want 100:\n%s", len(lines), out)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		kv, _, _ := strings.Cut(l, "@")
		seen[kv] = true
	}
	for i := 0; i < 100; i++ {
		if !seen[fmt.Sprintf("k%d=v%d", i%10, i)] {
			t.Fatalf("record %d missing from:\n%s", i, out)
		}
	}
	// Group consume with commit, then resume after more records.
	group := func() string {
		return runKcat(t, "", "-b", b, "-G", "kcg", "kc", "-e", "-X", "auto.offset.reset=earliest",
			"-X", "enable.auto.commit=true", "-X", "auto.commit.interval.ms=100", "-f", "%s\n")
	}
	first := strings.Fields(group())
	if len(first) != 100 {
		t.Fatalf("group consume got %d records, want 100", len(first))
	}
	offs, err := ts.log.FetchOffsets("kcg")
	if err != nil || len(offs) != 2 {
		t.Fatalf("kcat group did not commit: %v %+v", err, offs)
	}
	runKcat(t, "x:new1\ny:new2\n", "-b", b, "-P", "-t", "kc", "-K", ":")
	second := strings.Fields(group())
	if fmt.Sprint(sortedStrings(second)) != "[new1 new2]" {
		t.Fatalf("group resume got %v, want only the two new records", second)
	}
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestKafkaGo(t *testing.T) {
	ts := startServer(t, Options{AutoCreateTopics: true})
	mustTopic(t, ts, "kg", 3)
	ctx := ctxTimeout(t, 60*time.Second)
	w := &kafka.Writer{Addr: kafka.TCP(ts.addr), Topic: "kg", RequiredAcks: kafka.RequireAll, Balancer: &kafka.Hash{}, BatchTimeout: time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	for i := 0; i < 90; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint(i % 9)), Value: []byte(fmt.Sprint(i)), Headers: []kafka.Header{{Key: "h", Value: []byte("1")}}})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("kafka-go write: %v", err)
	}
	// Metadata through a plain connection.
	conn, err := kafka.DialContext(ctx, "tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := conn.ReadPartitions("kg")
	conn.Close()
	if err != nil || len(parts) != 3 {
		t.Fatalf("partitions: %v %+v", err, parts)
	}
	// Read partition by partition from the first offset.
	total := 0
	for p := 0; p < 3; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{ts.addr}, Topic: "kg", Partition: p, MaxWait: 100 * time.Millisecond})
		r.SetOffset(kafka.FirstOffset)
		st, _ := ts.log.State("kg", int32(p))
		for i := int64(0); i < st.HighWatermark; i++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read p%d: %v", p, err)
			}
			if m.Offset != i || len(m.Headers) != 1 {
				t.Fatalf("p%d: offset %d (want %d), headers %v", p, m.Offset, i, m.Headers)
			}
			total++
		}
		r.Close()
	}
	if total != 90 {
		t.Fatalf("read %d of 90", total)
	}
	// Group consume with commits, then resume.
	readGroup := func(n int) []string {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{ts.addr}, GroupID: "kgg", Topic: "kg", StartOffset: kafka.FirstOffset,
			MaxWait: 100 * time.Millisecond, SessionTimeout: 6 * time.Second, HeartbeatInterval: 500 * time.Millisecond, RebalanceTimeout: 5 * time.Second})
		defer r.Close()
		var got []string
		for len(got) < n {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				t.Fatalf("group fetch after %d: %v", len(got), err)
			}
			got = append(got, string(m.Value))
			if err := r.CommitMessages(ctx, m); err != nil {
				t.Fatalf("commit: %v", err)
			}
		}
		return got
	}
	if got := readGroup(90); len(got) != 90 {
		t.Fatalf("group read %d", len(got))
	}
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("z"), Value: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	got := readGroup(1)
	if got[0] != "after" {
		t.Fatalf("group resume read %q, want the new record", got[0])
	}
	if _, err := ts.log.FetchOffsets("kgg"); err != nil {
		t.Fatal(err)
	}
	_ = errors.New
}
