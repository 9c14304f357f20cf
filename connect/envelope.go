package connect

import (
	"bytes"
	"math"
	"strconv"
	"sync"
)

// Envelope builds the Debezium record of a change event: its key and its
// value, as Structs that transforms may change and a converter then
// serializes.
//
// The key is a Struct named "<topic>.Key" with the key columns in
// Table.Key order, taken from the after image (from the before image when
// there is no after: a delete). It is nil when the table has no key, and
// for a truncate: such records have a null key.
//
// The value is a Struct named "<topic>.Envelope" with Debezium's fields in
// Debezium's order:
//
//	before       "<topic>.Value": every column; null for a create, a read and a truncate
//	after        "<topic>.Value": every column; null for a delete and a truncate
//	source       "io.debezium.connector.<connector>.Source": version, connector,
//	             name, ts_ms, snapshot ("false" when unset), db, schema (only
//	             when non-empty), table, txId (only when set: int64 when it is
//	             a number, else a string), then SourceInfo.Extra in order
//	op           string: "c", "u", "d", "r" or "t"
//	ts_ms        int64: when sluice processed the event
//	transaction  "event.block" {id, total_order, data_collection_order}, or null
//
// A column value is the image's value; a null column is a null of the
// column's kind (a missing one too), and every field's Optional is the
// column's. A null before or after, and a null transaction, still carry
// their schema: a null KindStruct whose Struct has every field, each a
// null of its kind. Transforms that change the columns change these too,
// so that both images keep one schema, and the json-schema converter
// describes them from it. Readers check Null before looking at Struct.
//
// Envelope makes three allocations (the structs, one array cut into every
// struct's fields, the names) and copies the images' values; what they
// point to (bytes, lists, nested structs) is shared with the event.
func Envelope(ev *ChangeEvent) (key, value *Struct) {
	var cols []Column
	var keyCols []int
	if ev.Table != nil {
		cols = ev.Table.Columns
		keyCols = ev.Table.Key
	}
	if ev.Op == OpTruncate {
		keyCols = nil
	}
	src := &ev.Source
	nsrc := 7 + len(src.Extra) // version connector name ts_ms snapshot db table
	if src.Schema != "" {
		nsrc++
	}
	if src.TxID != "" {
		nsrc++
	}

	// Everything in two allocations (plus the names): the structs, and
	// one backing array cut into every struct's fields.
	all := new([6]Struct) // key, before, after, source, transaction, envelope
	fields := make([]Field, 0, len(keyCols)+2*len(cols)+nsrc+3+6)
	take := func(n int) []Field {
		f := fields[len(fields) : len(fields) : len(fields)+n]
		fields = fields[:len(fields)+n]
		return f
	}

	// "<topic>.Key<topic>.Value<topic>.Envelope", cut in three.
	t := ev.Topic
	names := schemaNames(t)
	keyName := names[:len(t)+4]
	valueName := names[len(t)+4 : 2*len(t)+10]
	envName := names[2*len(t)+10:]

	if len(keyCols) > 0 {
		img := ev.After
		if img == nil { // a delete
			img = ev.Before
		}
		key = &all[0]
		key.Name = keyName
		key.Fields = take(len(keyCols))
		for _, ci := range keyCols {
			c := &cols[ci]
			key.Fields = append(key.Fields, Field{Name: c.Name, Value: columnValue(img, ci, c), Optional: c.Optional})
		}
	}

	row := func(s *Struct, img []Value) Value {
		if ev.Op == OpTruncate {
			img = nil
		}
		s.Name = valueName
		s.Fields = take(len(cols))[:len(cols)]
		for i := range cols {
			c, f := &cols[i], &s.Fields[i]
			f.Name, f.Optional = c.Name, c.Optional
			switch {
			case img == nil || i >= len(img):
				f.Value.Kind, f.Value.Null = c.Kind, true
			default:
				f.Value = img[i]
				if f.Value.Null && f.Value.Kind == KindInvalid {
					f.Value.Kind = c.Kind
				}
			}
		}
		return Value{Kind: KindStruct, Null: img == nil, Struct: s}
	}
	before := row(&all[1], ev.Before)
	after := row(&all[2], ev.After)

	source := &all[3]
	source.Name = sourceSchemaName(src.Connector)
	source.Fields = take(nsrc)
	snapshot := src.Snapshot
	if snapshot == "" {
		snapshot = "false"
	}
	source.Fields = append(source.Fields,
		Field{Name: "version", Value: String(src.Version)},
		Field{Name: "connector", Value: String(src.Connector)},
		Field{Name: "name", Value: String(src.Name)},
		Field{Name: "ts_ms", Value: Int64(src.TsMs)},
		Field{Name: "snapshot", Value: String(snapshot), Optional: true},
		Field{Name: "db", Value: String(src.Database)},
	)
	if src.Schema != "" {
		source.Fields = append(source.Fields, Field{Name: "schema", Value: String(src.Schema)})
	}
	source.Fields = append(source.Fields, Field{Name: "table", Value: String(src.Table)})
	if src.TxID != "" {
		txID := String(src.TxID)
		if n, err := strconv.ParseInt(src.TxID, 10, 64); err == nil {
			txID = Int64(n)
		}
		source.Fields = append(source.Fields, Field{Name: "txId", Value: txID, Optional: true})
	}
	source.Fields = append(source.Fields, src.Extra...)

	tx := &all[4]
	tx.Name = "event.block"
	tx.Fields = take(3)
	var txv Value
	if ev.Transaction != nil {
		tx.Fields = append(tx.Fields,
			Field{Name: "id", Value: String(ev.Transaction.ID)},
			Field{Name: "total_order", Value: Int64(ev.Transaction.TotalOrder)},
			Field{Name: "data_collection_order", Value: Int64(ev.Transaction.DataCollectionOrder)},
		)
		txv = StructValue(tx)
	} else {
		tx.Fields = append(tx.Fields,
			Field{Name: "id", Value: Null(KindString)},
			Field{Name: "total_order", Value: Null(KindInt64)},
			Field{Name: "data_collection_order", Value: Null(KindInt64)},
		)
		txv = Value{Kind: KindStruct, Null: true, Struct: tx}
	}

	value = &all[5]
	value.Name = envName
	value.Fields = take(6)
	value.Fields = append(value.Fields,
		Field{Name: "before", Value: before, Optional: true},
		Field{Name: "after", Value: after, Optional: true},
		Field{Name: "source", Value: StructValue(source)},
		Field{Name: "op", Value: String(opName(ev.Op))},
		Field{Name: "ts_ms", Value: Int64(ev.TsMs), Optional: true},
		Field{Name: "transaction", Value: txv, Optional: true},
	)
	return key, value
}

// columnValue is column i of an image: its value, or a null of the
// column's kind when the value is null without a kind or missing.
func columnValue(img []Value, i int, c *Column) Value {
	if i >= len(img) {
		return Null(c.Kind)
	}
	v := img[i]
	if v.Null && v.Kind == KindInvalid {
		v.Kind = c.Kind
	}
	return v
}

// opName is op as a string, without allocating for Debezium's five.
func opName(op Op) string {
	switch op {
	case OpCreate:
		return "c"
	case OpUpdate:
		return "u"
	case OpDelete:
		return "d"
	case OpRead:
		return "r"
	case OpTruncate:
		return "t"
	}
	return op.String()
}

func sourceSchemaName(connector string) string {
	switch connector {
	case "postgresql":
		return "io.debezium.connector.postgresql.Source"
	case "mysql":
		return "io.debezium.connector.mysql.Source"
	case "mariadb":
		return "io.debezium.connector.mariadb.Source"
	}
	return "io.debezium.connector." + connector + ".Source"
}

// SplitKeyChange returns the events an event becomes on its topic. An
// update whose key columns changed becomes, as in Debezium, a delete of the
// old row under the old key followed by a create of the new row under the
// new key; the runtime then adds a tombstone for the old key after the
// delete (unless tombstones are disabled), so that compaction forgets the
// old key. Both events keep the update's source block and transaction.
// Every other event is returned as it is, alone.
func SplitKeyChange(ev *ChangeEvent) []ChangeEvent {
	if !KeyChanged(ev) {
		return []ChangeEvent{*ev}
	}
	out := []ChangeEvent{*ev, *ev}
	out[0].Op, out[0].After = OpDelete, nil
	out[1].Op, out[1].Before = OpCreate, nil
	return out
}

// KeyChanged reports whether ev is an update that changes its row's key,
// which SplitKeyChange splits.
func KeyChanged(ev *ChangeEvent) bool {
	if ev.Op != OpUpdate || ev.Table == nil || len(ev.Table.Key) == 0 || ev.Before == nil || ev.After == nil {
		return false
	}
	for _, ci := range ev.Table.Key {
		if ci >= len(ev.Before) || ci >= len(ev.After) || !sameValue(ev.Before[ci], ev.After[ci]) {
			return true
		}
	}
	return false
}

// sameValue reports whether two values are the same datum: the same kind,
// both null, or the same payload (floats by their bits).
func sameValue(a, b Value) bool {
	if a.Kind != b.Kind || a.Null != b.Null {
		return false
	}
	if a.Null {
		return true
	}
	if a.Int != b.Int || a.Uint != b.Uint || math.Float64bits(a.Float) != math.Float64bits(b.Float) ||
		a.Str != b.Str || !bytes.Equal(a.Bytes, b.Bytes) || a.Offset != b.Offset || len(a.List) != len(b.List) {
		return false
	}
	for i := range a.List {
		if !sameValue(a.List[i], b.List[i]) {
			return false
		}
	}
	if (a.Struct == nil) != (b.Struct == nil) {
		return false
	}
	if a.Struct != nil {
		if len(a.Struct.Fields) != len(b.Struct.Fields) {
			return false
		}
		for i := range a.Struct.Fields {
			if a.Struct.Fields[i].Name != b.Struct.Fields[i].Name || !sameValue(a.Struct.Fields[i].Value, b.Struct.Fields[i].Value) {
				return false
			}
		}
	}
	return true
}

// envelopeNames caches, by topic, the schema names of its envelopes (a
// topic is a table: there are few).
var envelopeNames sync.Map // string → string

// schemaNames returns "<topic>.Key<topic>.Value<topic>.Envelope".
func schemaNames(topic string) string {
	if v, ok := envelopeNames.Load(topic); ok {
		return v.(string)
	}
	names := topic + ".Key" + topic + ".Value" + topic + ".Envelope"
	envelopeNames.Store(topic, names)
	return names
}
