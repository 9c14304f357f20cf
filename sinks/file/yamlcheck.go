package file

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/configs"
)

// entry is a key of a YAML mapping with its value.
type entry struct{ key, value *yaml.Node }

// deref follows an alias.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// entries returns the entries of mapping n by key, following "<<" merges:
// a key written in n wins over a merged one, and the first of a repeated
// key wins (configs.CheckKeys reports repeats). It returns nil when n is not
// a mapping.
func entries(n *yaml.Node) map[string]entry {
	n = deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	out := map[string]entry{}
	var merged []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" && k.ShortTag() == "!!merge" {
			v = deref(v)
			if v.Kind == yaml.SequenceNode {
				merged = append(merged, v.Content...)
			} else {
				merged = append(merged, v)
			}
			continue
		}
		if _, dup := out[k.Value]; !dup {
			out[k.Value] = entry{k, v}
		}
	}
	for _, m := range merged {
		for key, e := range entries(m) {
			if _, ok := out[key]; !ok {
				out[key] = e
			}
		}
	}
	return out
}

// checker decodes scalars of a connector's config block, collecting a
// problem, placed at the value, for each one that does not fit.
type checker struct {
	problems []configs.Problem
}

func (c *checker) report(n *yaml.Node, path, msg, hint string) {
	c.problems = append(c.problems, configs.ProblemAt(n, path, msg, hint))
}

// describe names what a node holds, for "expected X, got Y".
func describe(n *yaml.Node) string {
	n = deref(n)
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
		return fmt.Sprintf("the string %q", clip(n.Value))
	}
	return clip(n.Value)
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// scalar returns the scalar at n, or reports that n is not one.
func (c *checker) scalar(n *yaml.Node, path, want string) (*yaml.Node, bool) {
	s := deref(n)
	if s.Kind != yaml.ScalarNode || s.ShortTag() == "!!null" {
		hint := ""
		if s.ShortTag() == "!!null" {
			hint = "give a value, or remove the key for the default"
		}
		c.report(n, path, "expected "+want+", got "+describe(s), hint)
		return nil, false
	}
	return s, true
}

func (c *checker) text(n *yaml.Node, path string, out *string) bool {
	s, ok := c.scalar(n, path, "a string")
	if ok {
		*out = s.Value
	}
	return ok
}

func (c *checker) integer(n *yaml.Node, path string, out *int64) bool {
	s, ok := c.scalar(n, path, "an integer")
	if !ok {
		return false
	}
	if s.ShortTag() != "!!int" {
		hint := ""
		if _, err := strconv.ParseInt(strings.TrimSpace(s.Value), 10, 64); err == nil {
			hint = "remove the quotes"
		}
		c.report(n, path, "expected an integer, got "+describe(s), hint)
		return false
	}
	var v int64
	if err := s.Decode(&v); err != nil {
		c.report(n, path, fmt.Sprintf("integer %s is out of range", clip(s.Value)), "")
		return false
	}
	*out = v
	return true
}

func (c *checker) boolean(n *yaml.Node, path string, out *bool) bool {
	s, ok := c.scalar(n, path, "true or false")
	if !ok {
		return false
	}
	if s.ShortTag() != "!!bool" {
		c.report(n, path, "expected true or false, got "+describe(s), "")
		return false
	}
	var v bool
	if err := s.Decode(&v); err != nil {
		c.report(n, path, "expected true or false, got "+describe(s), "")
		return false
	}
	*out = v
	return true
}
