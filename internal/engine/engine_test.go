package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/configs"
	sluicelog "github.com/sluice-cdc/sluice/log"
)

// testConfig is a valid single-node config on free ports in a temp dir,
// with one declared topic.
func testConfig(t *testing.T) *configs.Config {
	t.Helper()
	return &configs.Config{
		Version: 1,
		Node: configs.Node{
			ID:          1,
			DataDir:     t.TempDir(),
			KafkaListen: "127.0.0.1:0",
			AdminListen: "127.0.0.1:0",
		},
		Log: configs.Log{
			Fsync:                    "always",
			FsyncInterval:            time.Second,
			AutoCreateTopics:         true,
			DefaultPartitions:        1,
			DefaultReplicationFactor: 1,
			CleanerInterval:          30 * time.Second,
			TopicDefaults:            map[string]string{},
		},
		Topics: []configs.Topic{{
			Name:              "audit",
			Partitions:        3,
			ReplicationFactor: 1,
			Config:            map[string]string{"cleanup.policy": "compact"},
		}},
	}
}

// running is an engine whose Run goes on in the background.
type running struct {
	e      *Engine
	cancel context.CancelFunc
	errc   chan error
}

func start(t *testing.T, cfg *configs.Config) *running {
	t.Helper()
	e, err := New(cfg, Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{e: e, cancel: cancel, errc: make(chan error, 1)}
	go func() { r.errc <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		_ = e.Close()
	})
	return r
}

// stop cancels Run's context and returns Run's result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.errc:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return within 30s of its context ending")
		return nil
	}
}

// waitReady polls /readyz until it answers 200, Run fails, or 30s pass.
func (r *running) waitReady(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-r.errc:
			t.Fatalf("Run returned before ready: %v", err)
		case <-tick.C:
		}
		addr := r.e.AdminAddr()
		if addr == "" {
			last = "admin not bound yet"
			continue
		}
		code, body := get(t, "http://"+addr+"/readyz")
		if code == http.StatusOK {
			return addr
		}
		last = body
	}
	t.Fatalf("/readyz did not turn 200 within 30s; last answer: %s", last)
	return ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func TestEngineServesAndDrains(t *testing.T) {
	cfg := testConfig(t)
	r := start(t, cfg)
	addr := r.waitReady(t)

	if code, body := get(t, "http://"+addr+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	if code, body := get(t, "http://"+addr+"/readyz"); code != 200 || !strings.Contains(body, `"ready":true`) {
		t.Errorf("/readyz = %d %q, want 200 with ready true", code, body)
	}
	code, metrics := get(t, "http://"+addr+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`sluice_log_partition_log_end_offset{partition="0",topic="audit"} 0`,
		`sluice_log_partition_log_end_offset{partition="2",topic="audit"} 0`,
		`sluice_log_partition_high_watermark{partition="1",topic="audit"} 0`,
		`sluice_log_partition_log_start_offset{partition="0",topic="audit"} 0`,
		`sluice_log_partition_bytes{partition="0",topic="audit"}`,
		`# TYPE sluice_log_fsync_seconds histogram`,
		`go_goroutines`,
		`process_cpu_seconds_total`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if ok, why := r.e.Ready(); !ok {
		t.Errorf("Ready() = false, %q while serving", why)
	}

	if err := r.stop(t); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	if ok, why := r.e.Ready(); ok || why != "stopped" {
		t.Errorf("Ready() after stop = %v %q, want false stopped", ok, why)
	}
	if _, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + addr + "/healthz"); err == nil {
		t.Errorf("admin HTTP still answers after Run returned")
	}

	// The declared topic is in the log, durably.
	l, err := sluicelog.Open(filepath.Join(cfg.Node.DataDir, "log"), sluicelog.Options{})
	if err != nil {
		t.Fatalf("reopen log: %v", err)
	}
	defer l.Close()
	info, err := l.Topic("audit")
	if err != nil {
		t.Fatalf("topic audit after run: %v", err)
	}
	if info.Partitions != 3 || info.Overrides["cleanup.policy"] != "compact" {
		t.Errorf("topic audit = %d partitions, overrides %v; want 3 and cleanup.policy=compact", info.Partitions, info.Overrides)
	}
}

func TestEngineMakesDeclaredTopicsMatchTheFile(t *testing.T) {
	cfg := testConfig(t)
	r := start(t, cfg)
	r.waitReady(t)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}

	// Second start: one more partition, cleanup.policy dropped, retention set.
	cfg.Topics[0].Partitions = 4
	cfg.Topics[0].Config = map[string]string{"retention.ms": "3600000"}
	cfg.Topics = append(cfg.Topics, configs.Topic{Name: "other", Partitions: 1, ReplicationFactor: 1, Config: map[string]string{}})
	r = start(t, cfg)
	r.waitReady(t)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	l, err := sluicelog.Open(filepath.Join(cfg.Node.DataDir, "log"), sluicelog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := l.Topic("audit")
	if err != nil {
		t.Fatal(err)
	}
	if info.Partitions != 4 {
		t.Errorf("audit has %d partitions, want 4", info.Partitions)
	}
	if len(info.Overrides) != 1 || info.Overrides["retention.ms"] != "3600000" {
		t.Errorf("audit overrides = %v, want only retention.ms=3600000", info.Overrides)
	}
	if _, err := l.Topic("other"); err != nil {
		t.Errorf("topic other: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Third start asks for fewer partitions: refused, with the fix named.
	cfg.Topics[0].Partitions = 2
	e, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = runWithTimeout(t, e)
	if err == nil || !strings.Contains(err.Error(), `"audit"`) || !strings.Contains(err.Error(), "set partitions to 4") {
		t.Errorf("Run with fewer partitions = %v, want an error naming audit and the fix", err)
	}
}

// runWithTimeout runs an engine that is expected to fail on its own.
func runWithTimeout(t *testing.T, e *Engine) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := e.Run(ctx)
	if ctx.Err() != nil {
		t.Fatalf("Run did not fail within 30s")
	}
	return err
}

func TestEngineAdminPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(t)
	cfg.Node.AdminListen = ln.Addr().String()
	e, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = runWithTimeout(t, e)
	if err == nil {
		t.Fatal("Run on a port in use returned nil")
	}
	for _, want := range []string{ln.Addr().String(), "node.admin_listen"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.Node.DataDir, "log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the log was opened although admin HTTP could not start (stat: %v)", err)
	}
}

func TestEngineRefusesWhatThisBuildCannotRun(t *testing.T) {
	cfg := testConfig(t)
	cfg.Connectors = []configs.Connector{
		{Name: "shop-pg", Kind: "postgres-source"},
		{Name: "customers-file", Kind: "file-sink"},
	}
	e, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = runWithTimeout(t, e)
	if err == nil {
		t.Fatal("Run with connectors returned nil")
	}
	for _, want := range []string{`"shop-pg"`, `"postgres-source"`, `"customers-file"`, `"file-sink"`, "not available in this build"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if e.AdminAddr() != "" {
		t.Errorf("admin HTTP was started for a config this build cannot run")
	}
	if _, err := os.Stat(filepath.Join(cfg.Node.DataDir, "log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the log was opened for a config this build cannot run (stat: %v)", err)
	}
}

func TestEngineRunsOnce(t *testing.T) {
	cfg := testConfig(t)
	r := start(t, cfg)
	r.waitReady(t)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if err := r.e.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("second Run = %v, want ErrClosed", err)
	}
}

func TestEngineCloseStopsRun(t *testing.T) {
	cfg := testConfig(t)
	e, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := &running{e: e, cancel: func() {}, errc: make(chan error, 1)}
	go func() { r.errc <- e.Run(context.Background()) }()
	r.waitReady(t)
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if ok, why := e.Ready(); ok || why != "stopped" {
		t.Errorf("Ready() after Close = %v %q, want false stopped: Close returned before Run finished", ok, why)
	}
	select {
	case err := <-r.errc:
		if err != nil {
			t.Errorf("Run after Close = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after Close")
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
	cfg := testConfig(t)
	cfg.Log.Fsync = "sometimes"
	if _, err := New(cfg, Options{}); err == nil || !strings.Contains(err.Error(), "log.fsync") {
		t.Errorf("New with fsync sometimes = %v, want an error naming log.fsync", err)
	}
	// Two engines cannot share one registry: their series would collide.
	cfg = testConfig(t)
	e, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, Options{Registry: e.Registry()}); err == nil {
		t.Error("New with a registry already holding sluice metrics succeeded")
	}
}

func TestConfigDiff(t *testing.T) {
	for _, tc := range []struct {
		name       string
		have, want map[string]string
		set        map[string]string
		del        []string
	}{
		{"same", map[string]string{"a": "1"}, map[string]string{"a": "1"}, map[string]string{}, nil},
		{"both empty", nil, map[string]string{}, map[string]string{}, nil},
		{"add", nil, map[string]string{"a": "1"}, map[string]string{"a": "1"}, nil},
		{"change", map[string]string{"a": "1"}, map[string]string{"a": "2"}, map[string]string{"a": "2"}, nil},
		{"remove sorted", map[string]string{"b": "1", "a": "1", "c": "1"}, map[string]string{"c": "1"}, map[string]string{}, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, del := configDiff(tc.have, tc.want)
			if len(set) != len(tc.set) {
				t.Errorf("set = %v, want %v", set, tc.set)
			}
			for k, v := range tc.set {
				if set[k] != v {
					t.Errorf("set = %v, want %v", set, tc.set)
				}
			}
			if strings.Join(del, ",") != strings.Join(tc.del, ",") {
				t.Errorf("del = %v, want %v", del, tc.del)
			}
		})
	}
}

func TestEngineStoppedBeforeItStarts(t *testing.T) {
	cfg := testConfig(t)
	e, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Run(ctx); err != nil {
		t.Errorf("Run with a cancelled context = %v, want nil", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Node.DataDir, "log")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the log was opened by a Run stopped before it started (stat: %v)", err)
	}
}

// TestTopicConfigKeysAgree keeps the keys a config file may set and the
// keys the log accepts the same set.
func TestTopicConfigKeysAgree(t *testing.T) {
	file := configs.TopicConfigKeys()
	logKeys := sluicelog.ConfigKeys()
	if strings.Join(file, ",") != strings.Join(logKeys, ",") {
		t.Fatalf("configs accepts %v\nlog accepts %v", file, logKeys)
	}
}
