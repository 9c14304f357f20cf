package connect

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var convertRewrite = flag.Bool("convert-rewrite", false, "rewrite connect/testdata/convert/*.json with the converters' actual output")

// goldenEvents are the change events of the golden files, by file name.
func goldenEvents() map[string][]ChangeEvent {
	keyChange := customerEvent(OpUpdate)
	keyChange.After = customerRow(1, "us", "Ann Lee", "-0.01")

	orders := &Table{Database: "shop", Name: "orders", Columns: []Column{
		{Name: "id", Type: "bigint unsigned", Kind: KindUint64},
		{Name: "note", Type: "varchar(20)", Kind: KindString, Optional: true, Length: 20},
		{Name: "flags", Type: "bit(4)", Kind: KindBits, Length: 4},
		{Name: "sizes", Type: "set('s','m','l')", Kind: KindSet, Enum: []string{"s", "m", "l"}},
		{Name: "at", Type: "datetime(3)", Kind: KindTimestamp, Prec: 3},
		{Name: "took", Type: "time", Kind: KindTime, Optional: true},
		{Name: "ratio", Type: "double", Kind: KindFloat64, Optional: true},
		{Name: "ref", Type: "binary(16)", Kind: KindUUID, Optional: true},
	}, Key: []int{0}}
	mysqlCreate := ChangeEvent{
		Op: OpCreate, Table: orders, Topic: "shopmy.shop.orders",
		After: []Value{
			Uint64(18446744073709551615),
			String("say \"hi\" <now>\n"),
			{Kind: KindBits, Bytes: []byte{0x0a}, Int: 4},
			{Kind: KindSet, Str: "s,l"},
			{Kind: KindTimestamp, Int: 1714564800250000, Prec: 3},
			{Kind: KindTime, Int: -(838*3600 + 59*60 + 59) * 1_000_000},
			Float64(0.1),
			Null(KindUUID),
		},
		Source: SourceInfo{
			Connector: "mysql", Name: "shopmy", Version: "0.1.0", TsMs: 1714564800000, Database: "shop", Table: "orders",
			Extra: []Field{
				{Name: "server_id", Value: Int64(1)},
				{Name: "gtid", Value: String("0-1-42"), Optional: true},
				{Name: "file", Value: String("mysql-bin.000003")},
				{Name: "pos", Value: Int64(154)},
				{Name: "row", Value: Int32(0)},
			},
		},
		TsMs: 1714564800500,
	}

	return map[string][]ChangeEvent{
		"create":       {customerEvent(OpCreate)},
		"update":       {customerEvent(OpUpdate)},
		"update-key":   {keyChange},
		"delete":       {customerEvent(OpDelete)},
		"read":         {customerEvent(OpRead)},
		"truncate":     {customerEvent(OpTruncate)},
		"mysql-create": {mysqlCreate},
	}
}

// TestConvertGolden pins the whole record, key and value, of each kind of
// event for the json and json-schema converters. Each golden file is an
// array of {"key":…,"value":…} (a key change gives two), indented for
// reading; the test compacts both and compares bytes, so the field order
// and every escape are pinned (the whitespace of embedded JSON columns is
// TestJSONKinds' business). Regenerate with -convert-rewrite.
func TestConvertGolden(t *testing.T) {
	events := goldenEvents()
	for _, conv := range []string{"json", "json-schema"} {
		c, err := NewConverter(conv)
		if err != nil {
			t.Fatal(err)
		}
		for name, evs := range events {
			t.Run(conv+"/"+name, func(t *testing.T) {
				var raw bytes.Buffer
				raw.WriteByte('[')
				for i, ev := range evs {
					for j, split := range SplitKeyChange(&ev) {
						key, value := Envelope(&split)
						k, v, err := c.Encode(&Message{Topic: split.Topic, Key: key, Value: value, Event: &split})
						if err != nil {
							t.Fatal(err)
						}
						if i+j > 0 {
							raw.WriteByte(',')
						}
						raw.WriteString(`{"key":` + orNull(k) + `,"value":` + orNull(v) + `}`)
					}
				}
				raw.WriteByte(']')
				if !json.Valid(raw.Bytes()) {
					t.Fatalf("output is not valid JSON:\n%s", raw.Bytes())
				}

				file := name + ".json"
				if conv == "json-schema" {
					file = name + ".schema.json"
				}
				path := filepath.Join("testdata", "convert", file)
				if *convertRewrite {
					var ind bytes.Buffer
					if err := json.Indent(&ind, raw.Bytes(), "", "  "); err != nil {
						t.Fatal(err)
					}
					ind.WriteByte('\n')
					if err := os.WriteFile(path, ind.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				golden, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./connect/ -run TestConvertGolden -convert-rewrite to create it)", err)
				}
				var got, want bytes.Buffer
				json.Compact(&got, raw.Bytes())
				if err := json.Compact(&want, golden); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("%s differs (rerun with -convert-rewrite and review the diff)\n got %s\nwant %s", path, got.Bytes(), want.Bytes())
				}
			})
		}
	}
}

func orNull(b []byte) string {
	if b == nil {
		return "null"
	}
	return string(b)
}

// TestJSONSchemaShapes checks the json-schema converter's schemas where
// the golden files are hard to read: every kind's type, name and
// parameters, and that the payload matches the schema field by field.
func TestJSONSchemaShapes(t *testing.T) {
	ev := goldenEvents()["mysql-create"][0]
	key, value := Envelope(&ev)
	k, v, err := jsonSchemaConverter{}.Encode(&Message{Topic: ev.Topic, Key: key, Value: value, Event: &ev})
	if err != nil {
		t.Fatal(err)
	}
	var kdoc, vdoc struct {
		Schema  map[string]any `json:"schema"`
		Payload map[string]any `json:"payload"`
	}
	if err := json.Unmarshal(k, &kdoc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(v, &vdoc); err != nil {
		t.Fatal(err)
	}
	if kdoc.Schema["name"] != "shopmy.shop.orders.Key" || kdoc.Schema["type"] != "struct" || kdoc.Schema["optional"] != false {
		t.Errorf("key schema = %v", kdoc.Schema)
	}
	if vdoc.Schema["name"] != "shopmy.shop.orders.Envelope" {
		t.Errorf("value schema name = %v", vdoc.Schema["name"])
	}
	fields := func(s map[string]any) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, f := range s["fields"].([]any) {
			f := f.(map[string]any)
			out[f["field"].(string)] = f
		}
		return out
	}
	env := fields(vdoc.Schema)
	before := env["before"]
	if before["name"] != "shopmy.shop.orders.Value" || before["optional"] != true {
		t.Errorf("before schema = %v", before)
	}
	// A null before describes the same columns as the after.
	if !reflect.DeepEqual(before, withField(env["after"], "before")) {
		t.Errorf("before schema %v differs from after schema %v", before, env["after"])
	}
	cols := fields(before)
	want := map[string]string{
		"id":    `{"type":"int64","optional":false,"name":"io.sluice.data.Uint64","field":"id"}`,
		"note":  `{"type":"string","optional":true,"field":"note"}`,
		"flags": `{"type":"string","optional":false,"name":"io.sluice.data.Bits","parameters":{"length":"4"},"field":"flags"}`,
		"sizes": `{"type":"string","optional":false,"name":"io.debezium.data.EnumSet","version":1,"parameters":{"allowed":"s,m,l"},"field":"sizes"}`,
		"at":    `{"type":"string","optional":false,"name":"io.debezium.time.IsoTimestamp","version":1,"field":"at"}`,
		"took":  `{"type":"string","optional":true,"name":"io.debezium.time.IsoTime","version":1,"field":"took"}`,
		"ratio": `{"type":"double","optional":true,"field":"ratio"}`,
		"ref":   `{"type":"string","optional":true,"name":"io.debezium.data.Uuid","version":1,"field":"ref"}`,
	}
	for name, w := range want {
		var wm map[string]any
		if err := json.Unmarshal([]byte(w), &wm); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cols[name], wm) {
			got, _ := json.Marshal(cols[name])
			t.Errorf("schema of %s:\n got %s\nwant %s", name, got, w)
		}
	}
	// A null before without its schema struct is described from the
	// event's table, the same.
	bare := value.Clone()
	bare.Set("before", Null(KindStruct), true)
	_, v2, err := jsonSchemaConverter{}.Encode(&Message{Topic: ev.Topic, Key: key, Value: bare, Event: &ev})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v, v2) {
		t.Errorf("schema of a bare null before differs:\n got %s\nwant %s", v2, v)
	}
	// The exact uint64 survives in the payload.
	if !bytes.Contains(v, []byte(`"id":18446744073709551615`)) || !bytes.Contains(k, []byte(`"payload":{"id":18446744073709551615}`)) {
		t.Errorf("uint64 payload not exact:\n%s\n%s", k, v)
	}
}

func withField(m map[string]any, name string) map[string]any {
	c := map[string]any{}
	for k, v := range m {
		c[k] = v
	}
	c["field"] = name
	return c
}

// TestJSONSchemaKinds pins the schema written for each kind, with and
// without column details.
func TestJSONSchemaKinds(t *testing.T) {
	schemaOf := func(v Value, col *Column) string {
		w := schemaWriter{}
		b := w.schema(nil, v, col != nil && col.Optional, col, "")
		if w.err != nil {
			t.Fatalf("%#v: %v", v, w.err)
		}
		return string(b)
	}
	for _, c := range []struct {
		v    Value
		col  *Column
		want string
	}{
		{Bool(true), nil, `{"type":"boolean","optional":false}`},
		{Value{Kind: KindInt16}, nil, `{"type":"int16","optional":false}`},
		{Int32(1), nil, `{"type":"int32","optional":false}`},
		{Int64(1), nil, `{"type":"int64","optional":false}`},
		{Uint64(1), nil, `{"type":"int64","optional":false,"name":"io.sluice.data.Uint64"}`},
		{Value{Kind: KindFloat32}, nil, `{"type":"float","optional":false}`},
		{Float64(1), nil, `{"type":"double","optional":false}`},
		{Decimal("1.50"), nil, `{"type":"string","optional":false}`},
		{Decimal("1.50"), &Column{Kind: KindDecimal, Precision: 10, Scale: 2, Optional: true},
			`{"type":"string","optional":true,"parameters":{"scale":"2","connect.decimal.precision":"10"}}`},
		{String("x"), nil, `{"type":"string","optional":false}`},
		{Bytes(nil), nil, `{"type":"bytes","optional":false}`},
		{Value{Kind: KindDate}, nil, `{"type":"string","optional":false,"name":"io.debezium.time.IsoDate","version":1}`},
		{Value{Kind: KindTime}, nil, `{"type":"string","optional":false,"name":"io.debezium.time.IsoTime","version":1}`},
		{Value{Kind: KindTimeTZ}, nil, `{"type":"string","optional":false,"name":"io.debezium.time.ZonedTime","version":1}`},
		{Value{Kind: KindTimestamp}, nil, `{"type":"string","optional":false,"name":"io.debezium.time.IsoTimestamp","version":1}`},
		{TimestampTZ(0), nil, `{"type":"string","optional":false,"name":"io.debezium.time.ZonedTimestamp","version":1}`},
		{Value{Kind: KindInterval}, nil, `{"type":"string","optional":false,"name":"io.debezium.time.Interval","version":1}`},
		{Value{Kind: KindUUID}, nil, `{"type":"string","optional":false,"name":"io.debezium.data.Uuid","version":1}`},
		{JSON("{}"), nil, `{"type":"string","optional":false,"name":"io.debezium.data.Json","version":1}`},
		{Null(KindEnum), &Column{Kind: KindEnum, Enum: []string{"a", "b,c"}, Optional: true},
			`{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"a,b,c"}}`},
		{Value{Kind: KindSet}, nil, `{"type":"string","optional":false,"name":"io.debezium.data.EnumSet","version":1}`},
		{Value{Kind: KindBits, Int: 3}, nil, `{"type":"string","optional":false,"name":"io.sluice.data.Bits","parameters":{"length":"3"}}`},
		{Value{Kind: KindBits, Bytes: []byte{1, 2}}, nil, `{"type":"string","optional":false,"name":"io.sluice.data.Bits","parameters":{"length":"16"}}`},
		{Null(KindBits), nil, `{"type":"string","optional":false,"name":"io.sluice.data.Bits"}`},
		{Value{Kind: KindGeometry}, nil, `{"type":"bytes","optional":false,"name":"io.sluice.data.Wkb"}`},
		{Value{Kind: KindArray, List: []Value{Null(KindDate), {Kind: KindDate}}}, nil,
			`{"type":"array","items":{"type":"string","optional":true,"name":"io.debezium.time.IsoDate","version":1},"optional":false}`},
		{Null(KindArray), &Column{Kind: KindArray, Elem: KindInt32, Optional: true},
			`{"type":"array","items":{"type":"int32","optional":true},"optional":true}`},
		{Value{Kind: KindArray}, nil, `{"type":"array","items":{"type":"string","optional":true},"optional":false}`},
		{StructValue(&Struct{Name: "n", Fields: []Field{{Name: "a", Value: Int32(1)}, {Name: "b", Value: Null(KindString), Optional: true}}}), nil,
			`{"type":"struct","fields":[{"type":"int32","optional":false,"field":"a"},{"type":"string","optional":true,"field":"b"}],"optional":false,"name":"n"}`},
		{Null(KindStruct), nil, `{"type":"struct","fields":[],"optional":false}`},
	} {
		if got := schemaOf(c.v, c.col); got != c.want {
			t.Errorf("schema of %#v:\n got %s\nwant %s", c.v, got, c.want)
		}
	}
	w := schemaWriter{}
	w.schema(nil, Value{Kind: KindInvalid}, false, nil, "")
	if !errors.Is(w.err, errInvalidKind) {
		t.Errorf("schema of an invalid kind: err = %v", w.err)
	}
}

func TestJSONSchemaJSONPayloadIsString(t *testing.T) {
	m := &Message{Topic: "t", Value: &Struct{Name: "v", Fields: []Field{{Name: "doc", Value: JSON(`{"a":1}`)}}}}
	_, v, err := jsonSchemaConverter{}.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"payload":{"doc":"{\"a\":1}"}}`; !strings.HasSuffix(string(v), want) {
		t.Errorf("json-schema value = %s, want it to end in %s", v, want)
	}
	_, v, _ = jsonConverter{}.Encode(m)
	if want := `{"doc":{"a":1}}`; string(v) != want {
		t.Errorf("json value = %s, want %s", v, want)
	}
}

func TestNewConverter(t *testing.T) {
	for name, want := range map[string]string{"": "json", "json": "json", "json-schema": "json-schema", "raw": "raw"} {
		c, err := NewConverter(name)
		if err != nil || c.Name() != want {
			t.Errorf("NewConverter(%q) = %v, %v; want %s", name, c, err, want)
		}
	}
	_, err := NewConverter("avro")
	if err == nil || !errors.Is(err, ErrFatal) {
		t.Fatalf("NewConverter(avro) err = %v, want a fatal error", err)
	}
	for _, s := range []string{`"avro"`, "json", "json-schema", "raw"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
}

func TestEncodeTombstoneAndNullKey(t *testing.T) {
	key := &Struct{Name: "k", Fields: []Field{{Name: "id", Value: Int64(7)}}}
	for _, name := range []string{"json", "json-schema", "raw"} {
		c, _ := NewConverter(name)
		k, v, err := c.Encode(&Message{Topic: "t", Key: key})
		if err != nil || k == nil || v != nil {
			t.Errorf("%s tombstone: key=%s value=%v err=%v; want a key and a nil value", name, k, v, err)
		}
		k, v, err = c.Encode(&Message{Topic: "t", Value: key})
		if err != nil || k != nil || v == nil {
			t.Errorf("%s null key: key=%v value=%s err=%v", name, k, v, err)
		}
		// The key's slice cannot grow into the value.
		k, v, _ = c.Encode(&Message{Topic: "t", Key: key, Value: key})
		_ = append(k, 'x')
		if v[0] != '{' {
			t.Errorf("%s: appending to the key overwrote the value", name)
		}
	}
}

func TestDecode(t *testing.T) {
	ev := goldenEvents()["mysql-create"][0]
	key, value := Envelope(&ev)
	m := &Message{Topic: ev.Topic, Key: key, Value: value, Event: &ev}

	for _, name := range []string{"json", "json-schema"} {
		c, _ := NewConverter(name)
		k, v, err := c.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		dk, dv, err := c.Decode(&Record{Topic: ev.Topic, Key: k, Value: v})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := dk.(map[string]any)["id"]; got != json.Number("18446744073709551615") {
			t.Errorf("%s: decoded key id = %#v, want the exact json.Number", name, got)
		}
		after := dv.(map[string]any)["after"].(map[string]any)
		if after["ratio"] != json.Number("0.1") || after["note"] != "say \"hi\" <now>\n" || after["ref"] != nil {
			t.Errorf("%s: decoded after = %v", name, after)
		}
		// Tombstone and null key.
		dk, dv, err = c.Decode(&Record{Topic: ev.Topic})
		if err != nil || dk != nil || dv != nil {
			t.Errorf("%s: decode of nil key and value = %v, %v, %v; want nils", name, dk, dv, err)
		}
		// Not JSON, trailing data.
		for _, bad := range []string{`{"a":`, `{} {}`, `nope`} {
			if _, _, err := c.Decode(&Record{Topic: "t", Partition: 2, Offset: 9, Value: []byte(bad)}); err == nil || !errors.Is(err, ErrFatal) || !strings.Contains(err.Error(), "t/2@9") {
				t.Errorf("%s: decode of %q: err = %v, want a fatal error naming the record", name, bad, err)
			}
		}
	}

	// json-schema wants exactly schema and payload.
	for _, bad := range []string{`{"a":1}`, `{"schema":{},"payload":1,"x":2}`, `[1]`, `{"payload":1}`} {
		if _, _, err := (jsonSchemaConverter{}).Decode(&Record{Topic: "t", Value: []byte(bad)}); err == nil || !strings.Contains(err.Error(), "converter json") {
			t.Errorf("json-schema decode of %s: err = %v", bad, err)
		}
	}
	if _, v, err := (jsonSchemaConverter{}).Decode(&Record{Value: []byte(`{"schema":null,"payload":null}`)}); err != nil || v != nil {
		t.Errorf("json-schema null payload = %v, %v", v, err)
	}

	// raw passes bytes through.
	rk, rv, err := rawConverter{}.Decode(&Record{Key: []byte("k"), Value: []byte("\x00not json")})
	if err != nil || string(rk.([]byte)) != "k" || string(rv.([]byte)) != "\x00not json" {
		t.Errorf("raw decode = %v, %v, %v", rk, rv, err)
	}
	rk, rv, _ = rawConverter{}.Decode(&Record{})
	if rk != nil || rv != nil {
		t.Errorf("raw decode of nils = %#v, %#v; want untyped nils", rk, rv)
	}
	jk, jv, _ := jsonConverter{}.Encode(m)
	xk, xv, _ := rawConverter{}.Encode(m)
	if !bytes.Equal(jk, xk) || !bytes.Equal(jv, xv) {
		t.Errorf("raw Encode differs from json's")
	}
}

// benchEvent is a typical small row change: eight columns, a Postgres
// source block, a transaction.
func benchEvent() ChangeEvent {
	tbl := &Table{Database: "shop", Schema: "public", Name: "orders", Columns: []Column{
		{Name: "id", Kind: KindInt64},
		{Name: "customer_id", Kind: KindInt32},
		{Name: "status", Kind: KindString},
		{Name: "total", Kind: KindDecimal, Precision: 10, Scale: 2},
		{Name: "created_at", Kind: KindTimestampTZ, Prec: 6},
		{Name: "note", Kind: KindString, Optional: true},
		{Name: "paid", Kind: KindBool},
		{Name: "weight", Kind: KindFloat64, Optional: true},
	}, Key: []int{0}}
	return ChangeEvent{
		Op: OpCreate, Table: tbl, Topic: "shop.public.orders",
		After: []Value{Int64(123456), Int32(42), String("shipped"), Decimal("199.90"),
			TimestampTZ(1714564800123456), Null(KindString), Bool(true), Float64(1.25)},
		Source: SourceInfo{Connector: "postgresql", Name: "shop", Version: "0.1.0", TsMs: 1714564800000,
			Database: "shop", Schema: "public", Table: "orders", TxID: "771",
			Extra: []Field{{Name: "lsn", Value: Int64(24023128)}}},
		Transaction: &Transaction{ID: "771", TotalOrder: 1, DataCollectionOrder: 1},
		TsMs:        1714564800500,
	}
}

func benchConvert(b *testing.B, conv string, envelope bool) {
	c, err := NewConverter(conv)
	if err != nil {
		b.Fatal(err)
	}
	ev := benchEvent()
	key, value := Envelope(&ev)
	m := &Message{Topic: ev.Topic, Key: key, Value: value, Event: &ev}
	var size int
	b.ReportAllocs()
	for b.Loop() {
		if envelope {
			m.Key, m.Value = Envelope(&ev)
		}
		k, v, err := c.Encode(m)
		if err != nil {
			b.Fatal(err)
		}
		size = len(k) + len(v)
	}
	el := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/el, "records/s")
	b.ReportMetric(float64(b.N)*float64(size)/el/1e6, "MB/s")
	b.ReportMetric(float64(size), "B/record")
}

// BenchmarkJSONEncode is the json converter on a small event (the
// default, hot path); Envelope+ adds building the envelope first.
func BenchmarkJSONEncode(b *testing.B) {
	b.Run("Encode", func(b *testing.B) { benchConvert(b, "json", false) })
	b.Run("Envelope+Encode", func(b *testing.B) { benchConvert(b, "json", true) })
}

func BenchmarkJSONSchemaEncode(b *testing.B) { benchConvert(b, "json-schema", false) }

func BenchmarkJSONDecode(b *testing.B) {
	ev := benchEvent()
	key, value := Envelope(&ev)
	k, v, _ := jsonConverter{}.Encode(&Message{Topic: ev.Topic, Key: key, Value: value})
	r := &Record{Topic: ev.Topic, Key: k, Value: v}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := (jsonConverter{}).Decode(r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
