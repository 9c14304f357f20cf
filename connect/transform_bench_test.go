package connect

import (
	"testing"
)

// tfBenchMessages are n messages of a 12-column table, mostly updates,
// some creates and deletes with their tombstones.
func tfBenchMessages(n int) []*Message {
	tbl := &Table{Database: "shop", Schema: "public", Name: "customers", Key: []int{0}}
	for _, c := range []struct {
		name string
		kind Kind
	}{{"id", KindInt64}, {"name", KindString}, {"email", KindString}, {"phone", KindString}, {"street", KindString},
		{"city", KindString}, {"zip", KindString}, {"country", KindString}, {"balance", KindDecimal},
		{"vip", KindBool}, {"created_at", KindTimestampTZ}, {"updated_at", KindTimestampTZ}} {
		tbl.Columns = append(tbl.Columns, Column{Name: c.name, Kind: c.kind, Optional: c.name != "id"})
	}
	row := func(i int) []Value {
		return []Value{Int64(int64(i)), String("Customer Name"), String("customer@example.com"), String("+49 30 1234567"),
			String("Somestreet 12"), String("Berlin"), String("10115"), String("DE"), Decimal("1234.56"), Bool(i%7 == 0),
			TimestampTZ(1700000000000000), TimestampTZ(1700000000000000 + int64(i))}
	}
	var out []*Message
	for i := 0; len(out) < n; i++ {
		ev := &ChangeEvent{Table: tbl, Topic: "shop.public.customers", TsMs: 1700000000123,
			Source:      SourceInfo{Connector: "postgresql", Name: "shop", Version: "1", TsMs: 1700000000000, Database: "shop", Schema: "public", Table: "customers", TxID: "771"},
			Transaction: &Transaction{ID: "771", TotalOrder: 1, DataCollectionOrder: 1}}
		switch i % 10 {
		case 0:
			ev.Op, ev.After = OpCreate, row(i)
		case 9:
			ev.Op, ev.Before = OpDelete, row(i)
		default:
			ev.Op, ev.Before, ev.After = OpUpdate, row(i), row(i+1)
		}
		// tfMessage keys by the first column, id here too.
		m := tfMessage(ev)
		out = append(out, m)
		if ev.Op == OpDelete {
			out = append(out, tfTombstone(m))
		}
	}
	return out[:n]
}

func benchChain(b *testing.B, src string) {
	chain := tfChain(b, src)
	msgs := tfBenchMessages(1024)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		if _, err := chain.Apply(msgs[n%len(msgs)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkChain is a typical chain: unwrap, route, mask.
func BenchmarkChain(b *testing.B) {
	benchChain(b, `
- {type: unwrap}
- {type: route, regex: '^shop\.public\.(.*)$', replacement: 'pg.$1'}
- {type: mask, columns: [email, phone]}`)
}

func BenchmarkTransform(b *testing.B) {
	for _, tc := range []struct{ name, src string }{
		{"filter-ops", `[{type: filter, ops: [c, u], tables: [public.customers]}]`},
		{"filter-expression", `[{type: filter, expression: 'op == "d" || after.balance > 1000 && after.country == "DE"'}]`},
		{"route", `[{type: route, regex: '^shop\.public\.(.*)$', replacement: 'pg.$1'}]`},
		{"drop", `[{type: drop, columns: [street, "public.customers.zip"]}]`},
		{"mask", `[{type: mask, columns: [email, phone]}]`},
		{"mask-hash", `[{type: mask, columns: [email], hash: sha256}]`},
		{"unwrap", `[{type: unwrap}]`},
		{"insert", `[{type: insert, static: {region: eu}, fields: {topic: __topic}}]`},
	} {
		b.Run(tc.name, func(b *testing.B) { benchChain(b, tc.src) })
	}
}
