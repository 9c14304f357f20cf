package postgres_test

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/internal/testdb"
)

// typeCase is one column of the type table: its type, the SQL of its value
// in rows 1, 3 and 4 (row 2 is NULL, or nullRow for a NOT NULL column),
// and what each must arrive as: the value, and its text in the json
// converter's "after".
type typeCase struct {
	name, typ string
	col       connect.Column // the column's Kind, Optional, Elem, Precision, Scale, Length, Enum
	sql       [3]string
	want      [3]connect.Value
	json      [3]string
	nullRow   string // the value of row 2 of a NOT NULL column
}

// Helpers that build expected values.
func vInt(k connect.Kind, n int64) connect.Value  { return connect.Value{Kind: k, Int: n} }
func vStr(k connect.Kind, s string) connect.Value { return connect.Value{Kind: k, Str: s} }
func vF(k connect.Kind, f float64) connect.Value  { return connect.Value{Kind: k, Float: f} }
func vTime(k connect.Kind, us int64, prec int8) connect.Value {
	return connect.Value{Kind: k, Int: us, Prec: prec}
}
func vList(vs ...connect.Value) connect.Value {
	if vs == nil {
		vs = []connect.Value{} // an empty array, not a null one
	}
	return connect.Value{Kind: connect.KindArray, List: vs}
}

// days returns the days since 1970-01-01 of a proleptic Gregorian date
// (year 0 is 1 BC).
func days(y, m, d int) int64 {
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// micros returns the microseconds since the epoch of a date and time, UTC.
func micros(y, m, d, hh, mm, ss, us int) int64 {
	return days(y, m, d)*86400e6 + int64(hh)*3600e6 + int64(mm)*60e6 + int64(ss)*1e6 + int64(us)
}

// bigText is the 1.5 MB value of row 3's big column.
var bigText = strings.Repeat("ab😀", 1<<18)

func typeCases() []typeCase {
	S, J, D := connect.KindString, connect.KindJSON, connect.KindDecimal
	str := func(s ...string) [3]connect.Value {
		return [3]connect.Value{vStr(S, s[0]), vStr(S, s[1]), vStr(S, s[2])}
	}
	quoted := func(s ...string) [3]string {
		var out [3]string
		for i := range out {
			out[i] = jsonString(s[i])
		}
		return out
	}
	asText := func(name, typ string, sql [3]string, text ...string) typeCase {
		return typeCase{name: name, typ: typ, col: connect.Column{Kind: S, Optional: true}, sql: sql, want: str(text...), json: quoted(text...)}
	}
	tsInf := `"+294247-01-10T04:00:54.775807Z"`
	return []typeCase{
		{name: "i2", typ: "smallint", col: connect.Column{Kind: connect.KindInt16, Optional: true},
			sql:  [3]string{"32767", "-32768", "0"},
			want: [3]connect.Value{vInt(connect.KindInt16, 32767), vInt(connect.KindInt16, -32768), vInt(connect.KindInt16, 0)},
			json: [3]string{"32767", "-32768", "0"}},
		{name: "i4", typ: "integer", col: connect.Column{Kind: connect.KindInt32, Optional: true},
			sql:  [3]string{"2147483647", "-2147483648", "0"},
			want: [3]connect.Value{vInt(connect.KindInt32, math.MaxInt32), vInt(connect.KindInt32, math.MinInt32), vInt(connect.KindInt32, 0)},
			json: [3]string{"2147483647", "-2147483648", "0"}},
		{name: "i8", typ: "bigint", col: connect.Column{Kind: connect.KindInt64, Optional: true},
			sql:  [3]string{"9223372036854775807", "-9223372036854775808", "0"},
			want: [3]connect.Value{vInt(connect.KindInt64, math.MaxInt64), vInt(connect.KindInt64, math.MinInt64), vInt(connect.KindInt64, 0)},
			json: [3]string{"9223372036854775807", "-9223372036854775808", "0"}},
		{name: "num", typ: "numeric", col: connect.Column{Kind: D, Optional: true},
			sql:  [3]string{"'12345678901234567890.123456789012345678901234567890'", "'NaN'", "'-Infinity'"},
			want: [3]connect.Value{vStr(D, "12345678901234567890.123456789012345678901234567890"), vStr(D, "NaN"), vStr(D, "-Infinity")},
			json: [3]string{`"12345678901234567890.123456789012345678901234567890"`, `"NaN"`, `"-Infinity"`}},
		{name: "num_inf", typ: "numeric", col: connect.Column{Kind: D, Optional: true},
			sql:  [3]string{"'Infinity'", "'-0.000001000'", "'1e-30'"},
			want: [3]connect.Value{vStr(D, "Infinity"), vStr(D, "-0.000001000"), vStr(D, "0.000000000000000000000000000001")},
			json: [3]string{`"Infinity"`, `"-0.000001000"`, `"0.000000000000000000000000000001"`}},
		{name: "num_10_2", typ: "numeric(10,2)", col: connect.Column{Kind: D, Optional: true, Precision: 10, Scale: 2},
			sql:  [3]string{"'12345678.9'", "'-0.01'", "0"},
			want: [3]connect.Value{vStr(D, "12345678.90"), vStr(D, "-0.01"), vStr(D, "0.00")},
			json: [3]string{`"12345678.90"`, `"-0.01"`, `"0.00"`}},
		{name: "f4", typ: "real", col: connect.Column{Kind: connect.KindFloat32, Optional: true},
			sql:  [3]string{"'3.4028235e38'", "'NaN'", "'-Infinity'"},
			want: [3]connect.Value{vF(connect.KindFloat32, float64(float32(3.4028235e38))), vF(connect.KindFloat32, math.NaN()), vF(connect.KindFloat32, math.Inf(-1))},
			json: [3]string{"3.4028235e+38", `"NaN"`, `"-Infinity"`}},
		{name: "f8", typ: "double precision", col: connect.Column{Kind: connect.KindFloat64, Optional: true},
			sql:  [3]string{"'1.7976931348623157e308'", "'Infinity'", "'-0'"},
			want: [3]connect.Value{vF(connect.KindFloat64, math.MaxFloat64), vF(connect.KindFloat64, math.Inf(1)), vF(connect.KindFloat64, math.Copysign(0, -1))},
			json: [3]string{"1.7976931348623157e+308", `"Infinity"`, "-0"}},
		{name: "f8_small", typ: "double precision", col: connect.Column{Kind: connect.KindFloat64, Optional: true},
			sql:  [3]string{"'5e-324'", "'0.1'", "'NaN'"},
			want: [3]connect.Value{vF(connect.KindFloat64, 5e-324), vF(connect.KindFloat64, 0.1), vF(connect.KindFloat64, math.NaN())},
			json: [3]string{"5e-324", "0.1", `"NaN"`}},
		{name: "b", typ: "boolean", col: connect.Column{Kind: connect.KindBool, Optional: true},
			sql:  [3]string{"true", "false", "'yes'"},
			want: [3]connect.Value{connect.Bool(true), connect.Bool(false), connect.Bool(true)},
			json: [3]string{"true", "false", "true"}},
		{name: "t", typ: "text", col: connect.Column{Kind: S, Optional: true},
			sql:  [3]string{"'hello'", "''", `E'line\n😀 "q" \\ \u2028 <&>'`},
			want: str("hello", "", "line\n😀 \"q\" \\ \u2028 <&>"),
			json: [3]string{`"hello"`, `""`, `"line\n😀 \"q\" \\ \u2028 <&>"`}},
		{name: "vc", typ: "varchar(10)", col: connect.Column{Kind: S, Optional: true, Length: 10},
			sql:  [3]string{"'abc'", "''", "'😀😀😀😀😀😀😀😀😀😀'"},
			want: str("abc", "", strings.Repeat("😀", 10)),
			json: quoted("abc", "", strings.Repeat("😀", 10))},
		{name: "ch", typ: "char(5)", col: connect.Column{Kind: S, Optional: true, Length: 5},
			sql:  [3]string{"'ab'", "''", "'😀'"},
			want: str("ab   ", "     ", "😀    "),
			json: quoted("ab   ", "     ", "😀    ")},
		{name: "big", typ: "text", col: connect.Column{Kind: S, Optional: true},
			sql:  [3]string{"'x'", "repeat('ab😀', 262144)", "''"},
			want: str("x", bigText, ""),
			json: [3]string{`"x"`, jsonString(bigText), `""`}},
		{name: "by", typ: "bytea", col: connect.Column{Kind: connect.KindBytes, Optional: true},
			sql:  [3]string{`'\xdeadbeef'`, "''", `'\x00ff'`},
			want: [3]connect.Value{connect.Bytes([]byte{0xde, 0xad, 0xbe, 0xef}), connect.Bytes([]byte{}), connect.Bytes([]byte{0, 0xff})},
			json: [3]string{`"3q2+7w=="`, `""`, `"AP8="`}},
		{name: "d", typ: "date", col: connect.Column{Kind: connect.KindDate, Optional: true},
			sql:  [3]string{"'2024-02-29'", "'infinity'", "'0044-03-15 BC'"},
			want: [3]connect.Value{vInt(connect.KindDate, days(2024, 2, 29)), vInt(connect.KindDate, math.MaxInt32), vInt(connect.KindDate, days(-43, 3, 15))},
			json: [3]string{`"2024-02-29"`, `"+5881580-07-11"`, `"-0043-03-15"`}},
		{name: "d_ends", typ: "date", col: connect.Column{Kind: connect.KindDate, Optional: true},
			sql:  [3]string{"'5874897-12-31'", "'-infinity'", "'4713-11-24 BC'"},
			want: [3]connect.Value{vInt(connect.KindDate, days(5874897, 12, 31)), vInt(connect.KindDate, math.MinInt32), vInt(connect.KindDate, days(-4712, 11, 24))},
			json: [3]string{`"+5874897-12-31"`, `"-5877641-06-23"`, `"-4712-11-24"`}},
		{name: "tm", typ: "time", col: connect.Column{Kind: connect.KindTime, Optional: true, Prec: 6},
			sql:  [3]string{"'23:59:59.999999'", "'00:00:00'", "'24:00:00'"},
			want: [3]connect.Value{vTime(connect.KindTime, 86400e6-1, 6), vTime(connect.KindTime, 0, 6), vTime(connect.KindTime, 86400e6, 6)},
			json: [3]string{`"23:59:59.999999"`, `"00:00:00.000000"`, `"24:00:00.000000"`}},
		{name: "tm3", typ: "time(3)", col: connect.Column{Kind: connect.KindTime, Optional: true, Prec: 3},
			sql:  [3]string{"'12:34:56.789'", "'00:00:00.001'", "'01:02:03'"},
			want: [3]connect.Value{vTime(connect.KindTime, 45296789000, 3), vTime(connect.KindTime, 1000, 3), vTime(connect.KindTime, 3723e6, 3)},
			json: [3]string{`"12:34:56.789"`, `"00:00:00.001"`, `"01:02:03.000"`}},
		{name: "ttz", typ: "timetz", col: connect.Column{Kind: connect.KindTimeTZ, Optional: true, Prec: 6},
			sql:  [3]string{"'10:11:12.5+05:30'", "'00:00:00+00'", "'23:59:59.999999-15:59'"},
			want: [3]connect.Value{{Kind: connect.KindTimeTZ, Int: 36672500000, Prec: 6, Offset: 19800}, {Kind: connect.KindTimeTZ, Prec: 6}, {Kind: connect.KindTimeTZ, Int: 86400e6 - 1, Prec: 6, Offset: -(15*3600 + 59*60)}},
			json: [3]string{`"10:11:12.500000+05:30"`, `"00:00:00.000000Z"`, `"23:59:59.999999-15:59"`}},
		{name: "ts", typ: "timestamp", col: connect.Column{Kind: connect.KindTimestamp, Optional: true, Prec: 6},
			sql:  [3]string{"'2024-02-29 10:00:00.123456'", "'infinity'", "'0001-01-01 00:00:00 BC'"},
			want: [3]connect.Value{vTime(connect.KindTimestamp, micros(2024, 2, 29, 10, 0, 0, 123456), 6), vTime(connect.KindTimestamp, math.MaxInt64, 6), vTime(connect.KindTimestamp, micros(0, 1, 1, 0, 0, 0, 0), 6)},
			json: [3]string{`"2024-02-29T10:00:00.123456"`, `"+294247-01-10T04:00:54.775807"`, `"0000-01-01T00:00:00.000000"`}},
		{name: "ts_ends", typ: "timestamp(0)", col: connect.Column{Kind: connect.KindTimestamp, Optional: true},
			sql:  [3]string{"'200000-12-31 23:59:59'", "'-infinity'", "'4713-11-24 00:00:00 BC'"},
			want: [3]connect.Value{vTime(connect.KindTimestamp, micros(200000, 12, 31, 23, 59, 59, 0), 0), vTime(connect.KindTimestamp, math.MinInt64, 0), vTime(connect.KindTimestamp, micros(-4712, 11, 24, 0, 0, 0, 0), 0)},
			json: [3]string{`"+200000-12-31T23:59:59"`, `"-290308-12-21T19:59:05.224192"`, `"-4712-11-24T00:00:00"`}},
		{name: "tstz", typ: "timestamptz", col: connect.Column{Kind: connect.KindTimestampTZ, Optional: true, Prec: 6},
			sql:  [3]string{"'2024-01-02 03:04:05.123456+02'", "'infinity'", "'0044-03-15 12:00:00+00 BC'"},
			want: [3]connect.Value{vTime(connect.KindTimestampTZ, micros(2024, 1, 2, 1, 4, 5, 123456), 6), vTime(connect.KindTimestampTZ, math.MaxInt64, 6), vTime(connect.KindTimestampTZ, micros(-43, 3, 15, 12, 0, 0, 0), 6)},
			json: [3]string{`"2024-01-02T01:04:05.123456Z"`, tsInf, `"-0043-03-15T12:00:00.000000Z"`}},
		{name: "iv", typ: "interval", col: connect.Column{Kind: connect.KindInterval, Optional: true},
			sql:  [3]string{"'1 year 2 mons 3 days 04:05:06.5'", "'0'", "'-1 day -00:00:01'"},
			want: [3]connect.Value{vStr(connect.KindInterval, "P1Y2M3DT4H5M6.5S"), vStr(connect.KindInterval, "PT0S"), vStr(connect.KindInterval, "P-1DT-1S")},
			json: [3]string{`"P1Y2M3DT4H5M6.5S"`, `"PT0S"`, `"P-1DT-1S"`}},
		{name: "u", typ: "uuid", col: connect.Column{Kind: connect.KindUUID, Optional: true},
			sql:  [3]string{"'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"},
			want: [3]connect.Value{vStr(connect.KindUUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), vStr(connect.KindUUID, "00000000-0000-0000-0000-000000000000"), vStr(connect.KindUUID, "ffffffff-ffff-ffff-ffff-ffffffffffff")},
			json: [3]string{`"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`, `"00000000-0000-0000-0000-000000000000"`, `"ffffffff-ffff-ffff-ffff-ffffffffffff"`}},
		{name: "js", typ: "json", col: connect.Column{Kind: J, Optional: true},
			sql:  [3]string{`'{"b": 1, "a": [1, 2]}'`, `'""'`, "'null'"},
			want: [3]connect.Value{vStr(J, `{"b": 1, "a": [1, 2]}`), vStr(J, `""`), vStr(J, "null")},
			json: [3]string{`{"b": 1, "a": [1, 2]}`, `""`, "null"}},
		{name: "jb", typ: "jsonb", col: connect.Column{Kind: J, Optional: true},
			sql:  [3]string{`'{"b": 1, "a": [1, 2]}'`, "'[]'", `'"😀"'`},
			want: [3]connect.Value{vStr(J, `{"a": [1, 2], "b": 1}`), vStr(J, "[]"), vStr(J, `"😀"`)},
			json: [3]string{`{"a": [1, 2], "b": 1}`, "[]", `"😀"`}},
		asText("inet", "inet", [3]string{"'192.168.0.1/24'", "'::1'", "'10.0.0.1'"}, "192.168.0.1/24", "::1", "10.0.0.1"),
		asText("cidr", "cidr", [3]string{"'10.0.0.0/8'", "'::/0'", "'192.168.1'"}, "10.0.0.0/8", "::/0", "192.168.1.0/24"),
		asText("mac", "macaddr", [3]string{"'08:00:2B:01:02:03'", "'ff:ff:ff:ff:ff:ff'", "'0800.2b01.0203'"}, "08:00:2b:01:02:03", "ff:ff:ff:ff:ff:ff", "08:00:2b:01:02:03"),
		asText("mac8", "macaddr8", [3]string{"'08:00:2b:01:02:03:04:05'", "'08:00:2b:01:02:03'", "'00:00:00:00:00:00:00:00'"}, "08:00:2b:01:02:03:04:05", "08:00:2b:ff:fe:01:02:03", "00:00:00:00:00:00:00:00"),
		{name: "mo", typ: "money", col: connect.Column{Kind: D, Optional: true},
			sql:  [3]string{"'1234.56'", "'-92233720368547758.08'", "0"},
			want: [3]connect.Value{vStr(D, "1234.56"), vStr(D, "-92233720368547758.08"), vStr(D, "0.00")},
			json: [3]string{`"1234.56"`, `"-92233720368547758.08"`, `"0.00"`}},
		{name: "bt", typ: "bit(10)", col: connect.Column{Kind: connect.KindBits, Optional: true, Length: 10},
			sql:  [3]string{"B'1000000011'", "B'0000000000'", "B'1111111111'"},
			want: [3]connect.Value{{Kind: connect.KindBits, Int: 10, Bytes: []byte{2, 3}}, {Kind: connect.KindBits, Int: 10, Bytes: []byte{0, 0}}, {Kind: connect.KindBits, Int: 10, Bytes: []byte{3, 0xff}}},
			json: [3]string{`"1000000011"`, `"0000000000"`, `"1111111111"`}},
		{name: "vb", typ: "varbit", col: connect.Column{Kind: connect.KindBits, Optional: true},
			sql:  [3]string{"B'101'", "B''", "B'1'"},
			want: [3]connect.Value{{Kind: connect.KindBits, Int: 3, Bytes: []byte{5}}, {Kind: connect.KindBits, Int: 0, Bytes: []byte{}}, {Kind: connect.KindBits, Int: 1, Bytes: []byte{1}}},
			json: [3]string{`"101"`, `""`, `"1"`}},
		{name: "o", typ: "oid", col: connect.Column{Kind: connect.KindInt64, Optional: true},
			sql:  [3]string{"4294967295", "0", "12345"},
			want: [3]connect.Value{vInt(connect.KindInt64, 4294967295), vInt(connect.KindInt64, 0), vInt(connect.KindInt64, 12345)},
			json: [3]string{"4294967295", "0", "12345"}},
		asText("x", "xml", [3]string{`'<a b="1">t</a>'`, "'<e/>'", "'text 😀'"}, `<a b="1">t</a>`, "<e/>", "text 😀"),
		asText("tsv", "tsvector", [3]string{"'a fat cat'", "''", "'x:1A'"}, "'a' 'cat' 'fat'", "", "'x':1A"),
		asText("i4r", "int4range", [3]string{"'[1,10)'", "'empty'", "'(,5]'"}, "[1,10)", "empty", "(,6)"),
		asText("i8r", "int8range", [3]string{"'[-9223372036854775808,9223372036854775807)'", "'[1,1]'", "'(,)'"}, "[-9223372036854775808,9223372036854775807)", "[1,2)", "(,)"),
		asText("nr", "numrange", [3]string{"'[1.5,2.5]'", "'empty'", "'(,0)'"}, "[1.5,2.5]", "empty", "(,0)"),
		asText("dr", "daterange", [3]string{"'[2024-01-01,2024-02-01)'", "'empty'", "'[2024-01-01,infinity]'"}, "[2024-01-01,2024-02-01)", "empty", "[2024-01-01,infinity]"),
		asText("tsr", "tsrange", [3]string{`'["2024-01-01 10:00","2024-01-01 11:00")'`, "'empty'", "'(,)'"}, `["2024-01-01 10:00:00","2024-01-01 11:00:00")`, "empty", "(,)"),
		asText("tstzr", "tstzrange", [3]string{"'[2024-01-01 10:00+02,)'", "'empty'", "'[-infinity,infinity]'"}, `["2024-01-01 08:00:00+00",)`, "empty", "[-infinity,infinity]"),
		asText("pt", "point", [3]string{"'(1,2)'", "'(0,0)'", "'(-1.5,1e+300)'"}, "(1,2)", "(0,0)", "(-1.5,1e+300)"),
		asText("ln", "line", [3]string{"'{1,2,3}'", "'{1,-1,0}'", "'{0,1,-5}'"}, "{1,2,3}", "{1,-1,0}", "{0,1,-5}"),
		asText("ls", "lseg", [3]string{"'[(0,0),(1,1)]'", "'[(0,0),(0,0)]'", "'[(-1,2.5),(3,4)]'"}, "[(0,0),(1,1)]", "[(0,0),(0,0)]", "[(-1,2.5),(3,4)]"),
		asText("bx", "box", [3]string{"'(1,1),(0,0)'", "'(0,0),(0,0)'", "'(0,0),(2,3)'"}, "(1,1),(0,0)", "(0,0),(0,0)", "(2,3),(0,0)"),
		asText("pth", "path", [3]string{"'[(0,0),(1,1),(2,0)]'", "'((0,0),(1,1))'", "'[(0,0)]'"}, "[(0,0),(1,1),(2,0)]", "((0,0),(1,1))", "[(0,0)]"),
		asText("pg", "polygon", [3]string{"'((0,0),(1,1),(1,0))'", "'((0,0))'", "'((-1,-1),(1,1))'"}, "((0,0),(1,1),(1,0))", "((0,0))", "((-1,-1),(1,1))"),
		asText("ci", "circle", [3]string{"'<(0,0),1>'", "'<(0,0),0>'", "'<(1.5,-2),3.25>'"}, "<(0,0),1>", "<(0,0),0>", "<(1.5,-2),3.25>"),
		{name: "bxa", typ: "box[]", col: connect.Column{Kind: connect.KindArray, Elem: S, Optional: true},
			sql:  [3]string{"'{(1,1),(0,0);(3,3),(2,2)}'", "'{}'", "ARRAY[NULL::box, '(1,1),(0,0)']"},
			want: [3]connect.Value{vList(vStr(S, "(1,1),(0,0)"), vStr(S, "(3,3),(2,2)")), vList(), vList(connect.Null(S), vStr(S, "(1,1),(0,0)"))},
			json: [3]string{`["(1,1),(0,0)","(3,3),(2,2)"]`, "[]", `[null,"(1,1),(0,0)"]`}},
		{name: "pta", typ: "point[]", col: connect.Column{Kind: connect.KindArray, Elem: S, Optional: true},
			sql:  [3]string{"'{\"(1,2)\",\"(3,4)\"}'", "'{}'", "'{NULL}'"},
			want: [3]connect.Value{vList(vStr(S, "(1,2)"), vStr(S, "(3,4)")), vList(), vList(connect.Null(S))},
			json: [3]string{`["(1,2)","(3,4)"]`, "[]", "[null]"}},
		{name: "mood", typ: "public.mood", col: connect.Column{Kind: connect.KindEnum, Optional: true, Enum: []string{"sad", "ok", "happy"}},
			sql:  [3]string{"'happy'", "'sad'", "'ok'"},
			want: [3]connect.Value{vStr(connect.KindEnum, "happy"), vStr(connect.KindEnum, "sad"), vStr(connect.KindEnum, "ok")},
			json: [3]string{`"happy"`, `"sad"`, `"ok"`}},
		{name: "ia", typ: "int[]", col: connect.Column{Kind: connect.KindArray, Elem: connect.KindInt32, Optional: true},
			sql:  [3]string{"'{1,2,NULL}'", "'{}'", "'{{1,2},{3,4}}'"},
			want: [3]connect.Value{vList(vInt(connect.KindInt32, 1), vInt(connect.KindInt32, 2), connect.Null(connect.KindInt32)), vList(), vList(vList(vInt(connect.KindInt32, 1), vInt(connect.KindInt32, 2)), vList(vInt(connect.KindInt32, 3), vInt(connect.KindInt32, 4)))},
			json: [3]string{"[1,2,null]", "[]", "[[1,2],[3,4]]"}},
		{name: "ta", typ: "text[]", col: connect.Column{Kind: connect.KindArray, Elem: S, Optional: true},
			sql:  [3]string{`'{"a b","c\"d",NULL,"NULL",x}'`, `'{""}'`, `ARRAY['😀', '{}', ',', E'\\', ' ']`},
			want: [3]connect.Value{vList(vStr(S, "a b"), vStr(S, `c"d`), connect.Null(S), vStr(S, "NULL"), vStr(S, "x")), vList(vStr(S, "")), vList(vStr(S, "😀"), vStr(S, "{}"), vStr(S, ","), vStr(S, `\`), vStr(S, " "))},
			json: [3]string{`["a b","c\"d",null,"NULL","x"]`, `[""]`, `["😀","{}",",","\\"," "]`}},
		{name: "tsa", typ: "timestamptz[]", col: connect.Column{Kind: connect.KindArray, Elem: connect.KindTimestampTZ, Optional: true, Prec: 6},
			sql:  [3]string{`'{"2024-01-01 00:00:00+00",infinity}'`, "'{}'", "'{NULL}'"},
			want: [3]connect.Value{vList(vTime(connect.KindTimestampTZ, micros(2024, 1, 1, 0, 0, 0, 0), 6), vTime(connect.KindTimestampTZ, math.MaxInt64, 6)), vList(), vList(connect.Null(connect.KindTimestampTZ))},
			json: [3]string{`["2024-01-01T00:00:00.000000Z",` + tsInf + `]`, "[]", "[null]"}},
		{name: "na", typ: "numeric(5,2)[]", col: connect.Column{Kind: connect.KindArray, Elem: D, Optional: true, Precision: 5, Scale: 2},
			sql:  [3]string{"'{1.5,NaN}'", "'{}'", "'{-999.99}'"},
			want: [3]connect.Value{vList(vStr(D, "1.50"), vStr(D, "NaN")), vList(), vList(vStr(D, "-999.99"))},
			json: [3]string{`["1.50","NaN"]`, "[]", `["-999.99"]`}},
		{name: "jba", typ: "jsonb[]", col: connect.Column{Kind: connect.KindArray, Elem: J, Optional: true},
			sql:  [3]string{`ARRAY['{"a": 1}'::jsonb, NULL, 'null']`, "'{}'", `ARRAY['"x,y"'::jsonb]`},
			want: [3]connect.Value{vList(vStr(J, `{"a": 1}`), connect.Null(J), vStr(J, "null")), vList(), vList(vStr(J, `"x,y"`))},
			json: [3]string{`[{"a": 1},null,null]`, "[]", `["x,y"]`}},
		{name: "amount", typ: "public.amount", col: connect.Column{Kind: D, Precision: 12, Scale: 3},
			sql:     [3]string{"'123.456'", "'-0.5'", "'999999999.999'"},
			want:    [3]connect.Value{vStr(D, "123.456"), vStr(D, "-0.500"), vStr(D, "999999999.999")},
			json:    [3]string{`"123.456"`, `"-0.500"`, `"999999999.999"`},
			nullRow: "0"},
		{name: "label", typ: "public.label", col: connect.Column{Kind: S, Optional: true},
			sql:  [3]string{"'hello'", "''", "'😀'"},
			want: str("hello", "", "😀"),
			json: quoted("hello", "", "😀")},
		{name: "small_pos", typ: "public.small_pos", col: connect.Column{Kind: connect.KindInt32, Optional: true},
			sql:  [3]string{"1", "7", "2147483647"},
			want: [3]connect.Value{vInt(connect.KindInt32, 1), vInt(connect.KindInt32, 7), vInt(connect.KindInt32, math.MaxInt32)},
			json: [3]string{"1", "7", "2147483647"}},
		{name: "int_list", typ: "public.int_list", col: connect.Column{Kind: connect.KindArray, Elem: connect.KindInt32, Optional: true},
			sql:  [3]string{"'{1,2}'", "'{}'", "'{NULL}'"},
			want: [3]connect.Value{vList(vInt(connect.KindInt32, 1), vInt(connect.KindInt32, 2)), vList(), vList(connect.Null(connect.KindInt32))},
			json: [3]string{"[1,2]", "[]", "[null]"}},
		{name: "pos_list", typ: "public.pos[]", col: connect.Column{Kind: connect.KindArray, Elem: connect.KindInt32, Optional: true},
			sql:  [3]string{"'{1,2}'", "'{}'", "'{3}'"},
			want: [3]connect.Value{vList(vInt(connect.KindInt32, 1), vInt(connect.KindInt32, 2)), vList(), vList(vInt(connect.KindInt32, 3))},
			json: [3]string{"[1,2]", "[]", "[3]"}},
		{name: "addr", typ: "public.address", col: connect.Column{Kind: J, Optional: true},
			sql: [3]string{`ROW('Main St', 5, '{a,"b c"}', 12.5, '2024-01-01 00:00:00+00', ROW(1, 'q"x,)'), 'happy', '\x01ff')`,
				"ROW(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
				"ROW('', 0, '{}', NULL, 'infinity', ROW(NULL, ''), NULL, '')"},
			want: [3]connect.Value{
				vStr(J, `{"street":"Main St","num":5,"tags":["a","b c"],"amount":"12.50","at":"2024-01-01T00:00:00.000000Z","inner":{"x":1,"y":"q\"x,)"},"mood":"happy","raw":"Af8="}`),
				vStr(J, `{"street":null,"num":null,"tags":null,"amount":null,"at":null,"inner":null,"mood":null,"raw":null}`),
				vStr(J, `{"street":"","num":0,"tags":[],"amount":null,"at":`+tsInf+`,"inner":{"x":null,"y":""},"mood":null,"raw":""}`)},
			json: [3]string{
				`{"street":"Main St","num":5,"tags":["a","b c"],"amount":"12.50","at":"2024-01-01T00:00:00.000000Z","inner":{"x":1,"y":"q\"x,)"},"mood":"happy","raw":"Af8="}`,
				`{"street":null,"num":null,"tags":null,"amount":null,"at":null,"inner":null,"mood":null,"raw":null}`,
				`{"street":"","num":0,"tags":[],"amount":null,"at":` + tsInf + `,"inner":{"x":null,"y":""},"mood":null,"raw":""}`}},
		{name: "addrs", typ: "public.address[]", col: connect.Column{Kind: connect.KindArray, Elem: J, Optional: true},
			sql:  [3]string{"ARRAY[ROW('a', 1, NULL, NULL, NULL, NULL, NULL, NULL)::public.address, NULL]", "'{}'", "ARRAY[ROW(' x ', NULL, '{NULL}', NULL, NULL, NULL, NULL, NULL)::public.address]"},
			want: [3]connect.Value{vList(vStr(J, `{"street":"a","num":1,"tags":null,"amount":null,"at":null,"inner":null,"mood":null,"raw":null}`), connect.Null(J)), vList(), vList(vStr(J, `{"street":" x ","num":null,"tags":[null],"amount":null,"at":null,"inner":null,"mood":null,"raw":null}`))},
			json: [3]string{`[{"street":"a","num":1,"tags":null,"amount":null,"at":null,"inner":null,"mood":null,"raw":null},null]`, "[]", `[{"street":" x ","num":null,"tags":[null],"amount":null,"at":null,"inner":null,"mood":null,"raw":null}]`}},
		{name: "hs", typ: "hstore", col: connect.Column{Kind: J, Optional: true},
			sql:  [3]string{`'a=>1, "b c"=>NULL, "q\"uote"=>"back\\slash"'`, "''", `'"😀"=>"NULL", k=>""'`},
			want: [3]connect.Value{vStr(J, `{"a":"1","b c":null,"q\"uote":"back\\slash"}`), vStr(J, "{}"), vStr(J, `{"k":"","😀":"NULL"}`)},
			json: [3]string{`{"a":"1","b c":null,"q\"uote":"back\\slash"}`, "{}", `{"k":"","😀":"NULL"}`}},
		{name: "hsa", typ: "hstore[]", col: connect.Column{Kind: connect.KindArray, Elem: J, Optional: true},
			sql:  [3]string{"ARRAY['a=>1'::hstore, '']", "'{}'", "ARRAY[NULL::hstore]"},
			want: [3]connect.Value{vList(vStr(J, `{"a":"1"}`), vStr(J, "{}")), vList(), vList(connect.Null(J))},
			json: [3]string{`[{"a":"1"},{}]`, "[]", "[null]"}},
	}
}

// typeSchema creates the types the type table uses.
const typeSchema = `CREATE EXTENSION hstore;
	CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
	CREATE DOMAIN public.amount AS numeric(12,3) NOT NULL;
	CREATE DOMAIN public.label AS text;
	CREATE DOMAIN public.pos AS int CHECK (VALUE > 0);
	CREATE DOMAIN public.small_pos AS public.pos;
	CREATE DOMAIN public.int_list AS int[];
	CREATE TYPE public.inner_t AS (x int, y text);
	CREATE TYPE public.address AS (street text, num int, tags text[], amount numeric(6,2), at timestamptz, "inner" public.inner_t, mood public.mood, raw bytea);`

// TestTypes checks every type, value by value, as the snapshot reads it and
// as the stream sends the same rows inserted again, and as the json
// converter writes it.
func TestTypes(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "typesdb")
	cases := typeCases()
	var ddl, names strings.Builder
	ddl.WriteString(typeSchema + "\nCREATE TABLE public.types (id int PRIMARY KEY")
	for _, c := range cases {
		fmt.Fprintf(&ddl, ", %s %s", c.name, c.typ)
		fmt.Fprintf(&names, ", %s", c.name)
	}
	ddl.WriteString(");\n")
	for row := 1; row <= 4; row++ {
		fmt.Fprintf(&ddl, "INSERT INTO public.types (id%s) VALUES (%d", names.String(), row)
		for _, c := range cases {
			switch {
			case row == 2 && c.nullRow != "":
				ddl.WriteString(", " + c.nullRow)
			case row == 2:
				ddl.WriteString(", NULL")
			case row == 1:
				ddl.WriteString(", " + c.sql[0])
			default:
				ddl.WriteString(", " + c.sql[row-2])
			}
		}
		ddl.WriteString(");\n")
	}
	pg.Exec(t, "typesdb", ddl.String())

	src := open(t, pg, "typesdb", "public.types")
	snap, _, _ := readTx(t, src)
	pg.Exec(t, "typesdb", "INSERT INTO public.types (id"+names.String()+") SELECT id + 10"+names.String()+" FROM public.types ORDER BY id")
	stream, _, _ := readTx(t, src)
	if len(snap) != 4 || len(stream) != 4 {
		t.Fatalf("got %d snapshot and %d streamed events, want 4 and 4", len(snap), len(stream))
	}
	if !reflect.DeepEqual(snap[0].Table.Columns, stream[0].Table.Columns) {
		t.Errorf("the snapshot's and the stream's columns differ:\n%+v\n%+v", snap[0].Table.Columns, stream[0].Table.Columns)
	}
	conv, err := connect.NewConverter("json")
	if err != nil {
		t.Fatal(err)
	}
	withSchema, err := connect.NewConverter("json-schema")
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range append(snap, stream...) {
		path := "snapshot"
		if ev.Op != connect.OpRead {
			path = "stream"
		}
		id := ev.After[0].Int
		row := int(id % 10)
		after := renderAfter(t, conv, ev)
		key, value := connect.Envelope(&ev)
		if _, _, err := withSchema.Encode(&connect.Message{Topic: ev.Topic, Key: key, Value: value, Event: &ev}); err != nil {
			t.Errorf("%s row %d: json-schema: %v", path, id, err)
		}
		if fmt.Sprint(ev.Table.Key) != "[0]" {
			t.Errorf("%s row %d: key %v, want [0]", path, id, ev.Table.Key)
		}
		for i, c := range cases {
			col := ev.Table.Columns[i+1]
			got := ev.After[i+1]
			where := fmt.Sprintf("%s row %d column %s (%s)", path, id, c.name, c.typ)
			wantCol := c.col
			wantCol.Name, wantCol.Type = c.name, col.Type // format_type spells types its own way
			if !reflect.DeepEqual(col, wantCol) {
				t.Errorf("%s: column %+v, want %+v", where, col, wantCol)
			}
			want, wantJSON := connect.Null(c.col.Kind), "null"
			switch {
			case row == 2 && c.nullRow != "":
				continue
			case row == 1:
				want, wantJSON = c.want[0], c.json[0]
			case row > 2:
				want, wantJSON = c.want[row-2], c.json[row-2]
			}
			if !sameValue(got, want) {
				t.Errorf("%s: got %s, want %s", where, clipped(got), clipped(want))
			}
			if string(after[c.name]) != wantJSON {
				t.Errorf("%s: json %s, want %s", where, clip(string(after[c.name])), clip(wantJSON))
			}
		}
	}
}

// renderAfter encodes an event with the json converter and returns the
// fields of its "after" as JSON texts.
func renderAfter(t *testing.T, conv connect.Converter, ev connect.ChangeEvent) map[string]json.RawMessage {
	t.Helper()
	key, value := connect.Envelope(&ev)
	_, v, err := conv.Encode(&connect.Message{Topic: ev.Topic, Key: key, Value: value, Event: &ev})
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	var env struct {
		After map[string]json.RawMessage `json:"after"`
	}
	if err := json.Unmarshal(v, &env); err != nil {
		t.Fatalf("decode %s: %v", clip(string(v)), err)
	}
	return env.After
}

// sameValue compares values exactly: kind, nullness, every payload field
// (floats by their bits, so NaN equals NaN and -0 is not 0), lists deeply.
func sameValue(a, b connect.Value) bool {
	if a.Kind != b.Kind || a.Null != b.Null || a.Int != b.Int || a.Uint != b.Uint || a.Str != b.Str ||
		math.Float64bits(a.Float) != math.Float64bits(b.Float) && !(math.IsNaN(a.Float) && math.IsNaN(b.Float)) ||
		string(a.Bytes) != string(b.Bytes) || (a.Bytes == nil) != (b.Bytes == nil) || a.Prec != b.Prec || a.Offset != b.Offset ||
		len(a.List) != len(b.List) || (a.List == nil) != (b.List == nil) {
		return false
	}
	for i := range a.List {
		if !sameValue(a.List[i], b.List[i]) {
			return false
		}
	}
	return true
}

// jsonString returns s as a JSON string, without escaping HTML.
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

func clipped(v connect.Value) string { return clip(fmt.Sprintf("%#v", v)) }

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

// TestTypeChangedBeforeDecoding checks that a row written before an ALTER
// COLUMN TYPE, and decoded after it, is read as its own types, not the
// catalog's new ones.
func TestTypeChangedBeforeDecoding(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "tc")
	pg.Exec(t, "tc", `CREATE TYPE public.mood AS ENUM ('sad', 'happy');
		CREATE TABLE public.t (id int PRIMARY KEY, a int[], m public.mood, d numeric(6,2));`)
	src := open(t, pg, "tc", "public.t")
	readTx(t, src) // the snapshot of the empty table
	pg.Exec(t, "tc", `INSERT INTO public.t VALUES (1, '{1,2}', 'happy', 1.5);
		ALTER TABLE public.t ALTER COLUMN a TYPE text[], ALTER COLUMN m TYPE text, ALTER COLUMN d TYPE numeric(8,3);
		INSERT INTO public.t VALUES (2, '{x}', 'sad', 2.25);`)
	before, _, _ := readTx(t, src)
	after, _, _ := readTx(t, src)
	if len(before) != 1 || len(after) != 1 {
		t.Fatalf("got %d and %d events, want 1 and 1", len(before), len(after))
	}
	S, D := connect.KindString, connect.KindDecimal
	for _, tc := range []struct {
		ev   connect.ChangeEvent
		cols []connect.Column
		vals []connect.Value
	}{
		{before[0], []connect.Column{
			{Name: "a", Type: "integer[]", Kind: connect.KindArray, Elem: connect.KindInt32, Optional: true},
			{Name: "m", Type: "mood", Kind: connect.KindEnum, Enum: []string{"sad", "happy"}, Optional: true},
			{Name: "d", Type: "numeric(6,2)", Kind: D, Precision: 6, Scale: 2, Optional: true}},
			[]connect.Value{vList(vInt(connect.KindInt32, 1), vInt(connect.KindInt32, 2)), vStr(connect.KindEnum, "happy"), vStr(D, "1.50")}},
		{after[0], []connect.Column{
			{Name: "a", Type: "text[]", Kind: connect.KindArray, Elem: S, Optional: true},
			{Name: "m", Type: "text", Kind: S, Optional: true},
			{Name: "d", Type: "numeric(8,3)", Kind: D, Precision: 8, Scale: 3, Optional: true}},
			[]connect.Value{vList(vStr(S, "x")), vStr(S, "sad"), vStr(D, "2.250")}},
	} {
		id := tc.ev.After[0].Int
		for i, want := range tc.cols {
			if got := tc.ev.Table.Columns[i+1]; !reflect.DeepEqual(got, want) {
				t.Errorf("row %d: column %+v, want %+v", id, got, want)
			}
			if got := tc.ev.After[i+1]; !sameValue(got, tc.vals[i]) {
				t.Errorf("row %d column %s: got %s, want %s", id, want.Name, clipped(got), clipped(tc.vals[i]))
			}
		}
	}
}
