package connect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/quick"
	"time"
	"unicode/utf8"
)

const (
	sec  = int64(microsPerSecond)
	hour = 3600 * sec
)

// TestJSONKinds pins the JSON text of every kind: the json converter's
// contract, value by value.
func TestJSONKinds(t *testing.T) {
	tm := func(us int64, prec int8) Value { return Value{Kind: KindTime, Int: us, Prec: prec} }
	ttz := func(us int64, prec int8, off int32) Value {
		return Value{Kind: KindTimeTZ, Int: us, Prec: prec, Offset: off}
	}
	ts := func(us int64, prec int8) Value { return Value{Kind: KindTimestamp, Int: us, Prec: prec} }
	tstz := func(us int64, prec int8) Value { return Value{Kind: KindTimestampTZ, Int: us, Prec: prec} }
	date := func(days int64) Value { return Value{Kind: KindDate, Int: days} }
	bits := func(n int64, b ...byte) Value { return Value{Kind: KindBits, Int: n, Bytes: b} }
	f32 := func(f float32) Value { return Value{Kind: KindFloat32, Float: float64(f)} }
	str := func(k Kind, s string) Value { return Value{Kind: k, Str: s} }
	arr := func(vs ...Value) Value { return Value{Kind: KindArray, List: vs} }
	noon := 12*hour + 34*60*sec + 56*sec // 12:34:56
	may1 := int64(1714564800) * sec      // 2024-05-01T12:00:00Z

	cases := []struct {
		name string
		v    Value
		want string
	}{
		{"bool true", Bool(true), `true`},
		{"bool false", Bool(false), `false`},
		{"int16 min", Value{Kind: KindInt16, Int: math.MinInt16}, `-32768`},
		{"int32 max", Int32(math.MaxInt32), `2147483647`},
		{"int64 min", Int64(math.MinInt64), `-9223372036854775808`},
		{"uint64 max", Uint64(math.MaxUint64), `18446744073709551615`},
		{"uint64 2^63", Uint64(1 << 63), `9223372036854775808`},
		{"uint64 zero", Uint64(0), `0`},

		{"float64 1.5", Float64(1.5), `1.5`},
		{"float64 0.1", Float64(0.1), `0.1`},
		{"float64 integral", Float64(100), `100`},
		{"float64 big", Float64(1e21), `1e+21`},
		{"float64 small", Float64(1e-7), `1e-07`},
		{"float64 max", Float64(math.MaxFloat64), `1.7976931348623157e+308`},
		{"float64 denormal", Float64(5e-324), `5e-324`},
		{"float64 negative zero", Float64(math.Copysign(0, -1)), `-0`},
		{"float64 NaN", Float64(math.NaN()), `"NaN"`},
		{"float64 +Inf", Float64(math.Inf(1)), `"Infinity"`},
		{"float64 -Inf", Float64(math.Inf(-1)), `"-Infinity"`},
		{"float32 0.1", f32(0.1), `0.1`},
		{"float32 max", f32(math.MaxFloat32), `3.4028235e+38`},
		{"float32 1/3", f32(1.0 / 3), `0.33333334`},
		{"float32 NaN", f32(float32(math.NaN())), `"NaN"`},
		{"float32 -Inf", f32(float32(math.Inf(-1))), `"-Infinity"`},
		{"float32 out of range", Value{Kind: KindFloat32, Float: 1e300}, `"Infinity"`},

		{"decimal trailing zeros", Decimal("12.3400"), `"12.3400"`},
		{"decimal negative", Decimal("-0.000001"), `"-0.000001"`},
		{"decimal long", Decimal("123456789012345678901234567890.123456789"), `"123456789012345678901234567890.123456789"`},
		{"decimal NaN", Decimal("NaN"), `"NaN"`},
		{"decimal -Infinity", Decimal("-Infinity"), `"-Infinity"`},

		{"string plain", String("hello"), `"hello"`},
		{"string empty", String(""), `""`},
		{"string escapes", String("a\"b\\c\n\r\t\b\f/"), `"a\"b\\c\n\r\t\b\f/"`},
		{"string control", String("\x00\x01\x1f\x7f"), `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"string html kept", String("<b>&amp;</b>"), `"<b>&amp;</b>"`},
		{"string unicode", String("é中😀"), `"é中😀"`},
		{"string line separators", String("a\u2028b\u2029c"), `"a\u2028b\u2029c"`},
		{"string invalid utf-8", String("a\xffb\xc3"), `"a\ufffdb\ufffd"`},
		{"string surrogate half", String("\xed\xa0\x80"), `"\ufffd\ufffd\ufffd"`},
		{"enum", str(KindEnum, "active"), `"active"`},
		{"set", str(KindSet, "a,b"), `"a,b"`},
		{"uuid", str(KindUUID, "5f0b6b9e-8c1a-4b7e-9a57-2d3f2c1e0a9b"), `"5f0b6b9e-8c1a-4b7e-9a57-2d3f2c1e0a9b"`},
		{"interval", str(KindInterval, "P1Y2M3DT4H5M6.5S"), `"P1Y2M3DT4H5M6.5S"`},

		{"bytes", Bytes([]byte{0, 1, 2, 0xff}), `"AAEC/w=="`},
		{"bytes empty", Bytes([]byte{}), `""`},
		{"bytes +/", Bytes([]byte{0xfb, 0xff}), `"+/8="`},
		{"geometry", Value{Kind: KindGeometry, Bytes: []byte{1, 1, 0, 0, 0}, Int: 4326}, `"AQEAAAA="`},

		{"bits 4", bits(4, 0x05), `"0101"`},
		{"bits 1", bits(1, 0x01), `"1"`},
		{"bits 3 of 2 bytes", bits(3, 0xff, 0xfe), `"110"`},
		{"bits whole bytes", bits(0, 0x01, 0x82), `"0000000110000010"`},
		{"bits padded", bits(10, 0x01), `"0000000001"`},
		{"bits empty", bits(0), `""`},

		{"date epoch", date(0), `"1970-01-01"`},
		{"date before epoch", date(-1), `"1969-12-31"`},
		{"date leap day", date(11016), `"2000-02-29"`},
		{"date 1900-03-01", date(-25508), `"1900-03-01"`},
		{"date 0001-01-01", date(-719162), `"0001-01-01"`},
		{"date 0999-12-31", date(-354286), `"0999-12-31"`},
		{"date 9999-12-31", date(2932896), `"9999-12-31"`},
		{"date year 10000", date(2932897), `"+10000-01-01"`},
		{"date year 0", date(-719528), `"0000-01-01"`},
		{"date 1 BC is year 0", date(-719163), `"0000-12-31"`},
		{"date year -1", date(-719529), `"-0001-12-31"`},
		{"date 4713 BC", date(-2440588), `"-4713-11-24"`}, // Julian day 0

		{"time prec 0", tm(noon, 0), `"12:34:56"`},
		{"time prec 3", tm(noon+789000, 3), `"12:34:56.789"`},
		{"time prec 6", tm(noon+1, 6), `"12:34:56.000001"`},
		{"time prec 6 whole", tm(noon, 6), `"12:34:56.000000"`},
		{"time prec 2", tm(noon+100000, 2), `"12:34:56.10"`},
		{"time digits beyond prec kept", tm(noon+123450, 3), `"12:34:56.12345"`},
		{"time midnight", tm(0, 0), `"00:00:00"`},
		{"time 24:00", tm(24*hour, 0), `"24:00:00"`},
		{"time MySQL min", tm(-(838*hour + 59*60*sec + 59*sec), 0), `"-838:59:59"`},
		{"time MySQL max", tm(838*hour+59*60*sec+59*sec, 0), `"838:59:59"`},
		{"time 100h", tm(100*hour, 0), `"100:00:00"`},
		{"time negative fraction", tm(-1500000, 1), `"-00:00:01.5"`},
		{"time negative small", tm(-1, 6), `"-00:00:00.000001"`},

		{"timetz +05:30", ttz(noon, 6, 5*3600+30*60), `"12:34:56.000000+05:30"`},
		{"timetz UTC", ttz(noon, 0, 0), `"12:34:56Z"`},
		{"timetz -08:00", ttz(noon+250000, 3, -8*3600), `"12:34:56.250-08:00"`},
		{"timetz offset seconds", ttz(noon, 0, 5*3600+30*60+15), `"12:34:56+05:30:15"`},

		{"timestamp micros", ts(may1+123456, 6), `"2024-05-01T12:00:00.123456"`},
		{"timestamp prec 3", ts(may1+123000, 3), `"2024-05-01T12:00:00.123"`},
		{"timestamp prec 0", ts(may1, 0), `"2024-05-01T12:00:00"`},
		{"timestamp before epoch", ts(-1, 6), `"1969-12-31T23:59:59.999999"`},
		{"timestamp 0001-01-01", ts(-62135596800*sec, 0), `"0001-01-01T00:00:00"`},
		{"timestamp 9999-12-31", ts(253402300799*sec+999999, 6), `"9999-12-31T23:59:59.999999"`},
		{"timestamptz", tstz(may1+123456, 6), `"2024-05-01T12:00:00.123456Z"`},
		{"timestamptz prec 0", tstz(may1, 0), `"2024-05-01T12:00:00Z"`},
		{"timestamptz constructor", TimestampTZ(may1 + 250000), `"2024-05-01T12:00:00.250000Z"`},

		{"json object", JSON(`{"a":1}`), `{"a":1}`},
		{"json kept as written", JSON(`[1, 2.50, "<&>"]`), `[1, 2.50, "<&>"]`},
		{"json line breaks compacted", JSON("{\n  \"a\": [1,\r\n 2]\n}"), `{"a":[1,2]}`},
		{"json scalar", JSON(`"x"`), `"x"`},
		{"json null text", JSON(`null`), `null`},
		{"json invalid as string", JSON(`{a:1}`), `"{a:1}"`},
		{"json empty as string", JSON(``), `""`},
		{"json invalid utf-8 as string", JSON("\"\xff\""), `"\"\ufffd\""`},

		{"array", arr(Int32(1), Int32(2), Null(KindInt32)), `[1,2,null]`},
		{"array empty", arr(), `[]`},
		{"array nested", arr(arr(String("a")), arr()), `[["a"],[]]`},
		{"array with compacted json", arr(Int32(1), JSON("{\n \"a\" : 1\n}"), Int32(2)), `[1,{"a":1},2]`},
		{"array of dates", arr(date(0), date(1)), `["1970-01-01","1970-01-02"]`},
		{"struct in field order", StructValue(&Struct{Fields: []Field{
			{Name: "z", Value: Int64(1)},
			{Name: "a", Value: StructValue(&Struct{Fields: []Field{{Name: "c\"", Value: String("x")}}})},
			{Name: "m", Value: Null(KindStruct)},
		}}), `{"z":1,"a":{"c\"":"x"},"m":null}`},
		{"struct empty", StructValue(&Struct{}), `{}`},
	}
	for kind := KindBool; kind <= KindStruct; kind++ {
		cases = append(cases, struct {
			name string
			v    Value
			want string
		}{"null " + kind.String(), Null(kind), `null`})
	}

	seen := map[Kind]bool{}
	for _, c := range cases {
		seen[c.v.Kind] = true
		got, err := AppendJSON(nil, c.v)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s: %#v\n got %s\nwant %s", c.name, c.v, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("%s: %s is not valid JSON", c.name, got)
		}
	}
	for kind := KindBool; kind <= KindStruct; kind++ {
		if !seen[kind] {
			t.Errorf("no case for kind %s", kind)
		}
	}
}

func TestJSONInvalidKind(t *testing.T) {
	for _, v := range []Value{
		{Kind: KindInvalid},
		{Kind: Kind(200)},
		{Kind: KindArray, List: []Value{{Kind: KindInvalid}}},
		{Kind: KindBits, Int: maxBits + 1},
	} {
		if _, err := AppendJSON(nil, v); err == nil {
			t.Errorf("AppendJSON(%#v) succeeded", v)
		}
	}
	_, _, err := jsonConverter{}.Encode(&Message{Topic: "t", Value: &Struct{Fields: []Field{{Name: "x"}}}})
	if !errors.Is(err, errInvalidKind) || !strings.Contains(err.Error(), `topic "t"`) {
		t.Errorf("Encode of an invalid kind: err = %v", err)
	}
	// A null of no kind is still null.
	if got, err := AppendJSON(nil, Value{Null: true}); err != nil || string(got) != "null" {
		t.Errorf("null without kind = %s, %v", got, err)
	}
}

// FuzzJSONString checks the string escaper against encoding/json: the
// output is valid JSON, decodes to what json.Marshal's output decodes to
// (invalid UTF-8 replaced byte by byte), and is byte for byte what
// encoding/json writes without HTML escaping.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\"b\\c", "\x00\x1f\x7f", "<>&", "é中😀", "\u2028\u2029", "\xff\xfe", "\xed\xa0\x80", "a\xc3", "\xf4\x90\x80\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString(nil, s)
		if !json.Valid(got) {
			t.Fatalf("appendString(%q) = %s: not valid JSON", s, got)
		}
		var gotS, wantS string
		if err := json.Unmarshal(got, &gotS); err != nil {
			t.Fatal(err)
		}
		ref, _ := json.Marshal(s)
		if err := json.Unmarshal(ref, &wantS); err != nil {
			t.Fatal(err)
		}
		if gotS != wantS {
			t.Fatalf("appendString(%q) decodes to %q, encoding/json's to %q", s, gotS, wantS)
		}
		if !utf8.Valid(got) {
			t.Fatalf("appendString(%q) = %q: not UTF-8", s, got)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if want := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, encoding/json writes %s", s, got, want)
		}
	})
}

// TestJSONQuick compares AppendJSON with a slow, obvious reference on
// random values of every kind: the reference builds Go values for
// encoding/json (time.Time for dates, []byte for base64, math/big for
// bits), and both outputs must decode to the same thing.
func TestJSONQuick(t *testing.T) {
	check := func(rv randValue) bool {
		got, err := AppendJSON(nil, rv.v)
		if err != nil {
			t.Errorf("AppendJSON(%#v): %v", rv.v, err)
			return false
		}
		if !json.Valid(got) {
			t.Errorf("AppendJSON(%#v) = %s: not valid JSON", rv.v, got)
			return false
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(reference(rv.v)); err != nil {
			t.Fatalf("reference of %#v: %v", rv.v, err)
		}
		g, w := decodeNormal(t, got), decodeNormal(t, buf.Bytes())
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%#v:\n got %s\nwant %s", rv.v, got, buf.Bytes())
			return false
		}
		return true
	}
	if err := quick.Check(check, &quick.Config{MaxCount: 5000}); err != nil {
		t.Error(err)
	}
}

// randValue is a random Value for testing/quick.
type randValue struct{ v Value }

func (randValue) Generate(r *rand.Rand, size int) reflect.Value {
	return reflect.ValueOf(randValue{genValue(r, 3)})
}

func genValue(r *rand.Rand, depth int) Value {
	kind := Kind(1 + r.Intn(int(KindStruct)))
	if depth == 0 && (kind == KindArray || kind == KindStruct) {
		kind = KindString
	}
	if r.Intn(12) == 0 {
		return Null(kind)
	}
	v := Value{Kind: kind}
	switch kind {
	case KindBool:
		v.Int = int64(r.Intn(2))
	case KindInt16:
		v.Int = int64(int16(r.Uint32()))
	case KindInt32:
		v.Int = int64(int32(r.Uint32()))
	case KindInt64:
		v.Int = int64(r.Uint64())
	case KindUint64:
		v.Uint = r.Uint64() >> uint(r.Intn(64))
	case KindFloat32, KindFloat64:
		switch r.Intn(8) {
		case 0:
			v.Float = []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64}[r.Intn(7)]
		case 1:
			v.Float = float64(r.Int63n(1 << 53))
		default:
			v.Float = math.Float64frombits(r.Uint64())
		}
		if kind == KindFloat32 {
			v.Float = float64(float32(v.Float))
		}
	case KindDecimal:
		v.Str = strconv.FormatInt(r.Int63(), 10) + "." + strconv.Itoa(r.Intn(10000))
	case KindString, KindEnum, KindSet, KindInterval, KindUUID:
		v.Str = genString(r)
	case KindBytes, KindGeometry:
		v.Bytes = make([]byte, r.Intn(20))
		r.Read(v.Bytes)
	case KindBits:
		v.Bytes = make([]byte, r.Intn(5))
		r.Read(v.Bytes)
		if r.Intn(3) > 0 {
			v.Int = int64(1 + r.Intn(48))
		}
	case KindDate:
		v.Int = r.Int63n(2932897+719528) - 719528 // 0000-01-01 to 9999-12-31
	case KindTime:
		v.Int = r.Int63n(2*839*hour) - 839*hour
		v.Prec = int8(r.Intn(7))
	case KindTimeTZ:
		v.Int = r.Int63n(24 * hour)
		v.Prec = int8(r.Intn(7))
		v.Offset = int32(r.Intn(2*15*60)-15*60) * 60 // whole minutes, ±15h
	case KindTimestamp, KindTimestampTZ:
		v.Int = r.Int63n(253402300800*sec+62135596800*sec) - 62135596800*sec // years 1 to 9999
		v.Prec = int8(r.Intn(7))
	case KindJSON:
		if r.Intn(2) == 0 {
			b, _ := json.Marshal(map[string]any{"k": genString(r), "n": []any{r.Intn(100), nil, true}})
			v.Str = string(b)
			if r.Intn(2) == 0 {
				var ind bytes.Buffer
				json.Indent(&ind, b, "", "  ")
				v.Str = ind.String()
			}
		} else {
			v.Str = genString(r)
		}
	case KindArray:
		n := r.Intn(4)
		for range n {
			v.List = append(v.List, genValue(r, depth-1))
		}
	case KindStruct:
		v.Struct = &Struct{Name: "s"}
		for i := range r.Intn(4) {
			v.Struct.Fields = append(v.Struct.Fields, Field{Name: "f" + strconv.Itoa(i) + genString(r), Value: genValue(r, depth-1)})
		}
	}
	return v
}

// genString makes strings with everything an escaper can get wrong.
func genString(r *rand.Rand) string {
	var b strings.Builder
	for range r.Intn(12) {
		switch r.Intn(6) {
		case 0:
			b.WriteByte(byte(r.Intn(0x20))) // control
		case 1:
			b.WriteByte(byte(0x80 + r.Intn(0x80))) // a stray byte
		case 2:
			b.WriteString([]string{`"`, `\`, "<", ">", "&", "\u2028", "\u2029", "\x7f", "é", "😀", "\ufffd"}[r.Intn(11)])
		case 3:
			b.WriteRune(rune(r.Intn(0x110000)))
		default:
			b.WriteByte(byte(0x20 + r.Intn(0x5f)))
		}
	}
	return b.String()
}

// reference maps a Value to a Go value that encoding/json writes as the
// contract says, by the slowest, most obvious means.
func reference(v Value) any {
	if v.Null {
		return nil
	}
	switch v.Kind {
	case KindBool:
		return v.Int != 0
	case KindInt16, KindInt32, KindInt64:
		return v.Int
	case KindUint64:
		return v.Uint
	case KindFloat32, KindFloat64:
		switch {
		case math.IsNaN(v.Float):
			return "NaN"
		case math.IsInf(v.Float, 1):
			return "Infinity"
		case math.IsInf(v.Float, -1):
			return "-Infinity"
		}
		if v.Kind == KindFloat32 {
			return float32(v.Float)
		}
		return v.Float
	case KindDecimal, KindString, KindEnum, KindSet, KindInterval, KindUUID:
		return v.Str
	case KindBytes, KindGeometry:
		return append([]byte{}, v.Bytes...)
	case KindBits:
		n := int(v.Int)
		if n == 0 {
			n = 8 * len(v.Bytes)
		}
		s := strings.Repeat("0", n) + new(big.Int).SetBytes(v.Bytes).Text(2)
		return s[len(s)-n:]
	case KindDate:
		return time.Unix(v.Int*86400, 0).UTC().Format("2006-01-02")
	case KindTime, KindTimeTZ:
		us := v.Int
		sign := ""
		if us < 0 {
			sign, us = "-", -us
		}
		d := time.Duration(us) * time.Microsecond
		s := fmt.Sprintf("%s%02d:%02d:%02d", sign, int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60) + refFraction(us%sec, v.Prec)
		if v.Kind == KindTimeTZ {
			s += time.Date(2000, 1, 1, 0, 0, 0, 0, time.FixedZone("", int(v.Offset))).Format("Z07:00")
		}
		return s
	case KindTimestamp, KindTimestampTZ:
		t := time.UnixMicro(v.Int).UTC()
		s := t.Format("2006-01-02T15:04:05") + refFraction(int64(t.Nanosecond()/1000), v.Prec)
		if v.Kind == KindTimestampTZ {
			s += "Z"
		}
		return s
	case KindJSON:
		if json.Valid([]byte(v.Str)) && utf8.ValidString(v.Str) {
			return json.RawMessage(v.Str)
		}
		return v.Str
	case KindArray:
		out := []any{}
		for _, e := range v.List {
			out = append(out, reference(e))
		}
		return out
	case KindStruct:
		out := map[string]any{}
		for _, f := range v.Struct.Fields {
			out[f.Name] = reference(f.Value)
		}
		return out
	}
	panic("no reference for " + v.Kind.String())
}

// refFraction writes prec fraction digits, or more when us needs them.
func refFraction(us int64, prec int8) string {
	digits := fmt.Sprintf("%06d", us)
	n := max(int(prec), len(strings.TrimRight(digits, "0")))
	if n == 0 {
		return ""
	}
	return "." + digits[:n]
}

// decodeNormal decodes JSON with exact numbers, then makes numbers
// comparable whatever their spelling: as the exact rational they denote.
func decodeNormal(t *testing.T, data []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return normalNumbers(v)
}

func normalNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		r, ok := new(big.Rat).SetString(string(x))
		if !ok {
			return "bad number " + string(x)
		}
		return r.RatString()
	case []any:
		for i := range x {
			x[i] = normalNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalNumbers(x[k])
		}
	}
	return v
}

// TestJSONStringMatchesEncodingJSON runs the escaper over every single
// byte and every rune boundary case, beyond what the fuzz seeds hold.
func TestJSONStringMatchesEncodingJSON(t *testing.T) {
	var inputs []string
	for c := range 256 {
		inputs = append(inputs, string([]byte{byte(c)}), "x"+string([]byte{byte(c)})+"y")
	}
	for _, r := range []rune{0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff, 0x2028, 0x2029} {
		inputs = append(inputs, string(r))
	}
	for _, s := range inputs {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		if got, want := appendString(nil, s), bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !bytes.Equal(got, want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestBase64IsStd(t *testing.T) {
	b := []byte{0xfb, 0xff, 0xfe}
	got, _ := AppendJSON(nil, Bytes(b))
	if want := `"` + base64.StdEncoding.EncodeToString(b) + `"`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestMayNeedEscape checks the eight-byte test against the byte table:
// a plain word must have eight plain bytes, and every byte that needs
// escaping, at every place, must be seen.
func TestMayNeedEscape(t *testing.T) {
	word := func(b [8]byte) uint64 {
		var x uint64
		for i := range b {
			x |= uint64(b[i]) << (8 * i)
		}
		return x
	}
	for c := range 256 {
		for pos := range 8 {
			b := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
			b[pos] = byte(c)
			plain := c < utf8.RuneSelf && jsonSafe[c]
			if got := mayNeedEscape(word(b)); got == plain {
				t.Errorf("mayNeedEscape(%q) = %v", b[:], got)
			}
		}
	}
	r := rand.New(rand.NewSource(1))
	for range 100000 {
		var b [8]byte
		plain := true
		for i := range b {
			b[i] = byte(r.Intn(256))
			if r.Intn(2) == 0 {
				b[i] = byte(0x20 + r.Intn(0x60))
			}
			plain = plain && b[i] < utf8.RuneSelf && jsonSafe[b[i]]
		}
		if mayNeedEscape(word(b)) == plain {
			t.Fatalf("mayNeedEscape(%q) = %v", b[:], !plain)
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	s := strings.Repeat("shop.public.customers ", 4)
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = appendString(buf[:0], s)
	}
}
