package connect

import (
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/configs"
)

// TestTransformConfigProblems checks that every bad option is reported,
// all at once, at its line and column.
func TestTransformConfigProblems(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"unknown type close to one", "- type: unwarp\n", []string{
			`1:9: transforms[0].type: unknown transform type "unwarp"; did you mean "unwrap"?`}},
		{"unknown type", "- type: frobnicate\n", []string{
			`1:9: transforms[0].type: unknown transform type "frobnicate"; the type is one of drop, filter, insert, mask, route, unwrap`}},
		{"missing type", "- {delete_handling: drop}\n", []string{
			`1:3: transforms[0]: missing "type"; the type is one of drop, filter, insert, mask, route, unwrap`}},
		{"type not a string", "- type: [unwrap]\n", []string{
			`1:9: transforms[0].type: expected a string, got a list`}},
		{"not a mapping", "- unwrap\n", []string{
			`1:3: transforms[0]: expected a mapping, got string "unwrap"; a transform is a mapping such as {type: unwrap}`}},
		{"unknown option", "- {type: route, regx: '^a', replacement: b}\n", []string{
			`1:3: transforms[0]: missing "regex"; for example regex: '^shop\.public\.(.*)$'`,
			`1:17: transforms[0].regx: unknown key; did you mean "regex"?`}},
		{"an option of another type", "- {type: unwrap, columns: [a]}\n", []string{
			`1:18: transforms[0].columns: unknown key; valid keys here: add_fields, delete_handling, drop_tombstones, type`}},
		{"duplicate option", "- type: unwrap\n  type: unwrap\n", []string{
			`2:3: transforms[0].type: key "type" is already defined at line 1; remove one of them`}},
		{"merged options", "- &base {type: mask, columns: [a]}\n- {<<: *base, with: y, wiht: z}\n", []string{
			`2:24: transforms[1].wiht: unknown key; did you mean "with"?`}},
		{"every item", "- {type: route}\n- {type: drop}\n- {type: unwrap}\n- {type: nope}\n", []string{
			`1:3: transforms[0]: missing "regex"; for example regex: '^shop\.public\.(.*)$'`,
			`1:3: transforms[0]: missing "replacement"; for example replacement: 'pg.$1'`,
			`2:3: transforms[1]: missing "columns"; for example columns: [email, "public.users.ssn"]`,
			`4:10: transforms[3].type: unknown transform type "nope"; the type is one of drop, filter, insert, mask, route, unwrap`}},

		{"bad regex", "- {type: route, regex: '^(a', replacement: b}\n", []string{
			"1:24: transforms[0].regex: bad regular expression: missing closing ) in `^(a`; Go RE2 syntax; escape a literal dot as \\."}},
		{"replacement groups", "- {type: route, regex: '^(a)\\.(b)$', replacement: '$3.$1x.${name}'}\n", []string{
			`1:51: transforms[0].replacement: replacement refers to group $3, but the regex has 2; groups are the regex's parenthesized parts, counted from 1; $0 is the whole match`,
			`1:51: transforms[0].replacement: replacement refers to group "1x", which the regex does not have; $1x is read as a group named "1x"; write ${1}x for group 1 followed by "x"`,
			`1:51: transforms[0].replacement: replacement refers to group "name", which the regex does not have; named groups are written (?P<name>...) in the regex`}},
		{"missing replacement", "- {type: route, regex: '^a'}\n", []string{
			`1:3: transforms[0]: missing "replacement"; for example replacement: 'pg.$1'`}},
		{"regex not a string", "- {type: route, regex: {a: b}, replacement: x}\n", []string{
			`1:24: transforms[0].regex: expected a string, got a mapping`}},

		// Expression problems point into the expression when it is
		// written on one line without escapes.
		{"expression syntax", "- type: filter\n  expression: 'after.amount >'\n", []string{
			`2:29: transforms[0].expression: bad expression: unexpected token EOF`}},
		{"expression unknown name", "- type: filter\n  expression: aftr.x > 1\n", []string{
			`2:15: transforms[0].expression: bad expression: unknown name aftr`}},
		{"expression not boolean", "- type: filter\n  expression: \"1 + 2\"\n", []string{
			`2:15: transforms[0].expression: expression gives int, not a boolean; write a condition such as after.amount > 100`}},
		{"expression types", "- type: filter\n  expression: 'op == 1'\n", []string{
			`2:19: transforms[0].expression: bad expression: invalid operation: == (mismatched types string and int)`}},
		{"expression on lines", "- type: filter\n  expression: |\n    op == \"c\" &&\n      after.x >\n", []string{
			`2:15: transforms[0].expression: bad expression: unexpected token EOF (line 2, column 12 of the expression)`}},
		{"expression with escapes", "- type: filter\n  expression: \"op == \\\"c\\\" && )\"\n", []string{
			`2:15: transforms[0].expression: bad expression: unexpected token Bracket(")") (line 1, column 14 of the expression)`}},

		{"ops not a list", "- {type: filter, ops: c}\n", []string{
			`1:23: transforms[0].ops: expected a list, got string "c"; write a list: [c]`}},
		{"bad ops", "- {type: filter, ops: [create, x, ~, [u]]}\n", []string{
			`1:24: transforms[0].ops[0]: unknown op "create"; write "c" for create`,
			`1:32: transforms[0].ops[1]: unknown op "x"; ops are c (create), u (update), d (delete), r (snapshot read) and t (truncate)`,
			`1:35: transforms[0].ops[2]: empty list item`,
			`1:38: transforms[0].ops[3]: expected a string, got a list`}},
		{"no ops", "- {type: filter, ops: []}\n", []string{
			`1:23: transforms[0].ops: no ops: the filter would drop every change event; list the ops to keep, such as [c, u]`}},
		{"no tables", "- {type: filter, tables: []}\n", []string{
			`1:26: transforms[0].tables: no tables: the filter would drop every change event; list the tables to keep, such as [public.orders]`}},
		{"bad table pattern", "- {type: filter, tables: ['public.[orders']}\n", []string{
			`1:27: transforms[0].tables[0]: bad table pattern "public.[orders": syntax error in pattern; patterns are path.Match globs such as public.order_*`}},
		{"empty filter", "- {type: filter}\n", []string{
			`1:3: transforms[0]: a filter needs ops, tables or an expression; for example ops: [c, u]`}},

		{"no columns", "- {type: drop}\n", []string{
			`1:3: transforms[0]: missing "columns"; for example columns: [email, "public.users.ssn"]`}},
		{"empty columns", "- {type: drop, columns: []}\n", []string{
			`1:25: transforms[0].columns: no columns; list column names, or table-qualified names such as "public.users.ssn"`}},
		{"bad columns", "- {type: drop, columns: [{a: b}, 'public.users.', '[x', '.x']}\n", []string{
			`1:26: transforms[0].columns[0]: expected a string, got a mapping`,
			`1:34: transforms[0].columns[1]: "public.users." names no column; write a column, or a table-qualified column such as "public.users.ssn"`,
			`1:51: transforms[0].columns[2]: bad column pattern "[x": syntax error in pattern; patterns are path.Match globs such as secret_*`,
			`1:57: transforms[0].columns[3]: bad table pattern ""; write a column, or a table-qualified column such as "public.users.ssn"`}},

		{"with and hash", "- {type: mask, columns: [a], with: x, hash: sha256}\n", []string{
			`1:45: transforms[0].hash: both "with" and "hash" are given; a column is masked either with a fixed text or with a hash: remove one`}},
		{"unknown hash", "- {type: mask, columns: [a], hash: md5}\n", []string{
			`1:36: transforms[0].hash: unknown value "md5"; valid values: sha256`}},
		{"salt without hash", "- {type: mask, columns: [a], salt: s}\n", []string{
			`1:36: transforms[0].salt: "salt" is used only with "hash"; add hash: sha256, or remove salt`}},
		{"key with a constant", "- {type: mask, columns: [a], key: true}\n", []string{
			`1:35: transforms[0].key: masking the key with a fixed text would give every row the same key; add hash: sha256 so that keys stay distinct, or remove key: true`}},
		{"key quoted", "- {type: mask, columns: [a], key: 'true', hash: sha256}\n", []string{
			`1:35: transforms[0].key: expected true or false, got string "true"; remove the quotes`}},
		{"key not a boolean", "- {type: mask, columns: [a], key: yes, hash: sha256}\n", []string{
			`1:35: transforms[0].key: expected true or false, got string "yes"`}},
		{"with not a string", "- {type: mask, columns: [a], with: [x]}\n", []string{
			`1:36: transforms[0].with: expected a string, got a list`}},

		{"bad unwrap", "- {type: unwrap, delete_handling: rewite, drop_tombstones: 1, add_fields: [tabel, transaction.foo, source., partition]}\n", []string{
			`1:35: transforms[0].delete_handling: unknown value "rewite"; did you mean "rewrite"?`,
			`1:60: transforms[0].drop_tombstones: expected true or false, got integer 1`,
			`1:76: transforms[0].add_fields[0]: unknown metadata "tabel"; did you mean "table"?`,
			`1:83: transforms[0].add_fields[1]: unknown transaction field "foo"; transaction fields: id, total_order, data_collection_order`,
			`1:100: transforms[0].add_fields[2]: source. names no field; for example source.ts_ms`,
			`1:109: transforms[0].add_fields[3]: unknown metadata "partition"; metadata is op, ts_ms, a source field (version, connector, name, ts_ms, snapshot, db, schema, table, txId, sequence, lsn, xmin, file, pos, row, gtid, server_id, thread, query, or source.NAME) or transaction.id/total_order/data_collection_order`}},
		{"add_fields not a list", "- {type: unwrap, add_fields: op}\n", []string{
			`1:30: transforms[0].add_fields: expected a list, got string "op"; write a list: [op]`}},

		{"empty insert", "- {type: insert}\n", []string{
			`1:3: transforms[0]: an insert needs static or fields; for example static: {region: eu}`}},
		{"static not a mapping", "- {type: insert, static: [a]}\n", []string{
			`1:26: transforms[0].static: expected a mapping, got a list`}},
		{"bad insert", "- {type: insert, static: {a: [1], b: , c: d}, fields: {partition: p, nope: x, topic: op}}\n", []string{
			`1:30: transforms[0].static.a: expected a single value, got a list`,
			`1:35: transforms[0].static.b: missing value`,
			`1:56: transforms[0].fields.partition: the partition is not known yet when transforms run; the runtime chooses partitions and offsets after the transforms`,
			`1:70: transforms[0].fields.nope: unknown metadata "nope"; metadata is op, ts_ms, topic, timestamp, a source field (version, connector, name, ts_ms, snapshot, db, schema, table, txId, sequence, lsn, xmin, file, pos, row, gtid, server_id, thread, query, or source.NAME) or transaction.id/total_order/data_collection_order`,
			`1:86: transforms[0].fields.topic: field "op" would replace the envelope's own "op"; choose another name, or put an unwrap transform before this one`}},
		{"insert names", "- {type: insert, static: {x: '1'}, fields: {topic: x, op: ''}}\n", []string{
			`1:52: transforms[0].fields.topic: field "x" is also inserted by transforms[0].static.x; give each field its own name`,
			`1:59: transforms[0].fields.op: empty field name`}},
		{"insert after unwrap", "- {type: unwrap}\n- {type: insert, fields: {topic: op}}\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chain, probs := ParseTransforms(tfNodes(t, tc.src), "transforms")
			var got []string
			for _, p := range probs {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems of %q:\n got  %s\n want %s", tc.src, strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
			if (chain == nil) != (len(tc.want) > 0) {
				t.Errorf("chain %v with %d problems", chain, len(probs))
			}
		})
	}
}

// TestTransformConfigExample parses the example of the package doc and of
// docs/transforms.md.
func TestTransformConfigExample(t *testing.T) {
	chain := tfChain(t, `
- type: filter
  ops: [c, u, d, r]
  tables: [public.users, "public.order_*"]
  expression: 'op == "d" || after.amount > 100'
- {type: route, regex: '^shop\.public\.(.*)$', replacement: 'pg.$1'}
- {type: drop, columns: [password, "public.users.ssn"]}
- {type: mask, columns: [email], with: "****"}
- {type: unwrap, delete_handling: rewrite, drop_tombstones: true, add_fields: [op, table, source.ts_ms]}
- {type: insert, static: {region: eu}, fields: {topic: __topic, source.ts_ms: __ts}}
`)
	var names []string
	for _, tr := range chain {
		names = append(names, tr.Name())
	}
	if got := strings.Join(names, " "); got != "filter route drop mask unwrap insert" {
		t.Fatalf("chain %s", got)
	}
	out, err := chain.Apply(tfMessage(tfEvent(OpCreate)))
	if err != nil {
		t.Fatal(err)
	}
	want := "id=int64(1) email=string(****) amount=decimal(150.50) __op=string(c) __table=string(users)" +
		" __source_ts_ms=int64(1700000000000) __deleted=string(false) region=string(eu) __topic=string(pg.users) __ts=int64(1700000000000)"
	if got := tfFields(out.Value); out.Topic != "pg.users" || got != want {
		t.Errorf("got %s %s\nwant pg.users %s", out.Topic, got, want)
	}
}

// TestTransformConfigFile reads transforms from a whole config file, as
// the runtime does, and checks that problems point at the file as
// written, even after ${VAR} substitution moved the text.
func TestTransformConfigFile(t *testing.T) {
	src := `version: 1
connectors:
  - name: a
    kind: file-sink
    topics: [x]
    transforms:
      - {type: route, regex: '${PREFIX}\.(.*)', replacement: 'pg.$2'}
      - type: filter
        expression: 'after.amount >'
`
	cfg, err := configs.Parse("sluice.yaml", []byte(src), configs.Options{Getenv: func(string) (string, bool) { return "^a-much-longer-prefix", true }})
	if err != nil {
		t.Fatal(err)
	}
	_, probs := ParseTransforms(cfg.Connectors[0].Transforms, "transforms")
	var got []string
	for _, p := range probs {
		got = append(got, p.String())
	}
	want := []string{
		`7:62: transforms[0].replacement: replacement refers to group $2, but the regex has 1; groups are the regex's parenthesized parts, counted from 1; $0 is the whole match`,
		`9:35: transforms[1].expression: bad expression: unexpected token EOF`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
