package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
)

// line is a JSON line as read back.
type line struct {
	Topic         string          `json:"topic"`
	Partition     int32           `json:"partition"`
	Offset        int64           `json:"offset"`
	Timestamp     int64           `json:"timestamp"`
	Key           json.RawMessage `json:"key"`
	KeyEncoding   string          `json:"key_encoding"`
	Value         json.RawMessage `json:"value"`
	ValueEncoding string          `json:"value_encoding"`
	Headers       []struct {
		Key           string          `json:"key"`
		Value         json.RawMessage `json:"value"`
		ValueEncoding string          `json:"value_encoding"`
	} `json:"headers"`
}

// payload turns a key or value field back into the record's bytes (for an
// embedded JSON document, its compacted form).
func payload(t testing.TB, raw json.RawMessage, encoding string) []byte {
	t.Helper()
	switch {
	case string(raw) == "null":
		return nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		if encoding == "base64" {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		return []byte(s)
	}
	return raw
}

// readLines reads every line of the files, in order, checking that each
// is one whole JSON object.
func readLines(t testing.TB, paths ...string) []line {
	t.Helper()
	var out []line
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			t.Fatal(err)
		}
		if len(data) > 0 && data[len(data)-1] != '\n' {
			t.Fatalf("%s does not end with a newline", p)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var l line
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&l); err != nil {
				t.Fatalf("%s: line %q: %v", p, sc.Text(), err)
			}
			out = append(out, l)
		}
	}
	return out
}

// withRotated returns base's rotated files, oldest first, then base.
func withRotated(base string) []string {
	var paths []string
	for i := 1; ; i++ {
		p := fmt.Sprintf("%s.%d", base, i)
		if _, err := os.Stat(p); err != nil {
			return append(paths, base)
		}
		paths = append(paths, p)
	}
}

func values(t testing.TB, lines []line) [][]byte {
	out := make([][]byte, len(lines))
	for i, l := range lines {
		out[i] = payload(t, l.Value, l.ValueEncoding)
	}
	return out
}

func TestAcceptance(t *testing.T) {
	path := func(t *testing.T) string { return filepath.Join(connecttest.InstanceDir(t), "out", "records.jsonl") }
	connecttest.RunSink(t, connecttest.SinkHarness{
		Kind:   New(),
		Config: func(t *testing.T) string { return fmt.Sprintf("path: %q\n", path(t)) },
		BadConfigs: map[string]string{
			"":                           "path",
			"path: ''":                   "path",
			"path: [a, b]":               "path",
			"path: x\nrotate_bytes: -1":  "rotate_bytes",
			"path: x\nrotate_bytes: 1.5": "rotate_bytes",
			"path: x\nfsync: maybe":      "fsync",
			"path: x\nper_topic: 1":      "per_topic",
			"path: x\nbogus: 1":          "bogus",
			"path: x\nrotate-bytes: 1":   "rotate-bytes",
		},
		ReadBack: func(t *testing.T) [][]byte {
			return values(t, readLines(t, path(t)))
		},
	})
}

func TestAcceptancePerTopic(t *testing.T) {
	topicFile := func(t *testing.T) string {
		return filepath.Join(connecttest.InstanceDir(t), connecttest.DefaultTopic+".jsonl")
	}
	connecttest.RunSink(t, connecttest.SinkHarness{
		Kind: New(),
		Config: func(t *testing.T) string {
			return fmt.Sprintf("path: %q\nper_topic: true\nrotate_bytes: 400\n", connecttest.InstanceDir(t))
		},
		ReadBack: func(t *testing.T) [][]byte {
			return values(t, readLines(t, withRotated(topicFile(t))...))
		},
		Break: func(t *testing.T) {
			// The topic's file is the disk-full device.
			if _, err := os.Stat("/dev/full"); err != nil {
				t.Skip("no /dev/full to fill the disk with")
			}
			if err := os.Symlink("/dev/full", topicFile(t)); err != nil {
				t.Fatal(err)
			}
		},
	})
}

// open builds and opens a sink of block.
func open(t testing.TB, k *Kind, block string) *Sink {
	t.Helper()
	c := connecttest.Connector(t, k, block)
	s, err := k.NewSink(c, connect.Env{Name: c.Name})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s.(*Sink)
}

func write(t testing.TB, s connect.Sink, records ...connect.SinkRecord) {
	t.Helper()
	if err := s.Write(context.Background(), records); err != nil {
		t.Fatal(err)
	}
}

func TestLineFormat(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    connect.SinkRecord
		want string
	}{
		{"json", connect.SinkRecord{Topic: "a.b", Partition: 2, Offset: 9, Timestamp: 1700000000000,
			Key: []byte(`{"id": 7}`), Value: []byte("{\n  \"after\": {\"n\": [1, 2]},\n  \"s\": \"a b\\n\"\n}\n"),
			Headers: []connect.Header{{Key: "h", Value: []byte("v")}}},
			`{"topic":"a.b","partition":2,"offset":9,"timestamp":1700000000000,"key":{"id": 7},"value":{"after":{"n":[1,2]},"s":"a b\n"},"headers":[{"key":"h","value":"v"}]}`},
		{"tombstone", connect.SinkRecord{Topic: "t", Key: []byte(`{"id":7}`)},
			`{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":{"id":7},"value":null,"headers":[]}`},
		{"text", connect.SinkRecord{Topic: "t", Value: []byte("héllo \"x\"\t\x01\\")},
			`{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":null,"value":"héllo \"x\"\t\u0001\\","headers":[]}`},
		{"json scalars are text", connect.SinkRecord{Topic: "t", Key: []byte("42"), Value: []byte("null")},
			`{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":"42","value":"null","headers":[]}`},
		{"broken json is text", connect.SinkRecord{Topic: "t", Value: []byte(`{"a":`)},
			`{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":null,"value":"{\"a\":","headers":[]}`},
		{"binary", connect.SinkRecord{Topic: "t", Key: []byte{0xff, 0}, Value: []byte("{\"a\":\"\xff\"}"),
			Headers: []connect.Header{{Key: "b", Value: []byte{0xfe}}, {Key: "n"}}},
			`{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":"/wA=","key_encoding":"base64","value":"eyJhIjoi/yJ9","value_encoding":"base64","headers":[{"key":"b","value":"/g==","value_encoding":"base64"},{"key":"n","value":null}]}`},
		{"empty", connect.SinkRecord{Topic: "t", Key: []byte{}, Value: []byte{}},
			`{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":"","value":"","headers":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendLine(nil, &tc.r))
			if got != tc.want+"\n" {
				t.Fatalf("line\n got %s\nwant %s", got, tc.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatal("not valid JSON")
			}
			// Reading the line back gives the bytes (compacted JSON).
			var l line
			if err := json.Unmarshal([]byte(got), &l); err != nil {
				t.Fatal(err)
			}
			want := tc.r.Value
			if isCompound(want) && json.Valid(want) {
				var b bytes.Buffer
				json.Compact(&b, want)
				want = b.Bytes()
			}
			if back := payload(t, l.Value, l.ValueEncoding); !bytes.Equal(back, want) || (back == nil) != (want == nil) {
				t.Errorf("value read back as %q, want %q", back, want)
			}
		})
	}
}

func TestFsync(t *testing.T) {
	for _, fsync := range []bool{true, false} {
		t.Run(fmt.Sprint(fsync), func(t *testing.T) {
			s := open(t, New(), fmt.Sprintf("path: %q\nfsync: %v", filepath.Join(t.TempDir(), "f.jsonl"), fsync))
			write(t, s, connect.SinkRecord{Topic: "t", Value: []byte("a")})
			write(t, s, connect.SinkRecord{Topic: "t", Value: []byte("b")}, connect.SinkRecord{Topic: "t", Value: []byte("c")})
			f := s.files[""]
			f.mu.Lock()
			syncs := f.mu.syncs
			f.mu.Unlock()
			want := 0
			if fsync {
				want = 2 // one per Write
			}
			if syncs != want {
				t.Errorf("%d fsyncs after 2 Writes, want %d", syncs, want)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.jsonl")
	block := fmt.Sprintf("path: %q\nrotate_bytes: 300", path)
	var all []connect.SinkRecord
	for i := range 30 {
		v := fmt.Sprintf(`{"i":%d}`, i)
		if i == 17 {
			v = fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", 400)) // longer than rotate_bytes
		}
		all = append(all, connect.SinkRecord{Topic: "t", Offset: int64(i), Value: []byte(v)})
	}
	s := open(t, New(), block)
	write(t, s, all[:7]...)
	write(t, s, all[7:25]...)
	s.Close()
	s = open(t, New(), block) // a restart continues the numbering
	write(t, s, all[25:]...)

	files, _ := filepath.Glob(path + ".*")
	if len(files) < 3 {
		t.Fatalf("rotated files: %v", files)
	}
	var paths []string
	for i := 1; i <= len(files); i++ {
		p := fmt.Sprintf("%s.%d", path, i)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("rotated files %v are not numbered from 1: %v", files, err)
		}
		if n := len(readLines(t, p)); st.Size() > 300 && n != 1 {
			t.Errorf("%s has %d bytes in %d lines", p, st.Size(), n)
		}
		paths = append(paths, p)
	}
	lines := readLines(t, append(paths, path)...)
	if len(lines) != len(all) {
		t.Fatalf("%d lines in all files, want %d", len(lines), len(all))
	}
	for i, l := range lines {
		if l.Offset != int64(i) {
			t.Fatalf("line %d across the rotated files has offset %d", i, l.Offset)
		}
	}
}

func TestPathErrorsAreFatal(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, block string }{
		{"under a file", fmt.Sprintf("path: %q", filepath.Join(regular, "x.jsonl"))},
		{"a directory", fmt.Sprintf("path: %q", dir)},
		{"per_topic under a file", fmt.Sprintf("path: %q\nper_topic: true", filepath.Join(regular, "d"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := New()
			s, err := k.NewSink(connecttest.Connector(t, k, tc.block), connect.Env{Name: "f"})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Open(context.Background())
			if !errors.Is(err, connect.ErrFatal) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "config.path") {
				t.Fatalf("Open = %v, want a fatal error naming the path and config.path", err)
			}
			t.Log(err)
		})
	}
}

func TestPermissionDeniedIsFatal(t *testing.T) {
	if os.Geteuid() == 0 {
		// Root may write anywhere: run this test again in a copy of
		// the test binary as the user nobody.
		runAsNobody(t, "TestPermissionDeniedIsFatal")
		return
	}
	dir := filepath.Join(t.TempDir(), "ro")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	k := New()
	s, err := k.NewSink(connecttest.Connector(t, k, fmt.Sprintf("path: %q", filepath.Join(dir, "x.jsonl"))), connect.Env{Name: "f"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Open(context.Background())
	if !errors.Is(err, connect.ErrFatal) || !strings.Contains(err.Error(), "write access") {
		t.Fatalf("Open = %v, want a fatal error saying what to do", err)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err   error
		class string
	}{
		{syscall.EACCES, "fatal"},
		{syscall.EPERM, "fatal"},
		{syscall.EROFS, "fatal"},
		{syscall.ENOTDIR, "fatal"},
		{syscall.EISDIR, "fatal"},
		{syscall.ENOSPC, "retriable"},
		{syscall.EDQUOT, "retriable"},
		{syscall.EIO, "retriable"},
	} {
		err := classify(&fs.PathError{Op: "open", Path: "/x/y.jsonl", Err: tc.err}, "/x/y.jsonl")
		if got := connect.Class(err); got != tc.class || !errors.Is(err, tc.err) || !strings.Contains(err.Error(), "/x/y.jsonl") {
			t.Errorf("%v: %v classed %s, want %s, wrapping the cause and naming the path", tc.err, err, got, tc.class)
		}
		if tc.class == "retriable" && !errors.Is(err, connect.ErrRetriable) {
			t.Errorf("%v: not marked retriable", tc.err)
		}
	}
}

func TestDiskFullIsRetriable(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	path := filepath.Join(t.TempDir(), "full.jsonl")
	if err := os.Symlink("/dev/full", path); err != nil {
		t.Fatal(err)
	}
	s := open(t, New(), fmt.Sprintf("path: %q", path))
	err := s.Write(context.Background(), []connect.SinkRecord{{Topic: "t", Value: []byte("x")}})
	if !errors.Is(err, connect.ErrRetriable) {
		t.Fatalf("Write to a full disk = %v, want retriable", err)
	}
	t.Log(err)
}

func TestPartialLineIsCut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.jsonl")
	whole := `{"topic":"t","partition":0,"offset":0,"timestamp":0,"key":null,"value":"a","headers":[]}` + "\n"
	if err := os.WriteFile(path, []byte(whole+`{"topic":"t","partition":0,"off`), 0o644); err != nil {
		t.Fatal(err)
	}
	s := open(t, New(), fmt.Sprintf("path: %q", path))
	write(t, s, connect.SinkRecord{Topic: "t", Offset: 1, Value: []byte("b")})
	lines := readLines(t, path)
	if len(lines) != 2 || lines[1].Offset != 1 {
		t.Fatalf("lines %+v", lines)
	}
}

func TestTasks(t *testing.T) {
	k := New()
	for _, tc := range []struct {
		block    string
		tasksMax int
		want     int
	}{
		{"path: x", 1, 1},
		{"path: x", 4, 1},
		{"path: x\nper_topic: true", 4, 4},
	} {
		c := connecttest.Connector(t, k, tc.block)
		c.TasksMax = tc.tasksMax
		if got := k.Tasks(c); got != tc.want {
			t.Errorf("%q with tasks_max %d: Tasks = %d, want %d", tc.block, tc.tasksMax, got, tc.want)
		}
	}
}

// TestTasksShareFiles: tasks writing partitions of one topic to one
// directory append whole Writes to one file.
func TestTasksShareFiles(t *testing.T) {
	dir := t.TempDir()
	k := New()
	block := fmt.Sprintf("path: %q\nper_topic: true\nrotate_bytes: 20000", dir)
	const tasks, writes, batch = 3, 40, 25
	var wg sync.WaitGroup
	for task := range tasks {
		s := open(t, k, block)
		wg.Go(func() {
			for w := range writes {
				var rs []connect.SinkRecord
				for i := range batch {
					off := int64(w*batch + i)
					rs = append(rs, connect.SinkRecord{Topic: "shared", Partition: int32(task), Offset: off, Value: fmt.Appendf(nil, `{"o":%d}`, off)},
						connect.SinkRecord{Topic: fmt.Sprintf("own%d", task), Partition: 0, Offset: off, Value: []byte("x")})
				}
				if err := s.Write(context.Background(), rs); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	lines := readLines(t, withRotated(filepath.Join(dir, "shared.jsonl"))...)
	if len(lines) != tasks*writes*batch {
		t.Fatalf("%d lines, want %d", len(lines), tasks*writes*batch)
	}
	next := map[int32]int64{}
	for i, l := range lines {
		if l.Offset != next[l.Partition] {
			t.Fatalf("line %d: partition %d offset %d, want %d", i, l.Partition, l.Offset, next[l.Partition])
		}
		next[l.Partition]++
	}
	for task := range tasks {
		if n := len(readLines(t, withRotated(filepath.Join(dir, fmt.Sprintf("own%d.jsonl", task)))...)); n != writes*batch {
			t.Errorf("own%d.jsonl has %d lines", task, n)
		}
	}
}

func BenchmarkFileSink(b *testing.B) {
	value := []byte(`{"before":null,"after":{"id":12345,"customer_id":678,"status":"pending","amount":"123.45","paid":false,"created_at":1704067200000000},"source":{"connector":"datagen","name":"bench","db":"datagen","table":"events"},"op":"c","ts_ms":1704067200000}`)
	for _, fsync := range []bool{true, false} {
		b.Run(fmt.Sprintf("fsync=%v", fsync), func(b *testing.B) {
			s := open(b, New(), fmt.Sprintf("path: %q\nfsync: %v", filepath.Join(b.TempDir(), "bench.jsonl"), fsync))
			batch := make([]connect.SinkRecord, 1000)
			lineBytes := 0 // what one batch writes
			for i := range batch {
				batch[i] = connect.SinkRecord{Topic: "bench", Offset: int64(i), Key: fmt.Appendf(nil, `{"id":%d}`, i), Value: value, Timestamp: 1704067200000}
				lineBytes += len(appendLine(nil, &batch[i]))
			}
			records, written := 0, 0
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Write(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
				records += len(batch)
				written += lineBytes
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(records)/sec, "records/s")
			b.ReportMetric(float64(written)/sec/1e6, "MB/s")
		})
	}
}

// runAsNobody runs one test of this binary again as the user nobody
// (65534), from a copy of the binary that nobody may execute, and fails if
// it fails.
func runAsNobody(t *testing.T, test string) {
	t.Helper()
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "sluice-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "file.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR=/tmp", "HOME=/tmp")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("%s as nobody: %v\n%s", test, err, out)
	}
}
