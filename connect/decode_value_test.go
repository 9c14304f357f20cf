package connect

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"unicode/utf8"
)

// sameDatum compares values as decodeJSONValue must give them back:
// floats by their bits, empty and nil bytes alike.
func sameDatum(a, b Value) bool {
	if a.Kind != b.Kind || a.Null != b.Null {
		return false
	}
	if a.Null {
		return true
	}
	if a.Int != b.Int || a.Uint != b.Uint || math.Float64bits(a.Float) != math.Float64bits(b.Float) ||
		a.Str != b.Str || !bytes.Equal(a.Bytes, b.Bytes) || a.Offset != b.Offset || a.Prec != b.Prec || len(a.List) != len(b.List) {
		return false
	}
	for i := range a.List {
		if !sameDatum(a.List[i], b.List[i]) {
			return false
		}
	}
	return true
}

func TestDecodeJSONValueRoundTrip(t *testing.T) {
	day := int64(microsPerDay)
	cases := []struct {
		name string
		col  Column
		v    Value
		want *Value // when it reads back otherwise than v (documented limits)
	}{
		{"bool", Column{Kind: KindBool}, Bool(true), nil},
		{"bool false", Column{Kind: KindBool}, Bool(false), nil},
		{"int16", Column{Kind: KindInt16}, Value{Kind: KindInt16, Int: -32768}, nil},
		{"int32", Column{Kind: KindInt32}, Int32(2147483647), nil},
		{"int64", Column{Kind: KindInt64}, Int64(math.MinInt64), nil},
		{"uint64", Column{Kind: KindUint64}, Uint64(math.MaxUint64), nil},
		{"float32", Column{Kind: KindFloat32}, Value{Kind: KindFloat32, Float: float64(float32(0.1))}, nil},
		{"float32 inf", Column{Kind: KindFloat32}, Value{Kind: KindFloat32, Float: math.Inf(-1)}, nil},
		{"float64", Column{Kind: KindFloat64}, Float64(1e300), nil},
		{"float64 -0", Column{Kind: KindFloat64}, Float64(math.Copysign(0, -1)), nil},
		{"float64 NaN", Column{Kind: KindFloat64}, Float64(math.NaN()), nil},
		{"float64 tiny", Column{Kind: KindFloat64}, Float64(5e-324), nil},
		{"decimal", Column{Kind: KindDecimal}, Decimal("-12.3400"), nil},
		{"decimal NaN", Column{Kind: KindDecimal}, Decimal("NaN"), nil},
		{"string", Column{Kind: KindString}, String("a\"b\\c\n\t\u2028<>&é\x01 ☃"), nil},
		{"string empty", Column{Kind: KindString}, String(""), nil},
		{"string not UTF-8", Column{Kind: KindString}, String("a\xffb"), &Value{Kind: KindString, Str: "a\ufffdb"}},
		{"bytes", Column{Kind: KindBytes}, Bytes([]byte{0, 1, 2, 0xff}), nil},
		{"bytes empty", Column{Kind: KindBytes}, Bytes([]byte{}), nil},
		{"date", Column{Kind: KindDate}, Value{Kind: KindDate, Int: 19844}, nil},
		{"date before 1970", Column{Kind: KindDate}, Value{Kind: KindDate, Int: -1}, nil},
		{"date year 0", Column{Kind: KindDate}, Value{Kind: KindDate, Int: -719528}, nil},
		{"date BC", Column{Kind: KindDate}, Value{Kind: KindDate, Int: -719528 - 400}, nil},
		{"date far BC", Column{Kind: KindDate}, Value{Kind: KindDate, Int: -4_000_000}, nil},
		{"date after 9999", Column{Kind: KindDate}, Value{Kind: KindDate, Int: 2_932_897}, nil},
		{"time", Column{Kind: KindTime, Prec: 3}, Value{Kind: KindTime, Int: 12*3600e6 + 250_000, Prec: 3}, nil},
		{"time prec 0", Column{Kind: KindTime}, Value{Kind: KindTime, Int: 3600e6}, nil},
		{"time mysql", Column{Kind: KindTime}, Value{Kind: KindTime, Int: -(838*3600 + 59*60 + 59) * 1e6}, nil},
		{"time more digits than prec", Column{Kind: KindTime, Prec: 2}, Value{Kind: KindTime, Int: 1_234, Prec: 2}, &Value{Kind: KindTime, Int: 1_234, Prec: 6}},
		{"timetz", Column{Kind: KindTimeTZ, Prec: 6}, Value{Kind: KindTimeTZ, Int: 23*3600e6 + 1, Prec: 6, Offset: 19800}, nil},
		{"timetz Z", Column{Kind: KindTimeTZ}, Value{Kind: KindTimeTZ, Int: 0}, nil},
		{"timetz seconds", Column{Kind: KindTimeTZ}, Value{Kind: KindTimeTZ, Int: 5e6, Offset: -(8*3600 + 15)}, nil},
		{"timestamp", Column{Kind: KindTimestamp, Prec: 6}, Value{Kind: KindTimestamp, Int: 1_714_564_800_123_456, Prec: 6}, nil},
		{"timestamp before 1970", Column{Kind: KindTimestamp, Prec: 3}, Value{Kind: KindTimestamp, Int: -day - 500_000, Prec: 3}, nil},
		{"timestamptz", Column{Kind: KindTimestampTZ, Prec: 6}, TimestampTZ(1_714_564_800_250_000), nil},
		{"interval", Column{Kind: KindInterval}, Value{Kind: KindInterval, Str: "P1Y2M3DT4H5M6.5S"}, nil},
		{"uuid", Column{Kind: KindUUID}, Value{Kind: KindUUID, Str: "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}, nil},
		{"json", Column{Kind: KindJSON}, JSON(`{"b": 1, "a": [true, null, "x"]}`), nil},
		{"json scalar", Column{Kind: KindJSON}, JSON(`"text"`), nil},
		{"json with line breaks", Column{Kind: KindJSON}, JSON("{\"a\":\n 1}"), &Value{Kind: KindJSON, Str: `{"a":1}`}},
		{"enum", Column{Kind: KindEnum}, Value{Kind: KindEnum, Str: "red"}, nil},
		{"set", Column{Kind: KindSet}, Value{Kind: KindSet, Str: "a,b"}, nil},
		{"bits", Column{Kind: KindBits, Length: 12}, Value{Kind: KindBits, Int: 12, Bytes: []byte{0x0a, 0xbc}}, nil},
		{"bits one", Column{Kind: KindBits}, Value{Kind: KindBits, Int: 1, Bytes: []byte{1}}, nil},
		{"bits empty", Column{Kind: KindBits}, Value{Kind: KindBits, Int: 0, Bytes: []byte{}}, nil},
		{"geometry", Column{Kind: KindGeometry}, Value{Kind: KindGeometry, Bytes: []byte{1, 1, 0, 0, 0}, Int: 4326}, &Value{Kind: KindGeometry, Bytes: []byte{1, 1, 0, 0, 0}}},
		{"array", Column{Kind: KindArray, Elem: KindInt32}, Value{Kind: KindArray, List: []Value{Int32(1), Null(KindInt32), Int32(-3)}}, nil},
		{"array empty", Column{Kind: KindArray, Elem: KindString}, Value{Kind: KindArray, List: []Value{}}, nil},
		{"array nested", Column{Kind: KindArray, Elem: KindString}, Value{Kind: KindArray, List: []Value{
			{Kind: KindArray, List: []Value{String("a"), String("b")}},
			{Kind: KindArray, List: []Value{String("c"), Null(KindString)}},
		}}, nil},
		{"array of times", Column{Kind: KindArray, Elem: KindTimestampTZ, Prec: 3}, Value{Kind: KindArray, List: []Value{{Kind: KindTimestampTZ, Int: 1_000, Prec: 3}}}, nil},
		{"array of json", Column{Kind: KindArray, Elem: KindJSON}, Value{Kind: KindArray, List: []Value{JSON(`[1,2]`), JSON(`{"a":1}`)}}, nil},
		{"array of decimals", Column{Kind: KindArray, Elem: KindDecimal}, Value{Kind: KindArray, List: []Value{Decimal("1.50")}}, nil},
	}
	for _, k := range []Kind{KindBool, KindInt64, KindUint64, KindFloat64, KindDecimal, KindString, KindBytes, KindDate, KindTime,
		KindTimeTZ, KindTimestamp, KindTimestampTZ, KindInterval, KindUUID, KindJSON, KindEnum, KindSet, KindBits, KindGeometry, KindArray} {
		cases = append(cases, struct {
			name string
			col  Column
			v    Value
			want *Value
		}{"null " + k.String(), Column{Kind: k, Elem: KindInt32}, Null(k), nil})
	}
	for _, tc := range cases {
		for _, asString := range []bool{false, true} {
			w := jsonWriter{jsonAsString: asString}
			raw := w.value(nil, &tc.v)
			if w.err != nil {
				t.Fatalf("%s: encode: %v", tc.name, w.err)
			}
			col := tc.col
			col.Name = "c"
			got, err := decodeJSONValue(raw, &col, asString)
			if err != nil {
				t.Errorf("%s (json-schema %v): decode %s: %v", tc.name, asString, raw, err)
				continue
			}
			want := tc.v
			if tc.want != nil && !(asString && tc.name == "json with line breaks") { // json-schema keeps the text whole
				want = *tc.want
			}
			if !sameDatum(got, want) {
				t.Errorf("%s (json-schema %v): %s read back as %#v, want %#v", tc.name, asString, raw, got, want)
			}
			// Whatever reads back writes the same text again.
			again := w.value(nil, &got)
			if !bytes.Equal(again, raw) && tc.name != "geometry" && tc.name != "string not UTF-8" {
				t.Errorf("%s: %s re-encodes as %s", tc.name, raw, again)
			}
		}
	}
}

func TestDecodeJSONValueRejects(t *testing.T) {
	for _, tc := range []struct {
		col Column
		raw string
	}{
		{Column{Kind: KindBool}, `1`},
		{Column{Kind: KindInt16}, `40000`},
		{Column{Kind: KindInt64}, `1.5`},
		{Column{Kind: KindInt64}, `"1"`},
		{Column{Kind: KindUint64}, `-1`},
		{Column{Kind: KindFloat64}, `"fast"`},
		{Column{Kind: KindString}, `12`},
		{Column{Kind: KindBytes}, `"not base64!"`},
		{Column{Kind: KindBits}, `"0102"`},
		{Column{Kind: KindDate}, `"2024-02-30"`},
		{Column{Kind: KindDate}, `"24-01-01"`},
		{Column{Kind: KindTime}, `"12:60:00"`},
		{Column{Kind: KindTime}, `"12:00:00.1234567"`},
		{Column{Kind: KindTimeTZ}, `"12:00:00"`},
		{Column{Kind: KindTimestamp}, `"2024-01-01 12:00:00"`},
		{Column{Kind: KindTimestamp}, `"2024-01-01T24:00:00"`},
		{Column{Kind: KindTimestampTZ}, `"2024-01-01T12:00:00"`},
		{Column{Kind: KindArray}, `[1]`}, // no element kind
		{Column{Kind: KindArray, Elem: KindInt32}, `{"a":1}`},
		{Column{Kind: KindStruct}, `{"a":1}`},
		{Column{Kind: KindString}, ``},
	} {
		col := tc.col
		if v, err := decodeJSONValue([]byte(tc.raw), &col, false); err == nil {
			t.Errorf("%s %s read back as %#v; want an error", tc.col.Kind, tc.raw, v)
		}
	}
}

// FuzzDecodeJSONValue checks that whatever JSON a record holds, reading a
// column back never panics, and what reads back writes the same JSON
// again when it was written by AppendJSON.
func FuzzDecodeJSONValue(f *testing.F) {
	for _, s := range []string{`"2024-05-01T12:00:00.250Z"`, `"-838:59:59"`, `"12:00:00+05:30"`, `[[1],[2,null]]`, `"0101"`, `"+10000-01-01"`, `1e400`, `"AQID"`} {
		f.Add([]byte(s), uint8(KindTimestampTZ))
	}
	f.Fuzz(func(t *testing.T, raw []byte, kind uint8) {
		col := Column{Name: "c", Kind: Kind(kind % uint8(KindStruct+1)), Elem: KindInt32, Prec: 3}
		v, err := decodeJSONValue(raw, &col, kind&0x80 != 0)
		if err != nil {
			return
		}
		w := jsonWriter{jsonAsString: kind&0x80 != 0}
		out := w.value(nil, &v)
		if w.err != nil {
			t.Fatalf("%s read back as %#v, which does not encode: %v", raw, v, w.err)
		}
		v2, err := decodeJSONValue(out, &col, kind&0x80 != 0)
		if err != nil || !sameDatum(v, v2) {
			t.Fatalf("%s → %#v → %s → %#v, %v", raw, v, out, v2, err)
		}
	})
}

// FuzzScanObject compares scanObject with encoding/json: on an object
// encoding/json reads (with distinct member names), scanObject finds the
// same members with the same values, and it never panics.
func FuzzScanObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":"x\"y\\","c":[1,{"d":"]"}],"e":null}`, ` { "a" : true } `, `{"a":"\\\\"}`, `{"a":{"b":[]}}x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := scanObject(b, nil)
		var want map[string]json.RawMessage
		if json.Unmarshal(b, &want) != nil || want == nil || !utf8.Valid(b) {
			return // scanObject is lenient: it need not reject what encoding/json does
		}
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if len(ms) != len(want) {
			return // repeated names
		}
		for name, raw := range want {
			got, ok := lookup(ms, 0, name)
			if !ok || !bytes.Equal(got, bytes.TrimSpace(raw)) {
				t.Fatalf("%s: member %q is %s, want %s", b, name, got, raw)
			}
		}
	})
}
