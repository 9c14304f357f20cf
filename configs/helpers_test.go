package configs

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// noEnv is a Getenv for which every variable is unset.
func noEnv(string) (string, bool) { return "", false }

// env returns a Getenv that knows only vars.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

// testKinds are the kinds DESIGN.md names, plus those of the examples.
var testKinds = []string{
	"postgres-source", "mysql-source", "datagen-source",
	"postgres-sink", "mysql-sink", "kafka-sink", "http-sink", "file-sink",
}

// problemsOf parses src and returns its problems, failing the test if
// Parse breaks its contract (config xor *Error).
func problemsOf(t *testing.T, src string, opts Options) []Problem {
	t.Helper()
	if opts.Getenv == nil {
		opts.Getenv = noEnv
	}
	cfg, err := Parse("sluice.yaml", []byte(src), opts)
	if err == nil {
		if cfg == nil {
			t.Fatal("Parse returned neither a config nor an error")
		}
		return nil
	}
	if cfg != nil {
		t.Fatal("Parse returned both a config and an error")
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Parse error is %T, not *Error: %v", err, err)
	}
	if len(e.Problems) == 0 {
		t.Fatal("*Error without problems")
	}
	for _, p := range e.Problems {
		if p.File != "sluice.yaml" {
			t.Errorf("problem %q has file %q", p, p.File)
		}
	}
	return e.Problems
}

// want is "LINE:COL PATH: TEXT", TEXT being a substring of the problem's
// message and hint as String prints them. A COL of 0 means no column.
var wantRE = regexp.MustCompile(`^(\d+):(\d+) (\S*): (.*)$`)

// checkProblems asserts that got holds exactly the problems in want, in any order.
func checkProblems(t *testing.T, got []Problem, want []string) {
	t.Helper()
	used := make([]bool, len(got))
	for _, w := range want {
		m := wantRE.FindStringSubmatch(w)
		if m == nil {
			t.Fatalf("bad want %q", w)
		}
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		found := false
		for i, p := range got {
			text := p.Msg
			if p.Hint != "" {
				text += "; " + p.Hint
			}
			if !used[i] && p.Line == line && p.Col == col && p.Path == m[3] && strings.Contains(text, m[4]) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("missing problem %s", w)
		}
	}
	for i, p := range got {
		if !used[i] {
			t.Errorf("unexpected problem %d:%d %s: %s; %s", p.Line, p.Col, p.Path, p.Msg, p.Hint)
		}
	}
	if t.Failed() {
		var b strings.Builder
		for _, p := range got {
			fmt.Fprintf(&b, "\n\t%s", p)
		}
		t.Logf("all problems:%s", b.String())
	}
}
