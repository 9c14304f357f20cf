package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

// fileLine is one line the file sink writes.
type fileLine struct {
	Topic     string          `json:"topic"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Value     json.RawMessage `json:"value"`
}

func readFileLines(t *testing.T, path string) []fileLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	var out []fileLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var l fileLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			// A torn last line from the kill is allowed; the sink
			// rewrites it after the restart (offset not committed).
			continue
		}
		out = append(out, l)
	}
	return out
}

// committedOffsets reads the file sink's group offsets from a stopped
// node's data directory.
func committedOffsets(t *testing.T, dataDir, group string) map[int32]int64 {
	t.Helper()
	l, err := sluicelog.Open(filepath.Join(dataDir, "log"), sluicelog.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	offs, err := l.FetchOffsets(group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for _, o := range offs {
		out[o.Partition] = o.Offset
	}
	return out
}

// TestProcessKill9DatagenToFileSink kills "sluice run" with SIGKILL while
// datagen-source → log → file-sink runs, three times, and checks:
// every source event is in the log exactly once (no loss, no duplicate,
// in order); the file sink never repeats a record below the offset it had
// committed at the kill; in the end the file holds every record.
func TestProcessKill9DatagenToFileSink(t *testing.T) {
	bin := sluiceBinary(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	out := filepath.Join(dir, "out.jsonl")
	config := filepath.Join(dir, "sluice.yaml")
	const topic = "dg.datagen.events"
	err := os.WriteFile(config, []byte(fmt.Sprintf(`version: 1
node:
  data_dir: %s
  kafka_listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
log:
  default_partitions: 2
connectors:
  - name: gen
    kind: datagen-source
    config: {topic_prefix: dg, rate: 20000, batch_size: 50, rows: 200, max_events: 40000, seed: 7}
  - name: files
    kind: file-sink
    topics: [%s]
    config: {path: %s}
`, dataDir, topic, out)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	type kill struct {
		lines     int             // file lines at the kill
		committed map[int32]int64 // group offsets at the kill
	}
	var kills []kill
	for round := 0; round < 3; round++ {
		cmd, _, stderr := startSluiceRun(t, bin, config)
		// At 20,000 events/s the stream lasts two seconds: kill each
		// round after a few hundred more lines, well before its end.
		target := countFileLines(out) + 500
		tick := time.NewTicker(2 * time.Millisecond)
		for end := time.Now().Add(2 * time.Minute); countFileLines(out) < target; <-tick.C {
			if time.Now().After(end) {
				t.Fatalf("round %d: the file sink wrote too little; stderr:\n%s", round, stderr)
			}
		}
		tick.Stop()
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		kills = append(kills, kill{lines: len(readFileLines(t, out)), committed: committedOffsets(t, dataDir, "connect-files")})
	}
	// A last run to the end of the generated stream.
	cmd, _, stderr := startSluiceRun(t, bin, config)
	tick := time.NewTicker(5 * time.Millisecond)
	var lines []fileLine
	for end := time.Now().Add(3 * time.Minute); ; <-tick.C {
		if countFileLines(out) < 40000 {
			if time.Now().After(end) {
				t.Fatalf("final run: %d lines in the file; stderr:\n%s", countFileLines(out), stderr)
			}
			continue
		}
		lines = readFileLines(t, out)
		seen := map[[2]int64]bool{}
		for _, l := range lines {
			seen[[2]int64{int64(l.Partition), l.Offset}] = true
		}
		if len(seen) >= 40000 { // every event is one record at least; deletes add tombstones
			break
		}
		if time.Now().After(end) {
			t.Fatalf("final run: %d distinct records in the file; stderr:\n%s", len(seen), stderr)
		}
	}
	tick.Stop()
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	// The log: every source event exactly once, in sequence order.
	l, err := sluicelog.Open(filepath.Join(dataDir, "log"), sluicelog.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	info, err := l.Topic(topic)
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[int64]int{}
	total := int64(0)
	for p := int32(0); p < info.Partitions; p++ {
		st, _ := l.State(topic, p)
		total += st.HighWatermark
		for off := int64(0); off < st.HighWatermark; {
			res, err := l.Read(topic, p, off, sluicelog.ReadOptions{MaxBytes: 4 << 20})
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range res.Batches {
				recs, _ := b.Records()
				for _, r := range recs {
					if r.Value == nil {
						continue // tombstone
					}
					seqs[eventSeq(t, r.Value)]++
				}
				off = b.LastOffset + 1
			}
		}
	}
	for s := int64(0); s < 40000; s++ {
		if seqs[s] != 1 {
			t.Fatalf("source event %d is in the log %d times", s, seqs[s])
		}
	}
	if len(seqs) != 40000 {
		t.Fatalf("%d distinct events in the log, want 40000", len(seqs))
	}

	// The file: after each kill, the restarted sink wrote nothing below
	// the offsets committed at the kill.
	for i, k := range kills {
		end := len(lines)
		if i+1 < len(kills) {
			end = kills[i+1].lines
		}
		for _, ln := range lines[k.lines:end] {
			if c := k.committed[ln.Partition]; ln.Offset < c {
				t.Fatalf("after kill %d the sink repeated partition %d offset %d, below its committed offset %d", i, ln.Partition, ln.Offset, c)
			}
		}
	}
	seen := map[[2]int64]int{}
	for _, ln := range lines {
		seen[[2]int64{int64(ln.Partition), ln.Offset}]++
	}
	if int64(len(seen)) != total {
		t.Fatalf("the file holds %d distinct records, the topic %d", len(seen), total)
	}
	t.Logf("3 kills: %d events once each in the log; file %d lines for %d records", len(seqs), len(lines), total)
}

// eventSeq returns a datagen event's sequence number from its source block.
func eventSeq(t *testing.T, value []byte) int64 {
	t.Helper()
	var env struct {
		Source struct {
			Seq *int64 `json:"seq"`
		} `json:"source"`
	}
	if err := json.Unmarshal(value, &env); err != nil || env.Source.Seq == nil {
		t.Fatalf("no source.seq in %s (%v)", value, err)
	}
	return *env.Source.Seq
}

// countFileLines counts the newlines of a file (0 when it is missing).
func countFileLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte{'\n'})
}
