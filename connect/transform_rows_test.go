package connect

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestTransformRoute(t *testing.T) {
	tests := []struct {
		regex, replacement, topic string
		want                      string // new topic, or "error: ..."
	}{
		{`^shop\.public\.(.*)$`, `pg.$1`, "shop.public.users", "pg.users"},
		{`^shop\.public\.(.*)$`, `pg.$1`, "shop.other.users", "shop.other.users"},
		{`^shop\.public\.(.*)$`, `pg.${1}_v2`, "shop.public.users", "pg.users_v2"},
		{`^(?P<prefix>[^.]+)\.(?P<rest>.*)$`, `${rest}.${prefix}`, "shop.public.users", "public.users.shop"},
		// Not anchored: the first match is replaced, the rest kept.
		{`public`, `pg`, "shop.public.users", "shop.pg.users"},
		{`\.`, `_`, "shop.public.users", "shop_public.users"},
		{`^.*$`, `all`, "shop.public.users", "all"},
		{`^(.*)$`, `$1`, "shop.public.users", "shop.public.users"},
		{`^.*$`, ``, "shop.public.users", "error: route \"shop.public.users\" → \"\": the new topic name is empty"},
		{`^(.*)$`, `$$1`, "shop.public.users", "error: route \"shop.public.users\" → \"$1\": the new topic name has '$'; topic names hold only letters, digits, '.', '_' and '-'"},
	}
	for _, tc := range tests {
		src := "[{type: route, regex: '" + tc.regex + "', replacement: '" + tc.replacement + "'}]"
		chain := tfChain(t, src)
		for _, m := range tfMessages() {
			m.m.Topic = tc.topic
			out, err := chain.Apply(m.m)
			got := ""
			switch {
			case err != nil:
				var te *TransformError
				errors.As(err, &te)
				got = "error: " + te.Err.Error()
			case out == nil:
				got = "dropped"
			default:
				got = out.Topic
				if got == tc.topic && out != m.m {
					t.Errorf("%s: an unchanged topic gave a new message", src)
				}
				if out.Value != m.m.Value || out.Key != m.m.Key {
					t.Errorf("%s: route changed the key or value", src)
				}
			}
			if got != tc.want {
				t.Errorf("%s on %s %q: got %s, want %s", src, m.name, tc.topic, got, tc.want)
			}
		}
	}
}

func TestTransformDrop(t *testing.T) {
	const (
		full    = "id=int64(1) email=string(a@example.com) password=string(hunter2) amount=decimal(150.50)"
		nulls   = "null(id=null email=null password=null amount=null)"
		noPass  = "id=int64(1) email=string(a@example.com) amount=decimal(150.50)"
		noPassN = "null(id=null email=null amount=null)"
	)
	tests := []struct {
		src           string
		before, after string // of the create
	}{
		{`[{type: drop, columns: [password]}]`, noPassN, noPass},
		{`[{type: drop, columns: ["pass*"]}]`, noPassN, noPass},
		{`[{type: drop, columns: [public.users.password]}]`, noPassN, noPass},
		{`[{type: drop, columns: [shop.users.password]}]`, noPassN, noPass},
		{`[{type: drop, columns: [shop.public.users.password]}]`, noPassN, noPass},
		{`[{type: drop, columns: [users.password]}]`, noPassN, noPass},
		{`[{type: drop, columns: ["public.*.password"]}]`, noPassN, noPass},
		{`[{type: drop, columns: [public.orders.password]}]`, nulls, full},
		{`[{type: drop, columns: [nothing, other.users.password]}]`, nulls, full},
		{`[{type: drop, columns: [password, email, id, amount]}]`, "null()", ""},
	}
	for _, tc := range tests {
		chain := tfChain(t, tc.src)
		m := tfMessage(tfEvent(OpCreate))
		out, err := chain.Apply(m)
		if err != nil {
			t.Fatal(err)
		}
		if b, a := tfRow(out, "before"), tfRow(out, "after"); b != tc.before || a != tc.after {
			t.Errorf("%s:\n got  before %s\n      after  %s\n want before %s\n      after  %s", tc.src, b, a, tc.before, tc.after)
		}
		if tc.after == full && out != m {
			t.Errorf("%s: nothing dropped, yet a new message", tc.src)
		}
		if tfFields(out.Key) != "id=int64(1)" {
			t.Errorf("%s: key changed to %s", tc.src, tfFields(out.Key))
		}
	}

	// Every kind of message; the key stays, the schema change is left alone.
	chain := tfChain(t, `[{type: drop, columns: [password, id]}]`)
	want := map[string]string{
		"create":    "before null(email=null amount=null) after email=string(a@example.com) amount=decimal(150.50)",
		"read":      "before null(email=null amount=null) after email=string(a@example.com) amount=decimal(150.50)",
		"update":    "before email=string(a@example.com) amount=decimal(150.50) after email=string(b@example.com) amount=decimal(99.99)",
		"delete":    "before email=string(b@example.com) amount=decimal(99.99) after null(email=null amount=null)",
		"truncate":  "before null(email=null amount=null) after null(email=null amount=null)",
		"tombstone": "before <nil> after <nil>",
		"schema":    "before no before after no after",
	}
	for _, m := range tfMessages() {
		out, err := chain.Apply(m.m)
		if err != nil {
			t.Fatal(err)
		}
		if got := "before " + tfRow(out, "before") + " after " + tfRow(out, "after"); got != want[m.name] {
			t.Errorf("%s:\n got  %s\n want %s", m.name, got, want[m.name])
		}
		if out.Key != m.m.Key {
			t.Errorf("%s: the key changed", m.name)
		}
		if m.name == "schema" && out != m.m {
			t.Errorf("schema change: changed")
		}
	}

	// After unwrap, the row's own fields.
	out, err := tfChain(t, `[{type: unwrap, add_fields: [op]}, {type: drop, columns: [password, __op]}]`).Apply(tfMessage(tfEvent(OpUpdate)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tfFields(out.Value), "id=int64(1) email=string(b@example.com) amount=decimal(99.99)"; got != want {
		t.Errorf("unwrapped: got %s, want %s", got, want)
	}
}

func tfSHA(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestTransformMask(t *testing.T) {
	ev := tfEvent(OpUpdate)
	ev.Before[1] = Null(KindString) // a null email
	upd := tfMessage(ev)
	tests := []struct {
		src                string
		before, after, key string
	}{
		{`[{type: mask, columns: [email]}]`,
			"id=int64(1) email=null password=string(hunter2) amount=decimal(150.50)",
			"id=int64(1) email=string(****) password=string(hunter2) amount=decimal(99.99)", "id=int64(1)"},
		{`[{type: mask, columns: [email, password, amount], with: "x"}]`,
			"id=int64(1) email=null password=string(x) amount=string(x)",
			"id=int64(1) email=string(x) password=string(x) amount=string(x)", "id=int64(1)"},
		{`[{type: mask, columns: [public.orders.email]}]`,
			"id=int64(1) email=null password=string(hunter2) amount=decimal(150.50)",
			"id=int64(1) email=string(b@example.com) password=string(hunter2) amount=decimal(99.99)", "id=int64(1)"},
		{`[{type: mask, columns: [email, amount], hash: sha256}]`,
			"id=int64(1) email=null password=string(hunter2) amount=string(" + tfSHA("150.50") + ")",
			"id=int64(1) email=string(" + tfSHA("b@example.com") + ") password=string(hunter2) amount=string(" + tfSHA("99.99") + ")", "id=int64(1)"},
		{`[{type: mask, columns: [email], hash: sha256, salt: "pepper"}]`,
			"id=int64(1) email=null password=string(hunter2) amount=decimal(150.50)",
			"id=int64(1) email=string(" + tfSHA("pepperb@example.com") + ") password=string(hunter2) amount=decimal(99.99)", "id=int64(1)"},
		// The key is left alone unless key: true.
		{`[{type: mask, columns: [id], hash: sha256}]`,
			"id=string(" + tfSHA("1") + ") email=null password=string(hunter2) amount=decimal(150.50)",
			"id=string(" + tfSHA("1") + ") email=string(b@example.com) password=string(hunter2) amount=decimal(99.99)", "id=int64(1)"},
		{`[{type: mask, columns: [id], hash: sha256, key: true}]`,
			"id=string(" + tfSHA("1") + ") email=null password=string(hunter2) amount=decimal(150.50)",
			"id=string(" + tfSHA("1") + ") email=string(b@example.com) password=string(hunter2) amount=decimal(99.99)", "id=string(" + tfSHA("1") + ")"},
	}
	for _, tc := range tests {
		out, err := tfChain(t, tc.src).Apply(upd)
		if err != nil {
			t.Fatal(err)
		}
		b, a, k := tfRow(out, "before"), tfRow(out, "after"), tfFields(out.Key)
		if b != tc.before || a != tc.after || k != tc.key {
			t.Errorf("%s:\n got  before %s\n      after  %s\n      key    %s\n want before %s\n      after  %s\n      key    %s",
				tc.src, b, a, k, tc.before, tc.after, tc.key)
		}
	}

	// A null keeps its presence and becomes a null string, like the
	// masked values; a null image's struct changes alike.
	out, _ := tfChain(t, `[{type: mask, columns: [email]}]`).Apply(tfMessage(tfEvent(OpCreate)))
	before, _ := out.Value.Get("before")
	if f := before.Struct.Fields[1]; f.Name != "email" || !f.Value.Null || f.Value.Kind != KindString || !f.Optional {
		t.Errorf("masked null: %+v", f)
	}

	// With key: true the tombstone's key is masked as its delete's; the
	// schema change is left alone.
	chain := tfChain(t, `[{type: mask, columns: [id, password, databaseName], hash: sha256, key: true}]`)
	for _, m := range tfMessages() {
		out, err := chain.Apply(m.m)
		if err != nil {
			t.Fatal(err)
		}
		switch m.name {
		case "schema":
			if out != m.m {
				t.Errorf("schema change: changed to %s %s", tfFields(out.Key), tfFields(out.Value))
			}
		case "truncate":
			if out.Key != nil {
				t.Errorf("truncate: key %s", tfFields(out.Key))
			}
		default:
			if got, want := tfFields(out.Key), "id=string("+tfSHA("1")+")"; got != want {
				t.Errorf("%s: key %s, want %s", m.name, got, want)
			}
		}
	}
}

func TestTransformUnwrap(t *testing.T) {
	const (
		created = "id=int64(1) email=string(a@example.com) password=string(hunter2) amount=decimal(150.50)"
		updated = "id=int64(1) email=string(b@example.com) password=string(hunter2) amount=decimal(99.99)"
		deleted = "id=int64(1) email=string(b@example.com) password=string(hunter2) amount=decimal(99.99)"
		meta    = " __op=string(%s) __table=string(users) __source_ts_ms=int64(1700000000000)"
	)
	m := func(op string) string { return strings.Replace(meta, "%s", op, 1) }
	type results map[string]string // message kind → value fields, "<nil>" or "dropped"
	tests := []struct {
		src  string
		want results
	}{
		{`[{type: unwrap}]`, results{
			"create": created + m("c"), "read": created + m("r"), "update": updated + m("u"),
			"delete": "dropped", "tombstone": "dropped", "truncate": "dropped"}},
		{`[{type: unwrap, delete_handling: drop, drop_tombstones: false}]`, results{
			"create": created + m("c"), "read": created + m("r"), "update": updated + m("u"),
			"delete": "dropped", "tombstone": "unchanged", "truncate": "dropped"}},
		{`[{type: unwrap, delete_handling: none}]`, results{
			"create": created + m("c"), "read": created + m("r"), "update": updated + m("u"),
			"delete": "<nil>", "tombstone": "dropped", "truncate": "dropped"}},
		{`[{type: unwrap, delete_handling: rewrite, add_fields: []}]`, results{
			"create": created + " __deleted=string(false)", "read": created + " __deleted=string(false)",
			"update": updated + " __deleted=string(false)", "delete": deleted + " __deleted=string(true)",
			"tombstone": "dropped", "truncate": "dropped"}},
		{`[{type: unwrap, add_fields: [op, ts_ms, db, schema, table, lsn, txId, source.snapshot, source.nope, transaction.id, transaction.total_order]}]`, results{
			"create": created + " __op=string(c) __ts_ms=int64(1700000000123) __db=string(shop) __schema=string(public)" +
				" __table=string(users) __lsn=int64(12345) __txId=int64(771) __source_snapshot=string(false) __source_nope=null" +
				" __transaction_id=string(771) __transaction_total_order=int64(2)",
			"read": "", "update": "", "delete": "dropped", "tombstone": "dropped", "truncate": "dropped"}},
	}
	for _, tc := range tests {
		chain := tfChain(t, tc.src)
		for _, msg := range tfMessages() {
			want, ok := tc.want[msg.name]
			if !ok {
				want = "unchanged"
			}
			if want == "" {
				continue
			}
			out, err := chain.Apply(msg.m)
			if err != nil {
				t.Fatalf("%s on %s: %v", tc.src, msg.name, err)
			}
			var got string
			switch {
			case out == nil:
				got = "dropped"
			case out == msg.m:
				got = "unchanged"
			case out.Value == nil:
				got = "<nil>"
			default:
				got = tfFields(out.Value)
				if out.Value.Name != "shop.public.users.Value" {
					t.Errorf("%s on %s: value named %q", tc.src, msg.name, out.Value.Name)
				}
			}
			if got != want {
				t.Errorf("%s on %s:\n got  %s\n want %s", tc.src, msg.name, got, want)
			}
			if out != nil && out.Key != msg.m.Key {
				t.Errorf("%s on %s: the key changed", tc.src, msg.name)
			}
		}
	}

	// A create without an after image is an error, not a guess.
	bad := tfMessage(tfEvent(OpCreate))
	bad.Value.Fields[1].Value.Null = true
	if _, err := tfChain(t, `[{type: unwrap}]`).Apply(bad); err == nil || !strings.Contains(err.Error(), `a "c" event has no after image`) {
		t.Errorf("create without after: error %v", err)
	}
}

func TestTransformInsert(t *testing.T) {
	const created = "id=int64(1) email=string(a@example.com) password=string(hunter2) amount=decimal(150.50)"
	chain := tfChain(t, `[{type: insert, static: {region: eu, n: 3}, fields: {topic: __topic, source.ts_ms: __ts, op: __op, table: __table, timestamp: __time, transaction.id: __tx}}]`)
	added := " region=string(eu) n=string(3) __topic=string(shop.public.users) __ts=int64(1700000000000) __op=string(%s)" +
		" __table=string(users) __time=int64(1700000000000) __tx=string(771)"
	for _, msg := range tfMessages() {
		out, err := chain.Apply(msg.m)
		if err != nil {
			t.Fatal(err)
		}
		switch msg.name {
		case "tombstone", "schema":
			if out != msg.m {
				t.Errorf("%s: changed", msg.name)
			}
		default:
			want := "before after source op ts_ms transaction region n __topic __ts __op __table __time __tx"
			var names []string
			for _, f := range out.Value.Fields {
				names = append(names, f.Name)
			}
			if got := strings.Join(names, " "); got != want {
				t.Errorf("%s: fields %s, want %s", msg.name, got, want)
			}
			if v, _ := out.Value.Get("__op"); v.Str != string(msg.m.Event.Op) {
				t.Errorf("%s: __op %#v", msg.name, v)
			}
		}
	}

	// After unwrap: into the row; the topic is the one routed to.
	chain = tfChain(t, `
- {type: unwrap, add_fields: []}
- {type: route, regex: '^shop\.public\.', replacement: 'x.'}
- {type: insert, static: {region: eu, n: 3}, fields: {topic: __topic, source.ts_ms: __ts, op: __op, table: __table, timestamp: __time, transaction.id: __tx}}
- {type: insert, static: {op: mine}}`)
	out, err := chain.Apply(tfMessage(tfEvent(OpCreate)))
	if err != nil {
		t.Fatal(err)
	}
	want := created + strings.Replace(strings.Replace(added, "%s", "c", 1), "shop.public.users", "x.users", 1) + " op=string(mine)"
	if got := tfFields(out.Value); got != want {
		t.Errorf("unwrapped:\n got  %s\n want %s", got, want)
	}
}
