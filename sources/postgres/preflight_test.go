package postgres_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/internal/testdb"
	"github.com/sluice-cdc/sluice/sources/postgres"
)

// asRole returns the DSN of db for role instead of the superuser.
func asRole(pg *testdb.Postgres, db, role string) string {
	return strings.Replace(pg.DSN(db), "//postgres@", "//"+role+"@", 1)
}

// TestPreflight checks that Open refuses, with a fatal error naming the SQL
// to run, a role that cannot replicate or read, and tables whose changes
// cannot be keyed; and that key_columns are checked against the catalog.
func TestPreflight(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "pf")
	pg.Exec(t, "pf", `CREATE TABLE public.items (id int PRIMARY KEY, note text);
		CREATE TABLE public.nokey (a int NOT NULL, b text);
		CREATE TABLE public.nothing (a int);
		ALTER TABLE public.nothing REPLICA IDENTITY NOTHING;
		CREATE TABLE public.uniq (a int NOT NULL, b text, c int);
		CREATE UNIQUE INDEX ON public.uniq (a);
		CREATE TABLE public.pk_code (id int PRIMARY KEY, code text NOT NULL UNIQUE);
		CREATE ROLE alice LOGIN;
		GRANT SELECT ON public.items TO alice;
		CREATE ROLE bob LOGIN REPLICATION;
		GRANT SELECT ON public.items TO bob;
		REVOKE SELECT ON public.items FROM bob;
		CREATE ROLE carol LOGIN REPLICATION;
		GRANT SELECT ON public.items TO carol;
		CREATE PUBLICATION pub_carol FOR TABLE public.items;`)

	for _, tc := range []struct {
		name, block string
		want        []string // in the error, in this order
	}{
		{"no replication", "dsn: " + asRole(pg, "pf", "alice") + "\ntables: [public.items]\npublication: pub_carol\n",
			[]string{"role alice has neither the REPLICATION attribute nor superuser", "run ALTER ROLE alice WITH REPLICATION"}},
		{"no select", "dsn: " + asRole(pg, "pf", "bob") + "\ntables: [public.items]\n",
			[]string{"role bob may not read public.items", "run GRANT SELECT ON public.items TO bob",
				"role bob does not own public.items, so it cannot create publication sluice_acceptance: run CREATE PUBLICATION \"sluice_acceptance\" FOR TABLE public.items as the tables' owner or a superuser"}},
		{"no key", "dsn: " + pg.DSN("pf") + "\ntables: [public.items, public.nokey, public.nothing]\n",
			[]string{"table public.nokey has no primary key and REPLICA IDENTITY DEFAULT", "run ALTER TABLE public.nokey REPLICA IDENTITY FULL, or set key_columns for it",
				"table public.nothing has no primary key and REPLICA IDENTITY NOTHING", "run ALTER TABLE public.nothing REPLICA IDENTITY FULL, or set key_columns for it"}},
		{"key column missing", "dsn: " + pg.DSN("pf") + "\ntables: [public.*]\nkey_columns: {public.nokey: [x], public.nothing: [a]}\n",
			[]string{`config.key_columns: public.nokey has no column "x" (its columns: a, b)`,
				`config.key_columns: column "a" of public.nothing may be NULL, which a key must not: run ALTER TABLE public.nothing ALTER COLUMN a SET NOT NULL, or choose other columns`}},
		{"key not unique", "dsn: " + pg.DSN("pf") + "\ntables: [public.*]\nkey_columns: {public.nokey: [a], public.nothing: [a]}\n",
			[]string{"config.key_columns: no unique index of public.nokey is on a or some of them", "run CREATE UNIQUE INDEX ON public.nokey (a), or choose columns that are unique"}},
		{"key outside the replica identity", "dsn: " + pg.DSN("pf") + "\ntables: [public.items, public.pk_code]\nkey_columns: {public.pk_code: [code]}\n",
			[]string{"config.key_columns: code of public.pk_code are not in its replica identity (its primary key), so its deletes would not carry them: run ALTER TABLE public.pk_code REPLICA IDENTITY FULL, or choose key columns within it"}},
		{"key table missing", "dsn: " + pg.DSN("pf") + "\ntables: [public.*]\nkey_columns: {public.nope: [a]}\n",
			[]string{"config.key_columns names public.nope, which is not a table that tables captures"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openBlock(t, tc.block, nil)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if connect.Class(err) != "fatal" {
				t.Errorf("Open: class %s, want fatal: %v", connect.Class(err), err)
			}
			msg, at := err.Error(), 0
			for _, w := range tc.want {
				i := strings.Index(msg[at:], w)
				if i < 0 {
					t.Errorf("Open: %v\nwant (after offset %d) %q", err, at, w)
					break
				}
				at += i + len(w)
			}
		})
	}

	t.Run("allowed", func(t *testing.T) {
		// A role with REPLICATION and SELECT on a published table.
		src, err := openBlock(t, "dsn: "+asRole(pg, "pf", "carol")+"\ntables: [public.items]\npublication: pub_carol\nslot: slot_carol\n", nil)
		if err != nil {
			t.Fatalf("Open as carol: %v", err)
		}
		src.Close()
	})
}

// TestKeys checks the key of each kind of table in the snapshot and in the
// stream: the primary key (also under REPLICA IDENTITY FULL, whose relation
// messages mark every column; without the columns a covering index only
// INCLUDEs), key_columns in their order, the replica identity index, and
// none for a table with REPLICA IDENTITY FULL and no
// key, whose records get a null key.
func TestKeys(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "keys")
	pg.Exec(t, "keys", `CREATE TABLE public.k_pk (x int, id int, PRIMARY KEY (id, x));
		ALTER TABLE public.k_pk REPLICA IDENTITY FULL;
		CREATE TABLE public.k_cols (a int NOT NULL, b text NOT NULL, c int NOT NULL);
		CREATE UNIQUE INDEX ON public.k_cols (b);
		ALTER TABLE public.k_cols REPLICA IDENTITY FULL;
		CREATE TABLE public.k_ri (a int NOT NULL, b int NOT NULL, c int);
		CREATE UNIQUE INDEX k_ri_idx ON public.k_ri (b, a);
		ALTER TABLE public.k_ri REPLICA IDENTITY USING INDEX k_ri_idx;
		CREATE TABLE public.k_incl (note text, id int, PRIMARY KEY (id) INCLUDE (note));
		CREATE TABLE public.k_full (a int, b text);
		ALTER TABLE public.k_full REPLICA IDENTITY FULL;
		INSERT INTO public.k_pk VALUES (1, 2);
		INSERT INTO public.k_cols VALUES (1, 'one', 3);
		INSERT INTO public.k_ri VALUES (1, 2, 3);
		INSERT INTO public.k_incl VALUES ('one', 1);
		INSERT INTO public.k_full VALUES (1, 'one');`)
	src, err := openBlock(t, fmt.Sprintf("dsn: %s\ntables: [public.*]\nslot: slot_keys\nkey_columns: {public.k_cols: [c, b]}\n", pg.DSN("keys")), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	want := map[string]string{"k_pk": "[id x]", "k_cols": "[c b]", "k_ri": "[b a]", "k_incl": "[id]", "k_full": "[]"}
	check := func(what string, evs []connect.ChangeEvent) {
		t.Helper()
		seen := map[string]bool{}
		for _, ev := range evs {
			var names []string
			for _, k := range ev.Table.Key {
				names = append(names, ev.Table.Columns[k].Name)
			}
			if got := fmt.Sprint(names); got != want[ev.Table.Name] {
				t.Errorf("%s: %s (%c): key %s, want %s", what, ev.Table.Name, ev.Op, got, want[ev.Table.Name])
			}
			key, _ := connect.Envelope(&ev)
			if (key == nil) != (ev.Table.Name == "k_full") {
				t.Errorf("%s: %s (%c): record key %v", what, ev.Table.Name, ev.Op, key)
			}
			seen[ev.Table.Name] = true
		}
		if len(seen) != len(want) {
			t.Errorf("%s: events of %v, want all of %v", what, seen, want)
		}
	}
	var snap []connect.ChangeEvent
	for len(snap) == 0 || snap[len(snap)-1].Source.Snapshot != "last" {
		evs, _, _ := readTx(t, src) // a batch per table
		snap = append(snap, evs...)
	}
	check("snapshot", snap)
	pg.Exec(t, "keys", `BEGIN;
		INSERT INTO public.k_pk VALUES (3, 4); UPDATE public.k_pk SET x = 5 WHERE id = 2; DELETE FROM public.k_pk WHERE id = 4;
		INSERT INTO public.k_cols VALUES (2, 'two', 4); UPDATE public.k_cols SET a = 9; DELETE FROM public.k_cols WHERE c = 4;
		INSERT INTO public.k_ri VALUES (4, 5, 6); UPDATE public.k_ri SET c = 0; DELETE FROM public.k_ri WHERE a = 4;
		INSERT INTO public.k_incl VALUES ('two', 2); UPDATE public.k_incl SET note = 'x'; DELETE FROM public.k_incl WHERE id = 2;
		INSERT INTO public.k_full VALUES (2, 'two'); UPDATE public.k_full SET b = 'x'; DELETE FROM public.k_full WHERE a = 2;
		COMMIT;`)
	stream, _, _ := readTx(t, src)
	check("stream", stream)
}

// TestKeyColumnsConfig checks key_columns' shape at config parse, each
// problem placed at its value.
func TestKeyColumnsConfig(t *testing.T) {
	k := postgres.New()
	good := "dsn: postgres://u@h/db\ntables: [public.*, s.t]\nkey_columns:\n  public.a: [x, y]\n  s.t: [id]\n"
	cfg, problems := postgres.ParseConfig(connecttest.Connector(t, k, good))
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	if got := fmt.Sprint(cfg.KeyColumns); got != "map[public.a:[x y] s.t:[id]]" {
		t.Errorf("KeyColumns = %s", got)
	}
	for block, want := range map[string]string{
		"key_columns: [a]":                       "config.key_columns: expected a mapping",
		"key_columns: {a: [x]}":                  `config.key_columns.a: "a" is not schema.table`,
		"key_columns: {other.t: [x]}":            "config.key_columns.other.t: other.t is not among tables",
		"key_columns: {public.t: x}":             "config.key_columns.public.t: expected a list of column names",
		"key_columns: {public.t: []}":            "config.key_columns.public.t: expected a list of column names",
		"key_columns: {public.t: [x, x]}":        `config.key_columns.public.t[1]: column "x" is listed twice`,
		"key_columns: {public.t: [x, '']}":       "config.key_columns.public.t[1]: empty column name",
		"key_columns: {public.t: [x, [y]]}":      "config.key_columns.public.t[1]: expected a string",
		"key_columns: {public.t: [x], s.t: [a]}": "",
	} {
		block = "dsn: postgres://u@h/db\ntables: [public.*, s.t]\n" + block + "\n"
		_, problems := postgres.ParseConfig(connecttest.Connector(t, k, block))
		var got []string
		for _, p := range problems {
			if p.Line == 0 {
				t.Errorf("%s: problem without a position: %v", block, p)
			}
			got = append(got, p.Path+": "+p.Msg)
		}
		switch {
		case want == "" && len(got) > 0:
			t.Errorf("%s: problems %v", block, got)
		case want != "" && (len(got) != 1 || !strings.HasPrefix(got[0], want)):
			t.Errorf("%s: problems %v, want one starting %q", block, got, want)
		}
	}
}
