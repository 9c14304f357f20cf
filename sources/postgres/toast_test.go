package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/internal/testdb"
	"github.com/sluice-cdc/sluice/sources/postgres"
)

// TestUnchangedToast updates rows without touching their large, TOASTed
// values, which the WAL then does not carry: the source fills them from
// its own recent images, then (after a restart) from the log through
// Env.Previous, and only without either with Debezium's placeholder.
func TestUnchangedToast(t *testing.T) {
	pg := testdb.StartPostgres(t)
	pg.CreateDatabase(t, "toast")
	// md5 chains do not compress, so 20 kB values are stored out of line.
	pg.Exec(t, "toast", `CREATE TABLE public.t (id int PRIMARY KEY, n int, big text, raw bytea, doc jsonb);
		CREATE FUNCTION big(seed int) RETURNS text LANGUAGE sql AS
			$$ SELECT string_agg(md5(seed::text || '-' || g::text), '') FROM generate_series(1, 640) g $$;`)
	block := fmt.Sprintf("dsn: %s\ntables: [public.t]\nslot: slot_toast\nsnapshot: never\n", pg.DSN("toast"))
	big := func(seed int) string {
		return pg.Query(t, "toast", fmt.Sprintf("SELECT big(%d)", seed))
	}

	// previous is what Env.Previous answers: the test plays the log.
	var previous map[int64][]connect.Value
	open := func(withLog bool) connect.Source {
		t.Helper()
		k := postgres.New()
		env := connecttest.Env(t)
		if withLog {
			env.Previous = func(ctx context.Context, ev *connect.ChangeEvent) ([]connect.Value, bool, error) {
				img, ok := previous[ev.After[0].Int]
				return img, ok, nil
			}
		}
		src, err := k.NewSource(connecttest.Connector(t, k, block), env)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		if err := src.Open(ctx, nil); err != nil {
			t.Fatal(err)
		}
		return src
	}
	read := func(src connect.Source) []connect.ChangeEvent {
		t.Helper()
		evs, pos, _ := readTx(t, src)
		if err := src.Ack(t.Context(), pos); err != nil {
			t.Fatal(err)
		}
		return evs
	}
	check := func(what string, ev connect.ChangeEvent, wantBig string, wantRaw []byte, wantDoc string) {
		t.Helper()
		if got := ev.After[2].Str; got != wantBig {
			t.Errorf("%s: big = %.40q… (%d bytes), want %.40q… (%d bytes)", what, got, len(got), wantBig, len(wantBig))
		}
		if got := ev.After[3].Bytes; string(got) != string(wantRaw) {
			t.Errorf("%s: raw = %.40q (%d bytes), want %d bytes", what, got, len(got), len(wantRaw))
		}
		if got := ev.After[4].Str; got != wantDoc {
			t.Errorf("%s: doc = %.60q, want %.60q", what, got, wantDoc)
		}
	}

	src := open(false)
	pg.Exec(t, "toast", `INSERT INTO public.t SELECT 1, 0, big(1), convert_to(big(2), 'UTF8'), jsonb_build_object('k', big(3))`)
	b1, b2, b3 := big(1), big(2), big(3)
	doc := `{"k": "` + b3 + `"}`
	check("insert", read(src)[0], b1, []byte(b2), doc)
	pg.Exec(t, "toast", `UPDATE public.t SET n = 1 WHERE id = 1`)
	check("update, image in memory", read(src)[0], b1, []byte(b2), doc)
	src.Close()

	// A new run with nothing to go by: the placeholder.
	src = open(false)
	pg.Exec(t, "toast", `UPDATE public.t SET n = 2 WHERE id = 1`)
	ev := read(src)[0]
	check("update, no image", ev, postgres.UnavailableValue, []byte(postgres.UnavailableValue), `"`+postgres.UnavailableValue+`"`)
	if n := src.(connect.Status).Status()["toast_placeholders"]; n != int64(3) {
		t.Errorf("status toast_placeholders = %v, want 3", n)
	}
	src.Close()

	// A new run whose log has the row: filled from it.
	previous = map[int64][]connect.Value{1: {connect.Int32(1), connect.Int32(1), connect.String(b1), connect.Bytes([]byte(b2)), connect.JSON(doc)}}
	src = open(true)
	pg.Exec(t, "toast", `UPDATE public.t SET n = 3 WHERE id = 1`)
	check("update, image in the log", read(src)[0], b1, []byte(b2), doc)
	// A changed value is taken from the WAL, the others still filled.
	pg.Exec(t, "toast", `UPDATE public.t SET big = 'small' WHERE id = 1`)
	check("update of one value", read(src)[0], "small", []byte(b2), doc)
	src.Close()

	// REPLICA IDENTITY FULL: the old image has the values.
	pg.Exec(t, "toast", `ALTER TABLE public.t REPLICA IDENTITY FULL`)
	src = open(false)
	pg.Exec(t, "toast", `UPDATE public.t SET n = 4 WHERE id = 1`)
	check("replica identity full", read(src)[0], "small", []byte(b2), doc)
	if strings.Contains(fmt.Sprint(src.(connect.Status).Status()), "toast_placeholders") {
		t.Error("placeholders with REPLICA IDENTITY FULL")
	}
	src.Close()
}
