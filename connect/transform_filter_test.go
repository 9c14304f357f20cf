package connect

import (
	"errors"
	"fmt"
	"testing"
)

// TestTransformFilter runs filters over one message of every kind and
// checks which pass. "keep" and "drop" are the outcomes; an error shows
// as "error: ...".
func TestTransformFilter(t *testing.T) {
	const all = "keep"
	type outcomes map[string]string // message kind → outcome; absent: "keep"
	tests := []struct {
		name, src string
		want      outcomes
	}{
		{"ops", `[{type: filter, ops: [c, u]}]`, outcomes{
			"delete": "drop", "tombstone": "drop", "read": "drop", "truncate": "drop"}},
		{"ops with deletes keep tombstones", `[{type: filter, ops: [d]}]`, outcomes{
			"create": "drop", "update": "drop", "read": "drop", "truncate": "drop"}},
		{"ops r and t", `[{type: filter, ops: [r, t]}]`, outcomes{
			"create": "drop", "update": "drop", "delete": "drop", "tombstone": "drop"}},
		{"table of the schema", `[{type: filter, tables: [public.users]}]`, outcomes{}},
		{"table of the database", `[{type: filter, tables: [shop.users]}]`, outcomes{}},
		{"table in full", `[{type: filter, tables: [shop.public.users]}]`, outcomes{}},
		{"bare table name", `[{type: filter, tables: [users]}]`, outcomes{}},
		{"table glob", `[{type: filter, tables: ["public.us*"]}]`, outcomes{}},
		{"other tables", `[{type: filter, tables: [public.orders, "public.order_*", "other.*"]}]`, outcomes{
			"create": "drop", "update": "drop", "delete": "drop", "tombstone": "drop", "read": "drop", "truncate": "drop"}},
		{"glob does not cross the dot", `[{type: filter, tables: ["pub*"]}]`, outcomes{
			"create": "drop", "update": "drop", "delete": "drop", "tombstone": "drop", "read": "drop", "truncate": "drop"}},
		// The tombstone follows its delete: the expression sees the
		// delete's before image.
		{"expression on after", `[{type: filter, expression: 'op != "d" && op != "t" && after.amount > 100'}]`, outcomes{
			"update": "drop", "delete": "drop", "tombstone": "drop", "truncate": "drop"}},
		{"expression on before", `[{type: filter, expression: 'before?.email == "b@example.com"'}]`, outcomes{
			"create": "drop", "update": "drop", "read": "drop", "truncate": "drop"}},
		{"expression on table and source", `[{type: filter, expression: 'table == "users" && schema == "public" && db == "shop" && source.lsn == 12345 && source.txId == 771'}]`, outcomes{}},
		{"expression on topic", `[{type: filter, expression: 'topic matches "^shop\\.public\\."'}]`, outcomes{}},
		{"expression on decimals", `[{type: filter, expression: '(after?.amount ?? 0) == 99.99'}]`, outcomes{
			"create": "drop", "delete": "drop", "tombstone": "drop", "read": "drop", "truncate": "drop"}},
		{"all conditions", `[{type: filter, ops: [c, u, d], tables: [public.users], expression: 'op == "d" || after.amount > 100'}]`, outcomes{
			"update": "drop", "read": "drop", "truncate": "drop"}},
		// Deletes have no after: comparing its nil column fails.
		{"expression fails on a null", `[{type: filter, expression: 'after.amount > 100'}]`, outcomes{
			"update": "drop", "delete": "error: expression: invalid operation: <nil> > int (column 14)",
			"tombstone": "error: expression: invalid operation: <nil> > int (column 14)",
			"truncate":  "error: expression: invalid operation: <nil> > int (column 14)"}},
		{"expression not a boolean", `[{type: filter, expression: 'after?.email'}]`, outcomes{
			"create":    "error: expression gave string a@example.com, not a boolean",
			"update":    "error: expression gave string b@example.com, not a boolean",
			"read":      "error: expression gave string a@example.com, not a boolean",
			"delete":    "error: expression gave null, not a boolean; a null column can be given a default with ??, as in (after.flag ?? false)",
			"tombstone": "error: expression gave null, not a boolean; a null column can be given a default with ??, as in (after.flag ?? false)",
			"truncate":  "error: expression gave null, not a boolean; a null column can be given a default with ??, as in (after.flag ?? false)"}},
		{"expression with a runtime error", `[{type: filter, expression: 'int(after?.email ?? "1") > 0'}]`, outcomes{
			"create": `error: expression: invalid operation: int(a@example.com) (column 1)`,
			"update": `error: expression: invalid operation: int(b@example.com) (column 1)`,
			"read":   `error: expression: invalid operation: int(a@example.com) (column 1)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chain := tfChain(t, tc.src)
			for _, m := range tfMessages() {
				want := tc.want[m.name]
				if want == "" {
					want = all
				}
				out, err := chain.Apply(m.m)
				got := "keep"
				switch {
				case err != nil:
					var te *TransformError
					if !errors.As(err, &te) {
						t.Fatalf("%s: error %v is not a TransformError", m.name, err)
					}
					got = "error: " + te.Err.Error()
				case out == nil:
					got = "drop"
				case out != m.m:
					t.Errorf("%s: a filter returned a different message", m.name)
				}
				if got != want {
					t.Errorf("%s: got %s, want %s", m.name, got, want)
				}
			}
		})
	}
}

// TestTransformFilterUnwrapped filters rows after unwrap: after is the
// row, and ops still come from the event. A tombstone has no row: its
// after is nil.
func TestTransformFilterUnwrapped(t *testing.T) {
	chain := tfChain(t, `
- {type: unwrap, delete_handling: rewrite, drop_tombstones: false}
- {type: filter, expression: 'after == nil || after.__deleted == "true" || after.amount > 100'}`)
	got := map[string]string{}
	for _, m := range tfMessages() {
		out, err := chain.Apply(m.m)
		switch {
		case err != nil:
			got[m.name] = "error"
		case out == nil:
			got[m.name] = "drop"
		default:
			got[m.name] = "keep"
		}
	}
	want := map[string]string{"create": "keep", "update": "drop", "delete": "keep", "tombstone": "keep", "read": "keep", "truncate": "drop", "schema": "keep"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %s, want %s", k, got[k], w)
		}
	}
}

// TestTransformFilterTombstoneWithoutEvent: a tombstone that names no
// event is judged by ops alone.
func TestTransformFilterTombstoneWithoutEvent(t *testing.T) {
	ts := &Message{Topic: "x", Key: &Struct{Fields: []Field{{Name: "id", Value: Int64(1)}}}}
	for _, tc := range []struct {
		src  string
		keep bool
	}{
		{`[{type: filter, ops: [c]}]`, false},
		{`[{type: filter, ops: [d]}]`, true},
		{`[{type: filter, tables: [public.orders]}]`, true},
		{`[{type: filter, expression: 'false'}]`, true},
	} {
		out, err := tfChain(t, tc.src).Apply(ts)
		if err != nil || (out != nil) != tc.keep {
			t.Errorf("%s: got %v, %v; want kept %v", tc.src, out, err, tc.keep)
		}
	}
}

// TestTransformExprValues pins what an expression sees of each kind, as
// "Go type, value".
func TestTransformExprValues(t *testing.T) {
	tests := []struct {
		v    Value
		want string
	}{
		{Null(KindInt64), "<nil> <nil>"},
		{Bool(true), "bool true"},
		{Int32(-5), "int64 -5"},
		{Uint64(7), "int64 7"},
		{Uint64(1<<63 + 1), "float64 9.223372036854776e+18"},
		{Float64(1.5), "float64 1.5"},
		{Decimal("-12.3400"), "float64 -12.34"},
		{Decimal("NaN"), "float64 NaN"},
		{Decimal("-Infinity"), "float64 -Inf"},
		{Decimal("1e999"), "float64 +Inf"},
		{String("x"), "string x"},
		{Bytes([]byte{'a', 'b'}), "string ab"},
		{Value{Kind: KindDate, Int: 19723}, "string 2024-01-01"},
		{Value{Kind: KindDate, Int: -1}, "string 1969-12-31"},
		{Value{Kind: KindTime, Int: 3723_500000, Prec: 3}, "string 01:02:03.500"},
		{Value{Kind: KindTime, Int: 3723_000001}, "string 01:02:03.000001"},
		{Value{Kind: KindTime, Int: -(838*3600 + 59*60 + 59) * 1e6}, "string -838:59:59"},
		{Value{Kind: KindTimeTZ, Int: 3600e6, Offset: 2 * 3600}, "string 01:00:00+02:00"},
		{Value{Kind: KindTimeTZ, Int: 3600e6, Offset: -(5*3600 + 30*60)}, "string 01:00:00-05:30"},
		{Value{Kind: KindTimestamp, Int: 1704067200_123456, Prec: 6}, "string 2024-01-01T00:00:00.123456"},
		{Value{Kind: KindTimestamp, Int: -1, Prec: 6}, "string 1969-12-31T23:59:59.999999"},
		{TimestampTZ(1704067200_000000), "string 2024-01-01T00:00:00.000000Z"},
		{Value{Kind: KindTimestampTZ, Int: 1704067200_000000}, "string 2024-01-01T00:00:00Z"},
		{Value{Kind: KindBits, Bytes: []byte{0x05}, Int: 3}, "string 101"},
		{Value{Kind: KindGeometry, Bytes: []byte{1, 2}}, "string 0102"},
		{Value{Kind: KindJSON, Str: `{"a":1}`}, `string {"a":1}`},
		{Value{Kind: KindArray, List: []Value{Int64(1), Null(KindInt64)}}, "[]interface {} [1 <nil>]"},
		{StructValue(&Struct{Fields: []Field{{Name: "a", Value: Int64(1)}}}), "map[string]interface {} map[a:1]"},
	}
	for _, tc := range tests {
		got := exprValue(tc.v)
		if s := fmt.Sprintf("%T %v", got, got); s != tc.want {
			t.Errorf("exprValue(%#v) = %s, want %s", tc.v, s, tc.want)
		}
	}
}
