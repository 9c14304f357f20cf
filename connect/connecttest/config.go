package connecttest

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
)

// ConnectorName is the name of the connector the suite builds.
const ConnectorName = "acceptance"

// fileName names the config file the suite parses, in problems.
const fileName = "acceptance.yaml"

// configFile returns a version 1 config file holding one connector of kind
// with block as its config block.
func configFile(kind, block string) string {
	var b strings.Builder
	b.WriteString("version: 1\nconnectors:\n  - name: " + ConnectorName + "\n    kind: " + kind + "\n")
	if strings.TrimSpace(block) == "" {
		b.WriteString("    config: {}\n")
		return b.String()
	}
	b.WriteString("    config:\n")
	for _, line := range strings.Split(strings.TrimRight(block, "\n"), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString("      ")
		}
		b.WriteString(line)
		b.WriteString("\n")
	}
	return b.String()
}

// blockLines is how many lines configFile puts before the block.
const blockLines = 5

func noEnv(string) (string, bool) { return "", false }

// Connector loads block, a config block as YAML text, as the config of a
// connector named ConnectorName of kind, the way the suite does (see the
// package doc), without the kind's own checks, and returns the connector as
// the runtime gets it. Connector tests use it to build instances of their
// own.
func Connector(t testing.TB, kind connect.ConnectorKind, block string) *configs.Connector {
	t.Helper()
	text := configFile(kind.Name(), block)
	cfg, err := configs.Parse(fileName, []byte(text), configs.Options{Getenv: noEnv})
	if err != nil {
		t.Fatalf("the harness's config block does not load (the suite wraps it as %s's connectors[0].config):\n%v\nblock:\n%s", fileName, err, block)
	}
	if len(cfg.Connectors) != 1 {
		t.Fatalf("the config file holds %d connectors, want 1", len(cfg.Connectors))
	}
	return &cfg.Connectors[0]
}

// parseRegistered loads block as connector's config with kind registered,
// so that the kind's Check runs as "sluice validate" runs it, and returns
// the problems.
func parseRegistered(t testing.TB, kind connect.ConnectorKind, block string) []configs.Problem {
	t.Helper()
	reg := connect.NewRegistry()
	reg.Register(kind)
	opts := reg.ConfigOptions()
	opts.Getenv = noEnv
	_, err := configs.Parse(fileName, []byte(configFile(kind.Name(), block)), opts)
	if err == nil {
		return nil
	}
	var e *configs.Error
	if !errors.As(err, &e) {
		t.Fatalf("configs.Parse returned %T, not *configs.Error: %v", err, err)
	}
	return e.Problems
}

// namesField reports whether a problem's path names field: the path is
// field, or ends with "."+field, or field is an index such as "[2].type"
// that the path ends with.
func namesField(path, field string) bool {
	return path == field || strings.HasSuffix(path, "."+field) ||
		strings.HasPrefix(field, "[") && strings.HasSuffix(path, field)
}

// checkValidConfig runs the config/valid subtest and returns the connector.
func checkValidConfig(t *testing.T, kind connect.ConnectorKind, block string) {
	t.Helper()
	c := Connector(t, kind, block)
	for _, p := range kind.Check(c) {
		t.Errorf("Check of the valid config: %s (block line %d)", p, p.Line-blockLines)
	}
	for _, p := range parseRegistered(t, kind, block) {
		t.Errorf("configs.Parse with the kind registered: %s", p)
	}
	if n := kind.Tasks(c); n < 1 || n > c.TasksMax {
		t.Errorf("Tasks = %d with tasks_max %d, want 1..%d", n, c.TasksMax, c.TasksMax)
	}
}

// checkBadConfigs runs one config/invalid subtest per entry of bad.
func checkBadConfigs(t *testing.T, kind connect.ConnectorKind, bad map[string]string) {
	type entry struct{ block, field string }
	entries := make([]entry, 0, len(bad))
	for block, field := range bad {
		entries = append(entries, entry{block, field})
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].field != entries[j].field {
			return entries[i].field < entries[j].field
		}
		return entries[i].block < entries[j].block
	})
	for _, e := range entries {
		t.Run("config/invalid/"+e.field, func(t *testing.T) {
			c := Connector(t, kind, e.block)
			problems := kind.Check(c)
			found := false
			for _, p := range problems {
				if namesField(p.Path, e.field) {
					found = true
					if p.Line <= 0 {
						t.Errorf("problem %q has no line: place it with configs.ProblemAt on the field's node", p)
					}
				}
			}
			if !found {
				var lines []string
				for _, p := range problems {
					lines = append(lines, "  "+p.String())
				}
				t.Errorf("Check returned no problem naming %q for\n%s\nproblems:\n%s", e.field, e.block, strings.Join(lines, "\n"))
			}
			found = false
			for _, p := range parseRegistered(t, kind, e.block) {
				if strings.HasPrefix(p.Path, "connectors[0].config") && namesField(p.Path, e.field) {
					found = true
				}
			}
			if !found {
				t.Errorf("configs.Parse with the kind registered did not report %q for\n%s", e.field, e.block)
			}
		})
	}
}

// Env returns the Env the suite gives a connector instance: named
// ConnectorName, task 0, logging at Info level to t's output until t ends.
func Env(t testing.TB) connect.Env {
	w := &testWriter{w: t.Output()}
	t.Cleanup(w.stop)
	return connect.Env{
		Name:   ConnectorName,
		Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

// testWriter writes to a test's output until the test ends, then drops
// what a straggling goroutine still logs rather than panicking.
type testWriter struct {
	mu      sync.Mutex
	w       io.Writer
	stopped bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return len(p), nil
	}
	return w.w.Write(p)
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

var instanceDirs sync.Map // *testing.T → string

// InstanceDir returns a directory private to t, the same on every call with
// the same t, and removed when t ends: the place for a harness to keep an
// instance's files so that Config, ReadBack and Break, all called with the
// instance's t, agree on it.
func InstanceDir(t *testing.T) string {
	if d, ok := instanceDirs.Load(t); ok {
		return d.(string)
	}
	d := t.TempDir()
	if prev, loaded := instanceDirs.LoadOrStore(t, d); loaded {
		os.RemoveAll(d)
		return prev.(string)
	}
	t.Cleanup(func() { instanceDirs.Delete(t) })
	return d
}
