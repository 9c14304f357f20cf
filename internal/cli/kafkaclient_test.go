package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/internal/engine"
)

// startWireNode runs an engine in-process on free ports in a temp dir and
// returns the address of its Kafka API once it is ready.
func startWireNode(t *testing.T) string {
	t.Helper()
	cfg := &configs.Config{
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
	}
	e, err := engine.New(cfg, engine.Options{})
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("engine Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("engine did not stop within 30s")
		}
		_ = e.Close()
	})
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok, _ := e.Ready(); ok && e.KafkaAddr() != "" {
			return e.KafkaAddr()
		}
		select {
		case err := <-errc:
			t.Fatalf("engine Run returned before ready: %v", err)
		case <-deadline.C:
			_, why := e.Ready()
			t.Fatalf("engine not ready within 30s: %s", why)
		case <-tick.C:
		}
	}
}

// wire runs Main with stdin and returns its exit code and output. Main
// must return within a minute.
func wire(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb strings.Builder
	code = Main(ctx, args, strings.NewReader(stdin), &out, &errb)
	if ctx.Err() != nil {
		t.Fatalf("sluice %s did not return within a minute", strings.Join(args, " "))
	}
	return code, out.String(), errb.String()
}

// wireOK runs Main and fails the test unless it exits 0.
func wireOK(t *testing.T, stdin string, args ...string) (stdout, stderr string) {
	t.Helper()
	code, stdout, stderr := wire(t, stdin, args...)
	if code != ExitOK {
		t.Fatalf("sluice %s: exit %d, stderr:\n%s", strings.Join(args, " "), code, stderr)
	}
	return stdout, stderr
}

// refusedAddr returns a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUnreachableBootstrap(t *testing.T) {
	addr := refusedAddr(t)
	for _, args := range [][]string{
		{"topics", "list"},
		{"topics", "describe", "t"},
		{"topics", "create", "t"},
		{"consume", "t", "--from-beginning"},
		{"produce", "t"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			args = append(args, "--bootstrap", addr, "--timeout", "3s")
			code, stdout, stderr := wire(t, "x\n", args...)
			if code != ExitFailure || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout)
			}
			want := fmt.Sprintf("sluice: cannot reach the Kafka API at %s (--bootstrap): ", addr)
			if !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, `"sluice run"`) || strings.Count(stderr, "\n") != 1 {
				t.Errorf("stderr %q; want one line starting %q and naming sluice run", stderr, want)
			}
		})
	}
}

func TestResolveBootstrap(t *testing.T) {
	dir := t.TempDir()
	write := func(name, node string) string {
		path := filepath.Join(dir, name)
		text := "version: 1\nnode:\n" + node
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	listen := write("listen.yaml", "  kafka_listen: 0.0.0.0:9193\n  admin_listen: 127.0.0.1:8093\n")
	advertise := write("advertise.yaml", "  kafka_listen: 0.0.0.0:9193\n  kafka_advertise: sluice.example.com:9193\n")
	portZero := write("zero.yaml", "  kafka_listen: 127.0.0.1:0\n")
	broken := write("broken.yaml", "  kafka_listen: [\n")
	missing := filepath.Join(dir, "missing.yaml")
	for _, tc := range []struct {
		name      string
		f         kafkaFlags
		configSet bool
		want      string // comma-separated seeds
		source    string
		err       string
	}{
		{name: "flag wins", f: kafkaFlags{bootstrap: "a:1, b:2", configPath: listen}, want: "a:1,b:2", source: "--bootstrap"},
		{name: "flag without port", f: kafkaFlags{bootstrap: "a", configPath: missing}, err: `"a" is not HOST:PORT`},
		{name: "no config file", f: kafkaFlags{configPath: missing}, want: defaultBootstrap, source: "the default; there is no " + missing + " here"},
		{name: "named config file missing", f: kafkaFlags{configPath: missing}, configSet: true, err: "no such file"},
		{name: "kafka_listen, unspecified host", f: kafkaFlags{configPath: listen}, want: "127.0.0.1:9193", source: "node.kafka_listen in " + listen},
		{name: "kafka_advertise", f: kafkaFlags{configPath: advertise}, want: "sluice.example.com:9193", source: "node.kafka_advertise in " + advertise},
		{name: "port 0", f: kafkaFlags{configPath: portZero}, err: "port 0"},
		{name: "broken file", f: kafkaFlags{configPath: broken}, err: "pass --bootstrap"},
		{name: "topic config given as --config", f: kafkaFlags{configPath: "cleanup.policy=compact"}, configSet: true, err: "--set KEY=VALUE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seeds, source, err := resolveBootstrap(&tc.f, tc.configSet)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(seeds, ","); got != tc.want || source != tc.source {
				t.Errorf("got %q from %q, want %q from %q", got, source, tc.want, tc.source)
			}
		})
	}
}

// TestBootstrapFromConfigFile finds a running node through --config.
func TestBootstrapFromConfigFile(t *testing.T) {
	addr := startWireNode(t)
	path := writeFile(t, "sluice.yaml", fmt.Sprintf("version: 1\nnode:\n  kafka_listen: %s\n  admin_listen: 127.0.0.1:0\n", addr))
	wireOK(t, "", "topics", "create", "found", "--config", path)
	stdout, _ := wireOK(t, "", "topics", "list", "-c", path)
	if want := "NAME   PARTITIONS  REPLICATION-FACTOR\nfound  1           1\n"; stdout != want {
		t.Errorf("topics list = %q, want %q", stdout, want)
	}
}

func TestKafkaErrorText(t *testing.T) {
	msg := "invalid topic config: retention.ms: want an integer ≥ -1, got \"abc\""
	for _, tc := range []struct {
		code int16
		msg  *string
		want string
	}{
		{kerr.TopicAlreadyExists.Code, nil, `topic "t" already exists`},
		{kerr.UnknownTopicOrPartition.Code, &msg, `topic "t" does not exist; "sluice topics list" shows the topics there are`},
		{kerr.InvalidConfig.Code, &msg, `topic "t": ` + msg},
		{kerr.InvalidConfig.Code, nil, `topic "t": invalid config: Configuration is invalid`},
		{kerr.NotController.Code, nil, `topic "t": NOT_CONTROLLER: This is not the correct controller for this cluster`},
		{-2, nil, `topic "t": ERROR_CODE_-2: an error code this client does not know`},
	} {
		err := kafkaError("t", tc.code, tc.msg)
		if err == nil || err.Error() != tc.want {
			t.Errorf("code %d: %v, want %q", tc.code, err, tc.want)
		}
		if tc.code > 0 && !errors.Is(err, kerr.ErrorForCode(tc.code)) {
			t.Errorf("code %d: %v does not wrap its kerr error", tc.code, err)
		}
	}
	if err := kafkaError("t", 0, nil); err != nil {
		t.Errorf("code 0: %v, want nil", err)
	}
}

func TestKafkaUsageErrors(t *testing.T) {
	// All of these are refused before anything is dialled.
	addr := refusedAddr(t)
	for _, args := range [][]string{
		{"consume"},
		{"consume", "t", "--from-beginning", "--offset", "3"},
		{"consume", "t", "--offset", "-1"},
		{"consume", "t", "--group", "g", "--offset", "3"},
		{"consume", "t", "--group", "g", "--partition", "0"},
		{"consume", "t", "--max", "-1"},
		{"consume", "t", "--partition", "-2"},
		{"produce"},
		{"produce", "t", "--partition", "-5"},
		{"topics", "describe"},
		{"topics", "create", "t", "--set", "nokey"},
		{"topics", "create", "t", "--partitions", "0"},
		{"topics", "alter", "t"},
		{"topics", "alter", "t", "--delete", "retention.ms=5"},
		{"topics", "delete"},
		{"topics", "bogus"},
		{"topics", "list", "--timeout", "0s"},
		{"topics", "list", "--bootstrap", "nohostport"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if !slices.Contains(args, "--bootstrap") {
				args = append(args, "--bootstrap", addr)
			}
			code, _, stderr := wire(t, "", args...)
			if code != ExitUsage || !strings.HasPrefix(stderr, "sluice: ") {
				t.Errorf("exit %d, stderr %q; want %d and the error", code, stderr, ExitUsage)
			}
		})
	}
}

func TestHelpListsKafkaCommands(t *testing.T) {
	_, stdout, _ := runMain(t, "--help")
	for _, want := range []string{"topics", "consume", "produce"} {
		if !strings.Contains(stdout, "  "+want+" ") {
			t.Errorf("help lacks command %q:\n%s", want, stdout)
		}
	}
}
