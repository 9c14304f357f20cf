package configs

// Helpers for connector packages that check their own config: block, each
// problem placed at the value it is about.

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Entry is a key of a YAML mapping with its value.
type Entry struct{ Key, Value *yaml.Node }

// Deref follows an alias.
func Deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// Entries returns the entries of mapping n by key, following "<<" merges:
// a key written in n wins over a merged one, and the first of a repeated
// key wins (configs.CheckKeys reports repeats). It returns nil when n is not
// a mapping.
func Entries(n *yaml.Node) map[string]Entry {
	n = Deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := map[string]Entry{}
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			v = Deref(v)
			if v.Kind == yaml.SequenceNode {
				merged = append(merged, v.Content...)
			} else {
				merged = append(merged, v)
			}
			continue
		}
		if _, dup := out[k.Value]; !dup {
			out[k.Value] = Entry{k, v}
		}
	}
	for _, m := range merged {
		for key, e := range Entries(m) {
			if _, ok := out[key]; !ok {
				out[key] = e
			}
		}
	}
	return out
}

// BlockChecker decodes scalars of a connector's config block, collecting a
// problem, placed at the value, for each one that does not fit.
type BlockChecker struct {
	Problems []Problem
}

// Report adds a problem placed at n.
func (c *BlockChecker) Report(n *yaml.Node, path, msg, hint string) {
	c.Problems = append(c.Problems, ProblemAt(n, path, msg, hint))
}

// Describe names what a node holds, for "expected X, got Y".
func Describe(n *yaml.Node) string {
	n = Deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!null":
		return "nothing"
	case "!!str":
		return fmt.Sprintf("the string %q", Clip(n.Value))
	}
	return Clip(n.Value)
}

// Clip shortens a value quoted in a message.
func Clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// Scalar returns the scalar at n, or reports that n is not one.
func (c *BlockChecker) Scalar(n *yaml.Node, path, want string) (*yaml.Node, bool) {
	s := Deref(n)
	if s.Kind != yaml.ScalarNode || s.ShortTag() == "!!null" {
		hint := ""
		if s.ShortTag() == "!!null" {
			hint = "give a value, or remove the key for the default"
		}
		c.Report(n, path, "expected "+want+", got "+Describe(s), hint)
		return nil, false
	}
	return s, true
}

// Text decodes a string.
func (c *BlockChecker) Text(n *yaml.Node, path string, out *string) bool {
	s, ok := c.Scalar(n, path, "a string")
	if ok {
		*out = s.Value
	}
	return ok
}

// Integer decodes an integer.
func (c *BlockChecker) Integer(n *yaml.Node, path string, out *int64) bool {
	s, ok := c.Scalar(n, path, "an integer")
	if !ok {
		return false
	}
	if s.ShortTag() != "!!int" {
		hint := ""
		if _, err := strconv.ParseInt(strings.TrimSpace(s.Value), 10, 64); err == nil {
			hint = "remove the quotes"
		}
		c.Report(n, path, "expected an integer, got "+Describe(s), hint)
		return false
	}
	var v int64
	if err := s.Decode(&v); err != nil {
		c.Report(n, path, fmt.Sprintf("integer %s is out of range", Clip(s.Value)), "")
		return false
	}
	*out = v
	return true
}

// IntRange decodes an integer from min to max into out; out is left as
// it is when the value is missing from es or is wrong.
func (c *BlockChecker) IntRange(es map[string]Entry, key string, out *int, min, max int64) {
	e, ok := es[key]
	if !ok {
		return
	}
	var n int64
	if !c.Integer(e.Value, "config."+key, &n) {
		return
	}
	if n < min || n > max {
		c.Report(e.Value, "config."+key, fmt.Sprintf("%d is out of range", n), fmt.Sprintf("use %d to %d", min, max))
		return
	}
	*out = int(n)
}

// Number decodes a finite number.
func (c *BlockChecker) Number(n *yaml.Node, path string, out *float64) bool {
	s, ok := c.Scalar(n, path, "a number")
	if !ok {
		return false
	}
	if t := s.ShortTag(); t != "!!int" && t != "!!float" {
		c.Report(n, path, "expected a number, got "+Describe(s), "")
		return false
	}
	var v float64
	if err := s.Decode(&v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		c.Report(n, path, fmt.Sprintf("%s is not a finite number", Clip(s.Value)), "")
		return false
	}
	*out = v
	return true
}

// Boolean decodes true or false.
func (c *BlockChecker) Boolean(n *yaml.Node, path string, out *bool) bool {
	s, ok := c.Scalar(n, path, "true or false")
	if !ok {
		return false
	}
	if s.ShortTag() != "!!bool" {
		c.Report(n, path, "expected true or false, got "+Describe(s), "")
		return false
	}
	var v bool
	if err := s.Decode(&v); err != nil {
		c.Report(n, path, "expected true or false, got "+Describe(s), "")
		return false
	}
	*out = v
	return true
}

// TableList decodes a list of tables, each "<outer>.<table>" or
// "<outer>.*" (every table of it), where outer is what names the table's
// container ("schema" for Postgres, "db" for MySQL), example such a
// container ("public", "shop"), and ident what each part may hold. It
// reports a problem for anything else and for a table listed twice, and
// returns the pairs in order.
func (c *BlockChecker) TableList(n *yaml.Node, path, outer, example string, ident *regexp.Regexp) [][2]string {
	s := Deref(n)
	if s.Kind != yaml.SequenceNode {
		c.Report(n, path, "expected a list, got "+Describe(s), fmt.Sprintf("write a list such as [%s.customers, %s.*]", example, example))
		return nil
	}
	if len(s.Content) == 0 {
		c.Report(n, path, "no tables", "list at least one table")
		return nil
	}
	var out [][2]string
	seen := map[[2]string]int{}
	for i, item := range s.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		var text string
		if !c.Text(item, p, &text) {
			continue
		}
		o, table, ok := strings.Cut(text, ".")
		if !ok || !ident.MatchString(o) || (table != "*" && !ident.MatchString(table)) {
			c.Report(item, p, fmt.Sprintf("%q is not %s.table or %s.*", Clip(text), outer, outer), fmt.Sprintf("write such as %s.customers or %s.*", example, example))
			continue
		}
		r := [2]string{o, table}
		if j, dup := seen[r]; dup {
			c.Report(item, p, fmt.Sprintf("%s.%s is listed twice (tables[%d])", o, table, j), "")
			continue
		}
		seen[r] = i
		out = append(out, r)
	}
	return out
}
