package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// startSluiceRun starts "sluice run" on config and returns the process and
// the Kafka API address it logged once /readyz answers 200.
func startSluiceRun(t *testing.T, bin, config string) (*exec.Cmd, string, *lineReader) {
	t.Helper()
	cmd := exec.Command(bin, "run", "--config", config, "--log-format", "json")
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	stderr := readLines(stderrPipe)
	var kafkaAddr, adminAddr string
	deadline := time.After(60 * time.Second)
	for kafkaAddr == "" || adminAddr == "" {
		select {
		case line, ok := <-stderr.lines:
			if !ok {
				t.Fatalf("sluice run exited before serving; stderr:\n%s", stderr)
			}
			var m struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &m) == nil && m.Msg == "kafka API listening" {
				kafkaAddr = m.Addr
			}
			if sm := listeningRE.FindStringSubmatch(line); sm != nil {
				adminAddr = sm[1]
			}
		case <-deadline:
			t.Fatalf("no listen addresses logged; stderr:\n%s", stderr)
		}
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(60 * time.Second); ; <-tick.C {
		resp, err := http.Get("http://" + adminAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(end) {
			t.Fatalf("/readyz never 200; stderr:\n%s", stderr)
		}
	}
	return cmd, kafkaAddr, stderr
}

// TestProcessKill9DuringProduce kills "sluice run" with SIGKILL while Kafka
// clients produce with acks=all, restarts it on the same data directory,
// and checks that every record a client saw acknowledged is read back
// exactly once.
func TestProcessKill9DuringProduce(t *testing.T) {
	bin := sluiceBinary(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "sluice.yaml")
	err := os.WriteFile(config, []byte(fmt.Sprintf(`version: 1
node:
  data_dir: %s
  kafka_listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
log:
  default_partitions: 3
`, filepath.Join(dir, "data"))), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	seq := 0
	for round := 0; round < 3; round++ {
		cmd, addr, stderr := startSluiceRun(t, bin, config)
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.ProducerLinger(time.Millisecond), kgo.RecordRetries(3), kgo.RetryTimeout(5*time.Second), kgo.AllowAutoTopicCreation())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		target := (round + 1) * 2000
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					mu.Lock()
					seq++
					n := seq
					v := fmt.Sprintf("r%d-%d", round, n)
					mu.Unlock()
					cl.Produce(ctx, &kgo.Record{Topic: "crash", Key: []byte(strconv.Itoa(n % 50)), Value: []byte(v)}, func(r *kgo.Record, err error) {
						if err == nil {
							mu.Lock()
							acked[string(r.Value)] = true
							mu.Unlock()
						}
					})
				}
			}()
		}
		tick := time.NewTicker(time.Millisecond)
		for end := time.Now().Add(2 * time.Minute); ; <-tick.C {
			mu.Lock()
			n := len(acked)
			mu.Unlock()
			if n >= target {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("round %d: only %d acknowledged; stderr:\n%s", round, n, stderr)
			}
		}
		tick.Stop()
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		// The client may still be processing responses the node sent
		// before it died: those count as acknowledged too (the node
		// answers only after the fsync). Close the client to settle them.
		cancel()
		cl.Close()
		wg.Wait()
	}
	// Read everything back from a restarted node.
	cmd, addr, _ := startSluiceRun(t, bin, config)
	defer cmd.Process.Kill()
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("crash"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	// The high watermarks now are the end of what was written.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends := map[int32]int64{}
	for p := int32(0); p < 3; p++ {
		ends[p] = -1
	}
	seen := map[string]int{}
	done := func() bool {
		for _, e := range ends {
			if e < 0 {
				return false
			}
		}
		return true
	}
	reached := map[int32]bool{}
	for !(done() && len(reached) == 3) {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading back: %v (read %d records)", ctx.Err(), len(seen))
		}
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			ends[p.Partition] = p.HighWatermark
			for _, r := range p.Records {
				seen[string(r.Value)]++
			}
			if len(p.Records) > 0 && p.Records[len(p.Records)-1].Offset+1 >= p.HighWatermark {
				reached[p.Partition] = true
			}
			if p.HighWatermark == 0 {
				reached[p.Partition] = true
			}
		})
	}
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("record %s read %d times", v, n)
		}
	}
	for v := range acked {
		if seen[v] != 1 {
			t.Fatalf("acknowledged record %s lost (read back %d of %d acknowledged)", v, len(seen), len(acked))
		}
	}
	t.Logf("%d acknowledged records survived 3 kills; %d records in the log", len(acked), len(seen))
}
