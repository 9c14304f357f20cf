package mysql_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/internal/testdb"
)

// TestTypes inserts one row of every type before the source opens (so the
// snapshot reads it as text) and the same row after (so the binlog
// carries it), and checks both value by value: against the expected
// value, and against each other.
func TestTypes(t *testing.T) {
	day := func(y, m, d int) int64 { return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400 }
	micros := func(y, m, d, h, mi, s, us int) int64 {
		return time.Date(y, time.Month(m), d, h, mi, s, us*1000, time.UTC).UnixMicro()
	}
	wkb := make([]byte, 21) // POINT(1 2): little-endian, type 1, x, y
	wkb[0] = 1
	binary.LittleEndian.PutUint32(wkb[1:], 1)
	binary.LittleEndian.PutUint64(wkb[5:], math.Float64bits(1))
	binary.LittleEndian.PutUint64(wkb[13:], math.Float64bits(2))
	cols := []struct {
		def, lit string
		want     connect.Value
	}{
		{"ti tinyint", "-128", connect.Value{Kind: connect.KindInt16, Int: -128}},
		{"tiu tinyint unsigned", "255", connect.Value{Kind: connect.KindInt16, Int: 255}},
		{"si smallint", "-32768", connect.Value{Kind: connect.KindInt16, Int: -32768}},
		{"siu smallint unsigned", "65535", connect.Value{Kind: connect.KindInt32, Int: 65535}},
		{"mi mediumint", "-8388608", connect.Value{Kind: connect.KindInt32, Int: -8388608}},
		{"miu mediumint unsigned", "16777215", connect.Value{Kind: connect.KindInt32, Int: 16777215}},
		{"i int", "-2147483648", connect.Value{Kind: connect.KindInt32, Int: -2147483648}},
		{"iu int unsigned", "4294967295", connect.Value{Kind: connect.KindInt64, Int: 4294967295}},
		{"bi bigint", "-9223372036854775808", connect.Value{Kind: connect.KindInt64, Int: math.MinInt64}},
		{"biu bigint unsigned", "18446744073709551615", connect.Value{Kind: connect.KindUint64, Uint: math.MaxUint64}},
		{"d decimal(65,30)", "-12345678901234567890123456789012345.123456789012345678901234567890",
			connect.Value{Kind: connect.KindDecimal, Str: "-12345678901234567890123456789012345.123456789012345678901234567890"}},
		{"d2 decimal(10,2)", "-0.5", connect.Value{Kind: connect.KindDecimal, Str: "-0.50"}},
		{"f float", "1.1", connect.Value{Kind: connect.KindFloat32, Float: float64(float32(1.1))}},
		{"f2 float", "16777217", connect.Value{Kind: connect.KindFloat32, Float: 16777216}},
		{"db double", "3.141592653589793", connect.Value{Kind: connect.KindFloat64, Float: math.Pi}},
		{"b1 bit(1)", "b'1'", connect.Value{Kind: connect.KindBits, Bytes: []byte{1}, Int: 1}},
		{"b10 bit(10)", "b'1000000011'", connect.Value{Kind: connect.KindBits, Bytes: []byte{2, 3}, Int: 10}},
		{"b64 bit(64)", "0xFFFFFFFFFFFFFFFF", connect.Value{Kind: connect.KindBits, Bytes: []byte{255, 255, 255, 255, 255, 255, 255, 255}, Int: 64}},
		{"bo bool", "true", connect.Value{Kind: connect.KindInt16, Int: 1}},
		{"cu varchar(20) CHARACTER SET utf8mb4", "'😀 héllo'", connect.String("😀 héllo")},
		{"cl varchar(20) CHARACTER SET latin1", "'café €'", connect.String("café €")},
		{"ch char(5)", "'ab'", connect.String("ab")},
		{"tx text", "'some text'", connect.String("some text")},
		{"bn binary(4)", "X'0102'", connect.Value{Kind: connect.KindBytes, Bytes: []byte{1, 2, 0, 0}}},
		{"vb varbinary(10)", "X'00ff'", connect.Value{Kind: connect.KindBytes, Bytes: []byte{0, 255}}},
		{"bl blob", "X'deadbeef'", connect.Value{Kind: connect.KindBytes, Bytes: []byte{0xde, 0xad, 0xbe, 0xef}}},
		{"e enum('a','b','c')", "'b'", connect.Value{Kind: connect.KindEnum, Str: "b"}},
		{"st set('x','y','z')", "'x,z'", connect.Value{Kind: connect.KindSet, Str: "x,z"}},
		{"j json", `'{"a": [1, 2]}'`, connect.JSON(`{"a": [1, 2]}`)},
		{"dt date", "'2024-02-29'", connect.Value{Kind: connect.KindDate, Int: day(2024, 2, 29)}},
		{"dto date", "'1900-01-01'", connect.Value{Kind: connect.KindDate, Int: day(1900, 1, 1)}},
		{"tm time", "'12:34:56'", connect.Value{Kind: connect.KindTime, Int: (12*3600 + 34*60 + 56) * 1e6}},
		{"tmn time(6)", "'-01:02:03.25'", connect.Value{Kind: connect.KindTime, Int: -(3723*1e6 + 250000), Prec: 6}},
		{"tml time", "'838:59:59'", connect.Value{Kind: connect.KindTime, Int: (838*3600 + 59*60 + 59) * 1e6}},
		{"dtm datetime", "'2024-02-29 10:00:00'", connect.Value{Kind: connect.KindTimestamp, Int: micros(2024, 2, 29, 10, 0, 0, 0)}},
		{"dtm6 datetime(6)", "'2024-02-29 10:00:00.123456'", connect.Value{Kind: connect.KindTimestamp, Int: micros(2024, 2, 29, 10, 0, 0, 123456), Prec: 6}},
		{"dtmz datetime(2)", "'2024-02-29 10:00:00'", connect.Value{Kind: connect.KindTimestamp, Int: micros(2024, 2, 29, 10, 0, 0, 0), Prec: 2}},
		{"ts timestamp(3) NULL", "'2024-02-29 10:00:00.250'", connect.Value{Kind: connect.KindTimestampTZ, Int: micros(2024, 2, 29, 10, 0, 0, 250000), Prec: 3}},
		{"yr year", "2024", connect.Value{Kind: connect.KindInt32, Int: 2024}},
		{"g geometry", "ST_GeomFromText('POINT(1 2)')", connect.Value{Kind: connect.KindGeometry, Bytes: wkb}},
		{"nl varchar(10)", "NULL", connect.Null(connect.KindString)},
		{"em varchar(10)", "''", connect.String("")},
		{"zd date", "'0000-00-00'", connect.Null(connect.KindDate)},
		{"zdt datetime", "'0000-00-00 00:00:00'", connect.Null(connect.KindTimestamp)},
		{"nb blob", "NULL", connect.Null(connect.KindBytes)},
		{"eb blob", "''", connect.Value{Kind: connect.KindBytes, Bytes: []byte{}}},
	}
	m := testdb.StartMariaDB(t)
	create := "CREATE DATABASE ty; CREATE TABLE ty.t (id int PRIMARY KEY"
	lits := ""
	for _, c := range cols {
		create += ", " + c.def
		lits += ", " + c.lit
	}
	m.Exec(t, create+")")
	insert := func(id int) {
		m.Exec(t, fmt.Sprintf("SET SESSION sql_mode = ''; INSERT INTO ty.t VALUES (%d%s)", id, lits))
	}
	insert(1)
	src := mustOpen(t, block(m, "ty.t"), nil, connecttest.Env(t))
	snap, _, _ := readTx(t, src, true)
	insert(2)
	stream, _, _ := readTx(t, src, false)
	if len(snap) != 1 || len(stream) != 1 {
		t.Fatalf("got %d snapshot and %d stream events, want 1 and 1", len(snap), len(stream))
	}
	for _, name := range []string{"json", "json-schema"} {
		conv, _ := connect.NewConverter(name)
		for _, ev := range []connect.ChangeEvent{snap[0], stream[0]} {
			key, value := connect.Envelope(&ev)
			if _, _, err := conv.Encode(&connect.Message{Topic: ev.Topic, Key: key, Value: value, Event: &ev}); err != nil {
				t.Errorf("%s converter, op %c: %v", name, ev.Op, err)
			}
		}
	}
	for i, c := range cols {
		col := snap[0].Table.Columns[i+1]
		a, b := snap[0].After[i+1], stream[0].After[i+1]
		if col.Kind != c.want.Kind {
			t.Errorf("%s: column kind %s, want %s", c.def, col.Kind, c.want.Kind)
		}
		if !same(a, c.want) {
			t.Errorf("%s = %s: snapshot %#v, want %#v", c.def, c.lit, a, c.want)
		}
		if !same(b, c.want) {
			t.Errorf("%s = %s: binlog %#v, want %#v", c.def, c.lit, b, c.want)
		}
		if !same(a, b) {
			t.Errorf("%s = %s: snapshot %#v and binlog %#v differ", c.def, c.lit, a, b)
		}
	}
}

// same compares two values, a nil and an empty byte slice alike only when
// both are null.
func same(a, b connect.Value) bool {
	if a.Kind != b.Kind || a.Null != b.Null {
		return false
	}
	if a.Null {
		return true
	}
	if (a.Bytes == nil) != (b.Bytes == nil) && (len(a.Bytes) > 0 || len(b.Bytes) > 0) {
		return false
	}
	a.Bytes, b.Bytes = append([]byte{}, a.Bytes...), append([]byte{}, b.Bytes...)
	return reflect.DeepEqual(a, b)
}
