package connect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// decodeJSONValue reads back a value of column col from the JSON the json
// converter wrote for it (AppendJSON), or, with jsonAsString, the
// json-schema converter's payload (KindJSON as a string holding the text).
// It is AppendJSON's inverse, with these limits:
//
//   - a time kind's Prec is the number of fraction digits written, which
//     is the value's Prec unless the value needed more digits than that;
//     either way it encodes to the same text again;
//   - bits come back with Int set to the length in bits, Bytes right-aligned
//     in as few bytes as hold them;
//   - a geometry's SRID is not written: it comes back 0;
//   - KindJSON text comes back as written: compacted if it held a line
//     break, and text that was not valid JSON (written as a JSON string)
//     comes back as that string's JSON text;
//   - text that was not UTF-8 comes back with U+FFFD where AppendJSON wrote
//     \ufffd;
//   - an array's elements are of col.Elem (a nested JSON array is a
//     nested KindArray of the same element kind, as Postgres's
//     multi-dimensional arrays are); struct columns cannot be read back.
func decodeJSONValue(raw json.RawMessage, col *Column, jsonAsString bool) (Value, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return Value{}, errors.New("no value")
	}
	if string(raw) == "null" {
		return Null(col.Kind), nil
	}
	v := Value{Kind: col.Kind}
	var err error
	switch col.Kind {
	case KindBool:
		switch string(raw) {
		case "true":
			v.Int = 1
		case "false":
		default:
			err = errors.New("not a boolean")
		}
	case KindInt16, KindInt32, KindInt64:
		bits := 64
		switch col.Kind {
		case KindInt16:
			bits = 16
		case KindInt32:
			bits = 32
		}
		v.Int, err = strconv.ParseInt(string(raw), 10, bits)
	case KindUint64:
		v.Uint, err = strconv.ParseUint(string(raw), 10, 64)
	case KindFloat32, KindFloat64:
		bits := 64
		if col.Kind == KindFloat32 {
			bits = 32
		}
		v.Float, err = decodeFloat(raw, bits)
	case KindDecimal, KindString, KindInterval, KindUUID, KindEnum, KindSet:
		v.Str, err = jsonString(raw)
	case KindBytes, KindGeometry:
		var s string
		if s, err = jsonString(raw); err == nil {
			v.Bytes, err = base64.StdEncoding.DecodeString(s)
		}
	case KindBits:
		var s string
		if s, err = jsonString(raw); err == nil {
			v.Int, v.Bytes, err = parseBits(s)
		}
	case KindDate:
		var s string
		if s, err = jsonString(raw); err == nil {
			v.Int, err = parseISODate(s)
		}
	case KindTime, KindTimeTZ:
		var s string
		if s, err = jsonString(raw); err == nil {
			clock := s
			if col.Kind == KindTimeTZ {
				i := offsetStart(s)
				if i < 0 {
					err = errors.New("no zone offset")
					break
				}
				clock = s[:i]
				if v.Offset, err = parseOffset(s[i:]); err != nil {
					break
				}
			}
			v.Int, v.Prec, err = parseClock(clock, false)
		}
	case KindTimestamp, KindTimestampTZ:
		var s string
		if s, err = jsonString(raw); err == nil {
			v.Int, v.Prec, err = parseISOTimestamp(s, col.Kind == KindTimestampTZ)
		}
	case KindJSON:
		switch {
		case jsonAsString:
			v.Str, err = jsonString(raw)
		case !json.Valid(raw) || !utf8.Valid(raw):
			err = errors.New("not JSON")
		case bytes.ContainsAny(raw, "\r\n"):
			var b bytes.Buffer
			err = json.Compact(&b, raw) // as AppendJSON writes it
			v.Str = b.String()
		default:
			v.Str = string(raw)
		}
	case KindArray:
		v, err = decodeJSONArray(raw, col, jsonAsString)
	default:
		err = fmt.Errorf("a %s column cannot be read back from JSON", col.Kind)
	}
	if err != nil {
		return Value{}, fmt.Errorf("column %q (%s): %w", col.Name, col.Kind, err)
	}
	return v, nil
}

func jsonString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", errors.New("not a JSON string")
	}
	// Most strings have no escapes: take their bytes.
	if body := raw[1 : len(raw)-1]; raw[len(raw)-1] == '"' && bytes.IndexByte(body, '\\') < 0 && bytes.IndexByte(body, '"') < 0 && utf8.Valid(body) && !hasControl(body) {
		return string(body), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

func decodeFloat(raw []byte, bits int) (float64, error) {
	if raw[0] == '"' {
		s, err := jsonString(raw)
		if err != nil {
			return 0, err
		}
		switch s {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return strconv.ParseFloat(string(raw), bits)
}

// parseBits reads a string of '0' and '1' into its length in bits and its
// bytes, right-aligned (the last bit is the lowest bit of the last byte).
func parseBits(s string) (int64, []byte, error) {
	if len(s) > maxBits {
		return 0, nil, fmt.Errorf("bit string of %d bits is longer than %d", len(s), maxBits)
	}
	b := make([]byte, (len(s)+7)/8)
	for i := 0; i < len(s); i++ {
		p := len(s) - 1 - i // the bit's place from the right
		switch s[i] {
		case '1':
			b[len(b)-1-p/8] |= 1 << (p % 8)
		case '0':
		default:
			return 0, nil, fmt.Errorf("%q is not a bit string", s)
		}
	}
	return int64(len(s)), b, nil
}

func decodeJSONArray(raw []byte, col *Column, jsonAsString bool) (Value, error) {
	if col.Elem == KindInvalid || col.Elem == KindStruct {
		return Value{}, fmt.Errorf("the element kind %s of the array cannot be read back", col.Elem)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return Value{}, err
	}
	out := Value{Kind: KindArray, List: make([]Value, len(items))}
	elem := Column{Name: col.Name, Kind: col.Elem, Prec: col.Prec, Elem: col.Elem}
	for i, it := range items {
		it = bytes.TrimSpace(it)
		var err error
		if len(it) > 0 && it[0] == '[' && col.Elem != KindJSON {
			out.List[i], err = decodeJSONArray(it, col, jsonAsString)
		} else {
			out.List[i], err = decodeJSONValue(it, &elem, jsonAsString)
		}
		if err != nil {
			return Value{}, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return out, nil
}

// parseISODate reads a date as appendDate writes it ("2024-05-01",
// "-0001-12-31", "+10000-01-01") into days since 1970-01-01.
func parseISODate(s string) (int64, error) {
	bad := func() error { return fmt.Errorf("%q is not a date (YYYY-MM-DD)", s) }
	neg := false
	rest := s
	switch {
	case len(rest) > 0 && rest[0] == '-':
		neg, rest = true, rest[1:]
	case len(rest) > 0 && rest[0] == '+':
		rest = rest[1:]
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i < 4 || len(rest) != i+6 || rest[i] != '-' || rest[i+3] != '-' {
		return 0, bad()
	}
	y, err := strconv.ParseInt(rest[:i], 10, 64)
	if err != nil {
		return 0, bad()
	}
	if neg {
		y = -y
	}
	m, ok1 := digits2(rest[i+1:])
	d, ok2 := digits2(rest[i+4:])
	if !ok1 || !ok2 || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, bad()
	}
	days := daysFromCivil(y, m, d)
	if yy, mm, dd := civil(days); yy != y || mm != m || dd != d {
		return 0, bad() // February 30th
	}
	return days, nil
}

// daysFromCivil is civil's inverse (Howard Hinnant's days_from_civil).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func digits2(s string) (int, bool) {
	if len(s) < 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

// parseClock reads [-]HH:MM:SS[.f…] as appendClock writes it into
// microseconds and the number of fraction digits. Hours have at least two
// digits, and more only outside a timestamp (day is false there).
func parseClock(s string, day bool) (int64, int8, error) {
	bad := func() error { return fmt.Errorf("%q is not a time (HH:MM:SS)", s) }
	neg := false
	if !day && len(s) > 0 && s[0] == '-' {
		neg, s = true, s[1:]
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i < 2 || day && i != 2 || len(s) < i+6 || s[i] != ':' || s[i+3] != ':' {
		return 0, 0, bad()
	}
	h, err := strconv.ParseInt(s[:i], 10, 64)
	m, ok1 := digits2(s[i+1:])
	sec, ok2 := digits2(s[i+4:])
	if err != nil || !ok1 || !ok2 || m > 59 || sec > 59 || h > math.MaxInt64/(3600*microsPerSecond)-1 || day && h > 23 {
		return 0, 0, bad()
	}
	us := h*3600*microsPerSecond + int64(m)*60*microsPerSecond + int64(sec)*microsPerSecond
	rest := s[i+6:]
	var prec int8
	if rest != "" {
		if rest[0] != '.' || len(rest) < 2 || len(rest) > 7 {
			return 0, 0, bad()
		}
		frac := 0
		for _, c := range rest[1:] {
			if c < '0' || c > '9' {
				return 0, 0, bad()
			}
			frac = frac*10 + int(c-'0')
		}
		prec = int8(len(rest) - 1)
		us += int64(frac * pow10[prec])
	}
	if neg {
		us = -us
	}
	return us, prec, nil
}

// offsetStart returns where a timetz's zone offset ("Z", "+05:30",
// "-08:00") starts, or -1.
func offsetStart(s string) int {
	for i := len(s) - 1; i > 0; i-- {
		switch s[i] {
		case 'Z', '+', '-':
			return i
		}
	}
	return -1
}

// parseOffset reads a zone offset as appendOffset writes it into seconds
// east of UTC.
func parseOffset(s string) (int32, error) {
	if s == "Z" {
		return 0, nil
	}
	bad := func() error { return fmt.Errorf("%q is not a zone offset", s) }
	if len(s) != 6 && len(s) != 9 || s[0] != '+' && s[0] != '-' || s[3] != ':' {
		return 0, bad()
	}
	h, ok1 := digits2(s[1:])
	m, ok2 := digits2(s[4:])
	sec, ok3 := 0, true
	if len(s) == 9 {
		if s[6] != ':' {
			return 0, bad()
		}
		sec, ok3 = digits2(s[7:])
	}
	if !ok1 || !ok2 || !ok3 || m > 59 || sec > 59 {
		return 0, bad()
	}
	off := int32(h*3600 + m*60 + sec)
	if s[0] == '-' {
		off = -off
	}
	return off, nil
}

// parseISOTimestamp reads YYYY-MM-DDTHH:MM:SS[.f…] (with a final "Z" when
// zoned) as appendTimestamp writes it into microseconds since the epoch.
func parseISOTimestamp(s string, zoned bool) (int64, int8, error) {
	if zoned {
		if len(s) == 0 || s[len(s)-1] != 'Z' {
			return 0, 0, fmt.Errorf("%q does not end in Z", s)
		}
		s = s[:len(s)-1]
	}
	t := -1
	for i := 0; i < len(s); i++ {
		if s[i] == 'T' {
			t = i
			break
		}
	}
	if t < 0 {
		return 0, 0, fmt.Errorf("%q is not a timestamp (YYYY-MM-DDTHH:MM:SS)", s)
	}
	days, err := parseISODate(s[:t])
	if err != nil {
		return 0, 0, err
	}
	us, prec, err := parseClock(s[t+1:], true)
	if err != nil {
		return 0, 0, err
	}
	if days > math.MaxInt64/microsPerDay-1 || days < math.MinInt64/microsPerDay+1 {
		return 0, 0, fmt.Errorf("%q is out of range", s)
	}
	return days*microsPerDay + us, prec, nil
}

// member is one member of a JSON object: its name and its value's text.
type member struct {
	name []byte // the name's JSON string, quotes included
	raw  []byte
}

// scanObject splits a JSON object into its members in one pass, without
// decoding or fully validating them: the values are checked when they are
// decoded (decodeJSONValue). It is the hot path of Env.Previous, where
// encoding/json would scan every large value several times.
func scanObject(b []byte, dst []member) ([]member, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, errors.New("not a JSON object")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipSpace(b, i+1) != len(b) {
			return nil, errors.New("data after the JSON object")
		}
		return dst, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, errors.New("object member without a name")
		}
		end, err := skipValue(b, i)
		if err != nil {
			return nil, err
		}
		name := b[i:end]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, errors.New("object member without ':'")
		}
		start := skipSpace(b, i+1)
		if end, err = skipValue(b, start); err != nil {
			return nil, err
		}
		dst = append(dst, member{name: name, raw: b[start:end]})
		i = skipSpace(b, end)
		if i >= len(b) {
			return nil, errors.New("unterminated JSON object")
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			if skipSpace(b, i+1) != len(b) {
				return nil, errors.New("data after the JSON object")
			}
			return dst, nil
		default:
			return nil, fmt.Errorf("unexpected %q in a JSON object", b[i])
		}
	}
}

// lookup returns the value of the member named name (an unescaped name,
// compared with the member's JSON string), trying index i first.
func lookup(ms []member, i int, name string) ([]byte, bool) {
	if i < len(ms) && nameIs(ms[i].name, name) {
		return ms[i].raw, true
	}
	for j := range ms {
		if nameIs(ms[j].name, name) {
			return ms[j].raw, true
		}
	}
	return nil, false
}

func nameIs(quoted []byte, name string) bool {
	if len(quoted) == len(name)+2 && string(quoted[1:len(quoted)-1]) == name && bytes.IndexByte(quoted[1:len(quoted)-1], '\\') < 0 {
		return true
	}
	if bytes.IndexByte(quoted, '\\') < 0 {
		return false
	}
	s, err := jsonString(quoted)
	return err == nil && s == name
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("missing JSON value")
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, err := skipString(b, i)
				if err != nil {
					return 0, err
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, nil
				}
			}
			i++
		}
		return 0, errors.New("unterminated JSON object or array")
	}
	start := i
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i, nil
		}
		i++
	}
	if i == start {
		return 0, errors.New("missing JSON value")
	}
	return i, nil
}

// skipString returns the end of the JSON string starting at b[i] (a '"').
func skipString(b []byte, i int) (int, error) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, errors.New("unterminated JSON string")
		}
		j += k
		// The quote is escaped when an odd number of backslashes
		// precede it.
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		j++
		if n%2 == 0 {
			return j, nil
		}
	}
}
