package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Options tells Parse and Load what this build knows beyond the config's
// own shape. The zero value reads the process environment and checks no
// connector kinds.
type Options struct {
	// Getenv looks up a variable for ${VAR} references; ok is false when it
	// is unset. Default: os.LookupEnv.
	Getenv func(name string) (value string, ok bool)

	// Kinds lists the connector kinds this build knows; a connector of any
	// other kind is reported, with the closest known kinds as a hint.
	// Default: nil, which does not check kinds.
	Kinds []string

	// CheckConnector checks one connector, typically its Config block
	// against the kind's spec (see CheckKeys, ProblemAt and
	// Connector.Decode). Parse calls it once per connector whose kind is
	// set and known, after defaults are filled, even when the file has
	// other problems; it must not modify c. Each returned problem's Path is
	// relative to the connector ("config.slot"), and Parse prefixes it with
	// "connectors[i]."; a problem without a Line is placed at the node its
	// path names, or the nearest enclosing one. Default: nil, no checks.
	CheckConnector func(c *Connector) []Problem
}

// Load reads and parses the config file at path (see Parse). An error
// reading the file is returned wrapped, so errors.Is(err, fs.ErrNotExist)
// works; problems in the file are returned as *Error.
func Load(path string, opts Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	return Parse(path, data, opts)
}

// Parse reads a config from data, naming it filename in problems: it
// substitutes ${VAR} references, parses the YAML, decodes it, fills the
// defaults and validates the result. It returns either the config or an
// *Error holding every problem found, never both.
func Parse(filename string, data []byte, opts Options) (*Config, error) {
	cfg, problems := parse(filename, data, opts)
	if len(problems) == 0 {
		return cfg, nil
	}
	for i := range problems {
		problems[i].File = filename
	}
	clampProblems(problems, data)
	sortProblems(problems)
	return nil, &Error{Problems: problems}
}

var utf8BOM = []byte("\xEF\xBB\xBF")

// clampProblems moves problems placed past the end of the text (yaml.v3
// puts an empty value at the end of a file without a final line break on the
// next line) to its end.
func clampProblems(ps []Problem, data []byte) {
	x := newLineIndex(bytes.TrimPrefix(data, utf8BOM))
	for i := range ps {
		if ps[i].Line > len(x.starts) {
			ps[i].Line, ps[i].Col = x.position(len(x.text))
		}
	}
}

func parse(filename string, data []byte, opts Options) (*Config, []Problem) {
	lookup := opts.Getenv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	in := newLineIndex(data)
	if off, msg, bad := badCharacter(data); bad {
		line, col := in.position(off)
		return nil, []Problem{{Line: line, Col: col, Msg: msg, Hint: "a config file is UTF-8 text"}}
	}

	sub := substitute(data, lookup)
	pos := &positions{out: in, in: in}
	if sub.changed {
		pos = &positions{out: newLineIndex(sub.out), in: in, m: sub.segments}
	}

	var problems []Problem
	doc, extra, err := parseYAML(sub.out)
	if err != nil {
		problems = append(problems, syntaxProblem(err, sub.out, pos))
	}
	if extra != nil {
		pos.rewrite(extra)
		problems = append(problems, Problem{Line: extra.Line, Col: extra.Column,
			Msg: "a second YAML document", Hint: `a config file holds one document: remove the "---" line or split the file`})
	}
	if doc == nil {
		if err == nil {
			problems = append(problems, Problem{Msg: "the file is empty", Hint: `a config starts with "version: 1"`})
		}
		return nil, problems
	}
	if sub.changed {
		pos.rewrite(doc)
	}
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind == yaml.DocumentNode || isNull(root) {
		return nil, append(problems, Problem{Line: root.Line, Col: root.Column,
			Msg: "the file holds no settings", Hint: `a config starts with "version: 1"`})
	}

	var c Config
	d := newDecoder()
	d.config(root, &c)
	if deref(root).Kind != yaml.MappingNode {
		return nil, append(problems, d.problems...)
	}
	d.defaults(&c)
	for i := range c.Connectors {
		c.Connectors[i].file = filename
	}
	(&validator{d: d, c: &c, opts: opts}).validate()

	// A value holding an unresolved ${VAR} is reported once, as such, and
	// not again for what the placeholder made of it.
	live, tainted := sub.liveProblems(root)
	echo := map[[2]int]bool{}
	for _, n := range tainted {
		echo[[2]int{n.Line, n.Column}] = true
	}
	for _, p := range d.problems {
		if !echo[[2]int{p.Line, p.Col}] {
			problems = append(problems, p)
		}
	}
	for _, l := range live {
		e := sub.problems[l.index]
		line, col := in.position(e.in)
		problems = append(problems, Problem{Line: line, Col: col, Path: l.path, Msg: e.msg, Hint: e.hint})
	}
	return &c, problems
}

// parseYAML parses the first document of text, and returns the second one
// if there is one. A nil doc and nil error mean the text has no document.
func parseYAML(text []byte) (doc, extra *yaml.Node, err error) {
	defer func() {
		// yaml.v3 reports errors by panicking internally; should one of its
		// panics ever escape, it is a problem with this file, not a crash.
		if r := recover(); r != nil {
			doc, extra, err = nil, nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var first yaml.Node
	if err := dec.Decode(&first); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	var second yaml.Node
	switch err := dec.Decode(&second); {
	case err == nil:
		return &first, &second, nil
	case errors.Is(err, io.EOF):
		return &first, nil, nil
	default:
		return &first, nil, err
	}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yaml.v3 reports the line of a parser error 0-based and that of a scanner
// error 1-based; these are its parser errors.
var parserErrors = map[string]bool{
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxHints are hints for yaml.v3's messages, by a part of the message.
var syntaxHints = []struct{ part, hint string }{
	{"found a tab character", "indent with spaces, not tabs"},
	{"found character that cannot start any", "indent with spaces, not tabs, and quote values that start with @ or `"},
	{"mapping values are not allowed", `check the indentation, and quote values that hold ": "`},
	{"did not find expected key", "check the indentation of this line and the ones above it"},
	{"did not find expected '-' indicator", `check the indentation: list items start with "- " at the same column`},
	{"did not find expected ',' or ']'", "a [ list ] is not closed"},
	{"did not find expected ',' or '}'", "a { mapping } is not closed"},
	{"found unexpected end of stream", "a quote or bracket is not closed"},
	{"could not find expected ':'", `a key needs ": " after it`},
}

// syntaxProblem turns a yaml.v3 error into a problem at the line it names,
// in the file as written.
func syntaxProblem(err error, out []byte, pos *positions) Problem {
	text := err.Error()
	msg := strings.TrimPrefix(text, "yaml: ")
	line := 1
	if m := yamlLine.FindStringSubmatch(text); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if parserErrors[msg] {
			line++
		}
	}
	col := 0
	if off, m, bad := badCharacter(out); bad {
		// A ${VAR} value brought in a character YAML does not allow.
		msg = m
		line, col = pos.in.position(pos.m.toInput(off))
	} else if name, ok := strings.CutPrefix(msg, "unknown anchor '"); ok {
		name = strings.TrimSuffix(name, "' referenced")
		if i := bytes.Index(out, []byte("*"+name)); i >= 0 {
			line, col = pos.in.position(pos.m.toInput(i))
		}
		return Problem{Line: line, Col: col, Msg: "invalid YAML: " + msg, Hint: fmt.Sprintf("define the anchor first with &%s", name)}
	} else {
		line, _ = pos.in.position(pos.m.toInput(pos.out.offset(line, 1)))
	}
	hint := ""
	for _, h := range syntaxHints {
		if strings.Contains(msg, h.part) {
			hint = h.hint
			break
		}
	}
	return Problem{Line: line, Col: col, Msg: "invalid YAML: " + msg, Hint: hint}
}

// badCharacter finds the first byte of text that is not UTF-8, or the first
// character YAML does not allow (control characters other than tab and line
// breaks, surrogates, U+FFFE and U+FFFF).
func badCharacter(text []byte) (off int, msg string, bad bool) {
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRune(text[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return i, "the file is not valid UTF-8", true
		case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		case r < 0x20 || r == 0x7F || 0x80 <= r && r < 0xA0 || 0xD800 <= r && r <= 0xDFFF || r == 0xFFFE || r == 0xFFFF:
			return i, fmt.Sprintf("control character %U is not allowed", r), true
		}
		i += size
	}
	return 0, "", false
}
