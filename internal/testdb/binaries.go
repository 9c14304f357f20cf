package testdb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// tool describes an executable the package needs and where Debian puts it.
type tool struct {
	names []string // executable names, in order of preference
	dirs  []string // directories searched after PATH
	pkg   string   // the Debian package that installs it
}

// find returns the path of the first of t.names found on PATH or in t.dirs.
// The error, meant for a person, names the Debian package to install.
func (tl tool) find() (string, error) {
	for _, name := range tl.names {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
		for _, dir := range tl.dirs {
			path := filepath.Join(dir, name)
			if isExecutable(path) {
				return path, nil
			}
		}
	}
	where := "on PATH"
	if len(tl.dirs) > 0 {
		where += " or in " + strings.Join(tl.dirs, ", ")
	}
	return "", fmt.Errorf("testdb: %s not found %s; install the Debian package %s (apt-get install -y %s)",
		strings.Join(tl.names, " or "), where, tl.pkg, tl.pkg)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// require returns the path of tl, or ends the test through unavailable.
func (tl tool) require(t testing.TB) string {
	t.Helper()
	path, err := tl.find()
	if err != nil {
		unavailable(t, err.Error())
	}
	return path
}

// unavailable ends a test that cannot run here because something is not
// installed: it fails under CI (CI=true) and is skipped everywhere else.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if inCI() {
		t.Fatal(msg + " (CI is set, so this fails instead of skipping)")
		return
	}
	t.Skip(msg)
}

// inCI reports whether the environment variable CI holds a true value
// ("true", "1", ... as strconv.ParseBool reads it).
func inCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}
