package cli

// Tests of the real sluice binary as an operator runs it: built with go
// build, started as a process, stopped with SIGTERM or killed with SIGKILL.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// sluiceBinary builds cmd/sluice once per test run and returns its path.
func sluiceBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the sluice binary; skipped with -short")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "sluice-bin-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(buildDir, "sluice")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", buildPath, "github.com/sluice-cdc/sluice/cmd/sluice").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/sluice: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// lineReader collects a process's output lines and hands them out as they
// come. done is closed at EOF.
type lineReader struct {
	lines chan string
	done  chan struct{}
	mu    sync.Mutex
	all   []string
}

func readLines(r interface{ Read([]byte) (int, error) }) *lineReader {
	lr := &lineReader{lines: make(chan string, 1<<16), done: make(chan struct{})}
	go func() {
		defer close(lr.done)
		defer close(lr.lines)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			lr.mu.Lock()
			lr.all = append(lr.all, sc.Text())
			lr.mu.Unlock()
			lr.lines <- sc.Text()
		}
	}()
	return lr
}

func (lr *lineReader) String() string {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	return strings.Join(lr.all, "\n")
}

func TestProcessRunStopsCleanlyOnSIGTERM(t *testing.T) {
	bin := sluiceBinary(t)
	path, dataDir := goodConfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--config", path, "--log-format", "json")
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stderr := readLines(stderrPipe)

	// The admin address (port 0 in the config) is in the start-up log.
	var addr string
	for addr == "" {
		select {
		case line, ok := <-stderr.lines:
			if !ok {
				t.Fatalf("sluice run exited before listening; stderr:\n%s", stderr)
			}
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				addr = m[1]
			}
		case <-ctx.Done():
			t.Fatalf("no admin address logged; stderr:\n%s", stderr)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 within 30s (last: %v); stderr:\n%s", err, stderr)
		}
		<-tick.C
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stderr.done:
	case <-ctx.Done():
		t.Fatalf("sluice run did not exit after SIGTERM; stderr:\n%s", stderr)
	}
	err = cmd.Wait()
	if err != nil {
		t.Fatalf("sluice run after SIGTERM: %v, want exit 0; stderr:\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), `"msg":"sluice stopped"`) {
		t.Errorf("no clean-stop log line; stderr:\n%s", stderr)
	}

	// Everything it wrote is readable by the next process.
	code, stdout, errOut := runMain(t, "debug", "dump", "--data-dir", dataDir, "--topic", "audit")
	if code != ExitOK || stdout != "" {
		t.Errorf("dump of the fresh topic after SIGTERM = %d %q %q; want 0 and no records", code, stdout, errOut)
	}
}

// TestProcessKill9DuringAppendLosesNothingAcknowledged kills "sluice debug
// append" with SIGKILL while it appends, several times on one data
// directory, and checks after each kill that every acknowledged record is
// in the log exactly once at its acknowledged offset, that offsets are dense
// from 0 to the log end, and that no record number appears twice.
func TestProcessKill9DuringAppendLosesNothingAcknowledged(t *testing.T) {
	bin := sluiceBinary(t)
	dataDir := t.TempDir()
	const topic, valueBytes = "crash", 100
	acked := map[int64]int64{} // record number -> acknowledged offset
	rounds := []struct {
		batch  int
		fsync  string
		killAt int // records acknowledged in this round before the kill
	}{
		{batch: 10, fsync: "always", killAt: 2000},
		{batch: 1, fsync: "always", killAt: 300},
		{batch: 37, fsync: "always", killAt: 3000},
		// Without waiting for fsync the writer runs ahead of the reader of
		// its acknowledgements, so the kill lands among many writes in
		// flight. log.fsync: interval documents that a crash loses up to
		// one interval of acknowledged writes: the newest ones may be
		// missing, but what remains must be a clean prefix.
		{batch: 100, fsync: "interval", killAt: 5000},
		{batch: 10, fsync: "always", killAt: 1500},
	}
	for i, r := range rounds {
		n := appendUntilKilled(t, bin, dataDir, topic, r.batch, r.fsync, valueBytes, r.killAt, acked)
		leo, lost := checkCrashLog(t, dataDir, topic, valueBytes, acked, r.fsync == "interval")
		t.Logf("round %d: batch %d, fsync %s: %d records acknowledged before the kill, %d in all; log end after recovery %d; %d acknowledged records lost",
			i, r.batch, r.fsync, n, len(acked), leo, lost)
	}

	// The operator's view agrees: debug dump prints the same records.
	code, stdout, stderr := runMain(t, "debug", "dump", "--data-dir", dataDir, "--topic", topic)
	if code != ExitOK {
		t.Fatalf("dump exit %d: %s", code, stderr)
	}
	recs := dumped(t, stdout)
	for i, r := range recs {
		if r.Offset != int64(i) || r.Key == nil || *r.Key != strconv.Itoa(i) || r.Value == nil || *r.Value != string(debugValue(int64(i), valueBytes)) {
			t.Fatalf("dumped record %d = offset %d key %v: want offset, key and value of record %d", i, r.Offset, r.Key, i)
		}
	}
	if len(recs) < len(acked) {
		t.Errorf("dump printed %d records, fewer than the %d acknowledged", len(recs), len(acked))
	}
}

// appendUntilKilled runs debug append until killAt records are
// acknowledged, kills it with SIGKILL, and adds every acknowledgement it
// printed (including those still in the pipe at the kill) to acked.
func appendUntilKilled(t *testing.T, bin, dataDir, topic string, batch int, fsync string, valueBytes, killAt int, acked map[int64]int64) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "debug", "append", "--data-dir", dataDir, "--topic", topic,
		"--records", "1000000000", "--batch", strconv.Itoa(batch), "--value-bytes", strconv.Itoa(valueBytes),
		"--fsync", fsync, "--log-format", "json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := readLines(stdoutPipe)
	n, killed := 0, false
	for line := range out.lines {
		a, err := parseAck(line)
		if err != nil {
			_ = cmd.Process.Kill()
			t.Fatal(err)
		}
		if a.partition != 0 {
			t.Fatalf("ack on partition %d of a one-partition topic: %q", a.partition, line)
		}
		for s := a.firstSeq; s <= a.last; s++ {
			if off, dup := acked[s]; dup {
				t.Fatalf("record %d acknowledged twice, at offsets %d and %d", s, off, a.baseOffset+s-a.firstSeq)
			}
			acked[s] = a.baseOffset + s - a.firstSeq
		}
		n += int(a.last - a.firstSeq + 1)
		if n >= killAt && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("debug append did not reach %d acknowledged records within the timeout (%d); stderr:\n%s", killAt, n, stderr.String())
	}
	var ee *exec.ExitError
	if !killed || !errors.As(err, &ee) {
		t.Fatalf("debug append ended by itself (%v) after %d records; stderr:\n%s", err, n, stderr.String())
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("debug append ended with %v, want death by SIGKILL; stderr:\n%s", err, stderr.String())
	}
	return n
}

// checkCrashLog opens the log the killed process left, checks it against
// the acknowledgements and returns its log end offset. With mayLoseTail,
// acknowledged records at or past the log end are allowed to be missing
// (fsync interval); they are removed from acked and counted in lost.
func checkCrashLog(t *testing.T, dataDir, topic string, valueBytes int, acked map[int64]int64, mayLoseTail bool) (leo int64, lost int) {
	t.Helper()
	l, err := sluicelog.Open(filepath.Join(dataDir, "log"), sluicelog.Options{})
	if err != nil {
		t.Fatalf("reopen the log after SIGKILL: %v", err)
	}
	defer l.Close()
	st, err := l.State(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.LogStartOffset != 0 || st.HighWatermark != st.LogEndOffset {
		t.Errorf("after recovery: log start %d, high watermark %d, log end %d; want 0 and HW = LEO", st.LogStartOffset, st.HighWatermark, st.LogEndOffset)
	}
	// Read everything: offsets must be dense from 0 and every record must
	// be a well-formed, distinct record number.
	offsetOf := map[int64]int64{} // record number -> offset
	var recs []sluicelog.Record
	next := int64(0)
	for next < st.LogEndOffset {
		res, err := l.Read(topic, 0, next, sluicelog.ReadOptions{UpTo: sluicelog.UpToLogEnd})
		if err != nil {
			t.Fatalf("read at offset %d: %v", next, err)
		}
		if len(res.Batches) == 0 {
			t.Fatalf("read at offset %d below the log end %d returned nothing", next, st.LogEndOffset)
		}
		for i := range res.Batches {
			recs, err = res.Batches[i].AppendRecords(recs[:0])
			if err != nil {
				t.Fatalf("decode batch at %d: %v", res.Batches[i].BaseOffset, err)
			}
			for _, r := range recs {
				if r.Offset < next {
					continue
				}
				if r.Offset != next {
					t.Fatalf("offset gap: found %d where %d was next", r.Offset, next)
				}
				seq, err := strconv.ParseInt(string(r.Key), 10, 64)
				if err != nil {
					t.Fatalf("offset %d: key %q is not a record number", r.Offset, r.Key)
				}
				if prev, dup := offsetOf[seq]; dup {
					t.Fatalf("record %d is in the log twice, at offsets %d and %d", seq, prev, r.Offset)
				}
				offsetOf[seq] = r.Offset
				if want := debugValue(seq, valueBytes); !bytes.Equal(r.Value, want) {
					t.Fatalf("offset %d (record %d): value %q, want %q", r.Offset, seq, r.Value, want)
				}
				next++
			}
		}
	}
	for seq, off := range acked {
		got, ok := offsetOf[seq]
		if !ok && mayLoseTail && off >= st.LogEndOffset {
			delete(acked, seq)
			lost++
			continue
		}
		if !ok {
			t.Fatalf("acknowledged record %d (offset %d) is missing after SIGKILL; log end %d", seq, off, st.LogEndOffset)
		}
		if got != off {
			t.Fatalf("acknowledged record %d is at offset %d, acknowledged at %d", seq, got, off)
		}
	}
	if int(st.LogEndOffset) < len(acked) {
		t.Errorf("log end %d is below the %d acknowledged records", st.LogEndOffset, len(acked))
	}
	return st.LogEndOffset, lost
}

// TestExamplesValidateWithTheBinary runs the built binary's validate, with
// the connector kinds it is built with and no environment variables set,
// on every file of configs/examples but full.yaml (DESIGN.md's whole
// product, kinds of later releases included): each one a user copies must
// pass as it is.
func TestExamplesValidateWithTheBinary(t *testing.T) {
	bin := sluiceBinary(t)
	files, err := filepath.Glob(filepath.Join("..", "..", "configs", "examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		if filepath.Base(f) == "full.yaml" {
			continue
		}
		cmd := exec.Command(bin, "validate", "--config", f)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sluice validate --config %s: %v\n%s", f, err, out)
		}
	}
}
