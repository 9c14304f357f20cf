package configs

import (
	"fmt"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a config file, located by file, line and
// column and by its path in the config ("connectors[1].config.slot").
type Problem struct {
	File string // as given to Parse or Load; filled in by Parse
	Line int    // 1-based; 0 when the position is unknown
	Col  int    // 1-based, counted in characters; 0 when unknown
	Path string // e.g. "connectors[1].name"; empty for the file as a whole
	Msg  string // what is wrong, e.g. `unknown key`
	Hint string // what to do about it, e.g. `did you mean "data_dir"?`; may be empty
}

// String formats p as one line:
//
//	sluice.yaml:12:11: connectors[1].name: duplicate connector name "shop-pg" (first defined at line 4)
//	sluice.yaml:3:3: node.data-dir: unknown key; did you mean "data_dir"?
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteString(":")
	}
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, "%d:", p.Col)
		}
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if p.Hint != "" {
		b.WriteString("; ")
		b.WriteString(p.Hint)
	}
	return b.String()
}

// ProblemAt returns a problem located at n, which must be a node of a tree
// that Parse returned (such as a connector's Config block or one of its
// descendants): Parse has already rewritten those nodes' positions to the
// lines and columns of the file as written, before ${VAR} substitution. A
// nil n gives a problem without a position; Parse then places it at the
// nearest enclosing thing it knows.
func ProblemAt(n *yaml.Node, path, msg, hint string) Problem {
	p := Problem{Path: path, Msg: msg, Hint: hint}
	if n != nil {
		p.Line, p.Col = n.Line, n.Column
	}
	return p
}

// Error is the error Parse and Load return for a config with problems. It
// holds every problem found, in file order, so that one run of
// "sluice validate" shows them all.
type Error struct {
	Problems []Problem
}

// Error prints one line per problem (see Problem.String).
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems by position, those without one last, keeping
// the order of problems found at the same place.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if (a.Line == 0) != (b.Line == 0) {
			return b.Line == 0
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
}

// DidYouMean returns a hint such as `did you mean "data_dir"?` naming the
// candidates closest to word, or "" when none is close: within an edit
// distance of about a third of the word (a transposition counts as one
// edit), or starting with word when word has at least three characters.
// Connector packages use it for their own keys and enumerations.
func DidYouMean(word string, candidates []string) string {
	close := closest(word, candidates)
	switch len(close) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("did you mean %q?", close[0])
	default:
		quoted := make([]string, len(close))
		for i, c := range close {
			quoted[i] = fmt.Sprintf("%q", c)
		}
		return "did you mean " + strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1] + "?"
	}
}

// closest returns up to three candidates close to word, closest first.
func closest(word string, candidates []string) []string {
	type scored struct {
		s string
		d int
	}
	w := strings.ToLower(word)
	limit := max(1, len([]rune(w))/3)
	var found []scored
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if lc == w {
			// Differs only in case: the closest possible.
			found = append(found, scored{c, 0})
			continue
		}
		d := editDistance(w, lc)
		switch {
		case d <= limit && d < len(lc):
			found = append(found, scored{c, d})
		case len(w) >= 3 && strings.HasPrefix(lc, w):
			// A prefix is as close as the loosest edit-distance match.
			found = append(found, scored{c, limit})
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].d < found[j].d })
	// Of several, keep those about as close as the closest.
	for i := range found {
		if found[i].d > found[0].d+1 {
			found = found[:i]
			break
		}
	}
	if len(found) > 3 {
		found = found[:3]
	}
	out := make([]string, len(found))
	for i, f := range found {
		out[i] = f.s
	}
	return out
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent
// characters each cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		// Long words are never "close"; spare the quadratic table.
		if a == b {
			return 0
		}
		return max(len(ra), len(rb))
	}
	// d[i][j] is the distance between ra[:i] and rb[:j].
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// unknownHint is the hint for a word that is not one of known: the close
// candidates when there are some, else the whole list when it is short.
func unknownHint(word string, known []string, what string) string {
	if h := DidYouMean(word, known); h != "" {
		return h
	}
	if len(known) == 0 || len(known) > 12 {
		return ""
	}
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return what + ": " + strings.Join(sorted, ", ")
}
