package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runMain calls Main in-process and returns its exit code and output.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code = Main(ctx, args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// goodConfig is a valid config that this build runs: its own data dir, and
// free ports.
func goodConfig(t *testing.T) (path, dataDir string) {
	t.Helper()
	dataDir = filepath.Join(t.TempDir(), "data")
	return writeFile(t, "sluice.yaml", fmt.Sprintf(`version: 1
node:
  data_dir: %s
  admin_listen: 127.0.0.1:0
  kafka_listen: 127.0.0.1:0
log:
  cleaner_interval: 1s
topics:
  - name: audit
    partitions: 3
    config: {cleanup.policy: compact}
  - name: events
`, dataDir)), dataDir
}

func TestValidateGoodFile(t *testing.T) {
	path, _ := goodConfig(t)
	code, stdout, stderr := runMain(t, "validate", "--config", path)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if want := "config OK: 2 topics, 0 connectors\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
}

func TestValidateReportsEveryProblemWithItsPosition(t *testing.T) {
	path := writeFile(t, "broken.yaml", `version: 1
node:
  data-dir: ./data
  admin_listen: nope
topics:
  - name: "bad name"
    partitions: 0
`)
	code, stdout, stderr := runMain(t, "validate", "--config", path)
	if code != ExitFailure {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, ExitFailure, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	// One line per problem, each FILE:LINE:COL: and the key's path.
	for _, want := range []string{
		path + ":3:3: node.data-dir: unknown key",
		path + ":4:17: node.admin_listen:",
		path + ":6:11: topics[0].name:",
		path + ":7:17: topics[0].partitions:",
		path + ": 4 problems",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, stderr)
		}
	}
	if n := strings.Count(stderr, "\n"); n != 5 {
		t.Errorf("output has %d lines, want 4 problems and a summary:\n%s", n, stderr)
	}
}

func TestValidateMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nowhere.yaml")
	code, _, stderr := runMain(t, "validate", "--config", path)
	if code != ExitFailure || !strings.Contains(stderr, path+": no such config file") || !strings.Contains(stderr, "--config") {
		t.Errorf("exit %d, stderr %q; want 1 naming the file and the next step", code, stderr)
	}
}

func TestValidateConnectorsThisBuildCannotRun(t *testing.T) {
	path := writeFile(t, "conn.yaml", `version: 1
connectors:
  - name: shop-pg
    kind: postgres-source
    config: {dsn: "postgres://localhost/shop"}
`)
	code, _, stderr := runMain(t, "validate", "--config", path)
	if code != ExitFailure || !strings.Contains(stderr, `"shop-pg": kind "postgres-source" is not available in this build`) {
		t.Errorf("exit %d, stderr %q; want 1 naming the connector and its kind", code, stderr)
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runMain(t, "version")
	want := "sluice dev " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if code != ExitOK || stdout != want {
		t.Errorf("version = %d %q, want 0 %q", code, stdout, want)
	}
	old := Version
	Version = "v1.2.3"
	defer func() { Version = old }()
	if _, stdout, _ := runMain(t, "version"); !strings.HasPrefix(stdout, "sluice v1.2.3 go") {
		t.Errorf("version with Version set = %q", stdout)
	}
}

func TestHelpListsCommandsButNotDebug(t *testing.T) {
	code, stdout, _ := runMain(t, "--help")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"run", "validate", "version"} {
		if !strings.Contains(stdout, "  "+want+" ") {
			t.Errorf("help lacks command %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "  debug ") {
		t.Errorf("help shows the hidden debug command:\n%s", stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	good, _ := goodConfig(t)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"bogus"},
		{"validate", "--bogus"},
		{"validate", "extra", "--config", good},
		{"version", "extra"},
		{"run", "--config", good, "--log-level", "loud"},
		{"run", "--config", good, "--log-format", "xml"},
		{"debug", "append"},
		{"debug", "append", "--data-dir", dir, "--topic", "t", "--fsync", "sometimes"},
		{"debug", "append", "--data-dir", dir, "--topic", "t", "--batch", "0"},
		{"debug", "dump", "--topic", "t"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, stdout, stderr := runMain(t, args...)
			if code != ExitUsage {
				t.Errorf("exit %d, want %d; stdout %q stderr %q", code, ExitUsage, stdout, stderr)
			}
			if !strings.HasPrefix(stderr, "sluice: ") {
				t.Errorf("stderr %q does not start with the error", stderr)
			}
		})
	}
}

func TestRunWithConfigProblemsStartsNothing(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	path := writeFile(t, "sluice.yaml", fmt.Sprintf(`version: 1
node:
  data_dir: %s
  admin_listen: 127.0.0.1:0
topics:
  - name: audit
    partitions: -1
`, dataDir))
	code, _, stderr := runMain(t, "run", "--config", path)
	if code != ExitFailure || !strings.Contains(stderr, path+":7:17: topics[0].partitions") {
		t.Errorf("exit %d, stderr %q; want 1 with the problem's position", code, stderr)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir was created for a config with problems (stat: %v)", err)
	}
}

var listeningRE = regexp.MustCompile(`"msg":"admin HTTP listening","addr":"([^"]+)"`)

// TestRunInProcess runs "sluice run" through Main, waits for /readyz and
// cancels the context as SIGTERM would.
func TestRunInProcess(t *testing.T) {
	path, dataDir := goodConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"run", "--config", path, "--log-format", "json"}, strings.NewReader(""), &stdout, &stderr)
	}()

	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	ready := false
	for !ready && time.Now().Before(deadline) {
		select {
		case code := <-done:
			t.Fatalf("run exited %d before ready; stderr:\n%s", code, stderr.String())
		case <-tick.C:
		}
		m := listeningRE.FindStringSubmatch(stderr.String())
		if m == nil {
			continue
		}
		resp, err := http.Get("http://" + m[1] + "/readyz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		ready = resp.StatusCode == http.StatusOK
	}
	if !ready {
		t.Fatalf("/readyz not 200 within 30s; stderr:\n%s", stderr.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("run exited %d after cancel, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return within 30s of cancel")
	}
	if !strings.Contains(stderr.String(), `"msg":"sluice stopped"`) {
		t.Errorf("no clean-stop log line; stderr:\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dataDir, "log")); err != nil {
		t.Errorf("no log in the data dir after run: %v", err)
	}
}

func TestDebugValue(t *testing.T) {
	for _, tc := range []struct {
		seq  int64
		size int
	}{{0, 100}, {7, 0}, {123456789, 100}, {42, 21}, {42, 4096}} {
		v := debugValue(tc.seq, tc.size)
		var got struct {
			Seq int64  `json:"seq"`
			Pad string `json:"pad"`
		}
		if err := json.Unmarshal(v, &got); err != nil {
			t.Fatalf("debugValue(%d, %d) = %q is not JSON: %v", tc.seq, tc.size, v, err)
		}
		if got.Seq != tc.seq {
			t.Errorf("debugValue(%d, %d) has seq %d", tc.seq, tc.size, got.Seq)
		}
		minimal := len(fmt.Sprintf(`{"seq":%d,"pad":""}`, tc.seq))
		if want := max(tc.size, minimal); len(v) != want {
			t.Errorf("debugValue(%d, %d) has %d bytes, want %d", tc.seq, tc.size, len(v), want)
		}
		if !bytes.Equal(v, debugValue(tc.seq, tc.size)) {
			t.Errorf("debugValue(%d, %d) is not deterministic", tc.seq, tc.size)
		}
	}
	if bytes.Equal(debugValue(1, 100)[20:], debugValue(2, 100)[20:]) {
		t.Error("debugValue pads different numbers alike")
	}
}

// ack is one acknowledgement line of debug append.
type ack struct {
	partition                              int32
	baseOffset, lastOffset, firstSeq, last int64
}

func parseAck(line string) (ack, error) {
	var a ack
	f := strings.Fields(line)
	if len(f) != 6 || f[0] != "ack" {
		return a, fmt.Errorf("not an ack line: %q", line)
	}
	var n [5]int64
	for i := range n {
		v, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return a, fmt.Errorf("ack line %q: %w", line, err)
		}
		n[i] = v
	}
	a = ack{int32(n[0]), n[1], n[2], n[3], n[4]}
	if a.lastOffset-a.baseOffset != a.last-a.firstSeq || a.lastOffset < a.baseOffset {
		return a, fmt.Errorf("ack line %q: offsets and numbers disagree", line)
	}
	return a, nil
}

func parseAcks(t *testing.T, out string) []ack {
	t.Helper()
	var acks []ack
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		a, err := parseAck(sc.Text())
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, a)
	}
	return acks
}

// dumped parses debug dump's output.
func dumped(t *testing.T, out string) []dumpedRecord {
	t.Helper()
	var recs []dumpedRecord
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var r dumpedRecord
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			return recs
		}
		if err != nil {
			t.Fatalf("dump output is not JSON lines: %v\n%s", err, out)
		}
		recs = append(recs, r)
	}
}

func TestDebugAppendAndDump(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runMain(t, "debug", "append", "--data-dir", dir, "--topic", "t1", "--partitions", "2",
		"--records", "250", "--batch", "10", "--value-bytes", "64")
	if code != ExitOK {
		t.Fatalf("append exit %d: %s", code, stderr)
	}
	acks := parseAcks(t, stdout)
	if len(acks) != 25 {
		t.Fatalf("%d acks, want 25:\n%s", len(acks), stdout)
	}
	next := int64(0)
	for i, a := range acks {
		if a.firstSeq != next || a.last != next+9 || a.partition != int32(i%2) || a.baseOffset != int64(i/2*10) {
			t.Errorf("ack %d = %+v; want seq %d..%d on partition %d at offset %d", i, a, next, next+9, i%2, i/2*10)
		}
		next = a.last + 1
	}

	code, stdout, stderr = runMain(t, "debug", "dump", "--data-dir", dir, "--topic", "t1")
	if code != ExitOK {
		t.Fatalf("dump exit %d: %s", code, stderr)
	}
	recs := dumped(t, stdout)
	if len(recs) != 250 {
		t.Fatalf("dump printed %d records, want 250", len(recs))
	}
	seen := map[string]bool{}
	for i, r := range recs {
		if r.Key == nil || r.Value == nil || r.KeyEncoding != "" || r.ValueEncoding != "" {
			t.Fatalf("record %d = %+v: want UTF-8 key and value", i, r)
		}
		seq, err := strconv.ParseInt(*r.Key, 10, 64)
		if err != nil {
			t.Fatalf("record %d key %q: %v", i, *r.Key, err)
		}
		if *r.Value != string(debugValue(seq, 64)) {
			t.Errorf("record %d (seq %d) value %q, want %q", i, seq, *r.Value, debugValue(seq, 64))
		}
		// Batch k of 10 went to partition k%2 at offset k/2*10.
		batch := seq / 10
		if r.Partition != int32(batch%2) || r.Offset != batch/2*10+seq%10 {
			t.Errorf("seq %d at partition %d offset %d; want partition %d offset %d", seq, r.Partition, r.Offset, batch%2, batch/2*10+seq%10)
		}
		if seen[*r.Key] {
			t.Errorf("seq %d dumped twice", seq)
		}
		seen[*r.Key] = true
		if r.Timestamp <= 0 {
			t.Errorf("record %d has timestamp %d", i, r.Timestamp)
		}
	}

	// A second run continues the numbering.
	code, stdout, _ = runMain(t, "debug", "append", "--data-dir", dir, "--topic", "t1", "--records", "5", "--batch", "5")
	if code != ExitOK {
		t.Fatalf("second append exit %d", code)
	}
	if acks := parseAcks(t, stdout); len(acks) != 1 || acks[0].firstSeq != 250 || acks[0].last != 254 {
		t.Errorf("second append acks %+v, want seq 250..254", acks)
	}

	// One partition, from an offset: partition 1 got 12 batches of 10.
	code, stdout, _ = runMain(t, "debug", "dump", "--data-dir", dir, "--topic", "t1", "--partition", "1", "--from", "100")
	if code != ExitOK {
		t.Fatalf("dump --partition 1 exit %d", code)
	}
	recs = dumped(t, stdout)
	if len(recs) != 20 || recs[0].Offset != 100 || recs[0].Partition != 1 || recs[19].Offset != 119 {
		t.Errorf("dump --partition 1 --from 100 gave %d records from offset %d", len(recs), recs[0].Offset)
	}

	// Errors name the thing and what to do.
	code, _, stderr = runMain(t, "debug", "dump", "--data-dir", dir, "--topic", "nope")
	if code != ExitFailure || !strings.Contains(stderr, `topic "nope"`) || !strings.Contains(stderr, "t1") {
		t.Errorf("dump of an unknown topic = %d %q; want 1 naming it and the topics there", code, stderr)
	}
	code, _, stderr = runMain(t, "debug", "dump", "--data-dir", filepath.Join(dir, "nowhere"), "--topic", "t1")
	if code != ExitFailure || !strings.Contains(stderr, "--data-dir") {
		t.Errorf("dump of a missing dir = %d %q; want 1 pointing at --data-dir", code, stderr)
	}
	code, _, stderr = runMain(t, "debug", "dump", "--data-dir", dir, "--topic", "t1", "--partition", "2")
	if code != ExitUsage {
		t.Errorf("dump of a partition that does not exist = %d %q; want 2", code, stderr)
	}
}

func TestDumpBytes(t *testing.T) {
	if s, enc := dumpBytes(nil); s != nil || enc != "" {
		t.Errorf("nil -> %v %q, want null", s, enc)
	}
	if s, enc := dumpBytes([]byte("héllo")); s == nil || *s != "héllo" || enc != "" {
		t.Errorf("UTF-8 -> %v %q", s, enc)
	}
	if s, enc := dumpBytes([]byte{0xff, 0x00, 0x01}); s == nil || *s != "/wAB" || enc != "base64" {
		t.Errorf("binary -> %v %q, want /wAB base64", s, enc)
	}
	if s, enc := dumpBytes([]byte{}); s == nil || *s != "" || enc != "" {
		t.Errorf("empty -> %v %q, want empty string", s, enc)
	}
}
