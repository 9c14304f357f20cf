package mysql_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/internal/testdb"
)

// store keeps what the runtime would write of a source's batches: the
// messages, serialized by the json converter, in the order written, and
// the positions. It answers Env.ReadTopic as of a chosen position.
type store struct {
	t       *testing.T
	records []connect.Record
	marks   map[string]int // position → records written with and before it
}

func newStore(t *testing.T) *store { return &store{t: t, marks: map[string]int{}} }

// add writes a batch's messages, as the runtime does, with its position.
func (s *store) add(b connect.SourceBatch) {
	conv, _ := connect.NewConverter("json")
	for i := range b.Messages {
		k, v, err := conv.Encode(&b.Messages[i])
		if err != nil {
			s.t.Fatalf("encode message of %s: %v", b.Messages[i].Topic, err)
		}
		s.records = append(s.records, connect.Record{Topic: b.Messages[i].Topic, Offset: int64(len(s.records)), Key: k, Value: v})
	}
	if b.Position != nil {
		s.marks[string(b.Position)] = len(s.records)
	}
}

// env returns an Env whose ReadTopic reads the records stored up to and
// with pos (nil: all).
func (s *store) env(t *testing.T, pos connect.Position) connect.Env {
	n := len(s.records)
	if pos != nil {
		var ok bool
		if n, ok = s.marks[string(pos)]; !ok {
			t.Fatalf("position %q was never stored", pos)
		}
	}
	env := connecttest.Env(t)
	env.ReadTopic = func(ctx context.Context, topic string, fn func(connect.Record) error) error {
		for _, r := range s.records[:n] {
			if r.Topic == topic {
				if err := fn(r); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return env
}

// rewind drops what was stored after pos, as if the log ended there.
func (s *store) rewind(pos connect.Position) {
	n, ok := s.marks[string(pos)]
	if !ok {
		s.t.Fatalf("position %q was never stored", pos)
	}
	s.records = s.records[:n]
	for p, m := range s.marks {
		if m > n {
			delete(s.marks, p)
		}
	}
}

// readStored reads until a positioned batch with events or messages,
// storing every batch.
func (s *store) read(t *testing.T, src connect.Source) ([]connect.ChangeEvent, []connect.Message, connect.Position) {
	t.Helper()
	evs, msgs, pos, err := s.tryRead(t, src)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return evs, msgs, pos
}

// tryRead is read, returning Read's error.
func (s *store) tryRead(t *testing.T, src connect.Source) ([]connect.ChangeEvent, []connect.Message, connect.Position, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20e9)
	defer cancel()
	var evs []connect.ChangeEvent
	var msgs []connect.Message
	for {
		b, err := src.Read(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		s.add(b)
		evs = append(evs, b.Events...)
		msgs = append(msgs, b.Messages...)
		if b.Position != nil && len(evs)+len(msgs) > 0 {
			return evs, msgs, b.Position, nil
		}
	}
}

// names lists the column names of an event's table.
func names(ev connect.ChangeEvent) string {
	var out []string
	for _, c := range ev.Table.Columns {
		out = append(out, c.Name)
	}
	return strings.Join(out, ",")
}

// row shows an event's after image.
func row(ev connect.ChangeEvent) string {
	var out []string
	for _, v := range ev.After {
		switch {
		case v.Null:
			out = append(out, "null")
		case v.Kind == connect.KindString:
			out = append(out, v.Str)
		default:
			out = append(out, fmt.Sprint(v.Int))
		}
	}
	return strings.Join(out, ",")
}

// TestSchemaHistory stops the source, changes a table's schema several
// times with rows in between, and opens it again at the old position with
// the schema history stored so far: every row decodes with the schema of
// its time, and the history and schema change events follow each DDL.
func TestSchemaHistory(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE d; CREATE TABLE d.t (id int PRIMARY KEY, note varchar(10)); INSERT INTO d.t VALUES (1, 'a');
		CREATE TABLE d.skip (id int PRIMARY KEY);`)
	b := block(m, "d.t, d.t2")
	st := newStore(t)
	src := mustOpen(t, b, nil, st.env(t, nil))
	snap, msgs, _ := st.read(t, src)
	if len(snap) != 1 || len(msgs) != 1 {
		t.Fatalf("snapshot: %d events, %d messages", len(snap), len(msgs))
	}
	m.Exec(t, `INSERT INTO d.t VALUES (2, 'b')`)
	evs, _, p0 := st.read(t, src)
	if len(evs) != 1 || row(evs[0]) != "2,b" {
		t.Fatalf("before the DDL: %d events", len(evs))
	}
	src.Close()

	m.Exec(t, `INSERT INTO d.t VALUES (3, 'c');
		ALTER TABLE d.t ADD COLUMN n int NOT NULL DEFAULT 7 AFTER id, CHANGE note label varchar(20);
		INSERT INTO d.t VALUES (4, 40, 'd');
		ALTER TABLE d.skip ADD COLUMN x int;
		ALTER TABLE d.t DROP COLUMN label, ADD COLUMN first_col varchar(5) FIRST;
		INSERT INTO d.t VALUES ('f', 5, 50);
		RENAME TABLE d.t TO d.t2;
		INSERT INTO d.t2 VALUES ('g', 6, 60);
		TRUNCATE TABLE d.t2;
		DROP TABLE d.t2;`)

	src = mustOpen(t, b, p0, st.env(t, p0))
	type step struct {
		what, cols, row string
		history         []string // tables of the history records, "-" before a tombstone
	}
	want := []step{
		{what: "row 3", cols: "id,note", row: "3,c"},
		{what: "alter", history: []string{"d.t"}},
		{what: "row 4", cols: "id,n,label", row: "4,40,d"},
		{what: "alter", history: []string{"d.t"}},
		{what: "row 5", cols: "first_col,id,n", row: "f,5,50"},
		{what: "rename", history: []string{"-d.t", "d.t2"}},
		{what: "row 6", cols: "first_col,id,n", row: "g,6,60"},
		{what: "truncate", history: []string{"d.t2"}},
		{what: "drop", history: []string{"-d.t2"}},
	}
	for i, w := range want {
		evs, msgs, _ := st.read(t, src)
		if w.row != "" {
			if len(evs) != 1 || len(msgs) != 0 || names(evs[0]) != w.cols || row(evs[0]) != w.row {
				t.Fatalf("step %d (%s): %d events %d messages; want columns %s row %s, got %v", i, w.what, len(evs), len(msgs), w.cols, w.row, evs)
			}
			continue
		}
		var hist []string
		var change *connect.Message
		for j, msg := range msgs {
			switch {
			case strings.HasPrefix(msg.Topic, "__sluice.schema_history."):
				name, _ := msg.Key.Get("table")
				if msg.Value == nil {
					hist = append(hist, "-"+name.Str)
				} else {
					hist = append(hist, name.Str)
				}
			case msg.Topic == "acceptance":
				change = &msgs[j]
			}
		}
		if fmt.Sprint(hist) != fmt.Sprint(w.history) {
			t.Errorf("step %d (%s): history records %v, want %v", i, w.what, hist, w.history)
		}
		if change == nil {
			t.Errorf("step %d (%s): no schema change event", i, w.what)
		} else if db, _ := change.Key.Get("databaseName"); db.Str != "d" {
			t.Errorf("step %d (%s): schema change key %v", i, w.what, change.Key)
		}
		if w.what == "truncate" && (len(evs) != 1 || evs[0].Op != connect.OpTruncate) {
			t.Errorf("truncate: events %v", evs)
		}
	}
}

// TestSchemaFromDDLMatchesServer checks that a schema built by applying
// DDL statements equals the one read from SHOW CREATE TABLE afterwards.
func TestSchemaFromDDLMatchesServer(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE e; CREATE TABLE e.t (id int PRIMARY KEY)`)
	b := block(m, "e.*")
	st := newStore(t)
	src := mustOpen(t, b, nil, st.env(t, nil))
	st.read(t, src)
	m.Exec(t, `CREATE TABLE e.u (a bigint unsigned NOT NULL, b varchar(10) CHARACTER SET latin1, c enum('x','y') DEFAULT 'x',
			d decimal(65,30), e datetime(3), f json, g bit(9), h blob, p point REF_SYSTEM_ID=4326, PRIMARY KEY (a, b));
		ALTER TABLE e.u MODIFY c set('p','q','r') NOT NULL, ADD COLUMN i time(6) AFTER a, DROP PRIMARY KEY, ADD PRIMARY KEY (a);
		ALTER TABLE e.u RENAME COLUMN h TO hh;
		CREATE TABLE e.v LIKE e.u;`)
	// Read until the history has e.v, the last table the DDL makes.
	for seen := false; !seen; {
		_, msgs, _ := st.read(t, src)
		for _, msg := range msgs {
			if name, _ := msg.Key.Get("table"); name.Str == "e.v" && msg.Value != nil {
				seen = true
			}
		}
	}
	src.Close()
	// The history's last records against the server's definitions.
	fromDDL := lastDefinitions(t, st)
	st2 := newStore(t)
	src2 := mustOpen(t, block(m, "e.*", "snapshot: never\n"), nil, st2.env(t, nil))
	m.Exec(t, "INSERT INTO e.t VALUES (1)")
	st2.read(t, src2)
	fromServer := lastDefinitions(t, st2)
	for _, name := range []string{"e.u", "e.v"} {
		if fromDDL[name] == "" {
			t.Errorf("no definition of %s in the history", name)
		}
		if fromDDL[name] != fromServer[name] {
			t.Errorf("%s from DDL:\n  %s\nfrom SHOW CREATE TABLE:\n  %s", name, fromDDL[name], fromServer[name])
		}
	}
}

// lastDefinitions returns the last history definition of each table,
// without collations (SHOW CREATE TABLE leaves out those that are the
// charset's default).
func lastDefinitions(t *testing.T, st *store) map[string]string {
	out := map[string]string{}
	for _, r := range st.records {
		if !strings.HasPrefix(r.Topic, "__sluice") || r.Value == nil {
			continue
		}
		var v struct{ Table, Definition string }
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		var def map[string]any
		json.Unmarshal([]byte(v.Definition), &def)
		for _, c := range def["columns"].([]any) {
			delete(c.(map[string]any), "collation")
		}
		b, _ := json.Marshal(def)
		out[v.Table] = string(b)
	}
	return out
}
