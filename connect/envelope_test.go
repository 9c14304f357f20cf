package connect

import (
	"reflect"
	"strings"
	"testing"
)

// customers is a Postgres-like table whose key (region, id) is not in
// column order.
var customers = &Table{
	Database: "shop", Schema: "public", Name: "customers",
	Columns: []Column{
		{Name: "id", Type: "integer", Kind: KindInt32},
		{Name: "region", Type: "text", Kind: KindString},
		{Name: "name", Type: "text", Kind: KindString, Optional: true},
		{Name: "balance", Type: "numeric(10,2)", Kind: KindDecimal, Optional: true, Precision: 10, Scale: 2},
		{Name: "tags", Type: "text[]", Kind: KindArray, Optional: true, Elem: KindString},
		{Name: "doc", Type: "jsonb", Kind: KindJSON, Optional: true},
		{Name: "status", Type: "status", Kind: KindEnum, Enum: []string{"active", "closed"}},
		{Name: "created", Type: "timestamp with time zone", Kind: KindTimestampTZ, Prec: 6},
		{Name: "birthday", Type: "date", Kind: KindDate, Optional: true},
		{Name: "avatar", Type: "bytea", Kind: KindBytes, Optional: true},
	},
	Key: []int{1, 0},
}

func customerRow(id int32, region, name string, balance string) []Value {
	return []Value{
		Int32(id),
		String(region),
		String(name),
		Decimal(balance),
		{Kind: KindArray, List: []Value{String("vip"), String("<b>&co</b>")}},
		JSON(`{"a": [1, 2.50, null], "b": "x"}`),
		{Kind: KindEnum, Str: "active"},
		TimestampTZ(1714564800123456), // 2024-05-01T12:00:00.123456Z
		{Kind: KindDate, Int: 7000},   // 1989-03-02
		Null(KindBytes),
	}
}

func pgSource(snapshot string) SourceInfo {
	return SourceInfo{
		Connector: "postgresql", Name: "shop", Version: "0.1.0", TsMs: 1714564800000,
		Snapshot: snapshot, Database: "shop", Schema: "public", Table: "customers", TxID: "771",
		Extra: []Field{
			{Name: "lsn", Value: Int64(24023128), Optional: true},
			{Name: "xmin", Value: Null(KindInt64), Optional: true},
		},
	}
}

func customerEvent(op Op) ChangeEvent {
	ev := ChangeEvent{
		Op: op, Table: customers, Topic: "shop.public.customers",
		Source: pgSource(""), TsMs: 1714564800500,
		Transaction: &Transaction{ID: "771:24023128", TotalOrder: 2, DataCollectionOrder: 1},
	}
	switch op {
	case OpCreate:
		ev.After = customerRow(1, "eu", "Ann", "12.50")
	case OpUpdate:
		ev.Before = customerRow(1, "eu", "Ann", "12.50")
		ev.After = customerRow(1, "eu", "Ann Lee", "-0.01")
	case OpDelete:
		ev.Before = customerRow(1, "eu", "Ann Lee", "-0.01")
	case OpRead:
		ev.After = customerRow(2, "us", "Bob", "0.00")
		ev.Source.Snapshot = "last"
		ev.Transaction = nil
	case OpTruncate:
		ev.Transaction = nil
	}
	return ev
}

func fieldNames(s *Struct) string {
	names := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		names[i] = f.Name
	}
	return strings.Join(names, ",")
}

func TestEnvelopeCreate(t *testing.T) {
	ev := customerEvent(OpCreate)
	key, value := Envelope(&ev)

	if key.Name != "shop.public.customers.Key" || fieldNames(key) != "region,id" {
		t.Fatalf("key = %s %s, want shop.public.customers.Key region,id", key.Name, fieldNames(key))
	}
	if v, _ := key.Get("region"); v.Str != "eu" {
		t.Errorf("key region = %#v", v)
	}
	if value.Name != "shop.public.customers.Envelope" || fieldNames(value) != "before,after,source,op,ts_ms,transaction" {
		t.Fatalf("value = %s %s", value.Name, fieldNames(value))
	}
	before, _ := value.Get("before")
	after, _ := value.Get("after")
	if !before.Null || before.Kind != KindStruct {
		t.Errorf("before = %#v, want a null struct", before)
	}
	// A null image still describes its columns.
	if before.Struct == nil || before.Struct.Name != "shop.public.customers.Value" || len(before.Struct.Fields) != len(customers.Columns) {
		t.Fatalf("before's schema struct = %+v", before.Struct)
	}
	for i, f := range before.Struct.Fields {
		c := customers.Columns[i]
		if f.Name != c.Name || !f.Value.Null || f.Value.Kind != c.Kind || f.Optional != c.Optional {
			t.Errorf("before field %d = %+v, want a null %s %q optional=%v", i, f, c.Kind, c.Name, c.Optional)
		}
	}
	if after.Null || after.Struct.Name != "shop.public.customers.Value" {
		t.Fatalf("after = %#v", after)
	}
	for i, f := range after.Struct.Fields {
		c := customers.Columns[i]
		if f.Name != c.Name || f.Optional != c.Optional || !sameValue(f.Value, ev.After[i]) {
			t.Errorf("after field %d = %+v, want %q = %#v optional=%v", i, f, c.Name, ev.After[i], c.Optional)
		}
	}
	src, _ := value.Get("source")
	if src.Struct.Name != "io.debezium.connector.postgresql.Source" ||
		fieldNames(src.Struct) != "version,connector,name,ts_ms,snapshot,db,schema,table,txId,lsn,xmin" {
		t.Errorf("source = %s %s", src.Struct.Name, fieldNames(src.Struct))
	}
	if v, _ := src.Struct.Get("txId"); v.Kind != KindInt64 || v.Int != 771 {
		t.Errorf("txId = %#v, want int64 771", v)
	}
	if v, _ := src.Struct.Get("snapshot"); v.Str != "false" {
		t.Errorf("snapshot = %#v, want \"false\" when unset", v)
	}
	if v, _ := value.Get("op"); v.Kind != KindString || v.Str != "c" {
		t.Errorf("op = %#v", v)
	}
	if v, _ := value.Get("ts_ms"); v.Kind != KindInt64 || v.Int != 1714564800500 {
		t.Errorf("ts_ms = %#v", v)
	}
	tx, _ := value.Get("transaction")
	if tx.Null || fieldNames(tx.Struct) != "id,total_order,data_collection_order" {
		t.Fatalf("transaction = %#v", tx)
	}
	if v, _ := tx.Struct.Get("total_order"); v.Int != 2 {
		t.Errorf("total_order = %#v", v)
	}
}

func TestEnvelopeDeleteKeyFromBefore(t *testing.T) {
	ev := customerEvent(OpDelete)
	key, value := Envelope(&ev)
	if key == nil || fieldNames(key) != "region,id" {
		t.Fatalf("key = %+v", key)
	}
	if v, _ := key.Get("id"); v.Int != 1 {
		t.Errorf("key id = %#v, want 1 from the before image", v)
	}
	if after, _ := value.Get("after"); !after.Null {
		t.Errorf("after = %#v, want null", after)
	}
	if before, _ := value.Get("before"); before.Null {
		t.Errorf("before is null")
	}
}

func TestEnvelopeTruncate(t *testing.T) {
	ev := customerEvent(OpTruncate)
	key, value := Envelope(&ev)
	if key != nil {
		t.Errorf("truncate key = %+v, want nil", key)
	}
	for _, name := range []string{"before", "after", "transaction"} {
		if v, _ := value.Get(name); !v.Null || v.Struct == nil {
			t.Errorf("truncate %s = %#v, want null with its schema struct", name, v)
		}
	}
	if v, _ := value.Get("op"); v.Str != "t" {
		t.Errorf("op = %#v", v)
	}
}

func TestEnvelopeNoKeyAndSparseSource(t *testing.T) {
	tbl := &Table{Database: "shop", Name: "log", Columns: []Column{
		{Name: "msg", Kind: KindString, Optional: true},
		{Name: "at", Kind: KindTimestamp, Optional: true},
	}}
	ev := ChangeEvent{
		Op: OpCreate, Table: tbl, Topic: "my.shop.log",
		// A null without a kind, and a missing last column.
		After: []Value{{Null: true}},
		Source: SourceInfo{Connector: "mysql", Name: "my", Database: "shop", Table: "log", TxID: "abc",
			Extra: []Field{{Name: "file", Value: String("binlog.000003")}}},
	}
	key, value := Envelope(&ev)
	if key != nil {
		t.Errorf("key = %+v, want nil for a table without a key", key)
	}
	after, _ := value.Get("after")
	for i, want := range []Kind{KindString, KindTimestamp} {
		if f := after.Struct.Fields[i]; !f.Value.Null || f.Value.Kind != want {
			t.Errorf("after.%s = %#v, want null %s", f.Name, f.Value, want)
		}
	}
	src, _ := value.Get("source")
	if src.Struct.Name != "io.debezium.connector.mysql.Source" || fieldNames(src.Struct) != "version,connector,name,ts_ms,snapshot,db,table,txId,file" {
		t.Errorf("source = %s %s", src.Struct.Name, fieldNames(src.Struct))
	}
	if v, _ := src.Struct.Get("txId"); v.Kind != KindString || v.Str != "abc" {
		t.Errorf("txId = %#v, want the string abc", v)
	}
	if tx, _ := value.Get("transaction"); !tx.Null {
		t.Errorf("transaction = %#v, want null", tx)
	}
}

// TestEnvelopeIndependent checks that the structs Envelope returns share
// nothing a transform could change by mistake.
func TestEnvelopeIndependent(t *testing.T) {
	ev := customerEvent(OpUpdate)
	key, value := Envelope(&ev)
	key.Set("extra", Int64(1), false)
	before, _ := value.Get("before")
	before.Struct.Set("extra", Int64(2), false)
	after, _ := value.Get("after")
	if v, _ := before.Struct.Get("extra"); v.Int != 2 {
		t.Errorf("before.extra = %#v", v)
	}
	if _, ok := after.Struct.Get("extra"); ok {
		t.Errorf("appending to before changed after: %s", fieldNames(after.Struct))
	}
	src, _ := value.Get("source")
	if _, ok := src.Struct.Get("extra"); ok {
		t.Errorf("appending to key or before changed source")
	}
}

func TestSplitKeyChange(t *testing.T) {
	plain := customerEvent(OpUpdate)
	if got := SplitKeyChange(&plain); len(got) != 1 || !reflect.DeepEqual(got[0], plain) {
		t.Errorf("update without a key change: got %d events, want the event itself", len(got))
	}
	for _, op := range []Op{OpCreate, OpDelete, OpRead, OpTruncate} {
		ev := customerEvent(op)
		if got := SplitKeyChange(&ev); len(got) != 1 || got[0].Op != op {
			t.Errorf("%s: got %d events", op, len(got))
		}
	}

	// A key column changes: region "eu" → "us".
	moved := customerEvent(OpUpdate)
	moved.After = customerRow(1, "us", "Ann Lee", "-0.01")
	got := SplitKeyChange(&moved)
	if len(got) != 2 {
		t.Fatalf("key change: got %d events, want delete + create", len(got))
	}
	del, cre := got[0], got[1]
	if del.Op != OpDelete || del.After != nil || !reflect.DeepEqual(del.Before, moved.Before) {
		t.Errorf("first event = %s before=%v after=%v, want a delete of the old row", del.Op, del.Before, del.After)
	}
	if cre.Op != OpCreate || cre.Before != nil || !reflect.DeepEqual(cre.After, moved.After) {
		t.Errorf("second event = %s before=%v after=%v, want a create of the new row", cre.Op, cre.Before, cre.After)
	}
	if del.Source.TxID != moved.Source.TxID || cre.Transaction != moved.Transaction || del.Topic != moved.Topic {
		t.Errorf("split events lost the source, transaction or topic")
	}
	if moved.Op != OpUpdate || moved.Before == nil || moved.After == nil {
		t.Errorf("SplitKeyChange changed its argument")
	}
	dk, _ := Envelope(&del)
	ck, _ := Envelope(&cre)
	if v, _ := dk.Get("region"); v.Str != "eu" {
		t.Errorf("delete's key region = %q, want the old key eu", v.Str)
	}
	if v, _ := ck.Get("region"); v.Str != "us" {
		t.Errorf("create's key region = %q, want the new key us", v.Str)
	}

	// A key value that becomes null, and one that differs only in bits.
	for name, change := range map[string]func(r []Value){
		"to null":    func(r []Value) { r[0] = Null(KindInt32) },
		"float bits": func(r []Value) { r[0] = Value{Kind: KindFloat64, Float: 0} },
	} {
		ev := customerEvent(OpUpdate)
		ev.Before[0] = Value{Kind: KindFloat64, Float: negZero()}
		change(ev.After)
		if got := SplitKeyChange(&ev); len(got) != 2 {
			t.Errorf("%s: got %d events, want 2", name, len(got))
		}
	}

	// A change outside the key is no key change; neither is a table
	// without a key.
	ev := customerEvent(OpUpdate)
	ev.After[2] = String("someone else")
	if got := SplitKeyChange(&ev); len(got) != 1 {
		t.Errorf("non-key change split into %d events", len(got))
	}
	ev.Table = &Table{Columns: customers.Columns}
	ev.After[1] = String("us")
	if got := SplitKeyChange(&ev); len(got) != 1 {
		t.Errorf("keyless table's update split into %d events", len(got))
	}
}

func negZero() float64 {
	z := 0.0
	return -z
}

func TestSameValue(t *testing.T) {
	nested := func(s string) Value {
		return StructValue(&Struct{Fields: []Field{{Name: "a", Value: Value{Kind: KindArray, List: []Value{String(s)}}}}})
	}
	for _, c := range []struct {
		a, b Value
		same bool
	}{
		{Int64(1), Int64(1), true},
		{Int64(1), Int32(1), false},
		{Null(KindString), Null(KindString), true},
		{Null(KindString), String(""), false},
		{Bytes([]byte{1}), Bytes([]byte{1}), true},
		{Bytes([]byte{1}), Bytes([]byte{2}), false},
		{Uint64(1 << 63), Uint64(1<<63 + 1), false},
		{Value{Kind: KindTimeTZ, Int: 1, Offset: 3600}, Value{Kind: KindTimeTZ, Int: 1, Offset: 0}, false},
		{nested("x"), nested("x"), true},
		{nested("x"), nested("y"), false},
	} {
		if got := sameValue(c.a, c.b); got != c.same {
			t.Errorf("sameValue(%#v, %#v) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}

// BenchmarkEnvelope builds the envelope of a small (eight-column) create.
func BenchmarkEnvelope(b *testing.B) {
	ev := benchEvent()
	b.ReportAllocs()
	for b.Loop() {
		Envelope(&ev)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
