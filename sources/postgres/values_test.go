package postgres

import (
	"encoding/json"
	"math"
	"runtime"
	"testing"

	"github.com/sluice-cdc/sluice/connect"
)

func TestHstoreJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, `{}`},
		{`   `, `{}`},
		{`"a"=>"1"`, `{"a":"1"}`},
		{`"a"=>"1", "b"=>NULL`, `{"a":"1","b":null}`},
		{`"a"=>"NULL"`, `{"a":"NULL"}`},
		{`"k"=>null`, `{"k":null}`},
		{`a=>b,c=>d`, `{"a":"b","c":"d"}`},
		{`"q\"uote"=>"back\\slash"`, `{"q\"uote":"back\\slash"}`},
		{`"=>"=>", "`, `{"=>":", "}`},
		{`"😀"=>""`, `{"😀":""}`},
		{`"nl"=>"a
b"`, `{"nl":"a\nb"}`},
	} {
		got, err := hstoreJSON(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("hstoreJSON(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`"a"`, `"a"=>`, `"a"=>"b" "c"=>"d"`, `"a=>"b"`, `NULL=>"x"`, `"a"=>"b",`, `=>"b"`} {
		if got, err := hstoreJSON(bad); err == nil {
			t.Errorf("hstoreJSON(%q) = %s, want an error", bad, got)
		}
	}
}

func TestRecordJSON(t *testing.T) {
	S := connect.KindString
	p := &plan{
		fields: []connect.Column{{Name: "s", Kind: S}, {Name: "n", Kind: connect.KindInt32}, {Name: "l", Kind: connect.KindArray, Elem: S}, {Name: "r", Kind: connect.KindJSON}},
		fplans: []*plan{nil, nil, nil, {fields: []connect.Column{{Name: "x", Kind: S}, {Name: "y", Kind: S}}, fplans: []*plan{nil, nil}}},
	}
	for _, tc := range []struct{ in, want string }{
		{`(,,,)`, `{"s":null,"n":null,"l":null,"r":null}`},
		{`("",1,{},"(,)")`, `{"s":"","n":1,"l":[],"r":{"x":null,"y":null}}`},
		{`(a b,-2,"{a,""b c""}","(""x,)"",\\\\)")`, `{"s":"a b","n":-2,"l":["a","b c"],"r":{"x":"x,)","y":"\\"}}`},
		{`("a""b\\c",0,{NULL},"("""","""")")`, `{"s":"a\"b\\c","n":0,"l":[null],"r":{"x":"","y":""}}`},
		{`(a,1,{},"(1,2)",extra)`, `{"s":"a","n":1,"l":[],"r":{"x":"1","y":"2"},"f5":"extra"}`},
		{`(a)`, `{"s":"a"}`},
		{`(a,x,,)`, `{"s":"a","n":"x","l":null,"r":null}`},
	} {
		got, err := recordJSON(p, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("recordJSON(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	if got, err := recordJSON(&plan{}, "()"); err != nil || got != "{}" {
		t.Errorf("recordJSON of no attributes = %s, %v", got, err)
	}
	for _, bad := range []string{``, `(`, `a,b`, `("a,1,,)`, `(a,1,,)x`} {
		if got, err := recordJSON(p, bad); err == nil {
			t.Errorf("recordJSON(%q) = %s, want an error", bad, got)
		}
	}
}

func TestParseArrayDelimiter(t *testing.T) {
	elem := connect.Column{Kind: connect.KindString}
	v, err := parseArray(&elem, nil, ';', `{(1,1),(0,0);NULL;"(3,3),(2,2)"}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []connect.Value{connect.String("(1,1),(0,0)"), connect.Null(connect.KindString), connect.String("(3,3),(2,2)")}
	if len(v.List) != len(want) {
		t.Fatalf("got %v, want %v", v.List, want)
	}
	for i := range want {
		if v.List[i].Null != want[i].Null || v.List[i].Str != want[i].Str {
			t.Errorf("element %d: %#v, want %#v", i, v.List[i], want[i])
		}
	}
}

func TestDatesAndTimes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"1970-01-01", 0},
		{"1969-12-31", -1},
		{"2000-03-01", 11017},
		{"0001-01-01 BC", -719528}, // year 0
		{"0001-01-01", -719528 + 366},
		{"infinity", math.MaxInt32},
		{"-infinity", math.MinInt32},
	} {
		if got, err := parseDate(tc.in); err != nil || got != tc.want {
			t.Errorf("parseDate(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "2024-1-01", "24-01-01", "2024-13-01", "2024-01-00", "0000-01-01 BC", "2024-01-01x", "2024-01-01 AD"} {
		if got, err := parseDate(bad); err == nil {
			t.Errorf("parseDate(%q) = %d, want an error", bad, got)
		}
	}
	for _, tc := range []struct {
		in   string
		tz   bool
		want int64
	}{
		{"1970-01-01 00:00:00", false, 0},
		{"1970-01-01 00:00:00.5", false, 500000},
		{"1970-01-01 00:00:00+01", true, -3600e6},
		{"1970-01-01 05:30:00+05:30", true, 0},
		{"1969-12-31 23:59:59.999999-00:00:01", true, 999999},
		{"infinity", true, math.MaxInt64},
		{"-infinity", false, math.MinInt64},
	} {
		if got, err := parseTimestamp(tc.in, tc.tz); err != nil || got != tc.want {
			t.Errorf("parseTimestamp(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"1970-01-01", "1970-01-01T00:00:00", "1970-01-01 00:00", "1970-01-01 00:00:00+1", "294276-12-31 23:59:59", "1970-01-01 00:00:00.1234567"} {
		if got, err := parseTimestamp(bad, true); err == nil {
			t.Errorf("parseTimestamp(%q) = %d, want an error", bad, got)
		}
	}
	for _, bad := range []string{"24:00:01", "12:60:00", "1:00:00", "12:00:00.", "12:00:00,5"} {
		if got, err := timeOfDay(bad); err == nil {
			t.Errorf("timeOfDay(%q) = %d, want an error", bad, got)
		}
	}
}

// TestPlanRegistry checks that a column's plan is found by the column's
// address, and forgotten once its table is collected.
func TestPlanRegistry(t *testing.T) {
	p := &plan{hstore: true}
	tbl := &connect.Table{Columns: []connect.Column{{Kind: connect.KindJSON}, {Kind: connect.KindJSON}}}
	setPlans(tbl, []*plan{nil, p})
	if planOf(&tbl.Columns[0]) != nil || planOf(&tbl.Columns[1]) != p {
		t.Fatal("plans not found by column")
	}
	copied := tbl.Columns[1]
	if planOf(&copied) != nil {
		t.Error("a copy of the column has the plan")
	}
	count := func() int {
		plans.mu.RLock()
		defer plans.mu.RUnlock()
		return len(plans.m)
	}
	before := count()
	for range 100 {
		tt := &connect.Table{Columns: []connect.Column{{Kind: connect.KindJSON}}}
		setPlans(tt, []*plan{p})
	}
	for i := 0; i < 50 && count() > before; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if n := count(); n > before {
		t.Errorf("%d plans of collected tables remain", n-before)
	}
	runtime.KeepAlive(tbl)
}

// FuzzDecode feeds text forms to the decoders of the kinds and plans that
// parse structure: none may panic, and what a KindJSON plan returns is
// valid JSON.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`"a"=>"1", "b"=>NULL`, `(1,"a""b",,"{x,y}")`, `{(1,1),(0,0);(2,2),(1,1)}`, `{{1,2},{3,NULL}}`,
		"2024-02-29 10:00:00.25+05:30 BC", "0044-03-15 BC", "24:00:00", `{"(1,\"a b\")",NULL}`, "$1,234.56"} {
		f.Add(s)
	}
	rec := &plan{fields: []connect.Column{{Name: "n", Kind: connect.KindInt32}, {Name: "s", Kind: connect.KindString}, {Name: "l", Kind: connect.KindArray, Elem: connect.KindString}},
		fplans: []*plan{nil, nil, nil}}
	cases := []struct {
		col connect.Column
		p   *plan
	}{
		{connect.Column{Kind: connect.KindJSON}, &plan{hstore: true}},
		{connect.Column{Kind: connect.KindJSON}, rec},
		{connect.Column{Kind: connect.KindArray, Elem: connect.KindString}, &plan{delim: ';'}},
		{connect.Column{Kind: connect.KindArray, Elem: connect.KindJSON}, &plan{elem: rec}},
		{connect.Column{Kind: connect.KindArray, Elem: connect.KindInt32}, nil},
		{connect.Column{Kind: connect.KindDate}, nil},
		{connect.Column{Kind: connect.KindTimestampTZ}, nil},
		{connect.Column{Kind: connect.KindTimeTZ}, nil},
		{connect.Column{Kind: connect.KindDecimal}, nil},
		{connect.Column{Kind: connect.KindBits}, nil},
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range cases {
			v, err := decode(&c.col, c.p, s)
			if err == nil && c.col.Kind == connect.KindJSON && !json.Valid([]byte(v.Str)) {
				t.Errorf("decode(%q) as %s = %s, not JSON", s, c.col.Kind, v.Str)
			}
		}
	})
}

// BenchmarkValue decodes a row of common types, as the snapshot and the
// stream do for every row.
func BenchmarkValue(b *testing.B) {
	row := []struct {
		col  connect.Column
		text string
	}{
		{connect.Column{Kind: connect.KindInt64}, "1234567890"},
		{connect.Column{Kind: connect.KindString}, "some text of a row"},
		{connect.Column{Kind: connect.KindDecimal}, "12345.6789"},
		{connect.Column{Kind: connect.KindTimestampTZ, Prec: 6}, "2024-02-29 10:00:00.123456+00"},
		{connect.Column{Kind: connect.KindDate}, "2024-02-29"},
		{connect.Column{Kind: connect.KindBool}, "t"},
		{connect.Column{Kind: connect.KindJSON}, `{"a": [1, 2]}`},
		{connect.Column{Kind: connect.KindArray, Elem: connect.KindInt32}, "{1,2,3}"},
	}
	texts := make([][]byte, len(row))
	bytes := 0
	for i := range row {
		texts[i] = []byte(row[i].text)
		bytes += len(texts[i])
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range row {
			if _, err := value(&row[i].col, texts[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.N*bytes)/b.Elapsed().Seconds()/1e6, "MB/s")
}
