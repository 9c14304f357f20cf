package embedded_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/embedded"
	"github.com/sluice-cdc/sluice/internal/testdb"
	sluicelog "github.com/sluice-cdc/sluice/log"
	"github.com/sluice-cdc/sluice/sources/postgres"
)

// TestPostgresToastFromTheLog runs the postgres source in a runtime over
// the embedded log, restarts it (so the source remembers no row images),
// and updates a row without touching its TOASTed values: the source must
// fill them from the log through Env.Previous and the key index, with
// each converter and with unwrap.
func TestPostgresToastFromTheLog(t *testing.T) {
	pg := testdb.StartPostgres(t)
	for i, tc := range []struct{ name, extra string }{
		{"json", ""},
		{"json-schema", "    converter: json-schema\n"},
		{"unwrap", "    transforms: [{type: unwrap}]\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := fmt.Sprintf("toast%d", i)
			pg.CreateDatabase(t, db)
			pg.Exec(t, db, `CREATE TABLE public.t (id int PRIMARY KEY, n int, big text, raw bytea, doc jsonb, arr text[]);
				CREATE FUNCTION big(seed int) RETURNS text LANGUAGE sql AS
					$$ SELECT string_agg(md5(seed::text || '-' || g::text), '') FROM generate_series(1, 640) g $$;
				INSERT INTO public.t SELECT 1, 0, big(1), convert_to(big(2), 'UTF8'), jsonb_build_object('k', big(3)), ARRAY[big(4), 'x'];`)
			big := pg.Query(t, db, "SELECT big(1)")
			yaml := fmt.Sprintf("version: 1\nconnectors:\n  - name: pg\n    kind: postgres-source\n%s    config:\n"+
				"      dsn: %s\n      tables: [public.t]\n      slot: slot_%s\n      snapshot: initial\n      topic_prefix: e2e\n",
				tc.extra, pg.DSN(db), db)
			r := &pgRig{t: t, dir: t.TempDir(), yaml: yaml}
			r.start()
			r.wait(1)
			if info, _ := r.log.Topic("e2e.public.t"); !info.KeyIndex {
				t.Fatalf("the postgres source's topic has no key index: %+v", info)
			}
			r.stop()
			r.start()
			defer r.stop()
			pg.Exec(t, db, `UPDATE public.t SET n = 1 WHERE id = 1`)
			row := r.row(r.wait(2)[1])
			if got, _ := row["big"].(string); got != big || row["n"] != "1" {
				t.Fatalf("after the update: n = %v, big = %.60q… (%d bytes), want the TOASTed value (%d bytes)", row["n"], got, len(got), len(big))
			}
			if s := fmt.Sprint(row["raw"], row["doc"], row["arr"]); strings.Contains(s, postgres.UnavailableValue) {
				t.Fatalf("a placeholder in %.200s", s)
			}
		})
	}
}

type pgRig struct {
	t    *testing.T
	dir  string
	yaml string
	log  *sluicelog.Log
	rt   *connect.Runtime
}

func (r *pgRig) start() {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := sluicelog.Open(r.dir, sluicelog.Options{Logger: quiet})
	if err != nil {
		r.t.Fatal(err)
	}
	reg := connect.NewRegistry()
	reg.Register(postgres.New())
	r.log = l
	r.rt = connect.NewRuntime(embedded.New(l, 1, 1), reg, connect.RuntimeOptions{Logger: quiet})
	cfg, err := configs.Parse("e2e.yaml", []byte(r.yaml), reg.ConfigOptions())
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.rt.Start(cfg.Connectors); err != nil {
		r.t.Fatal(err)
	}
}

func (r *pgRig) stop() {
	r.rt.Close()
	r.log.Close()
}

// wait returns the topic's records once it has n.
func (r *pgRig) wait(n int) []sluicelog.Record {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var recs []sluicelog.Record
		if res, err := r.log.Read("e2e.public.t", 0, 0, sluicelog.ReadOptions{MaxBytes: 64 << 20}); err == nil {
			for _, b := range res.Batches {
				rs, _ := b.Records()
				recs = append(recs, rs...)
			}
		}
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %d records (have %d)", n, len(recs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// row returns the row image of a record: the envelope's after (in the
// json-schema payload), or the unwrapped value.
func (r *pgRig) row(rec sluicelog.Record) map[string]any {
	r.t.Helper()
	d := json.NewDecoder(strings.NewReader(string(rec.Value)))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		r.t.Fatal(err)
	}
	if p, ok := v["payload"].(map[string]any); ok {
		v = p
	}
	if a, ok := v["after"].(map[string]any); ok {
		v = a
	}
	for k, x := range v {
		if n, ok := x.(json.Number); ok {
			v[k] = n.String()
		}
	}
	return v
}
