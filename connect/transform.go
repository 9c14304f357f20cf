package connect

// Single-message transforms. This file holds the interface, the chain,
// the config parser and what the transforms share (reading a message's
// shape, matching tables and columns); each transform has its own file:
//
//	transform_filter.go   filter: keep messages by op, table, expression
//	transform_expr.go     the expression environment (expr-lang/expr)
//	transform_route.go    route: rename topics by regular expression
//	transform_columns.go  drop and mask: remove or hide columns
//	transform_unwrap.go   unwrap: Debezium's new-record-state extraction
//	transform_insert.go   insert: static and metadata fields
//
// The YAML reference, with examples, is docs/transforms.md.

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/configs"
)

// Transform changes, or drops, one message. Apply returns nil to drop it.
// Transforms must not modify structs they did not create — clone
// (Struct.Clone) before changing; the same *Table/*Struct may be shared
// (a delete and its tombstone share their Key; an envelope's structs share
// one backing array). The same goes for the Message itself: a transform
// that changes one returns a copy.
//
// Apply may be called from several goroutines at once. An error concerns
// this message only (a failing expression, a topic name a route made
// invalid): retrying gives the same result, and the runtime applies the
// connector's errors.tolerance to it.
type Transform interface {
	// Name is the transform's type, as written in the config: "filter",
	// "route", "drop", "mask", "unwrap", "insert".
	Name() string
	Apply(m *Message) (*Message, error)
}

// Chain applies transforms in order.
type Chain []Transform

// Apply runs m through every transform in order. It returns nil when a
// transform drops the message (the later ones do not see it), and a
// *TransformError naming the failing transform on error.
func (c Chain) Apply(m *Message) (*Message, error) {
	for i, t := range c {
		out, err := t.Apply(m)
		if err != nil {
			return nil, &TransformError{Index: i, Type: t.Name(), Topic: m.Topic, Err: err}
		}
		if out == nil {
			return nil, nil
		}
		m = out
	}
	return m, nil
}

// TransformError is a transform's failure on one message.
type TransformError struct {
	Index int    // the transform's place in the chain, from 0
	Type  string // its type ("filter")
	Topic string // the message's topic as the transform saw it
	Err   error
}

func (e *TransformError) Error() string {
	return fmt.Sprintf("transforms[%d] (%s) on a message of topic %q: %v", e.Index, e.Type, e.Topic, e.Err)
}

func (e *TransformError) Unwrap() error { return e.Err }

// ParseTransforms builds the chain from a connector's transforms config;
// every problem at once, with positions. nodes are the items of the
// connector's transforms list (configs.Connector.Transforms), path their
// list's path as problems should show it ("transforms" relative to the
// connector, as Options.CheckConnector wants). It returns the chain when
// there is no problem, else nil and the problems.
//
// Each item is a mapping with "type" and the type's options:
//
//	transforms:
//	  - type: filter                  # keep the messages that pass every condition given
//	    ops: [c, u]                   # c, u, d, r, t
//	    tables: [public.orders, "public.order_*"]  # schema.table, db.table or db.schema.table globs (path.Match)
//	    expression: 'op != "d" && after.amount > 100'  # expr-lang; must give a boolean
//	  - {type: route, regex: '^shop\.public\.(.*)$', replacement: 'pg.$1'}  # regexp.Expand template
//	  - {type: drop, columns: [password, "public.users.ssn"]}   # column, or table-qualified column
//	  - {type: mask, columns: [email], with: "****"}             # or hash: sha256 (+ salt); key: false
//	  - {type: unwrap, delete_handling: drop, drop_tombstones: true, add_fields: [op, table, source.ts_ms]}
//	  - {type: insert, static: {region: eu}, fields: {topic: __topic, source.ts_ms: __ts}}
//
// docs/transforms.md describes every option.
func ParseTransforms(nodes []*yaml.Node, path string) (Chain, []configs.Problem) {
	if path == "" {
		path = "transforms"
	}
	var chain Chain
	var problems []configs.Problem
	unwrapped := false
	for i, n := range nodes {
		o := newOptions(n, fmt.Sprintf("%s[%d]", path, i))
		o.afterUnwrap = unwrapped
		t := o.build()
		problems = append(problems, o.problems...)
		if t != nil {
			chain = append(chain, t)
		}
		if v, ok := o.values["type"]; ok && deref(v).Value == "unwrap" {
			unwrapped = true
		}
	}
	if len(problems) > 0 {
		// In file order, as configs.Parse gives them.
		sort.SliceStable(problems, func(i, j int) bool {
			a, b := problems[i], problems[j]
			if (a.Line == 0) != (b.Line == 0) {
				return b.Line == 0
			}
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		})
		return nil, problems
	}
	return chain, nil
}

// transformType is one kind of transform: its options and its builder,
// which reads them from o (reporting problems there) and returns the
// transform, or nil when the options have problems.
type transformType struct {
	keys  []string // options besides "type"
	build func(o *options) Transform
}

var transformTypes = map[string]transformType{
	"filter": {[]string{"ops", "tables", "expression"}, buildFilter},
	"route":  {[]string{"regex", "replacement"}, buildRoute},
	"drop":   {[]string{"columns"}, buildDrop},
	"mask":   {[]string{"columns", "with", "hash", "salt", "key"}, buildMask},
	"unwrap": {[]string{"delete_handling", "drop_tombstones", "add_fields"}, buildUnwrap},
	"insert": {[]string{"static", "fields"}, buildInsert},
}

func transformTypeNames() []string {
	names := make([]string, 0, len(transformTypes))
	for n := range transformTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// options reads one transform's mapping, reporting problems with the
// positions of its nodes.
type options struct {
	node     *yaml.Node            // the mapping as written
	path     string                // "transforms[2]"
	values   map[string]*yaml.Node // key → non-null value, after << merges
	keyNodes map[string]*yaml.Node // key → key node
	problems []configs.Problem
	// afterUnwrap is true when an unwrap comes earlier in the chain.
	afterUnwrap bool
}

func newOptions(n *yaml.Node, path string) *options {
	o := &options{node: n, path: path, values: map[string]*yaml.Node{}, keyNodes: map[string]*yaml.Node{}}
	m := deref(n)
	if m == nil || m.Kind != yaml.MappingNode {
		o.report(n, "", "expected a mapping, got "+describe(m), `a transform is a mapping such as {type: unwrap}`)
		return o
	}
	for _, e := range mappingEntries(m, 0) {
		k := deref(e.key)
		if k.Kind != yaml.ScalarNode || isNull(e.value) {
			continue
		}
		if _, dup := o.keyNodes[k.Value]; dup {
			continue // CheckKeys reports it
		}
		o.keyNodes[k.Value] = e.key
		o.values[k.Value] = e.value
	}
	return o
}

// build checks the type and the keys, then builds the transform.
func (o *options) build() Transform {
	if len(o.problems) > 0 {
		return nil
	}
	tn := o.values["type"]
	if tn == nil {
		o.report(o.node, "", `missing "type"`, "the type is one of "+strings.Join(transformTypeNames(), ", "))
		return nil
	}
	name, ok := o.scalar("type")
	if !ok {
		return nil
	}
	tt, ok := transformTypes[name]
	if !ok {
		hint := configs.DidYouMean(name, transformTypeNames())
		if hint == "" {
			hint = "the type is one of " + strings.Join(transformTypeNames(), ", ")
		}
		o.report(tn, "type", fmt.Sprintf("unknown transform type %q", name), hint)
		return nil
	}
	o.problems = append(o.problems, configs.CheckKeys(o.node, o.path, append([]string{"type"}, tt.keys...))...)
	before := len(o.problems)
	t := tt.build(o)
	if len(o.problems) > before {
		return nil
	}
	return t
}

func (o *options) report(n *yaml.Node, key, msg, hint string) {
	p := o.path
	if key != "" {
		p += "." + key
	}
	o.problems = append(o.problems, configs.ProblemAt(n, p, msg, hint))
}

// has reports whether the option is given (and not null).
func (o *options) has(key string) bool { return o.values[key] != nil }

// scalar returns a scalar option's text; ok is false when it is absent or
// not a scalar (reported).
func (o *options) scalar(key string) (string, bool) {
	n := o.values[key]
	if n == nil {
		return "", false
	}
	s := deref(n)
	if s.Kind != yaml.ScalarNode {
		o.report(n, key, "expected a string, got "+describe(s), "")
		return "", false
	}
	return s.Value, true
}

// required is scalar, reporting a missing option.
func (o *options) required(key, example string) (string, bool) {
	if !o.has(key) {
		o.report(o.node, "", fmt.Sprintf("missing %q", key), "for example "+key+": "+example)
		return "", false
	}
	return o.scalar(key)
}

// boolean returns a true/false option, or def when absent.
func (o *options) boolean(key string, def bool) bool {
	n := o.values[key]
	if n == nil {
		return def
	}
	s := deref(n)
	var v bool
	if s.Kind != yaml.ScalarNode || s.ShortTag() != "!!bool" || s.Decode(&v) != nil {
		hint := ""
		if s.Kind == yaml.ScalarNode && (s.Value == "true" || s.Value == "false") {
			hint = "remove the quotes"
		}
		o.report(n, key, "expected true or false, got "+describe(s), hint)
		return def
	}
	return v
}

// oneOf returns an option that must be one of allowed, or def when absent.
func (o *options) oneOf(key, def string, allowed []string) (string, bool) {
	if !o.has(key) {
		return def, true
	}
	v, ok := o.scalar(key)
	if !ok {
		return def, false
	}
	if !slices.Contains(allowed, v) {
		hint := configs.DidYouMean(v, allowed)
		if hint == "" {
			hint = "valid values: " + strings.Join(allowed, ", ")
		}
		o.report(o.values[key], key, fmt.Sprintf("unknown value %q", v), hint)
		return def, false
	}
	return v, true
}

// item is a list item or mapping entry read from an option, with its node
// and path for problems about it.
type item struct {
	text string
	node *yaml.Node
	path string // relative to the transform: "columns[1]", "static.region"
}

// list returns a list option's strings; present is false when it is
// absent. Items that are not scalars are reported and left out.
func (o *options) list(key string) (items []item, present bool) {
	n := o.values[key]
	if n == nil {
		return nil, false
	}
	s := deref(n)
	if s.Kind != yaml.SequenceNode {
		hint := ""
		if s.Kind == yaml.ScalarNode {
			hint = fmt.Sprintf("write a list: [%s]", s.Value)
		}
		o.report(n, key, "expected a list, got "+describe(s), hint)
		return nil, true
	}
	for i, it := range s.Content {
		p := fmt.Sprintf("%s[%d]", key, i)
		v := deref(it)
		switch {
		case isNull(it):
			o.report(it, p, "empty list item", "")
		case v.Kind != yaml.ScalarNode:
			o.report(it, p, "expected a string, got "+describe(v), "")
		default:
			items = append(items, item{text: v.Value, node: it, path: p})
		}
	}
	return items, true
}

// emptyList reports whether the option is written as an empty list.
func (o *options) emptyList(key string) bool {
	n := deref(o.values[key])
	return n != nil && n.Kind == yaml.SequenceNode && len(n.Content) == 0
}

// mapping returns a mapping option's entries in order: string keys to
// scalar values (their text: 3 and "3" are the same). present is false
// when it is absent.
func (o *options) mapping(key string) (entries []item, keys []item, present bool) {
	n := o.values[key]
	if n == nil {
		return nil, nil, false
	}
	m := deref(n)
	if m.Kind != yaml.MappingNode {
		o.report(n, key, "expected a mapping, got "+describe(m), "")
		return nil, nil, true
	}
	seen := map[string]*yaml.Node{}
	for _, e := range mappingEntries(m, 0) {
		k, v := deref(e.key), deref(e.value)
		if k.Kind != yaml.ScalarNode {
			o.report(e.key, key, "expected a string key, got "+describe(k), "")
			continue
		}
		p := key + "." + k.Value
		if prev := seen[k.Value]; prev != nil {
			o.report(e.key, p, fmt.Sprintf("key %q is already defined at line %d", k.Value, prev.Line), "remove one of them")
			continue
		}
		seen[k.Value] = e.key
		switch {
		case isNull(e.value):
			o.report(e.key, p, "missing value", "")
		case v.Kind != yaml.ScalarNode:
			o.report(e.value, p, "expected a single value, got "+describe(v), "")
		default:
			keys = append(keys, item{text: k.Value, node: e.key, path: p})
			entries = append(entries, item{text: v.Value, node: e.value, path: p})
		}
	}
	return entries, keys, true
}

// entry is one key: value pair of a mapping.
type entry struct{ key, value *yaml.Node }

// mappingEntries returns m's pairs: its own, then those merged in with
// "<<" whose keys it does not set itself. Problems with merges are left to
// configs.CheckKeys, which reports them.
func mappingEntries(m *yaml.Node, depth int) []entry {
	var own, merged []entry
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			if depth > 10 {
				continue
			}
			src := deref(v)
			sources := []*yaml.Node{src}
			if src.Kind == yaml.SequenceNode {
				sources = src.Content
			}
			for _, s := range sources {
				if s = deref(s); s.Kind == yaml.MappingNode {
					merged = append(merged, mappingEntries(s, depth+1)...)
				}
			}
			continue
		}
		own = append(own, entry{k, v})
	}
	if len(merged) == 0 {
		return own
	}
	have := map[string]bool{}
	for _, e := range own {
		have[deref(e.key).Value] = true
	}
	for _, e := range merged {
		if k := deref(e.key).Value; !have[k] {
			have[k] = true
			own = append(own, e)
		}
	}
	return own
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's type and value for "expected X, got Y".
func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("string %q", v)
		case "!!int":
			return "integer " + v
		case "!!float":
			return "number " + v
		case "!!bool":
			return "boolean " + v
		case "!!null":
			return "nothing"
		}
		return fmt.Sprintf("%s %q", n.ShortTag(), v)
	}
	return "an unexpected YAML node"
}

// The shape of a message's value, as transforms see it.
type shape int

const (
	// shapeOther: a tombstone (nil Value), or a value that is neither
	// an envelope nor a row of a change event (a schema change, a
	// heartbeat). Column transforms leave it alone.
	shapeOther shape = iota
	// shapeEnvelope: Debezium's envelope (before, after, source, op, …).
	shapeEnvelope
	// shapeRow: a change event's row, as unwrap leaves it.
	shapeRow
)

// shapeOf tells an envelope by its fields (before and after structs, a
// source struct and an op string), and a row by the message's Event.
func shapeOf(m *Message) shape {
	switch {
	case m.Value == nil:
		return shapeOther
	case isEnvelope(m.Value):
		return shapeEnvelope
	case m.Event != nil:
		return shapeRow
	}
	return shapeOther
}

func isEnvelope(s *Struct) bool {
	var n int
	for i := range s.Fields {
		f := &s.Fields[i]
		switch f.Name {
		case "before", "after", "source":
			if f.Value.Kind != KindStruct {
				return false
			}
			n++
		case "op":
			if f.Value.Kind != KindString {
				return false
			}
			n++
		}
	}
	return n == 4
}

// structField returns the non-null struct in field name of s, or nil.
func structField(s *Struct, name string) *Struct {
	v, ok := s.Get(name)
	if !ok || v.Null || v.Kind != KindStruct {
		return nil
	}
	return v.Struct
}

// opOf returns a message's operation: a tombstone's is a delete; else the
// event's, else the envelope's op field; 0 when unknown.
func opOf(m *Message) Op {
	switch {
	case m.Value == nil:
		return OpDelete
	case m.Event != nil:
		return m.Event.Op
	}
	if v, ok := m.Value.Get("op"); ok && v.Kind == KindString && len(v.Str) == 1 {
		return Op(v.Str[0])
	}
	return 0
}

// tableID names a message's table.
type tableID struct{ db, schema, name string }

// tableOf returns the table of a message: its event's, else the one named
// by its envelope's source block.
func tableOf(m *Message) (tableID, bool) {
	if ev := m.Event; ev != nil {
		if t := ev.Table; t != nil {
			return tableID{t.Database, t.Schema, t.Name}, true
		}
		return tableID{ev.Source.Database, ev.Source.Schema, ev.Source.Table}, ev.Source.Table != ""
	}
	if m.Value == nil || !isEnvelope(m.Value) {
		return tableID{}, false
	}
	src := structField(m.Value, "source")
	str := func(name string) string {
		v, _ := src.Get(name)
		if v.Null {
			return ""
		}
		return v.Str
	}
	t := tableID{str("db"), str("schema"), str("table")}
	return t, t.name != ""
}

// tablePattern matches tables: "orders" (any schema or database),
// "public.orders" (schema.table or db.table), "shop.public.orders"
// (db.schema.table); each part a path.Match glob.
type tablePattern struct {
	pat     string
	dots    int
	literal bool
}

func newTablePattern(p string) (tablePattern, error) {
	if _, err := path.Match(p, ""); err != nil {
		return tablePattern{}, err
	}
	return tablePattern{pat: p, dots: strings.Count(p, "."), literal: !strings.ContainsAny(p, `*?[\`)}, nil
}

func (p tablePattern) match(t tableID) bool {
	switch p.dots {
	case 0:
		return p.matchName(t.name)
	case 1:
		return t.schema != "" && p.matchName(t.schema+"."+t.name) || t.db != "" && p.matchName(t.db+"."+t.name)
	case 2:
		return t.db != "" && t.schema != "" && p.matchName(t.db+"."+t.schema+"."+t.name)
	}
	return false
}

func (p tablePattern) matchName(s string) bool {
	if p.literal {
		return p.pat == s
	}
	ok, _ := path.Match(p.pat, s)
	return ok
}

// copyStruct copies s's top level: the copy's fields may be replaced,
// removed or added; nested structs stay shared and must not be changed.
func copyStruct(s *Struct, extra int) *Struct {
	c := &Struct{Name: s.Name, Fields: make([]Field, len(s.Fields), len(s.Fields)+extra)}
	copy(c.Fields, s.Fields)
	return c
}

// withValue returns a copy of m with value v.
func withValue(m *Message, v *Struct) *Message {
	c := *m
	c.Value = v
	return &c
}
