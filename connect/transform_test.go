package connect

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Messages are built here by hand, in Debezium's envelope shape, so that
// these tests depend on neither Envelope nor a converter.

var tfUsers = &Table{
	Database: "shop", Schema: "public", Name: "users",
	Columns: []Column{
		{Name: "id", Kind: KindInt64},
		{Name: "email", Kind: KindString, Optional: true},
		{Name: "password", Kind: KindString, Optional: true},
		{Name: "amount", Kind: KindDecimal, Optional: true},
	},
	Key: []int{0},
}

var tfOrders = &Table{
	Database: "shop", Schema: "public", Name: "orders",
	Columns: []Column{
		{Name: "id", Kind: KindInt64},
		{Name: "email", Kind: KindString, Optional: true},
		{Name: "amount", Kind: KindDecimal, Optional: true},
	},
	Key: []int{0},
}

func tfUserRow(id int64, email string, amount string) []Value {
	e := String(email)
	if email == "" {
		e = Null(KindString)
	}
	return []Value{Int64(id), e, String("hunter2"), Decimal(amount)}
}

// tfEvent is a change event of tfUsers: create, update, delete, read or
// truncate.
func tfEvent(op Op) *ChangeEvent {
	ev := &ChangeEvent{
		Op: op, Table: tfUsers, Topic: "shop.public.users", TsMs: 1700000000123,
		Source: SourceInfo{Connector: "postgresql", Name: "shop", Version: "1", TsMs: 1700000000000,
			Database: "shop", Schema: "public", Table: "users", TxID: "771",
			Extra: []Field{{Name: "lsn", Value: Int64(12345)}}},
		Transaction: &Transaction{ID: "771", TotalOrder: 2, DataCollectionOrder: 1},
	}
	switch op {
	case OpCreate, OpRead:
		ev.After = tfUserRow(1, "a@example.com", "150.50")
	case OpUpdate:
		ev.Before = tfUserRow(1, "a@example.com", "150.50")
		ev.After = tfUserRow(1, "b@example.com", "99.99")
	case OpDelete:
		ev.Before = tfUserRow(1, "b@example.com", "99.99")
	}
	return ev
}

// tfMessage builds ev's message as the runtime does: the key of the key
// columns, the envelope as the value. Like Envelope, it cuts every
// struct's fields from one array, so that a transform appending to a
// struct it did not make would show.
func tfMessage(ev *ChangeEvent) *Message {
	t := ev.Table
	all := make([]Field, 0, 64)
	take := func(fs ...Field) []Field {
		s := all[len(all) : len(all) : len(all)+len(fs)]
		s = append(s, fs...)
		all = all[:len(all)+len(fs)]
		return s
	}
	row := func(img []Value) Value {
		fs := make([]Field, len(t.Columns))
		for i, c := range t.Columns {
			v := Null(c.Kind)
			if img != nil {
				v = img[i]
			}
			fs[i] = Field{Name: c.Name, Value: v, Optional: c.Optional}
		}
		return Value{Kind: KindStruct, Struct: &Struct{Name: ev.Topic + ".Value", Fields: take(fs...)}, Null: img == nil}
	}
	var key *Struct
	if ev.Op != OpTruncate {
		img := ev.After
		if img == nil {
			img = ev.Before
		}
		key = &Struct{Name: ev.Topic + ".Key", Fields: take(Field{Name: "id", Value: img[0]})}
	}
	before, after := row(ev.Before), row(ev.After)
	src := &Struct{Name: "io.debezium.connector.postgresql.Source", Fields: take(
		Field{Name: "version", Value: String(ev.Source.Version)},
		Field{Name: "connector", Value: String(ev.Source.Connector)},
		Field{Name: "name", Value: String(ev.Source.Name)},
		Field{Name: "ts_ms", Value: Int64(ev.Source.TsMs)},
		Field{Name: "snapshot", Value: String("false"), Optional: true},
		Field{Name: "db", Value: String(ev.Source.Database)},
		Field{Name: "schema", Value: String(ev.Source.Schema)},
		Field{Name: "table", Value: String(ev.Source.Table)},
		Field{Name: "txId", Value: Int64(771), Optional: true},
		Field{Name: "lsn", Value: Int64(12345)},
	)}
	tx := &Struct{Name: "event.block", Fields: take(
		Field{Name: "id", Value: String(ev.Transaction.ID)},
		Field{Name: "total_order", Value: Int64(ev.Transaction.TotalOrder)},
		Field{Name: "data_collection_order", Value: Int64(ev.Transaction.DataCollectionOrder)},
	)}
	env := &Struct{Name: ev.Topic + ".Envelope", Fields: take(
		Field{Name: "before", Value: before, Optional: true},
		Field{Name: "after", Value: after, Optional: true},
		Field{Name: "source", Value: StructValue(src)},
		Field{Name: "op", Value: String(string(ev.Op))},
		Field{Name: "ts_ms", Value: Int64(ev.TsMs), Optional: true},
		Field{Name: "transaction", Value: StructValue(tx), Optional: true},
	)}
	return &Message{Topic: ev.Topic, Key: key, Value: env, Timestamp: ev.Source.TsMs, Event: ev}
}

// tfTombstone is the tombstone that follows a delete: same key, no value.
func tfTombstone(del *Message) *Message {
	return &Message{Topic: del.Topic, Key: del.Key, Event: del.Event}
}

// tfSchemaChange is a message a source builds itself, without an event.
func tfSchemaChange() *Message {
	return &Message{Topic: "shop", Key: &Struct{Name: "k", Fields: []Field{{Name: "databaseName", Value: String("shop")}}},
		Value: &Struct{Name: "io.debezium.connector.schema.Change", Fields: []Field{
			{Name: "ddl", Value: String("ALTER TABLE users ADD COLUMN password text")},
			{Name: "password", Value: String("not a column")},
		}}}
}

// tfMessages are one message of every kind, by name.
func tfMessages() []struct {
	name string
	m    *Message
} {
	del := tfMessage(tfEvent(OpDelete))
	return []struct {
		name string
		m    *Message
	}{
		{"create", tfMessage(tfEvent(OpCreate))},
		{"update", tfMessage(tfEvent(OpUpdate))},
		{"delete", del},
		{"tombstone", tfTombstone(del)},
		{"read", tfMessage(tfEvent(OpRead))},
		{"truncate", tfMessage(tfEvent(OpTruncate))},
		{"schema", tfSchemaChange()},
	}
}

// tfChain parses a transforms list written in YAML, failing the test on
// problems.
func tfChain(t testing.TB, src string) Chain {
	t.Helper()
	c, probs := ParseTransforms(tfNodes(t, src), "transforms")
	if len(probs) > 0 {
		var b strings.Builder
		for _, p := range probs {
			b.WriteString("\n" + p.String())
		}
		t.Fatalf("ParseTransforms(%s): problems:%s", src, b.String())
	}
	return c
}

// tfNodes parses a YAML list of transforms into its items.
func tfNodes(t testing.TB, src string) []*yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.SequenceNode {
		t.Fatalf("test YAML %q is not a list", src)
	}
	return doc.Content[0].Content
}

// tfFields renders a struct's fields as "name=value ..." for comparisons.
func tfFields(s *Struct) string {
	if s == nil {
		return "<nil>"
	}
	var b strings.Builder
	for i, f := range s.Fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.Name)
		b.WriteByte('=')
		v := f.Value
		switch {
		case v.Null:
			b.WriteString("null")
		case v.Kind == KindStruct:
			b.WriteString("{" + tfFields(v.Struct) + "}")
		default:
			b.WriteString(strings.ReplaceAll(v.GoString(), `"`, ""))
		}
	}
	return b.String()
}

// tfRow renders the row an envelope or an unwrapped value carries.
func tfRow(m *Message, image string) string {
	if m == nil {
		return "dropped"
	}
	if m.Value == nil {
		return "<nil>"
	}
	v, ok := m.Value.Get(image)
	if !ok {
		return "no " + image
	}
	if v.Null {
		return "null(" + tfFields(v.Struct) + ")"
	}
	return tfFields(v.Struct)
}

// tfDeepCopy copies a message and everything it points to, byte slices
// included, so that a change to any of it shows in a comparison.
func tfDeepCopy(m *Message) *Message {
	if m == nil {
		return nil
	}
	c := *m
	c.Key, c.Value = tfCopyStruct(m.Key), tfCopyStruct(m.Value)
	c.Headers = append([]Header(nil), m.Headers...)
	for i := range c.Headers {
		c.Headers[i].Value = bytes.Clone(c.Headers[i].Value)
	}
	if m.Event != nil {
		ev := *m.Event
		ev.Before = tfCopyValues(ev.Before)
		ev.After = tfCopyValues(ev.After)
		ev.Source.Extra = append([]Field(nil), ev.Source.Extra...)
		if ev.Table != nil {
			tbl := *ev.Table
			tbl.Columns = append([]Column(nil), tbl.Columns...)
			tbl.Key = append([]int(nil), tbl.Key...)
			ev.Table = &tbl
		}
		if ev.Transaction != nil {
			tx := *ev.Transaction
			ev.Transaction = &tx
		}
		c.Event = &ev
	}
	return &c
}

func tfCopyStruct(s *Struct) *Struct {
	if s == nil {
		return nil
	}
	c := &Struct{Name: s.Name, Fields: make([]Field, len(s.Fields))}
	for i, f := range s.Fields {
		c.Fields[i] = Field{Name: f.Name, Value: tfCopyValue(f.Value), Optional: f.Optional}
	}
	return c
}

func tfCopyValue(v Value) Value {
	v.Bytes = bytes.Clone(v.Bytes)
	v.List = tfCopyValues(v.List)
	v.Struct = tfCopyStruct(v.Struct)
	return v
}

func tfCopyValues(vs []Value) []Value {
	if vs == nil {
		return nil
	}
	out := make([]Value, len(vs))
	for i, v := range vs {
		out[i] = tfCopyValue(v)
	}
	return out
}

// TestTransformSharing applies every transform to every kind of message
// and checks that the input message, its structs and its event are
// unchanged afterwards.
func TestTransformSharing(t *testing.T) {
	configs := []string{
		`[{type: filter, ops: [c, u, d], tables: [public.users], expression: 'op == "d" || after.amount > 100'}]`,
		`[{type: route, regex: '^shop\.public\.(.*)$', replacement: 'pg.$1'}]`,
		`[{type: drop, columns: [password, "public.users.amount"]}]`,
		`[{type: mask, columns: [email, id], hash: sha256, key: true}]`,
		`[{type: mask, columns: [email, password], with: "xxx"}]`,
		`[{type: unwrap}]`,
		`[{type: unwrap, delete_handling: rewrite, drop_tombstones: false, add_fields: [op, table, db, schema, lsn, source.ts_ms, ts_ms, transaction.id]}]`,
		`[{type: unwrap, delete_handling: none}]`,
		`[{type: insert, static: {region: eu}, fields: {topic: __topic, source.ts_ms: __ts, op: __op}}]`,
		`[{type: unwrap, delete_handling: rewrite}, {type: mask, columns: [email], key: true, hash: sha256}, {type: drop, columns: [password]}, {type: insert, static: {op: x}}]`,
	}
	for _, src := range configs {
		chain := tfChain(t, src)
		for _, tc := range tfMessages() {
			want := tfDeepCopy(tc.m)
			if _, err := chain.Apply(tc.m); err != nil {
				t.Fatalf("%s on %s: %v", src, tc.name, err)
			}
			if !reflect.DeepEqual(tc.m, want) {
				t.Errorf("%s changed its input %s message:\n got  %s\n     key %s\n want %s\n     key %s",
					src, tc.name, tfFields(tc.m.Value), tfFields(tc.m.Key), tfFields(want.Value), tfFields(want.Key))
			}
		}
	}
}

// TestTransformSharingCheckFails makes sure TestTransformSharing's check
// sees a change deep inside a message.
func TestTransformSharingCheckFails(t *testing.T) {
	m := tfMessage(tfEvent(OpUpdate))
	want := tfDeepCopy(m)
	after, _ := m.Value.Get("after")
	after.Struct.Fields[1].Value.Str = "changed"
	if reflect.DeepEqual(m, want) {
		t.Fatal("a changed after image went unnoticed")
	}
}

// countTransform counts the messages it sees and passes them on.
type countTransform struct{ n int }

func (c *countTransform) Name() string { return "count" }
func (c *countTransform) Apply(m *Message) (*Message, error) {
	c.n++
	return m, nil
}

type failTransform struct{}

func (failTransform) Name() string                       { return "fail" }
func (failTransform) Apply(m *Message) (*Message, error) { return nil, errors.New("boom") }

func TestTransformChain(t *testing.T) {
	// Order matters: a route before a filter on the topic changes what
	// the filter sees.
	routeThenFilter := tfChain(t, `
- {type: route, regex: '^shop\.public\.(.*)$', replacement: 'pg.$1'}
- {type: filter, expression: 'topic startsWith "pg."'}`)
	filterThenRoute := tfChain(t, `
- {type: filter, expression: 'topic startsWith "pg."'}
- {type: route, regex: '^shop\.public\.(.*)$', replacement: 'pg.$1'}`)
	m := tfMessage(tfEvent(OpCreate))
	if out, err := routeThenFilter.Apply(m); err != nil || out == nil || out.Topic != "pg.users" {
		t.Errorf("route, filter: got %v, %v; want the message on pg.users", out, err)
	}
	if out, err := filterThenRoute.Apply(m); err != nil || out != nil {
		t.Errorf("filter, route: got %v, %v; want the message dropped", out, err)
	}

	// Insert before unwrap adds to the envelope, and unwrap then leaves
	// it behind; insert after unwrap adds to the row.
	insertThenUnwrap := tfChain(t, `[{type: insert, static: {region: eu}}, {type: unwrap, add_fields: []}]`)
	unwrapThenInsert := tfChain(t, `[{type: unwrap, add_fields: []}, {type: insert, static: {region: eu}}]`)
	for _, tc := range []struct {
		chain Chain
		want  string
	}{
		{insertThenUnwrap, "id=int64(1) email=string(a@example.com) password=string(hunter2) amount=decimal(150.50)"},
		{unwrapThenInsert, "id=int64(1) email=string(a@example.com) password=string(hunter2) amount=decimal(150.50) region=string(eu)"},
	} {
		out, err := tc.chain.Apply(m)
		if err != nil || out == nil {
			t.Fatalf("got %v, %v", out, err)
		}
		if got := tfFields(out.Value); got != tc.want {
			t.Errorf("got  %s\nwant %s", got, tc.want)
		}
	}

	// A dropped message reaches no later transform; an error names the
	// transform that failed.
	c := &countTransform{}
	chain := append(tfChain(t, `[{type: filter, ops: [c]}]`), c)
	for _, tc := range tfMessages() {
		if _, err := chain.Apply(tc.m); err != nil {
			t.Fatal(err)
		}
	}
	if c.n != 2 { // the create, and the schema change (not an event)
		t.Errorf("the transform after the filter saw %d messages, want 2", c.n)
	}
	_, err := Chain{c, failTransform{}}.Apply(m)
	var te *TransformError
	if !errors.As(err, &te) || te.Index != 1 || te.Type != "fail" || te.Topic != "shop.public.users" {
		t.Fatalf("error %v: want a TransformError of transforms[1] (fail)", err)
	}
	if want := `transforms[1] (fail) on a message of topic "shop.public.users": boom`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	// An empty chain passes messages unchanged.
	if out, err := Chain(nil).Apply(m); out != m || err != nil {
		t.Errorf("empty chain: got %v, %v", out, err)
	}
}

func ExampleParseTransforms() {
	var doc yaml.Node
	_ = yaml.Unmarshal([]byte(`
- type: unwrap
- type: mask
  columns: [email]
`), &doc)
	chain, problems := ParseTransforms(doc.Content[0].Content, "transforms")
	fmt.Println(len(chain), len(problems))
	ev := tfEvent(OpCreate)
	out, _ := chain.Apply(tfMessage(ev))
	fmt.Println(tfFields(out.Value))
	// Output:
	// 2 0
	// id=int64(1) email=string(****) password=string(hunter2) amount=decimal(150.50) __op=string(c) __table=string(users) __source_ts_ms=int64(1700000000000)
}

// TestTransformConcurrent applies one chain to shared messages from
// several goroutines (run with -race).
func TestTransformConcurrent(t *testing.T) {
	chain := tfChain(t, `
- {type: filter, expression: 'op in ["d", "t"] || after.amount > 1'}
- {type: route, regex: '^shop\.public\.(.*)$', replacement: 'pg.$1'}
- {type: mask, columns: [email, id], hash: sha256, key: true}
- {type: drop, columns: [public.users.password]}
- {type: unwrap, delete_handling: rewrite, drop_tombstones: false}
- {type: insert, static: {region: eu}, fields: {topic: __topic}}`)
	msgs := tfMessages()
	want := make([]string, len(msgs))
	for i, m := range msgs {
		out, err := chain.Apply(m.m)
		if err != nil {
			t.Fatal(err)
		}
		if out != nil {
			want[i] = out.Topic + " " + tfFields(out.Key) + " " + tfFields(out.Value)
		}
	}
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			for n := 0; n < 200; n++ {
				i := n % len(msgs)
				out, err := chain.Apply(msgs[i].m)
				if err != nil {
					done <- err
					return
				}
				got := ""
				if out != nil {
					got = out.Topic + " " + tfFields(out.Key) + " " + tfFields(out.Value)
				}
				if got != want[i] {
					done <- fmt.Errorf("%s: got %s, want %s", msgs[i].name, got, want[i])
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
