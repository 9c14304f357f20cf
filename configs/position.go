package configs

import (
	"sort"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// lineIndex converts between byte offsets in a text and 1-based lines and
// columns counted the way yaml.v3 counts them: columns in characters, and
// "\r\n", "\r", "\n", U+0085, U+2028 and U+2029 each ending a line.
type lineIndex struct {
	text   []byte
	starts []int // byte offset at which each line begins
	ends   []int // byte offset at which each line's break begins

	// chars caches, for lines with multi-byte characters, the byte offset of
	// each character; a nil entry marks an all-ASCII line.
	chars map[int][]int
}

func newLineIndex(text []byte) *lineIndex {
	x := &lineIndex{text: text, starts: []int{0}, chars: map[int][]int{}}
	for i := 0; i < len(text); {
		if n := breakLen(text[i:]); n > 0 {
			x.ends = append(x.ends, i)
			i += n
			x.starts = append(x.starts, i)
			continue
		}
		i++
	}
	x.ends = append(x.ends, len(text))
	return x
}

// breakLen returns the length of the line break at the start of b, or 0.
func breakLen(b []byte) int {
	switch {
	case len(b) == 0:
		return 0
	case b[0] == '\r':
		if len(b) > 1 && b[1] == '\n' {
			return 2
		}
		return 1
	case b[0] == '\n':
		return 1
	case b[0] == 0xC2 && len(b) > 1 && b[1] == 0x85: // U+0085
		return 2
	case b[0] == 0xE2 && len(b) > 2 && b[1] == 0x80 && (b[2] == 0xA8 || b[2] == 0xA9): // U+2028, U+2029
		return 3
	}
	return 0
}

// lineChars returns the byte offsets of the characters of line l (0-based)
// when it has multi-byte characters, or nil when every character is one byte.
func (x *lineIndex) lineChars(l int) []int {
	if offs, ok := x.chars[l]; ok {
		return offs
	}
	var offs []int
	start, end := x.starts[l], x.ends[l]
	for i := start; i < end; i++ {
		if x.text[i] >= utf8.RuneSelf {
			for j := start; j < end; {
				offs = append(offs, j)
				_, size := utf8.DecodeRune(x.text[j:end])
				j += size
			}
			break
		}
	}
	x.chars[l] = offs
	return offs
}

// position returns the line and column of byte offset off.
func (x *lineIndex) position(off int) (line, col int) {
	off = min(max(off, 0), len(x.text))
	l := sort.Search(len(x.starts), func(i int) bool { return x.starts[i] > off }) - 1
	if offs := x.lineChars(l); offs != nil {
		if off >= x.ends[l] {
			return l + 1, len(offs) + 1 + off - x.ends[l]
		}
		c := sort.Search(len(offs), func(i int) bool { return offs[i] > off })
		return l + 1, max(c, 1)
	}
	return l + 1, off - x.starts[l] + 1
}

// offset returns the byte offset of a 1-based line and column.
func (x *lineIndex) offset(line, col int) int {
	l := min(max(line-1, 0), len(x.starts)-1)
	c := max(col-1, 0)
	if offs := x.lineChars(l); offs != nil {
		if c < len(offs) {
			return offs[c]
		}
		return x.ends[l]
	}
	return min(x.starts[l]+c, x.ends[l])
}

// segment is a run of the substituted text: either copied from the original
// (literal) or produced by a ${VAR} reference or "$$".
type segment struct {
	out, in int // byte offsets where the run starts in the output and the input
	literal bool
}

// offsetMap maps byte offsets of the substituted text back to the original.
type offsetMap []segment

// toInput maps an output offset to the input: inside copied text to the
// same character, inside a substitution to the "$" that started it.
func (m offsetMap) toInput(off int) int {
	i := sort.Search(len(m), func(i int) bool { return m[i].out > off }) - 1
	if i < 0 {
		return off
	}
	s := m[i]
	if s.literal {
		return s.in + off - s.out
	}
	return s.in
}

// positions rewrites the line and column of every node in a parsed tree
// from the substituted text (out) to the original text (in).
type positions struct {
	out, in *lineIndex
	m       offsetMap
}

func (p *positions) rewrite(n *yaml.Node) {
	walkNodes(n, func(n *yaml.Node) {
		if n.Line > 0 {
			n.Line, n.Column = p.in.position(p.m.toInput(p.out.offset(n.Line, n.Column)))
		}
	})
}

// walkNodes calls f on every node of the tree under n once, not following
// aliases (an alias's target is visited where it is defined).
func walkNodes(n *yaml.Node, f func(*yaml.Node)) {
	if n == nil {
		return
	}
	f(n)
	for _, c := range n.Content {
		walkNodes(c, f)
	}
}
