package testdb

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestToolFind(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sluice-testdb-fake-server")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := tool{names: []string{"sluice-testdb-missing", "sluice-testdb-fake-server"}, dirs: []string{dir}, pkg: "fake"}.find()
	if err != nil || got != bin {
		t.Errorf("find() = %q, %v; want %q", got, err, bin)
	}

	_, err = tool{names: []string{"sluice-testdb-missing"}, dirs: []string{dir}, pkg: "fake-server"}.find()
	if err == nil {
		t.Fatal("find() found a binary that does not exist")
	}
	for _, want := range []string{"sluice-testdb-missing not found", dir, "install the Debian package fake-server (apt-get install -y fake-server)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// recordingTB records Fatal, Fatalf and Skip and then ends the goroutine
// that called them, as testing.T does, without failing or skipping the
// test; everything else goes to the embedded TB.
type recordingTB struct {
	testing.TB
	failed, skipped string
}

func (r *recordingTB) Helper()           {}
func (r *recordingTB) Fatal(args ...any) { r.failed = fmt.Sprint(args...); runtime.Goexit() }
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recordingTB) Skip(args ...any) { r.skipped = fmt.Sprint(args...); runtime.Goexit() }

// capture runs f with a recordingTB around t in a goroutine of its own, and
// returns what f failed or skipped with.
func capture(t testing.TB, f func(testing.TB)) (failed, skipped string) {
	r := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.failed, r.skipped
}

func TestUnavailable(t *testing.T) {
	const msg = "testdb: mariadbd not found; install the Debian package mariadb-server"
	for _, tc := range []struct {
		ci   string
		fail bool
	}{
		{"", false},
		{"false", false},
		{"yes", false}, // not a boolean strconv.ParseBool knows
		{"true", true},
		{"1", true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			failed, skipped := capture(t, func(tb testing.TB) { unavailable(tb, msg) })
			if tc.fail {
				if !strings.HasPrefix(failed, msg) || skipped != "" {
					t.Errorf("failed %q, skipped %q; want the test failed with the message", failed, skipped)
				}
			} else if skipped != msg || failed != "" {
				t.Errorf("failed %q, skipped %q; want the test skipped with the message", failed, skipped)
			}
		})
	}
}
