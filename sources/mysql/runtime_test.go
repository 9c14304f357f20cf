package mysql_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/connect/embedded"
	"github.com/sluice-cdc/sluice/internal/testdb"
	sluicelog "github.com/sluice-cdc/sluice/log"
	"github.com/sluice-cdc/sluice/sources/mysql"
)

// rig runs a mysql-source connector named "rt" in a connect.Runtime over
// an embedded log in dir, as "sluice run" does: positions stored with the
// records, the schema history read back through Env.ReadTopic.
type rig struct {
	t   testing.TB
	dir string
	log *sluicelog.Log
	cl  connect.Log
	rt  *connect.Runtime
}

func (r *rig) start(block string) {
	r.t.Helper()
	l, err := sluicelog.Open(r.dir, sluicelog.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		r.t.Fatal(err)
	}
	r.log, r.cl = l, embedded.New(l, 1, 1)
	reg := connect.NewRegistry()
	reg.Register(mysql.New())
	r.rt = connect.NewRuntime(r.cl, reg, connect.RuntimeOptions{Logger: connecttest.Env(r.t).Logger,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second})
	text := "version: 1\nconnectors:\n  - name: rt\n    kind: mysql-source\n    config:\n"
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		text += "      " + line + "\n"
	}
	cfg, err := configs.Parse("rt.yaml", []byte(text), configs.Options{})
	if err != nil {
		r.t.Fatalf("config:\n%s\n%v", text, err)
	}
	if err := r.rt.Start(cfg.Connectors); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) stop() {
	if r.rt != nil {
		r.rt.Close()
		r.rt = nil
	}
	if r.log != nil {
		r.log.Close()
		r.log = nil
	}
}

// values returns the "after" images of a topic's records, in order,
// nil for deletes and tombstones.
func (r *rig) values(topic string) []map[string]any {
	r.t.Helper()
	ctx := context.Background()
	n, err := r.cl.Partitions(ctx, topic)
	if err != nil {
		return nil
	}
	var out []map[string]any
	for p := int32(0); p < n; p++ {
		start, end, err := r.cl.Offsets(ctx, topic, p)
		if err != nil {
			r.t.Fatal(err)
		}
		for off := start; off < end; {
			recs, next, err := r.cl.Fetch(ctx, topic, p, off, 1<<20)
			if err != nil {
				r.t.Fatal(err)
			}
			for _, rec := range recs {
				var v struct{ After map[string]any }
				if rec.Value != nil {
					if err := json.Unmarshal(rec.Value, &v); err != nil {
						r.t.Fatal(err)
					}
				}
				out = append(out, v.After)
			}
			if next <= off {
				break
			}
			off = next
		}
	}
	return out
}

// waitFor polls until cond holds for the records of topic.
func (r *rig) waitFor(what, topic string, cond func([]map[string]any) bool) []map[string]any {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		vs := r.values(topic)
		if cond(vs) {
			return vs
		}
		if time.Now().After(deadline) {
			st, _ := r.rt.Status("rt")
			r.t.Fatalf("waiting for %s: %d records of %s; status %+v", what, len(vs), topic, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRuntimeSchemaHistory runs the source in the runtime, stops sluice,
// changes a table's schema with rows on both sides of the change, and
// starts sluice again: the runtime's stored position and the schema
// history topic make the old rows decode with the old schema and the new
// ones with the new.
func TestRuntimeSchemaHistory(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE d; CREATE TABLE d.t (id int PRIMARY KEY, note varchar(10)); INSERT INTO d.t VALUES (1, 'a')`)
	r := &rig{t: t, dir: t.TempDir()}
	t.Cleanup(r.stop)
	block := block(m, "d.t", "heartbeat_interval: 200ms\n")
	r.start(block)
	r.waitFor("the snapshot", "rt.d.t", func(vs []map[string]any) bool { return len(vs) == 1 })
	m.Exec(t, `INSERT INTO d.t VALUES (2, 'b')`)
	r.waitFor("row 2", "rt.d.t", func(vs []map[string]any) bool { return len(vs) == 2 })
	r.stop()

	m.Exec(t, `INSERT INTO d.t VALUES (3, 'c');
		ALTER TABLE d.t ADD COLUMN n int FIRST, DROP COLUMN note;
		INSERT INTO d.t VALUES (40, 4)`)
	r.start(block)
	vs := r.waitFor("rows 3 and 4", "rt.d.t", func(vs []map[string]any) bool { return len(vs) == 4 })
	if vs[2]["note"] != "c" || vs[2]["id"] != float64(3) {
		t.Errorf("row 3 (before the ALTER): %v, want id 3 and note c", vs[2])
	}
	if _, ok := vs[3]["note"]; ok || vs[3]["n"] != float64(40) || vs[3]["id"] != float64(4) {
		t.Errorf("row 4 (after the ALTER): %v, want n 40 and id 4, no note", vs[3])
	}
	hist := r.values("__sluice.schema_history.rt")
	if len(hist) != 2 {
		t.Errorf("%d schema history records, want 2 (the snapshot's and the ALTER's)", len(hist))
	}
	changes := r.waitFor("the schema change event", "rt", func(vs []map[string]any) bool { return len(vs) == 1 })
	_ = changes
}
