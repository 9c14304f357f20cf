package connect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strings"
)

// columnRule selects columns by name, in any table or in the tables a
// pattern matches: "password", "public.users.ssn", "shop.*.secret_*".
type columnRule struct {
	table   *tablePattern // nil: every table
	column  string        // a path.Match glob
	literal bool
}

// columns is the set of columns a drop or mask works on.
type columns struct {
	rules     []columnRule
	qualified bool // some rule names a table
}

// parseColumns reads the columns option: each "column" or "table.column",
// the table part as in filter's tables.
func parseColumns(o *options) *columns {
	items, present := o.list("columns")
	if !present {
		o.report(o.node, "", `missing "columns"`, `for example columns: [email, "public.users.ssn"]`)
		return nil
	}
	if o.emptyList("columns") {
		o.report(o.values["columns"], "columns", "no columns", `list column names, or table-qualified names such as "public.users.ssn"`)
	}
	cs := &columns{}
	for _, it := range items {
		text := strings.TrimSpace(it.text)
		var r columnRule
		r.column = text
		if i := strings.LastIndexByte(text, '.'); i >= 0 {
			tp, err := newTablePattern(text[:i])
			if err != nil || i == 0 {
				o.report(it.node, it.path, fmt.Sprintf("bad table pattern %q", text[:i]), `write a column, or a table-qualified column such as "public.users.ssn"`)
				continue
			}
			r.table, r.column = &tp, text[i+1:]
			cs.qualified = true
		}
		if r.column == "" {
			o.report(it.node, it.path, fmt.Sprintf("%q names no column", it.text), `write a column, or a table-qualified column such as "public.users.ssn"`)
			continue
		}
		if _, err := path.Match(r.column, ""); err != nil {
			o.report(it.node, it.path, fmt.Sprintf("bad column pattern %q: %v", r.column, err), "patterns are path.Match globs such as secret_*")
			continue
		}
		r.literal = !strings.ContainsAny(r.column, `*?[\`)
		cs.rules = append(cs.rules, r)
	}
	return cs
}

// matcher returns the test for the columns of m's table.
func (cs *columns) matcher(m *Message) columnMatcher {
	if !cs.qualified {
		return columnMatcher{rules: cs.rules}
	}
	cm := columnMatcher{rules: cs.rules, skip: make([]bool, len(cs.rules))}
	t, known := tableOf(m)
	for i, r := range cs.rules {
		cm.skip[i] = r.table != nil && !(known && r.table.match(t))
	}
	return cm
}

type columnMatcher struct {
	rules []columnRule
	skip  []bool // rules of other tables; nil: none
}

func (cm columnMatcher) match(name string) bool {
	for i := range cm.rules {
		r := &cm.rules[i]
		if cm.skip != nil && cm.skip[i] {
			continue
		}
		if r.literal {
			if r.column == name {
				return true
			}
		} else if ok, _ := path.Match(r.column, name); ok {
			return true
		}
	}
	return false
}

// editRows applies edit to the rows of m's value: an envelope's before and
// after (null ones too: their all-null fields describe the schema, which
// must stay the same as the other image's), or the unwrapped row. It
// returns m itself when edit changed nothing.
func editRows(m *Message, edit func(*Struct) *Struct) *Message {
	switch shapeOf(m) {
	case shapeEnvelope:
		var out *Struct
		for i := range m.Value.Fields {
			f := &m.Value.Fields[i]
			if f.Name != "before" && f.Name != "after" || f.Value.Struct == nil {
				continue
			}
			if s := edit(f.Value.Struct); s != f.Value.Struct {
				if out == nil {
					out = copyStruct(m.Value, 0)
				}
				out.Fields[i].Value.Struct = s
			}
		}
		if out != nil {
			return withValue(m, out)
		}
	case shapeRow:
		if s := edit(m.Value); s != m.Value {
			return withValue(m, s)
		}
	}
	return m
}

// drop removes columns from the rows of change events. The key is left
// alone: it identifies the row, for partitioning, compaction and the
// sinks' upserts.
type drop struct{ cols *columns }

func (d *drop) Name() string { return "drop" }

func (d *drop) Apply(m *Message) (*Message, error) {
	if m.Value == nil {
		return m, nil
	}
	cm := d.cols.matcher(m)
	return editRows(m, func(s *Struct) *Struct {
		first := -1
		for i := range s.Fields {
			if cm.match(s.Fields[i].Name) {
				first = i
				break
			}
		}
		if first < 0 {
			return s
		}
		out := &Struct{Name: s.Name, Fields: make([]Field, first, len(s.Fields)-1)}
		copy(out.Fields, s.Fields[:first])
		for _, f := range s.Fields[first+1:] {
			if !cm.match(f.Name) {
				out.Fields = append(out.Fields, f)
			}
		}
		return out
	}), nil
}

func buildDrop(o *options) Transform {
	cs := parseColumns(o)
	if cs == nil {
		return nil
	}
	return &drop{cols: cs}
}

// mask hides column values and keeps the columns: a masked column becomes
// a string column holding the replacement text (with), or the hex SHA-256
// of the salt followed by the value's text (hash: sha256), which keeps
// equal values equal. A null stays null.
//
// The key is left alone unless key is true: the key decides the partition
// and, on a compacted topic, which records replace which, and sinks upsert
// by it. A constant in the key would make all rows one row, so masking the
// key needs hash.
type mask struct {
	cols *columns
	with string
	hash bool
	salt string
	key  bool
}

func (mk *mask) Name() string { return "mask" }

func (mk *mask) Apply(m *Message) (*Message, error) {
	cm := mk.cols.matcher(m)
	edit := func(s *Struct) *Struct {
		var out *Struct
		for i := range s.Fields {
			v := s.Fields[i].Value
			if v.Null && v.Kind == KindString || !cm.match(s.Fields[i].Name) {
				continue // a null string is masked already
			}
			if out == nil {
				out = copyStruct(s, 0)
			}
			out.Fields[i].Value = mk.value(v)
		}
		if out == nil {
			return s
		}
		return out
	}
	out := editRows(m, edit)
	if mk.key && m.Key != nil && m.Event != nil {
		if k := edit(m.Key); k != m.Key {
			if out == m {
				c := *m
				out = &c
			}
			out.Key = k
		}
	}
	return out, nil
}

func (mk *mask) value(v Value) Value {
	if v.Null {
		return Null(KindString)
	}
	if !mk.hash {
		return String(mk.with)
	}
	sum := sha256.Sum256([]byte(mk.salt + valueText(v)))
	return String(hex.EncodeToString(sum[:]))
}

func buildMask(o *options) Transform {
	mk := &mask{with: "****"}
	cs := parseColumns(o)
	if o.has("with") {
		mk.with, _ = o.scalar("with")
	}
	if o.has("hash") {
		if o.has("with") {
			o.report(o.values["hash"], "hash", `both "with" and "hash" are given`, "a column is masked either with a fixed text or with a hash: remove one")
		}
		if _, ok := o.oneOf("hash", "sha256", []string{"sha256"}); ok {
			mk.hash = true
		}
	}
	if o.has("salt") {
		mk.salt, _ = o.scalar("salt")
		if !o.has("hash") {
			o.report(o.values["salt"], "salt", `"salt" is used only with "hash"`, "add hash: sha256, or remove salt")
		}
	}
	mk.key = o.boolean("key", false)
	if mk.key && !o.has("hash") {
		o.report(o.values["key"], "key", "masking the key with a fixed text would give every row the same key", "add hash: sha256 so that keys stay distinct, or remove key: true")
	}
	if cs == nil {
		return nil
	}
	mk.cols = cs
	return mk
}
