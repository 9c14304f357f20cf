package configs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must not panic, must return
// either a config or an *Error with problems, and every problem must have a
// message and a position inside the file.
func FuzzParse(f *testing.F) {
	examples, _ := filepath.Glob(filepath.Join("examples", "*.yaml"))
	for _, name := range examples {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("version: 1\nnode: {id: ${SET_ID:-2}, data_dir: \"${UNSET}\"} # ${X\n"))
	f.Add([]byte("version: 1\nconnectors:\n  - &a {name: x, kind: k, config: &c {a: *c}}\n  - <<: [*a, *a]\n"))

	opts := Options{
		// Variables whose name starts with SET are set; the rest are not.
		Getenv: func(name string) (string, bool) {
			if strings.HasPrefix(name, "SET") {
				return "1\n: [${x}", true
			}
			return "", false
		},
		Kinds: testKinds,
		CheckConnector: func(c *Connector) []Problem {
			var v map[string]any
			if err := c.Decode(&v); err != nil {
				return []Problem{{Path: "config", Msg: err.Error()}}
			}
			return CheckKeys(c.Config, "config", []string{"path"})
		},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.yaml", data, opts)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", cfg != nil, err)
		}
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || len(e.Problems) == 0 {
			t.Fatalf("error %T %v is not an *Error with problems", err, err)
		}
		lines := bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) + 1 +
			bytes.Count(data, []byte("\u2028")) + bytes.Count(data, []byte("\u2029")) + bytes.Count(data, []byte("\u0085"))
		for _, p := range e.Problems {
			if p.Msg == "" || p.File != "f.yaml" {
				t.Errorf("problem %+v lacks a message or file", p)
			}
			if p.Line < 0 || p.Line > lines || p.Col < 0 || p.Line == 0 && p.Col != 0 {
				t.Errorf("problem %q is outside the file's %d lines", p, lines)
			}
		}
		if e.Error() == "" {
			t.Error("empty Error()")
		}
	})
}
