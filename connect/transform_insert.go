package connect

import (
	"fmt"
	"slices"
)

// insert adds fields to the value of change events: at the top level of
// the envelope, or of the row when unwrap ran before. Static fields hold
// the text written; metadata fields the message's topic or timestamp, or
// its event's op, ts_ms, source or transaction fields (see parseMeta). A
// field replaces one of the same name. Tombstones and values that are not
// change events (schema changes) are left alone.
type insert struct {
	static []Field
	fields []metaField
}

func (in *insert) Name() string { return "insert" }

func (in *insert) Apply(m *Message) (*Message, error) {
	if shapeOf(m) == shapeOther {
		return m, nil
	}
	out := copyStruct(m.Value, len(in.static)+len(in.fields))
	for _, f := range in.static {
		out.Set(f.Name, f.Value, true)
	}
	for _, f := range in.fields {
		out.Set(f.name, metaValue(m, f.from), true)
	}
	return withValue(m, out), nil
}

// envelopeFields are the envelope's own fields, which insert must not
// replace while messages are envelopes.
var envelopeFields = []string{"before", "after", "source", "op", "ts_ms", "transaction"}

func buildInsert(o *options) Transform {
	in := &insert{}
	names := map[string]string{} // field name → path of its first use
	checkName := func(name string, it item) bool {
		switch {
		case name == "":
			o.report(it.node, it.path, "empty field name", "")
			return false
		case !o.afterUnwrap && slices.Contains(envelopeFields, name):
			o.report(it.node, it.path, fmt.Sprintf("field %q would replace the envelope's own %q", name, name),
				"choose another name, or put an unwrap transform before this one")
			return false
		case names[name] != "":
			o.report(it.node, it.path, fmt.Sprintf("field %q is also inserted by %s", name, names[name]), "give each field its own name")
			return false
		}
		names[name] = o.path + "." + it.path
		return true
	}
	values, keys, hasStatic := o.mapping("static")
	for i, k := range keys {
		if checkName(k.text, k) {
			in.static = append(in.static, Field{Name: k.text, Value: String(values[i].text), Optional: true})
		}
	}
	values, keys, hasFields := o.mapping("fields")
	for i, k := range keys {
		from, msg, hint := parseMeta(k.text, true)
		if msg != "" {
			o.report(k.node, k.path, msg, hint)
			continue
		}
		v := values[i]
		if checkName(v.text, v) {
			in.fields = append(in.fields, metaField{name: v.text, from: from})
		}
	}
	if !hasStatic && !hasFields {
		o.report(o.node, "", "an insert needs static or fields", "for example static: {region: eu}")
	}
	return in
}
