package postgres

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/sluice-cdc/sluice/connect"
)

// Type OIDs of the built-in types the source maps to kinds.
const (
	oidBool        = 16
	oidBytea       = 17
	oidName        = 19
	oidOID         = 26
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
	case oidInt8, oidOID:
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

// Sentinels for the infinities of date, timestamp and timestamptz, which
// no finite value of those types reaches: Postgres's dates end in
// 5874897 AD and its timestamps in 294276 AD.
const (
	dateInfinity           = math.MaxInt32 // KindDate days
	dateMinusInfinity      = math.MinInt32
	timestampInfinity      = math.MaxInt64 // KindTimestamp, KindTimestampTZ microseconds
	timestampMinusInfinity = math.MinInt64
)

// value converts a column's text form, as the snapshot's SELECT and
// pgoutput send it, to a value of its kind.
func value(col *connect.Column, text []byte) (connect.Value, error) {
	switch col.Kind {
	case connect.KindBool, connect.KindInt16, connect.KindInt32, connect.KindInt64, connect.KindFloat32, connect.KindFloat64,
		connect.KindDate, connect.KindTime, connect.KindTimeTZ, connect.KindTimestamp, connect.KindTimestampTZ:
		// decode keeps nothing of the text for these kinds: it may
		// share text's bytes instead of copying them.
		return valueOf(col, unsafe.String(unsafe.SliceData(text), len(text)))
	}
	return valueOf(col, string(text))
}

// valueOf is value of a text form already copied into a string, which
// the value may keep.
func valueOf(col *connect.Column, s string) (connect.Value, error) {
	var p *plan
	if col.Kind == connect.KindJSON || col.Kind == connect.KindArray {
		p = planOf(col)
	}
	v, err := decode(col, p, s)
	if err != nil {
		return connect.Value{}, fmt.Errorf("column %q (%s): value %q: %w", col.Name, col.Type, clip(s), err)
	}
	return v, nil
}

// decode converts a text form to a value of col's kind, read with plan p.
func decode(col *connect.Column, p *plan, s string) (connect.Value, error) {
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
		v.Int, err = parseDate(s)
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
		if v.Int, err = timeOfDay(s[:i]); err == nil {
			v.Offset, err = zoneOffset(s[i:])
		}
	case connect.KindTimestamp, connect.KindTimestampTZ:
		v.Prec = col.Prec
		v.Int, err = parseTimestamp(s, col.Kind == connect.KindTimestampTZ)
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
		var ep *plan
		delim := byte(',')
		if p != nil {
			ep = p.elem
			if p.delim != 0 {
				delim = p.delim
			}
		}
		v, err = parseArray(&elem, ep, delim, s)
	case connect.KindDecimal:
		v.Str = s
		if strings.ContainsAny(s, "$,(") { // money; numeric never has these
			v.Str, err = moneyDecimal(s)
		}
	case connect.KindJSON:
		switch {
		case p == nil:
			v.Str = s
		case p.hstore:
			v.Str, err = hstoreJSON(s)
		default:
			v.Str, err = recordJSON(p, s)
		}
	default: // string, enum: the text as it is
		v.Str = s
	}
	if err != nil {
		return connect.Value{}, err
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

// timeOfDay parses a time of day as Postgres prints it ("HH:MM:SS" and
// up to six fraction digits; "24:00:00" is the end of the day) into
// microseconds since midnight.
func timeOfDay(s string) (int64, error) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, fmt.Errorf("not a time of day")
	}
	h, okh := digits(s[0:2])
	m, okm := digits(s[3:5])
	sec, oks := digits(s[6:8])
	if !okh || !okm || !oks || m > 59 || sec > 60 || h > 24 {
		return 0, fmt.Errorf("not a time of day")
	}
	var frac int64
	if rest := s[8:]; rest != "" {
		f, ok := digits(strings.TrimPrefix(rest, "."))
		n := len(rest) - 1
		if !ok || rest[0] != '.' || n > 6 {
			return 0, fmt.Errorf("not a time of day")
		}
		for ; n < 6; n++ {
			f *= 10
		}
		frac = f
	}
	us := h*3600e6 + m*60e6 + sec*1e6 + frac
	if us > 24*3600e6 {
		return 0, fmt.Errorf("not a time of day")
	}
	return us, nil
}

// digits parses a non-empty run of ASCII digits (at most 18).
func digits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseDate parses a date as Postgres prints it with DateStyle ISO
// ("2024-02-29", "12345-01-01", "0044-03-15 BC", "infinity") into days
// since 1970-01-01 in the proleptic Gregorian calendar (1 BC is year 0).
func parseDate(s string) (int64, error) {
	switch s {
	case "infinity":
		return dateInfinity, nil
	case "-infinity":
		return dateMinusInfinity, nil
	}
	rest, bc := strings.CutSuffix(s, " BC")
	days, rest, err := datePart(rest, bc)
	if err == nil && rest != "" {
		err = fmt.Errorf("text after the date")
	}
	return days, err
}

// datePart parses the "Y-MM-DD" at the start of s, a year of BC when bc,
// and returns the days since 1970-01-01 and the rest of s.
func datePart(s string, bc bool) (int64, string, error) {
	dash := strings.IndexByte(s, '-')
	if dash < 4 || len(s) < dash+6 || s[dash+3] != '-' {
		return 0, s, fmt.Errorf("not a date")
	}
	y, oky := digits(s[:dash])
	m, okm := digits(s[dash+1 : dash+3])
	d, okd := digits(s[dash+4 : dash+6])
	if !oky || !okm || !okd || m < 1 || m > 12 || d < 1 || d > 31 || (bc && y == 0) {
		return 0, s, fmt.Errorf("not a date")
	}
	if bc {
		y = 1 - y
	}
	return daysFromCivil(y, int(m), int(d)), s[dash+6:], nil
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's days_from_civil).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400                         // [0, 399]
	doy := int64((153*((m+9)%12)+2)/5 + d - 1) // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy     // [0, 146096]
	return era*146097 + doe - 719468
}

// parseTimestamp parses a timestamp as Postgres prints it with DateStyle
// ISO ("2024-02-29 10:00:00.25", with a zone offset when tz: "+00",
// "+05:30"; " BC" last; "infinity") into microseconds since the epoch, UTC
// when tz.
func parseTimestamp(s string, tz bool) (int64, error) {
	switch s {
	case "infinity":
		return timestampInfinity, nil
	case "-infinity":
		return timestampMinusInfinity, nil
	}
	rest, bc := strings.CutSuffix(s, " BC")
	days, rest, err := datePart(rest, bc)
	if err != nil {
		return 0, err
	}
	clock, ok := strings.CutPrefix(rest, " ")
	if !ok {
		return 0, fmt.Errorf("no time after the date")
	}
	var off int32
	if tz {
		i := strings.LastIndexAny(clock, "+-")
		if i < 0 {
			return 0, fmt.Errorf("no zone offset")
		}
		if off, err = zoneOffset(clock[i:]); err != nil {
			return 0, err
		}
		clock = clock[:i]
	}
	us, err := timeOfDay(clock)
	if err != nil {
		return 0, err
	}
	// Postgres's timestamps reach 294276 AD, microseconds since 1970 in
	// an int64 only 294247 AD, and the greatest int64 is infinity.
	const maxDays = math.MaxInt64/(86400*1_000_000) - 1
	if days > maxDays || days < -maxDays {
		return 0, fmt.Errorf("out of the range of microseconds since 1970 in 64 bits")
	}
	return days*86400e6 + us - int64(off)*1e6, nil
}

// zoneOffset parses a zone offset as Postgres prints it ("+05", "-08:00",
// "+05:30:15") into seconds east of UTC.
func zoneOffset(s string) (int32, error) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, fmt.Errorf("not a zone offset")
	}
	var secs int64
	parts := strings.Split(s[1:], ":")
	if len(parts) > 3 {
		return 0, fmt.Errorf("not a zone offset")
	}
	for i, part := range parts {
		n, ok := digits(part)
		if !ok || len(part) != 2 || (i > 0 && n > 59) {
			return 0, fmt.Errorf("not a zone offset")
		}
		secs += n * []int64{3600, 60, 1}[i]
	}
	if s[0] == '-' {
		secs = -secs
	}
	return int32(secs), nil
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
// nested for more dimensions, maybe after "[lower:upper]=" bounds; delim
// between elements) into a KindArray value whose elements are values of
// elem read with plan p.
func parseArray(elem *connect.Column, p *plan, delim byte, s string) (connect.Value, error) {
	if strings.HasPrefix(s, "[") {
		i := strings.Index(s, "=")
		if i < 0 {
			return connect.Value{}, fmt.Errorf("bad array bounds")
		}
		s = s[i+1:]
	}
	a := arrayParser{elem: elem, plan: p, delim: delim}
	v, rest, err := a.parse(s)
	if err == nil && strings.TrimSpace(rest) != "" {
		err = fmt.Errorf("text after the array")
	}
	return v, err
}

type arrayParser struct {
	elem  *connect.Column
	plan  *plan
	delim byte
}

// parse parses the array at the start of s and returns the rest of s.
func (a *arrayParser) parse(s string) (connect.Value, string, error) {
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
		if strings.HasPrefix(s, "{") {
			var err error
			if ev, s, err = a.parse(s); err != nil {
				return out, s, err
			}
		} else {
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
				if !quoted && (c == a.delim || c == '}') {
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
				ev = connect.Null(a.elem.Kind)
			} else {
				var err error
				if ev, err = decode(a.elem, a.plan, text); err != nil {
					return out, s, fmt.Errorf("element %d: %w", len(out.List)+1, err)
				}
			}
		}
		out.List = append(out.List, ev)
		s = strings.TrimLeft(s, " ")
		switch {
		case s != "" && s[0] == a.delim:
			s = s[1:]
		case strings.HasPrefix(s, "}"):
			return out, s[1:], nil
		default:
			return out, s, fmt.Errorf("array element not followed by %q or '}'", a.delim)
		}
	}
}

// hstoreJSON turns hstore's text form (`"a"=>"1", "b"=>NULL`, with '"'
// and '\' escaped by '\') into a JSON object of strings and nulls, in the
// hstore's order.
func hstoreJSON(s string) (string, error) {
	b := []byte{'{'}
	for i, n := 0, 0; ; n++ {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i == len(s) {
			break
		}
		if n > 0 {
			if s[i] != ',' {
				return "", fmt.Errorf("hstore pairs not separated by ','")
			}
			for i++; i < len(s) && s[i] == ' '; i++ {
			}
			b = append(b, ',')
		}
		key, quoted, next, err := hstoreToken(s, i)
		if err != nil {
			return "", err
		}
		if !quoted && strings.EqualFold(key, "NULL") {
			return "", fmt.Errorf("hstore key is NULL")
		}
		i = next
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if !strings.HasPrefix(s[i:], "=>") {
			return "", fmt.Errorf("hstore key not followed by =>")
		}
		for i += 2; i < len(s) && s[i] == ' '; i++ {
		}
		val, quoted, next, err := hstoreToken(s, i)
		if err != nil {
			return "", err
		}
		i = next
		b, _ = connect.AppendJSON(b, connect.String(key))
		b = append(b, ':')
		if !quoted && strings.EqualFold(val, "NULL") {
			b = append(b, "null"...)
		} else {
			b, _ = connect.AppendJSON(b, connect.String(val))
		}
	}
	return string(append(b, '}')), nil
}

// hstoreToken reads the key or value at s[i:], quoted or not, and returns
// it unescaped, whether it was quoted, and where it ends.
func hstoreToken(s string, i int) (string, bool, int, error) {
	var b strings.Builder
	if i < len(s) && s[i] == '"' {
		for i++; i < len(s); i++ {
			switch s[i] {
			case '\\':
				if i+1 < len(s) {
					i++
					b.WriteByte(s[i])
				}
			case '"':
				return b.String(), true, i + 1, nil
			default:
				b.WriteByte(s[i])
			}
		}
		return "", true, i, fmt.Errorf("hstore string not closed")
	}
	start := i
	for ; i < len(s) && s[i] != ',' && s[i] != ' ' && s[i] != '=' && s[i] != '"'; i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	if i == start {
		return "", false, i, fmt.Errorf("hstore token missing")
	}
	return b.String(), false, i, nil
}

// recordJSON turns a composite value's text form (`(1,"a b",,)`), whose
// attributes p describes, into a JSON object of the attributes by name.
// Each attribute is read as a column of its type is and written as the
// json converter writes that value. The type may have changed since the
// table was described (ALTER TYPE sends no relation message): an attribute
// past the plan's is named "f<N>", and one that does not read as its
// type, both kept as strings of their text.
func recordJSON(p *plan, s string) (string, error) {
	if len(s) < 2 || s[0] != '(' || s[len(s)-1] != ')' {
		return "", fmt.Errorf("not a composite value")
	}
	if s == "()" && len(p.fields) == 0 {
		return "{}", nil
	}
	b := []byte{'{'}
	var field strings.Builder
	i := 1
	for n := 0; ; n++ {
		field.Reset()
		quotedAny, quoted := false, false
	scan:
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s):
				i++
				field.WriteByte(s[i])
			case c == '"' && !quoted:
				quoted, quotedAny = true, true
			case c == '"' && i+1 < len(s) && s[i+1] == '"':
				i++
				field.WriteByte('"')
			case c == '"':
				quoted = false
			case !quoted && (c == ',' || c == ')'):
				break scan
			default:
				field.WriteByte(c)
			}
		}
		if i == len(s) {
			return "", fmt.Errorf("composite value not closed")
		}
		if n > 0 {
			b = append(b, ',')
		}
		var fv connect.Value
		col := connect.Column{Name: "f" + strconv.Itoa(n+1), Kind: connect.KindString}
		var fp *plan
		if n < len(p.fields) {
			col, fp = p.fields[n], p.fplans[n]
		}
		b, _ = connect.AppendJSON(b, connect.String(col.Name))
		b = append(b, ':')
		if field.Len() == 0 && !quotedAny {
			fv = connect.Null(col.Kind)
		} else {
			var err error
			if fv, err = decode(&col, fp, field.String()); err != nil {
				fv = connect.String(field.String()) // the type changed: keep the text
			}
		}
		var err error
		if b, err = connect.AppendJSON(b, fv); err != nil {
			return "", fmt.Errorf("attribute %q (%s): %w", col.Name, col.Type, err)
		}
		c := s[i]
		i++
		if c == ')' {
			if i != len(s) {
				return "", fmt.Errorf("text after the composite value")
			}
			return string(append(b, '}')), nil
		}
	}
}
