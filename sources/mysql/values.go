package mysql

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/sluice-cdc/sluice/connect"
)

// Values come two ways: as text from the snapshot's SELECT (the text
// protocol, with character_set_results NULL so that strings arrive in
// their column's character set, as in the binlog) and as go-mysql's
// decoding of binlog row events. Both go through the same column-typed
// conversions below, so that a row reads the same from either path.
//
//	tinyint, smallint       KindInt16 (unsigned smallint: KindInt32)
//	mediumint, int          KindInt32 (unsigned int: KindInt64)
//	bigint                  KindInt64; unsigned KindUint64, exact
//	decimal                 KindDecimal, the exact digits as MySQL prints them
//	float, double           KindFloat32, KindFloat64
//	bit(n)                  KindBits: bytes big-endian, Int n
//	char, varchar, text     KindString, converted from the column's charset to UTF-8
//	binary, varbinary, blob KindBytes
//	enum, set               KindEnum, KindSet: the labels (a set's joined by ',')
//	json                    KindJSON, the text
//	date                    KindDate: days since 1970-01-01
//	time                    KindTime: microseconds, negative or past 24h as MySQL allows
//	datetime                KindTimestamp: microseconds since the epoch as if UTC
//	timestamp               KindTimestampTZ: microseconds since the epoch, UTC
//	year                    KindInt32
//	geometry (all spatial)  KindGeometry: Bytes the WKB, Int the SRID
//
// A zero date or datetime ('0000-00-00', or a zero month or day, which
// MySQL accepts outside strict mode) has no such value: it becomes NULL
// when the column is nullable, else the epoch (Debezium does the same),
// and the source logs it once per column.

// connectColumn describes c to connect.
func (c *column) connectColumn() connect.Column {
	cc := connect.Column{Name: c.Name, Type: c.ColumnType, Kind: c.kind(), Optional: c.Nullable,
		Precision: c.Precision, Scale: c.Scale, Prec: int8(c.Fsp)}
	switch cc.Kind {
	case connect.KindString, connect.KindBytes, connect.KindBits:
		cc.Length = c.Length
	case connect.KindEnum, connect.KindSet:
		cc.Enum = c.Labels
	}
	return cc
}

// kind returns the connect kind of a column.
func (c *column) kind() connect.Kind {
	switch c.Type {
	case "tinyint":
		return connect.KindInt16
	case "smallint":
		if c.Unsigned {
			return connect.KindInt32
		}
		return connect.KindInt16
	case "mediumint":
		return connect.KindInt32
	case "int", "integer":
		if c.Unsigned {
			return connect.KindInt64
		}
		return connect.KindInt32
	case "bigint":
		if c.Unsigned {
			return connect.KindUint64
		}
		return connect.KindInt64
	case "decimal", "numeric":
		return connect.KindDecimal
	case "float":
		return connect.KindFloat32
	case "double", "real":
		return connect.KindFloat64
	case "bit":
		return connect.KindBits
	case "enum":
		return connect.KindEnum
	case "set":
		return connect.KindSet
	case "json":
		return connect.KindJSON
	case "date":
		return connect.KindDate
	case "time":
		return connect.KindTime
	case "datetime":
		return connect.KindTimestamp
	case "timestamp":
		return connect.KindTimestampTZ
	case "year":
		return connect.KindInt32
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection", "geomcollection":
		return connect.KindGeometry
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return connect.KindBytes
	}
	if c.Charset == "binary" {
		return connect.KindBytes
	}
	return connect.KindString
}

// valueError is a value that does not fit its column.
func valueError(c *column, what any, err error) error {
	if err != nil {
		return fmt.Errorf("column %s (%s): value %v: %w", c.Name, c.ColumnType, what, err)
	}
	return fmt.Errorf("column %s (%s): unexpected value %v (%T)", c.Name, c.ColumnType, what, what)
}

// binlogValue converts a value as go-mysql decodes it from a row event.
// zero reports a zero date (see above).
func binlogValue(c *column, v any) (out connect.Value, zero bool, err error) {
	k := c.kind()
	if v == nil {
		return connect.Null(k), false, nil
	}
	switch k {
	case connect.KindInt16, connect.KindInt32, connect.KindInt64, connect.KindUint64:
		var i int64
		var u uint64
		var unsigned bool
		switch x := v.(type) {
		case int8:
			i, u = int64(x), uint64(uint8(x))
		case int16:
			i, u = int64(x), uint64(uint16(x))
		case int32:
			i, u = int64(x), uint64(uint32(x))
			if c.Type == "mediumint" {
				u = uint64(uint32(x) & 0xFFFFFF)
			}
		case int64:
			i, u = x, uint64(x)
		case int:
			i, u = int64(x), uint64(x)
		case uint8:
			i, u, unsigned = int64(x), uint64(x), true
		case uint16:
			i, u, unsigned = int64(x), uint64(x), true
		case uint32:
			i, u, unsigned = int64(x), uint64(x), true
		case uint64:
			i, u, unsigned = int64(x), x, true
		default:
			return out, false, valueError(c, v, nil)
		}
		if c.Unsigned || unsigned {
			return intValue(k, int64(u), u), false, nil
		}
		return intValue(k, i, uint64(i)), false, nil
	case connect.KindFloat32:
		switch x := v.(type) {
		case float32:
			return connect.Value{Kind: k, Float: float64(x)}, false, nil
		case float64:
			return connect.Value{Kind: k, Float: float64(float32(x))}, false, nil
		}
	case connect.KindFloat64:
		switch x := v.(type) {
		case float64:
			return connect.Value{Kind: k, Float: x}, false, nil
		case float32:
			return connect.Value{Kind: k, Float: float64(x)}, false, nil
		}
	case connect.KindBits:
		x, ok := v.(int64)
		if !ok {
			return out, false, valueError(c, v, nil)
		}
		n := (max(c.Length, 1) + 7) / 8
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(x))
		return connect.Value{Kind: k, Bytes: append([]byte(nil), b[8-n:]...), Int: int64(max(c.Length, 1))}, false, nil
	case connect.KindEnum:
		x, ok := v.(int64)
		if !ok {
			return out, false, valueError(c, v, nil)
		}
		if x == 0 {
			return connect.Value{Kind: k, Str: ""}, false, nil // MySQL's invalid-value '' (index 0)
		}
		if x < 0 || int(x) > len(c.Labels) {
			return out, false, valueError(c, v, fmt.Errorf("enum index out of %d labels", len(c.Labels)))
		}
		return connect.Value{Kind: k, Str: c.Labels[x-1]}, false, nil
	case connect.KindSet:
		x, ok := v.(int64)
		if !ok {
			return out, false, valueError(c, v, nil)
		}
		var labels []string
		for i, l := range c.Labels {
			if x&(1<<i) != 0 {
				labels = append(labels, l)
			}
		}
		return connect.Value{Kind: k, Str: strings.Join(labels, ",")}, false, nil
	}
	if c.Type == "binary" && c.Length > 0 {
		// The binlog drops a BINARY(n) value's trailing zero bytes; the
		// column holds them.
		var b []byte
		switch x := v.(type) {
		case string:
			b = []byte(x)
		case []byte:
			b = x
		}
		if len(b) < c.Length {
			p := make([]byte, c.Length)
			copy(p, b)
			return connect.Value{Kind: k, Bytes: p}, false, nil
		}
	}
	switch x := v.(type) {
	case string:
		return textValue(c, []byte(x))
	case []byte:
		return textValue(c, x)
	case int, int64:
		if c.Type == "year" {
			return textValue(c, fmt.Append(nil, x))
		}
	}
	return out, false, valueError(c, v, nil)
}

func intValue(k connect.Kind, i int64, u uint64) connect.Value {
	if k == connect.KindUint64 {
		return connect.Value{Kind: k, Uint: u}
	}
	return connect.Value{Kind: k, Int: i}
}

// textValue converts a value in MySQL's text form (the text protocol, and
// go-mysql's strings for decimals, dates and times), or the raw bytes of a
// string, blob, bit or geometry column. zero reports a zero date.
func textValue(c *column, b []byte) (out connect.Value, zero bool, err error) {
	return kindTextValue(c, c.kind(), b)
}

// kindTextValue is textValue for a column of kind k (c.kind(), which a
// caller converting many rows works out once).
func kindTextValue(c *column, k connect.Kind, b []byte) (out connect.Value, zero bool, err error) {
	switch k {
	case connect.KindString, connect.KindEnum, connect.KindSet:
		return connect.Value{Kind: k, Str: decodeCharset(c.Charset, b)}, false, nil
	case connect.KindBytes:
		return connect.Value{Kind: k, Bytes: append([]byte(nil), b...)}, false, nil
	}
	s := string(b)
	switch k {
	case connect.KindInt16, connect.KindInt32, connect.KindInt64:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return out, false, valueError(c, s, err)
		}
		return connect.Value{Kind: k, Int: i}, false, nil
	case connect.KindUint64:
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return out, false, valueError(c, s, err)
		}
		return connect.Value{Kind: k, Uint: u}, false, nil
	case connect.KindFloat32:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return out, false, valueError(c, s, err)
		}
		return connect.Value{Kind: k, Float: float64(float32(f))}, false, nil
	case connect.KindFloat64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return out, false, valueError(c, s, err)
		}
		return connect.Value{Kind: k, Float: f}, false, nil
	case connect.KindDecimal:
		return connect.Value{Kind: k, Str: s}, false, nil
	case connect.KindBits:
		n := (max(c.Length, 1) + 7) / 8
		if len(b) > n {
			return out, false, valueError(c, b, fmt.Errorf("%d bytes for %d bits", len(b), c.Length))
		}
		v := make([]byte, n)
		copy(v[n-len(b):], b)
		return connect.Value{Kind: k, Bytes: v, Int: int64(max(c.Length, 1))}, false, nil
	case connect.KindJSON:
		return connect.Value{Kind: k, Str: s}, false, nil
	case connect.KindGeometry:
		// MySQL's internal form: the SRID, 4 bytes little-endian, then WKB.
		if len(b) < 4 {
			return out, false, valueError(c, b, fmt.Errorf("geometry of %d bytes", len(b)))
		}
		return connect.Value{Kind: k, Int: int64(binary.LittleEndian.Uint32(b)), Bytes: append([]byte(nil), b[4:]...)}, false, nil
	case connect.KindDate:
		d, ok := parseDate(s)
		if !ok {
			if zeroDate(s) {
				return zeroValue(c), true, nil
			}
			return out, false, valueError(c, s, fmt.Errorf("not a date"))
		}
		return connect.Value{Kind: k, Int: d}, false, nil
	case connect.KindTime:
		us, ok := parseTime(s)
		if !ok {
			return out, false, valueError(c, s, fmt.Errorf("not a time"))
		}
		return connect.Value{Kind: k, Int: us, Prec: int8(c.Fsp)}, false, nil
	case connect.KindTimestamp, connect.KindTimestampTZ:
		date, tod, ok := strings.Cut(s, " ")
		d, dok := parseDate(date)
		us, tok := parseTime(tod)
		if !ok || !tok || us < 0 || us >= 24*3600*1e6 {
			return out, false, valueError(c, s, fmt.Errorf("not a date and time"))
		}
		if !dok {
			if zeroDate(date) {
				return zeroValue(c), true, nil
			}
			return out, false, valueError(c, s, fmt.Errorf("not a date and time"))
		}
		return connect.Value{Kind: k, Int: d*86400*1e6 + us, Prec: int8(c.Fsp)}, false, nil
	}
	return out, false, valueError(c, s, nil)
}

// zeroValue is what a zero date becomes: NULL, or the epoch in a NOT NULL
// column.
func zeroValue(c *column) connect.Value {
	k := c.kind()
	if c.Nullable {
		return connect.Null(k)
	}
	return connect.Value{Kind: k, Prec: int8(c.Fsp)}
}

// zeroDate reports a date with a zero year, month or day: '0000-00-00',
// '2024-00-10'.
func zeroDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	y, e1 := strconv.Atoi(s[:4])
	m, e2 := strconv.Atoi(s[5:7])
	d, e3 := strconv.Atoi(s[8:])
	return e1 == nil && e2 == nil && e3 == nil && (y == 0 && m == 0 && d == 0 || m == 0 || d == 0)
}

// parseDate parses YYYY-MM-DD into days since 1970-01-01; false for a
// zero or invalid date.
func parseDate(s string) (int64, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, e1 := strconv.Atoi(s[:4])
	m, e2 := strconv.Atoi(s[5:7])
	d, e3 := strconv.Atoi(s[8:])
	if e1 != nil || e2 != nil || e3 != nil || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return 0, false
	}
	return int64(math.Floor(float64(t.Unix()) / 86400)), true
}

// parseTime parses [-]H+:MM:SS[.ffffff] into microseconds.
func parseTime(s string) (int64, bool) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	hms, frac, hasFrac := strings.Cut(s, ".")
	parts := strings.Split(hms, ":")
	if len(parts) != 3 || len(parts[1]) != 2 || len(parts[2]) != 2 || len(parts[0]) < 2 {
		return 0, false
	}
	h, e1 := strconv.ParseInt(parts[0], 10, 64)
	m, e2 := strconv.ParseInt(parts[1], 10, 64)
	sec, e3 := strconv.ParseInt(parts[2], 10, 64)
	if e1 != nil || e2 != nil || e3 != nil || m > 59 || sec > 59 {
		return 0, false
	}
	us := ((h*60+m)*60 + sec) * 1e6
	if hasFrac {
		if len(frac) == 0 || len(frac) > 6 {
			return 0, false
		}
		f, err := strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil {
			return 0, false
		}
		us += f
	}
	if neg {
		us = -us
	}
	return us, true
}

// decodeCharset converts a string of a MySQL character set to UTF-8.
// latin1 is MySQL's latin1, which is Windows-1252; the utf8 family and
// ascii are UTF-8 already. Others are taken as UTF-8, invalid bytes
// replaced (see "Not done yet" in doc.go).
func decodeCharset(cs string, b []byte) string {
	switch cs {
	case "latin1":
		s, err := charmap.Windows1252.NewDecoder().Bytes(b)
		if err == nil {
			return string(s)
		}
	case "utf8mb4", "utf8mb3", "utf8", "ascii", "":
		if utf8.Valid(b) {
			return string(b)
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// keyText returns one key value of a snapshot's progress (position.go):
// numbers, dates and times as MySQL prints them, strings and bytes as "x"
// and their hex digits (their raw bytes, in the column's charset).
func keyText(c *column, raw []byte) string {
	switch c.kind() {
	case connect.KindString, connect.KindBytes, connect.KindEnum, connect.KindSet, connect.KindJSON, connect.KindBits, connect.KindGeometry:
		return "x" + fmt.Sprintf("%x", raw)
	}
	return string(raw)
}

// keyLiteral returns the SQL literal of a key value from keyText, for a
// comparison with column c.
func keyLiteral(c *column, text string) string {
	if h, ok := strings.CutPrefix(text, "x"); ok {
		lit := "X'" + h + "'"
		if c.kind() == connect.KindString || c.kind() == connect.KindEnum || c.kind() == connect.KindSet {
			cs := c.Charset
			if cs == "" {
				cs = "utf8mb4"
			}
			lit = "CONVERT(" + lit + " USING " + cs + ")"
			if c.Collation != "" {
				lit += " COLLATE " + c.Collation
			}
		}
		return lit
	}
	switch c.kind() {
	case connect.KindDate, connect.KindTime, connect.KindTimestamp, connect.KindTimestampTZ:
		return "'" + text + "'"
	}
	return text
}
