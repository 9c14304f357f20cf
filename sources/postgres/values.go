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
	oidMoney       = 790
	oidBit         = 1560
	oidVarbit      = 1562
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
	case oidMoney:
		return connect.KindDecimal
	case oidBit, oidVarbit:
		return connect.KindBits
	}
	return connect.KindString
}

// typeInfo holds the catalog facts of a column's type that its OID does
// not tell: whether it is a user enum, and an array's element type.
type typeInfo struct {
	enum      bool     // the type is an enum
	elem      uint32   // an array's element type; 0 for other types
	elemEnum  bool     // the element type is an enum
	elemDelim string   // the element type's array delimiter
	labels    []string // the enum's (or element enum's) labels
}

// column builds a column description from its catalog facts.
func column(name string, oid uint32, typmod int32, typeName string, notNull bool, info typeInfo) connect.Column {
	col := connect.Column{Name: name, Type: typeName, Kind: kindOf(oid), Optional: !notNull}
	switch {
	case info.enum:
		col.Kind, col.Enum = connect.KindEnum, info.labels
	case info.elem != 0 && info.elemDelim == ",":
		col.Kind, col.Elem = connect.KindArray, kindOf(info.elem)
		if info.elemEnum {
			col.Elem, col.Enum = connect.KindEnum, info.labels
		}
		oid = info.elem // the type modifier is the element's
	}
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
	case oidBit, oidVarbit:
		if typmod > 0 {
			col.Length = int(typmod)
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
	case connect.KindBits:
		v.Int = int64(len(s))
		v.Bytes = make([]byte, (len(s)+7)/8)
		for i := 0; i < len(s) && err == nil; i++ {
			p := len(s) - 1 - i // the bit's place from the right
			switch s[i] {
			case '1':
				v.Bytes[len(v.Bytes)-1-p/8] |= 1 << (p % 8)
			case '0':
			default:
				err = fmt.Errorf("not a bit string")
			}
		}
	case connect.KindArray:
		elem := connect.Column{Name: col.Name, Type: col.Type, Kind: col.Elem, Prec: col.Prec, Enum: col.Enum}
		v, err = parseArray(&elem, s)
	case connect.KindDecimal:
		v.Str = s
		if strings.ContainsAny(s, "$,(") { // money; numeric never has these
			v.Str, err = moneyDecimal(s)
		}
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

// moneyDecimal turns money's text form, with lc_monetary C ("$1,234.56",
// "-$1,234.56"), into a decimal ("1234.56").
func moneyDecimal(s string) (string, error) {
	var b strings.Builder
	neg := false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r == '.':
			b.WriteRune(r)
		case r == '-', r == '(':
			neg = true
		case r == '$', r == ',', r == ')', r == ' ':
		default:
			return "", fmt.Errorf("not money as lc_monetary C prints it")
		}
	}
	out := b.String()
	if out == "" || strings.Count(out, ".") > 1 {
		return "", fmt.Errorf("not money as lc_monetary C prints it")
	}
	if neg {
		out = "-" + out
	}
	return out, nil
}

// parseArray parses an array's text form ("{1,2,NULL}", "{\"a b\",c}",
// nested for more dimensions, maybe after "[lower:upper]=" bounds) into a
// KindArray value whose elements are values of elem.
func parseArray(elem *connect.Column, s string) (connect.Value, error) {
	if strings.HasPrefix(s, "[") {
		i := strings.Index(s, "=")
		if i < 0 {
			return connect.Value{}, fmt.Errorf("bad array bounds")
		}
		s = s[i+1:]
	}
	v, rest, err := parseArrayAt(elem, s)
	if err == nil && strings.TrimSpace(rest) != "" {
		err = fmt.Errorf("text after the array")
	}
	return v, err
}

func parseArrayAt(elem *connect.Column, s string) (connect.Value, string, error) {
	out := connect.Value{Kind: connect.KindArray, List: []connect.Value{}}
	s = strings.TrimLeft(s, " ")
	if !strings.HasPrefix(s, "{") {
		return out, s, fmt.Errorf("array does not start with '{'")
	}
	s = strings.TrimLeft(s[1:], " ")
	if strings.HasPrefix(s, "}") {
		return out, s[1:], nil
	}
	for {
		s = strings.TrimLeft(s, " ")
		var ev connect.Value
		switch {
		case strings.HasPrefix(s, "{"):
			var err error
			if ev, s, err = parseArrayAt(elem, s); err != nil {
				return out, s, err
			}
		default:
			var b strings.Builder
			quoted := strings.HasPrefix(s, "\"")
			i := 0
			if quoted {
				i = 1
			}
			for ; i < len(s); i++ {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					i++
					b.WriteByte(s[i])
					continue
				}
				if quoted && c == '"' {
					i++
					break
				}
				if !quoted && (c == ',' || c == '}') {
					break
				}
				b.WriteByte(c)
			}
			s = s[i:]
			text := b.String()
			if !quoted {
				text = strings.TrimRight(text, " ")
			}
			if !quoted && strings.EqualFold(text, "NULL") {
				ev = connect.Null(elem.Kind)
			} else {
				var err error
				if ev, err = value(elem, []byte(text)); err != nil {
					return out, s, err
				}
			}
		}
		out.List = append(out.List, ev)
		s = strings.TrimLeft(s, " ")
		switch {
		case strings.HasPrefix(s, ","):
			s = s[1:]
		case strings.HasPrefix(s, "}"):
			return out, s[1:], nil
		default:
			return out, s, fmt.Errorf("array element not followed by ',' or '}'")
		}
	}
}
