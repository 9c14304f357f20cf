package postgres

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-cdc/sluice/connect"
)

// Type OIDs of the built-in types the source maps to kinds.
const (
	oidBool        = 16
	oidBytea       = 17
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestampTZ = 1184
	oidInterval    = 1186
	oidTimeTZ      = 1266
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// kindOf maps a type OID to the kind of its values; other types are
// strings holding the text form.
func kindOf(oid uint32) connect.Kind {
	switch oid {
	case oidBool:
		return connect.KindBool
	case oidInt2:
		return connect.KindInt16
	case oidInt4:
		return connect.KindInt32
	case oidInt8:
		return connect.KindInt64
	case oidFloat4:
		return connect.KindFloat32
	case oidFloat8:
		return connect.KindFloat64
	case oidNumeric:
		return connect.KindDecimal
	case oidBytea:
		return connect.KindBytes
	case oidDate:
		return connect.KindDate
	case oidTime:
		return connect.KindTime
	case oidTimestamp:
		return connect.KindTimestamp
	case oidTimestampTZ:
		return connect.KindTimestampTZ
	case oidInterval:
		return connect.KindInterval
	case oidTimeTZ:
		return connect.KindTimeTZ
	case oidUUID:
		return connect.KindUUID
	case oidJSON, oidJSONB:
		return connect.KindJSON
	}
	return connect.KindString
}

// column builds a column description from its catalog facts.
func column(name string, oid uint32, typmod int32, typeName string, notNull bool) connect.Column {
	col := connect.Column{Name: name, Type: typeName, Kind: kindOf(oid), Optional: !notNull}
	switch oid {
	case oidNumeric:
		if typmod >= 4 {
			col.Precision = int((typmod - 4) >> 16 & 0xffff)
			col.Scale = int((typmod - 4) & 0xffff)
		}
	case oidVarchar, oidBpchar:
		if typmod >= 4 {
			col.Length = int(typmod - 4)
		}
	case oidTime, oidTimeTZ, oidTimestamp, oidTimestampTZ:
		col.Prec = 6
		if typmod >= 0 {
			col.Prec = int8(typmod)
		}
	}
	return col
}

// value converts a column's text form to a value of its kind.
func value(col *connect.Column, text []byte) (connect.Value, error) {
	s := string(text)
	v := connect.Value{Kind: col.Kind}
	var err error
	switch col.Kind {
	case connect.KindBool:
		switch s {
		case "t":
			v.Int = 1
		case "f":
		default:
			err = fmt.Errorf("not a bool")
		}
	case connect.KindInt16:
		v.Int, err = strconv.ParseInt(s, 10, 16)
	case connect.KindInt32:
		v.Int, err = strconv.ParseInt(s, 10, 32)
	case connect.KindInt64:
		v.Int, err = strconv.ParseInt(s, 10, 64)
	case connect.KindFloat32:
		v.Float, err = strconv.ParseFloat(s, 32)
	case connect.KindFloat64:
		v.Float, err = strconv.ParseFloat(s, 64)
	case connect.KindBytes:
		h, ok := strings.CutPrefix(s, `\x`)
		if !ok {
			err = fmt.Errorf("not hex bytea output (bytea_output must be hex)")
			break
		}
		v.Bytes, err = hex.DecodeString(h)
	case connect.KindDate:
		var t time.Time
		t, err = time.Parse("2006-01-02", s)
		v.Int = floorDiv(t.Unix(), 86400)
	case connect.KindTime:
		v.Prec = col.Prec
		v.Int, err = timeOfDay(s)
	case connect.KindTimeTZ:
		v.Prec = col.Prec
		i := strings.LastIndexAny(s, "+-")
		if i < 0 {
			err = fmt.Errorf("no zone offset")
			break
		}
		v.Int, err = timeOfDay(s[:i])
		if err != nil {
			break
		}
		var z time.Time
		for _, layout := range []string{"Z07", "Z07:00", "Z07:00:00"} {
			if z, err = time.Parse(layout, s[i:]); err == nil {
				break
			}
		}
		_, off := z.Zone()
		v.Offset = int32(off)
	case connect.KindTimestamp:
		v.Prec = col.Prec
		var t time.Time
		t, err = time.Parse("2006-01-02 15:04:05.999999", s)
		v.Int = t.UnixMicro()
	case connect.KindTimestampTZ:
		v.Prec = col.Prec
		var t time.Time
		for _, layout := range []string{"2006-01-02 15:04:05.999999Z07", "2006-01-02 15:04:05.999999Z07:00", "2006-01-02 15:04:05.999999Z07:00:00"} {
			if t, err = time.Parse(layout, s); err == nil {
				break
			}
		}
		v.Int = t.UnixMicro()
	case connect.KindUUID:
		v.Str = strings.ToLower(s)
	default: // decimal, string, json: the text as it is
		v.Str = s
	}
	if err != nil {
		return connect.Value{}, fmt.Errorf("column %q (%s): value %q: %w", col.Name, col.Type, clip(s), err)
	}
	return v, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// timeOfDay parses a time of day as Postgres prints it into microseconds
// since midnight.
func timeOfDay(s string) (int64, error) {
	if s == "24:00:00" {
		return 24 * 3600 * 1e6, nil
	}
	t, err := time.Parse("15:04:05.999999", s)
	if err != nil {
		return 0, err
	}
	return int64(t.Hour())*3600e6 + int64(t.Minute())*60e6 + int64(t.Second())*1e6 + int64(t.Nanosecond()/1000), nil
}
