package configs

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Environment substitution works on the text, before YAML parsing, so that a
// reference may stand anywhere a value can be written, including inside flow
// collections ("{path: ${OUT}}") and as numbers ("partitions: ${N:-3}").
//
//	${VAR}            the value of VAR; an error when VAR is unset
//	${VAR:-default}   default when VAR is unset or empty
//	${VAR-default}    default when VAR is unset
//	$$                a literal "$"
//
// A "$" followed by anything else is kept as it is. The substituted value is
// inserted as text: quote the reference ("${PASSWORD}") when the value may
// hold YAML syntax such as ": " or " #".
//
// A reference that cannot be resolved (VAR unset, a bad name, no closing
// brace) is not reported at once: it is replaced by a placeholder token, and
// reported only if the token turns up in a value, key, tag or anchor of the
// parsed tree. A reference inside a YAML comment therefore never fails.

// envProblem is a reference that could not be resolved.
type envProblem struct {
	in        int // byte offset of the reference's "$" in the original text
	msg, hint string
}

// substitution is the result of expanding references in a text.
type substitution struct {
	out      []byte
	segments offsetMap
	changed  bool         // out differs from the input
	prefix   string       // placeholder prefix; a placeholder is prefix + index + "_"
	problems []envProblem // indexed by placeholder number
}

// substitute expands the references in src using lookup.
func substitute(src []byte, lookup func(string) (string, bool)) *substitution {
	s := &substitution{prefix: "__sluice_env_"}
	for bytes.Contains(src, []byte(s.prefix)) {
		s.prefix += "x_"
	}
	out := make([]byte, 0, len(src))
	lit := 0 // start of the pending run of copied text
	emit := func(in int, text string) {
		if lit < in {
			s.segments = append(s.segments, segment{out: len(out), in: lit, literal: true})
			out = append(out, src[lit:in]...)
		}
		s.segments = append(s.segments, segment{out: len(out), in: in})
		out = append(out, text...)
		s.changed = true
	}
	fail := func(in int, msg, hint string) string {
		s.problems = append(s.problems, envProblem{in: in, msg: msg, hint: hint})
		return s.prefix + strconv.Itoa(len(s.problems)-1) + "_"
	}

	for i := 0; i < len(src)-1; {
		if src[i] != '$' {
			i++
			continue
		}
		switch src[i+1] {
		case '$':
			emit(i, "$")
			i += 2
			lit = i
		case '{':
			end := i + 2
			for end < len(src) && src[end] != '}' && src[end] != '\n' && src[end] != '\r' {
				end++
			}
			if end == len(src) || src[end] != '}' {
				emit(i, fail(i, fmt.Sprintf("unterminated variable reference %q", clip(string(src[i:end]))),
					`close it with "}" on the same line, or write "$$" for a literal "$"`))
				i += 2
				lit = i
				continue
			}
			emit(i, resolve(string(src[i+2:end]), lookup, func(msg, hint string) string { return fail(i, msg, hint) }))
			i = end + 1
			lit = i
		default:
			i++
		}
	}
	if lit < len(src) {
		s.segments = append(s.segments, segment{out: len(out), in: lit, literal: true})
		out = append(out, src[lit:]...)
	}
	s.out = out
	return s
}

// resolve returns the text for the reference body (what stands between
// "${" and "}"), or the placeholder that fail returns.
func resolve(body string, lookup func(string) (string, bool), fail func(msg, hint string) string) string {
	n := 0
	for n < len(body) && (body[n] == '_' || 'A' <= body[n] && body[n] <= 'Z' || 'a' <= body[n] && body[n] <= 'z' || n > 0 && '0' <= body[n] && body[n] <= '9') {
		n++
	}
	name, rest := body[:n], body[n:]
	if name == "" {
		return fail(fmt.Sprintf("invalid variable reference %q", clip("${"+body+"}")),
			`write ${NAME}, ${NAME:-default}, or "$$" for a literal "$"`)
	}
	value, set := lookup(name)
	switch {
	case rest == "":
		if !set {
			return fail(fmt.Sprintf("environment variable %s is not set", name),
				fmt.Sprintf("set it, or give a default: ${%s:-value}", name))
		}
		return value
	case strings.HasPrefix(rest, ":-"):
		if !set || value == "" {
			return rest[2:]
		}
		return value
	case strings.HasPrefix(rest, "-"):
		if !set {
			return rest[1:]
		}
		return value
	}
	return fail(fmt.Sprintf("invalid variable reference %q", clip("${"+body+"}")),
		`write ${NAME}, ${NAME:-default}, or "$$" for a literal "$"`)
}

// placeholders returns the numbers of the placeholders in s.
func (s *substitution) placeholders(text string) []int {
	var found []int
	for {
		i := strings.Index(text, s.prefix)
		if i < 0 {
			return found
		}
		text = text[i+len(s.prefix):]
		j := 0
		for j < len(text) && '0' <= text[j] && text[j] <= '9' {
			j++
		}
		if n, err := strconv.Atoi(text[:j]); err == nil && j < len(text) && text[j] == '_' && n < len(s.problems) {
			found = append(found, n)
		}
	}
}

// liveRef is an unresolved reference found in the parsed tree.
type liveRef struct {
	index int    // into substitution.problems
	path  string // of the first value or key holding it
}

// liveProblems returns the unresolved references whose placeholders survive
// in the tree under root, and the nodes that hold them (whose own problems,
// such as "not an integer", are only an echo of the reference).
func (s *substitution) liveProblems(root *yaml.Node) (live []liveRef, tainted []*yaml.Node) {
	if len(s.problems) == 0 {
		return nil, nil
	}
	seen := map[int]bool{}
	walkPaths(root, "", func(n *yaml.Node, path string) {
		found := s.placeholders(n.Value + "\x00" + n.Tag + "\x00" + n.Anchor)
		if len(found) > 0 {
			tainted = append(tainted, n)
		}
		for _, i := range found {
			if !seen[i] {
				seen[i] = true
				live = append(live, liveRef{index: i, path: path})
			}
		}
	})
	return live, tainted
}

// walkPaths calls f on every node under n with its path in the config's
// notation ("connectors[1].config.slot"), not following aliases. A mapping
// key gets the path of its entry.
func walkPaths(n *yaml.Node, path string, f func(n *yaml.Node, path string)) {
	f(n, path)
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkPaths(c, path, f)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			walkPaths(c, index(path, i), f)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := join(path, n.Content[i].Value)
			walkPaths(n.Content[i], p, f)
			walkPaths(n.Content[i+1], p, f)
		}
	}
}

// clip shortens s for quoting in a message.
func clip(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}
