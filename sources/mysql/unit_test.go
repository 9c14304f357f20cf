package mysql

import (
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice/connect"
)

func TestParsePosition(t *testing.T) {
	for _, good := range []string{
		"file=binlog.000001 pos=4",
		"file=mysql-bin.000123 pos=4294967295 gtid=0-1-42",
		"file=binlog.000003 pos=1234 gtid=0-1-42,1-2-7",
		"file=binlog.000003 pos=1234 gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42",
		`file=binlog.000003 pos=1234 gtid=0-1-42 snapshot={"tables":[{"table":"shop.t","after":["42","x00ff","2024-01-02 03:04:05"],"done":42,"total":1000}]}`,
	} {
		bp, p, err := parsePosition(connect.Position(good))
		if err != nil {
			t.Errorf("parsePosition(%q): %v", good, err)
			continue
		}
		if got := string(encodePosition(bp, p)); got != good {
			t.Errorf("parsePosition(%q) encodes back as %q", good, got)
		}
	}
	for _, bad := range []string{
		"", "file=binlog.000001", "file=binlog.000001 pos=3", "file=binlog.000001 pos=04", "file=binlog.000001 pos=x",
		"file=a b pos=4", "file=binlog.000001 pos=4 gtid=", "file=binlog.000001 pos=4 gtid=0-1", "file=binlog.000001 pos=4 gtid=1-2-3,1-2-4",
		"file=binlog.000001 pos=4 gtid=0-1-2 x", "lsn=0/1", "file=binlog.000001 pos=4 ",
		`file=binlog.000001 pos=4 snapshot={"tables":[{"table":"t"}]}`,
		`file=binlog.000001 pos=4 snapshot={"tables":[{"table":"d.t","after":["1); DROP TABLE x"]}]}`,
		`file=binlog.000001 pos=4 snapshot={"tables":[],"x":1}`,
	} {
		if _, _, err := parsePosition(connect.Position(bad)); err == nil {
			t.Errorf("parsePosition(%q) succeeded", bad)
		}
	}
}

func TestSpatialTypes(t *testing.T) {
	for in, want := range map[string]string{
		"CREATE TABLE t (`g` geometry NOT NULL, p POINT REF_SYSTEM_ID=4326, point int)": "CREATE TABLE t (`g` ENUM('sluice-spatial:geometry') NOT NULL, p ENUM('sluice-spatial:point') , point int)",
		"ALTER TABLE t ADD COLUMN point int AFTER polygon":                              "ALTER TABLE t ADD COLUMN point int AFTER polygon",
		"ALTER TABLE t ADD COLUMN c linestring, MODIFY d multipolygon":                  "ALTER TABLE t ADD COLUMN c ENUM('sluice-spatial:linestring'), MODIFY d ENUM('sluice-spatial:multipolygon')",
		"INSERT INTO t VALUES ('a point', `polygon`) # geometry":                        "INSERT INTO t VALUES ('a point', `polygon`) # geometry",
		"CREATE TABLE t (a int)": "CREATE TABLE t (a int)",
	} {
		if got := spatialTypes(in); got != want {
			t.Errorf("spatialTypes(%q)\n = %q\nwant %q", in, got, want)
		}
	}
}

func TestMariaDBStatement(t *testing.T) {
	for in, want := range map[string]string{
		"CREATE OR REPLACE TABLE t (id int)":    "CREATE TABLE t (id int)",
		"  create or  replace table t (a int)":  "CREATE table t (a int)",
		"ALTER ONLINE TABLE t ADD COLUMN y int": "ALTER TABLE t ADD COLUMN y int",
		"ALTER TABLE online ADD COLUMN y int":   "ALTER TABLE online ADD COLUMN y int",
		"CREATE TABLE `or` (id int)":            "CREATE TABLE `or` (id int)",
	} {
		if got := mariadbStatement(in); got != want {
			t.Errorf("mariadbStatement(%q) = %q, want %q", in, got, want)
		}
	}
	s := newSchemas()
	all := func(string, string) bool { return true }
	for _, q := range []string{"CREATE TABLE t (id int PRIMARY KEY, a int)", "CREATE OR REPLACE TABLE t (id int PRIMARY KEY)", "ALTER ONLINE TABLE t ADD COLUMN b int"} {
		if _, err := s.apply("d", q, all); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if cols := s.tables["d.t"].Columns; len(cols) != 2 || cols[1].Name != "b" {
		t.Errorf("after CREATE OR REPLACE and ALTER ONLINE: %+v", cols)
	}
}

func TestDefaultServerID(t *testing.T) {
	for _, name := range []string{"a", "shop-mysql", "x.y_z"} {
		id := DefaultServerID(name)
		if id < minServerID || id > maxServerID || id != DefaultServerID(name) {
			t.Errorf("DefaultServerID(%q) = %d", name, id)
		}
	}
	if DefaultServerID("a") == DefaultServerID("b") {
		t.Error("two names, one id")
	}
}

// FuzzParsePosition checks that any position that parses encodes back to
// the same bytes, and that nothing panics.
func FuzzParsePosition(f *testing.F) {
	f.Add("file=binlog.000001 pos=4 gtid=0-1-42")
	f.Add("file=b.1 pos=99 gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42:50")
	f.Add(`file=binlog.000003 pos=1234 snapshot={"tables":[{"table":"shop.t","after":["42"],"done":42,"total":1000}]}`)
	f.Fuzz(func(t *testing.T, s string) {
		bp, p, err := parsePosition(connect.Position(s))
		if err != nil {
			return
		}
		again, p2, err := parsePosition(encodePosition(bp, p))
		if err != nil || again != bp || (p == nil) != (p2 == nil) {
			t.Errorf("%q: parsed %+v %v, encoded and parsed again %+v %v %v", s, bp, p, again, p2, err)
		}
	})
}

// FuzzSpatialTypes checks that the rewrite never panics and leaves text
// without spatial words or REF_SYSTEM_ID alone.
func FuzzSpatialTypes(f *testing.F) {
	f.Add("CREATE TABLE t (`g` geometry NOT NULL, p POINT REF_SYSTEM_ID=4326)")
	f.Add("ALTER TABLE t ADD COLUMN c int /* point */ -- x")
	f.Fuzz(func(t *testing.T, s string) {
		out := spatialTypes(s)
		if !strings.Contains(strings.ToLower(s), "ref_system_id") && !strings.Contains(out, spatialPrefix) && out != s {
			t.Errorf("spatialTypes(%q) = %q", s, out)
		}
	})
}

// TestMessagesEncode checks that the schema history record and the schema
// change event encode with every converter, and that the history record
// reads back from the json and json-schema converters' bytes.
func TestMessagesEncode(t *testing.T) {
	s := newSchemas()
	changes, err := s.apply("d", "CREATE TABLE t (id int PRIMARY KEY, e enum('a','b'), g point)", func(string, string) bool { return true })
	if err != nil || len(changes) != 1 {
		t.Fatalf("apply: %v %v", changes, err)
	}
	src := &Source{name: "n", cfg: Config{TopicPrefix: "p"}, st: &streamState{file: "binlog.000001"}}
	h := &replication.EventHeader{Timestamp: 1700000000, ServerID: 1, LogPos: 500, EventSize: 100}
	msgs := []connect.Message{
		historyMessage("n", changes[0].Table, false),
		historyMessage("n", changes[0].Table, true),
		src.schemaChangeEvent("d", "CREATE TABLE t (...)", changes, &txState{id: "0-1-1", gtid: "0-1-1"}, h, binlogPos{File: "binlog.000001", Pos: 500}),
		src.schemaChangeEvent("d", "DROP TABLE t", []schemaChange{{Type: "DROP", Table: changes[0].Table}}, &txState{id: "x"}, h, binlogPos{File: "binlog.000001", Pos: 500}),
	}
	for _, name := range []string{"json", "json-schema", "raw"} {
		conv, err := connect.NewConverter(name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range msgs {
			k, v, err := conv.Encode(&msgs[i])
			if err != nil {
				t.Errorf("%s: encode message %d (%s): %v", name, i, msgs[i].Topic, err)
				continue
			}
			if i > 1 {
				continue
			}
			table, def, err := readHistoryRecord(connect.Record{Key: k, Value: v})
			if err != nil || table != "d.t" || (i == 0) != (def != nil) {
				t.Errorf("%s: history record %d reads back as %q %v %v", name, i, table, def, err)
			}
			if def != nil && (len(def.Columns) != 3 || def.Columns[2].Type != "point" || len(def.Columns[1].Labels) != 2) {
				t.Errorf("%s: history definition %+v", name, def)
			}
		}
	}
}

func TestKeyAfter(t *testing.T) {
	if got := keyAfter([]string{"a"}, []string{"1"}); got != "((a > 1))" {
		t.Errorf("one column: %s", got)
	}
	if got := keyAfter([]string{"a", "b", "c"}, []string{"1", "2", "3"}); got != "((a > 1) OR (a = 1 AND b > 2) OR (a = 1 AND b = 2 AND c > 3))" {
		t.Errorf("three columns: %s", got)
	}
}
