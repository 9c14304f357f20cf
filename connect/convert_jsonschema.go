package connect

import (
	"fmt"
	"strconv"
	"strings"
)

// jsonSchemaConverter is the "json-schema" converter: Debezium's records
// as Kafka Connect's JsonConverter writes them with schemas.enable=true.
// Key and value are each {"schema":…,"payload":…}; a null key and a
// tombstone stay nil.
//
// The payload is the json converter's (see AppendJSON) except for KindJSON,
// written as a string holding the JSON text, as Debezium does for its
// io.debezium.data.Json. The schema follows JsonConverter's layout (type,
// fields or items, optional, name, version, parameters, field) with these
// types per Kind:
//
//	bool         "boolean"
//	int16/32/64  "int16", "int32", "int64"
//	uint64       "int64" named "io.sluice.data.Uint64". Kafka Connect has no
//	             unsigned type; the payload is the exact number, so values
//	             above 2^63-1 are written whole, but a reader that takes
//	             the type at its word (Kafka's own JsonConverter) wraps
//	             them: readers should treat this name as unsigned.
//	float32/64   "float", "double"
//	decimal      "string" (Debezium's decimal.handling.mode=string), with
//	             parameters "scale" and "connect.decimal.precision" when
//	             the column's precision is known
//	string       "string"
//	bytes        "bytes"
//	date         "string" "io.debezium.time.IsoDate"
//	time         "string" "io.debezium.time.IsoTime"
//	timetz       "string" "io.debezium.time.ZonedTime"
//	timestamp    "string" "io.debezium.time.IsoTimestamp"
//	timestamptz  "string" "io.debezium.time.ZonedTimestamp"
//	interval     "string" "io.debezium.time.Interval"
//	uuid         "string" "io.debezium.data.Uuid"
//	json         "string" "io.debezium.data.Json"
//	enum         "string" "io.debezium.data.Enum", parameter "allowed":
//	             the labels joined by commas, when the column is known
//	set          "string" "io.debezium.data.EnumSet", likewise
//	bits         "string" "io.sluice.data.Bits", parameter "length" (in
//	             bits). Debezium's io.debezium.data.Bits is bytes; the
//	             payload here is the '0'/'1' text, hence a name of our own.
//	geometry     "bytes" "io.sluice.data.Wkb": the WKB alone (Debezium's
//	             Geometry is a struct of wkb and srid; the SRID is dropped)
//	array        "array" with optional "items": the first non-null
//	             element's schema, else the column's element kind's,
//	             else "string"
//	struct       "struct" with "fields" and the Struct's Name
//
// Debezium's logical types (io.debezium.*) carry "version":1. Column
// details (precision, labels, lengths, element kinds) come from the
// message's change event when a struct is one of its row images or its
// key ("<topic>.Value", "<topic>.Key"), matched by field name. A null
// struct is described by its Struct (Envelope gives null images one, with
// null fields); a null before or after without one, in the event's
// envelope ("<topic>.Envelope"), is described from the event's table.
type jsonSchemaConverter struct{}

func (jsonSchemaConverter) Name() string { return "json-schema" }

func (jsonSchemaConverter) Encode(m *Message) (key, value []byte, err error) {
	ev := m.Event
	return encodeWith(m, func(dst []byte, s *Struct) ([]byte, error) {
		w := schemaWriter{jsonWriter: jsonWriter{jsonAsString: true}, ev: ev}
		b := append(dst, `{"schema":`...)
		b = w.schema(b, StructValue(s), false, nil, "")
		b = append(b, `,"payload":`...)
		b = w.structValue(b, s)
		b = append(b, '}')
		return b, w.err
	})
}

// Decode returns the payloads of key and value, decoded as the json
// converter decodes. Like JsonConverter, it requires exactly the fields
// "schema" and "payload".
func (jsonSchemaConverter) Decode(r *Record) (key, value any, err error) {
	if key, err = decodeJSON("key", r, r.Key); err != nil {
		return nil, nil, err
	}
	if value, err = decodeJSON("value", r, r.Value); err != nil {
		return nil, nil, err
	}
	if key, err = payload("key", r, key); err != nil {
		return nil, nil, err
	}
	if value, err = payload("value", r, value); err != nil {
		return nil, nil, err
	}
	return key, value, nil
}

func payload(what string, r *Record, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	o, ok := v.(map[string]any)
	_, hasSchema := o["schema"]
	p, hasPayload := o["payload"]
	if !ok || len(o) != 2 || !hasSchema || !hasPayload {
		return nil, Fatal(fmt.Errorf(`record %s/%d@%d: %s is not {"schema":…,"payload":…}; if the topic holds plain JSON, use converter json`,
			r.Topic, r.Partition, r.Offset, what))
	}
	return p, nil
}

// schemaWriter writes Kafka Connect JSON schemas, and (through the
// embedded jsonWriter) payloads.
type schemaWriter struct {
	jsonWriter
	// ev, when set, gives column details for its row images and key.
	ev *ChangeEvent
}

// logical is a schema's type and, for a logical type, its name and
// whether it is Debezium's (which carry a version).
type logical struct {
	typ, name string
	debezium  bool
}

var kindSchemas = [...]logical{
	KindBool:        {typ: "boolean"},
	KindInt16:       {typ: "int16"},
	KindInt32:       {typ: "int32"},
	KindInt64:       {typ: "int64"},
	KindUint64:      {typ: "int64", name: "io.sluice.data.Uint64"},
	KindFloat32:     {typ: "float"},
	KindFloat64:     {typ: "double"},
	KindDecimal:     {typ: "string"},
	KindString:      {typ: "string"},
	KindBytes:       {typ: "bytes"},
	KindDate:        {"string", "io.debezium.time.IsoDate", true},
	KindTime:        {"string", "io.debezium.time.IsoTime", true},
	KindTimeTZ:      {"string", "io.debezium.time.ZonedTime", true},
	KindTimestamp:   {"string", "io.debezium.time.IsoTimestamp", true},
	KindTimestampTZ: {"string", "io.debezium.time.ZonedTimestamp", true},
	KindInterval:    {"string", "io.debezium.time.Interval", true},
	KindUUID:        {"string", "io.debezium.data.Uuid", true},
	KindJSON:        {"string", "io.debezium.data.Json", true},
	KindEnum:        {"string", "io.debezium.data.Enum", true},
	KindSet:         {"string", "io.debezium.data.EnumSet", true},
	KindBits:        {typ: "string", name: "io.sluice.data.Bits"},
	KindGeometry:    {typ: "bytes", name: "io.sluice.data.Wkb"},
	KindArray:       {typ: "array"},
	KindStruct:      {typ: "struct"},
}

// schema writes the schema of v; col, when known, is the column v is a
// value of, and field, when set, the name of the struct field v is.
func (w *schemaWriter) schema(b []byte, v Value, optional bool, col *Column, field string) []byte {
	var l logical
	if int(v.Kind) < len(kindSchemas) {
		l = kindSchemas[v.Kind]
	}
	if l.typ == "" {
		if w.err == nil {
			w.err = fmt.Errorf("%w: %s", errInvalidKind, v.Kind)
		}
		l.typ = "string"
	}
	b = append(b, `{"type":"`...)
	b = append(b, l.typ...)
	b = append(b, '"')
	switch v.Kind {
	case KindStruct:
		b = append(b, `,"fields":[`...)
		if s := v.Struct; s != nil {
			rowCols := w.rowColumns(s)
			envelope := w.isEnvelope(s)
			for i := range s.Fields {
				f := &s.Fields[i]
				if i > 0 {
					b = append(b, ',')
				}
				if envelope && f.Value.Kind == KindStruct && f.Value.Struct == nil && (f.Name == "before" || f.Name == "after") {
					b = w.rowSchema(b, f.Optional, f.Name)
					continue
				}
				b = w.schema(b, f.Value, f.Optional, columnNamed(rowCols, i, f.Name), f.Name)
			}
		}
		b = append(b, ']')
	case KindArray:
		b = append(b, `,"items":`...)
		b = w.schema(b, elemPrototype(v, col), true, nil, "")
	}
	b = append(b, `,"optional":`...)
	b = strconv.AppendBool(b, optional)
	name := l.name
	if v.Kind == KindStruct && v.Struct != nil {
		name = v.Struct.Name
	}
	if name != "" {
		b = append(b, `,"name":`...)
		b = appendString(b, name)
	}
	if l.debezium {
		b = append(b, `,"version":1`...)
	}
	b = w.parameters(b, v, col)
	if field != "" {
		b = append(b, `,"field":`...)
		b = appendString(b, field)
	}
	return append(b, '}')
}

// parameters writes the "parameters" of a schema, when it has any.
func (w *schemaWriter) parameters(b []byte, v Value, col *Column) []byte {
	var params [2][2]string
	n := 0
	switch v.Kind {
	case KindDecimal:
		if col != nil && col.Precision > 0 {
			params[0] = [2]string{"scale", strconv.Itoa(col.Scale)}
			params[1] = [2]string{"connect.decimal.precision", strconv.Itoa(col.Precision)}
			n = 2
		}
	case KindEnum, KindSet:
		if col != nil && len(col.Enum) > 0 {
			params[0] = [2]string{"allowed", strings.Join(col.Enum, ",")}
			n = 1
		}
	case KindBits:
		length := int64(0)
		switch {
		case col != nil && col.Length > 0:
			length = int64(col.Length)
		case !v.Null && v.Int > 0:
			length = v.Int
		case !v.Null:
			length = int64(len(v.Bytes)) * 8
		}
		if length > 0 {
			params[0] = [2]string{"length", strconv.FormatInt(length, 10)}
			n = 1
		}
	}
	if n == 0 {
		return b
	}
	b = append(b, `,"parameters":{`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, params[i][0])
		b = append(b, ':')
		b = appendString(b, params[i][1])
	}
	return append(b, '}')
}

// isEnvelope reports whether s is the envelope of the event.
func (w *schemaWriter) isEnvelope(s *Struct) bool {
	if w.ev == nil || w.ev.Table == nil {
		return false
	}
	t, n := w.ev.Topic, s.Name
	return len(n) == len(t)+len(".Envelope") && n[:len(t)] == t && n[len(t):] == ".Envelope"
}

// rowSchema writes the schema of a row image of the event, from its
// table: the schema of a null before or after.
func (w *schemaWriter) rowSchema(b []byte, optional bool, field string) []byte {
	b = append(b, `{"type":"struct","fields":[`...)
	cols := w.ev.Table.Columns
	for i := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = w.schema(b, Null(cols[i].Kind), cols[i].Optional, &cols[i], cols[i].Name)
	}
	b = append(b, `],"optional":`...)
	b = strconv.AppendBool(b, optional)
	b = append(b, `,"name":`...)
	b = appendString(b, w.ev.Topic+".Value")
	b = append(b, `,"field":`...)
	b = appendString(b, field)
	return append(b, '}')
}

// rowColumns returns the event's columns when s is one of its row images
// or its key, else nil.
func (w *schemaWriter) rowColumns(s *Struct) []Column {
	if w.ev == nil || w.ev.Table == nil {
		return nil
	}
	t, n := w.ev.Topic, s.Name
	if len(n) > len(t) && n[:len(t)] == t && (n[len(t):] == ".Value" || n[len(t):] == ".Key") {
		return w.ev.Table.Columns
	}
	return nil
}

// columnNamed returns the column named name, looking first at index i
// (where a row image has it).
func columnNamed(cols []Column, i int, name string) *Column {
	if i < len(cols) && cols[i].Name == name {
		return &cols[i]
	}
	for j := range cols {
		if cols[j].Name == name {
			return &cols[j]
		}
	}
	return nil
}

// elemPrototype returns a value that stands for an array's elements in
// its schema: the first non-null element (whose nested structure the
// schema then shows), else a null of the column's element kind, else a
// null string.
func elemPrototype(v Value, col *Column) Value {
	for _, e := range v.List {
		if !e.Null {
			return e
		}
	}
	if len(v.List) > 0 && v.List[0].Kind != KindInvalid {
		return v.List[0]
	}
	if col != nil && col.Elem != KindInvalid {
		return Null(col.Elem)
	}
	return Null(KindString)
}
