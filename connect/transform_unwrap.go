package connect

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-cdc/sluice/configs"
)

// unwrap is Debezium's ExtractNewRecordState: the envelope becomes the row
// it carries, the after image, with metadata fields added ("__op",
// "__table", "__source_ts_ms" unless add_fields says otherwise).
//
//   - A delete is dropped (delete_handling: drop, the default), becomes
//     its before image with "__deleted": "true" (rewrite; the other rows
//     then get "__deleted": "false"), or keeps its key with a null value
//     (none).
//   - A tombstone is dropped when drop_tombstones is true (the default),
//     whatever delete_handling says: as in Debezium, the two defaults
//     together drop every trace of a delete.
//   - A truncate is dropped: it has no row.
//   - A value that is not an envelope (a schema change) is left alone.
//
// The key is left as it is.
type unwrap struct {
	deletes        string // "drop", "rewrite" or "none"
	dropTombstones bool
	fields         []metaField
}

func (u *unwrap) Name() string { return "unwrap" }

func (u *unwrap) Apply(m *Message) (*Message, error) {
	if m.Value == nil {
		if u.dropTombstones {
			return nil, nil
		}
		return m, nil
	}
	if !isEnvelope(m.Value) {
		return m, nil
	}
	op := opOf(m)
	var row *Struct
	switch op {
	case OpTruncate:
		return nil, nil
	case OpDelete:
		switch u.deletes {
		case "drop":
			return nil, nil
		case "none":
			return withValue(m, nil), nil
		}
		// A null before (no old row image) still has its struct of
		// nulls: the row's schema with nothing known.
		v, _ := m.Value.Get("before")
		row = v.Struct
	default:
		row = structField(m.Value, "after")
		if row == nil {
			return nil, fmt.Errorf("a %q event has no after image to unwrap", string(op))
		}
	}
	extra := len(u.fields)
	if u.deletes == "rewrite" {
		extra++
	}
	var out *Struct
	if row != nil {
		out = copyStruct(row, extra)
	} else {
		out = &Struct{Fields: make([]Field, 0, extra)}
	}
	for _, f := range u.fields {
		out.Set(f.name, metaValue(m, f.from), true)
	}
	if u.deletes == "rewrite" {
		out.Set("__deleted", String(strconv.FormatBool(op == OpDelete)), true)
	}
	return withValue(m, out), nil
}

func buildUnwrap(o *options) Transform {
	u := &unwrap{}
	u.deletes, _ = o.oneOf("delete_handling", "drop", []string{"drop", "rewrite", "none"})
	u.dropTombstones = o.boolean("drop_tombstones", true)
	items, present := o.list("add_fields")
	if !present {
		items = []item{{text: "op"}, {text: "table"}, {text: "source.ts_ms"}}
	}
	for _, it := range items {
		from, msg, hint := parseMeta(it.text, false)
		if msg != "" {
			o.report(it.node, it.path, msg, hint)
			continue
		}
		u.fields = append(u.fields, metaField{name: "__" + strings.ReplaceAll(it.text, ".", "_"), from: from})
	}
	return u
}

// metaField is a field that unwrap or insert adds, and the metadata it
// holds.
type metaField struct {
	name string // the field's name
	from string // "topic", "timestamp", "op", "ts_ms", "source.NAME", "transaction.NAME"
}

// sourceNames are the fields of the envelope's source block, which may be
// named without "source." (as Debezium's add.fields allows).
var sourceNames = []string{
	"version", "connector", "name", "ts_ms", "snapshot", "db", "schema", "table", "txId", "sequence",
	"lsn", "xmin", "file", "pos", "row", "gtid", "server_id", "thread", "query",
}

var transactionNames = []string{"id", "total_order", "data_collection_order"}

// parseMeta reads a metadata name: op, ts_ms (the envelope's), a source
// field (table, or source.table), transaction.id,
// transaction.total_order, transaction.data_collection_order; with
// message, also topic and timestamp (the message's). It returns the
// normalized name, or a problem.
func parseMeta(name string, message bool) (from, msg, hint string) {
	known := []string{"op", "ts_ms"}
	if message {
		known = append(known, "topic", "timestamp")
	}
	switch {
	case slices.Contains(known, name):
		return name, "", ""
	case message && (name == "partition" || name == "offset"):
		return "", fmt.Sprintf("the %s is not known yet when transforms run", name), "the runtime chooses partitions and offsets after the transforms"
	case strings.HasPrefix(name, "source."):
		if strings.TrimPrefix(name, "source.") == "" {
			return "", "source. names no field", "for example source.ts_ms"
		}
		return name, "", ""
	case strings.HasPrefix(name, "transaction."):
		if f := strings.TrimPrefix(name, "transaction."); !slices.Contains(transactionNames, f) {
			h := configs.DidYouMean(f, transactionNames)
			if h == "" {
				h = "transaction fields: " + strings.Join(transactionNames, ", ")
			}
			return "", fmt.Sprintf("unknown transaction field %q", f), h
		}
		return name, "", ""
	case slices.Contains(sourceNames, name):
		return "source." + name, "", ""
	}
	all := append([]string(nil), known...)
	for _, n := range sourceNames {
		if !slices.Contains(all, n) {
			all = append(all, n)
		}
	}
	h := configs.DidYouMean(name, all)
	if h == "" {
		h = "metadata is " + strings.Join(known, ", ") + ", a source field (" + strings.Join(sourceNames, ", ") +
			", or source.NAME) or transaction." + strings.Join(transactionNames, "/")
	}
	return "", fmt.Sprintf("unknown metadata %q", name), h
}

// metaValue is a metadata value of m: from its envelope when it has one,
// else from its event; a null string when neither has it.
func metaValue(m *Message, from string) Value {
	var env *Struct
	if m.Value != nil && isEnvelope(m.Value) {
		env = m.Value
	}
	ev := m.Event
	switch from {
	case "topic":
		return String(m.Topic)
	case "timestamp":
		if m.Timestamp == 0 {
			return Null(KindInt64)
		}
		return Int64(m.Timestamp)
	case "op":
		if op := opOf(m); op != 0 {
			return String(string(op))
		}
		return Null(KindString)
	case "ts_ms":
		if v, ok := env.Get("ts_ms"); ok {
			return v
		}
		if ev != nil {
			return Int64(ev.TsMs)
		}
		return Null(KindInt64)
	}
	if name, ok := strings.CutPrefix(from, "source."); ok {
		if env != nil {
			if v, ok := structField(env, "source").Get(name); ok {
				return v
			}
		}
		if ev != nil {
			if v, ok := sourceValue(&ev.Source, name); ok {
				return v
			}
		}
		return Null(KindString)
	}
	if name, ok := strings.CutPrefix(from, "transaction."); ok {
		if env != nil {
			if v, ok := structField(env, "transaction").Get(name); ok {
				return v
			}
		}
		if ev != nil && ev.Transaction != nil {
			switch name {
			case "id":
				return String(ev.Transaction.ID)
			case "total_order":
				return Int64(ev.Transaction.TotalOrder)
			case "data_collection_order":
				return Int64(ev.Transaction.DataCollectionOrder)
			}
		}
		if name == "id" {
			return Null(KindString)
		}
		return Null(KindInt64)
	}
	return Null(KindString)
}

// sourceValue is a field of an event's source block, as the envelope
// names and types it.
func sourceValue(s *SourceInfo, name string) (Value, bool) {
	switch name {
	case "version":
		return String(s.Version), true
	case "connector":
		return String(s.Connector), true
	case "name":
		return String(s.Name), true
	case "ts_ms":
		return Int64(s.TsMs), true
	case "snapshot":
		if s.Snapshot == "" {
			return String("false"), true
		}
		return String(s.Snapshot), true
	case "db":
		return String(s.Database), true
	case "schema":
		return String(s.Schema), s.Schema != ""
	case "table":
		return String(s.Table), true
	case "txId":
		if s.TxID == "" {
			return Value{}, false
		}
		if n, err := strconv.ParseInt(s.TxID, 10, 64); err == nil {
			return Int64(n), true
		}
		return String(s.TxID), true
	}
	for _, f := range s.Extra {
		if f.Name == name {
			return f.Value, true
		}
	}
	return Value{}, false
}
