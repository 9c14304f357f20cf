package connect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// jsonConverter is the "json" converter: Kafka Connect's JsonConverter
// with schemas.enable=false, which is what Debezium users read by default.
type jsonConverter struct{}

func (jsonConverter) Name() string { return "json" }

func (jsonConverter) Encode(m *Message) (key, value []byte, err error) {
	return encodeWith(m, func(dst []byte, s *Struct) ([]byte, error) {
		var w jsonWriter
		b := w.structValue(dst, s)
		return b, w.err
	})
}

// Decode returns the key and value as encoding/json values (map[string]any,
// []any, string, bool, nil), with numbers as json.Number so that none
// loses digits.
func (jsonConverter) Decode(r *Record) (key, value any, err error) {
	if key, err = decodeJSON("key", r, r.Key); err != nil {
		return nil, nil, err
	}
	if value, err = decodeJSON("value", r, r.Value); err != nil {
		return nil, nil, err
	}
	return key, value, nil
}

// AppendJSON appends the JSON text of v to dst. This is the contract of
// the json converter's payload, value by value:
//
//	null of any kind   null
//	bool               true, false
//	int16/32/64        a number: -42
//	uint64             a number, exact: 18446744073709551615
//	float32/float64    the shortest number that reads back to the same
//	                   float32/float64 (strconv 'g', -1): 1.5, 1e+21, -0;
//	                   NaN and infinities as "NaN", "Infinity", "-Infinity"
//	decimal            a string of its exact digits: "12.3400", "NaN"
//	string, enum, uuid, interval, set
//	                   a string
//	bytes, geometry    a string, standard base64 with padding ("AQID");
//	                   geometry is its WKB, the SRID is not written
//	bits               a string of '0' and '1', most significant bit first,
//	                   as long as the value's length in bits (Int; when 0,
//	                   8 per byte): the last Int bits of Bytes read as a
//	                   big-endian number, so BIT(4) b'0101' is "0101"
//	date               "YYYY-MM-DD", proleptic Gregorian, as Java's ISO
//	                   format writes it: years before 1 as "-0001" (1 BC is
//	                   year 0, "0000"), years after 9999 as "+10000"
//	time               "HH:MM:SS" plus "." and exactly Prec fraction
//	                   digits (none for Prec 0); hours run past 24 and the
//	                   sign is kept ("-838:59:59", "100:00:00")
//	timetz             a time, then its offset: "Z" or "+05:30"
//	                   ("+05:30:15" when it has seconds)
//	timestamp          "YYYY-MM-DDTHH:MM:SS" plus Prec fraction digits
//	timestamptz        the same in UTC with "Z": "2024-05-01T12:00:00.250Z"
//	json               the JSON text itself, on one line (compacted when it
//	                   holds a line break); text that is not valid JSON
//	                   (or not UTF-8) is written as a string instead
//	array              an array of its elements
//	struct             an object with the fields in order
//
// A time value whose microseconds have more non-zero digits than Prec
// says is written with as many digits as it needs, never cut. Strings are
// escaped as encoding/json does without HTML escaping ('<', '>', '&' stay),
// control characters as \n or \u001f, U+2028 and U+2029 as \u2028 and
// \u2029, and every byte that is not UTF-8 as \ufffd. A value of
// KindInvalid is an error.
func AppendJSON(dst []byte, v Value) ([]byte, error) {
	var w jsonWriter
	b := w.value(dst, &v)
	return b, w.err
}

// jsonWriter writes JSON by hand: this is the hot path of every record,
// and it must neither reflect nor HTML-escape. Its methods append to b and
// return it (b stays in registers; no pointer writes), and keep the first
// error in err.
type jsonWriter struct {
	err error
	// jsonAsString writes KindJSON values as JSON strings holding the
	// text (the json-schema converter, as Debezium's io.debezium.data.Json).
	jsonAsString bool
}

func (w *jsonWriter) structValue(b []byte, s *Struct) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i := range s.Fields {
		f := &s.Fields[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.Name)
		b = append(b, ':')
		b = w.value(b, &f.Value)
	}
	return append(b, '}')
}

func (w *jsonWriter) value(b []byte, v *Value) []byte {
	if v.Null {
		return append(b, "null"...)
	}
	switch v.Kind {
	case KindBool:
		if v.Int != 0 {
			b = append(b, "true"...)
		} else {
			b = append(b, "false"...)
		}
	case KindInt16, KindInt32, KindInt64:
		b = strconv.AppendInt(b, v.Int, 10)
	case KindUint64:
		b = strconv.AppendUint(b, v.Uint, 10)
	case KindFloat32:
		b = appendFloat(b, v.Float, 32)
	case KindFloat64:
		b = appendFloat(b, v.Float, 64)
	case KindDecimal, KindString, KindInterval, KindUUID, KindEnum, KindSet:
		b = appendString(b, v.Str)
	case KindBytes, KindGeometry:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Bytes)
		b = append(b, '"')
	case KindBits:
		b = w.bits(b, v)
	case KindDate:
		b = append(b, '"')
		b = appendDate(b, v.Int)
		b = append(b, '"')
	case KindTime:
		b = append(b, '"')
		b = appendClock(b, v.Int, v.Prec)
		b = append(b, '"')
	case KindTimeTZ:
		b = append(b, '"')
		b = appendClock(b, v.Int, v.Prec)
		b = appendOffset(b, v.Offset)
		b = append(b, '"')
	case KindTimestamp, KindTimestampTZ:
		b = append(b, '"')
		b = appendTimestamp(b, v.Int, v.Prec)
		if v.Kind == KindTimestampTZ {
			b = append(b, 'Z')
		}
		b = append(b, '"')
	case KindJSON:
		b = w.jsonText(b, v.Str)
	case KindArray:
		b = append(b, '[')
		for i := range v.List {
			if i > 0 {
				b = append(b, ',')
			}
			b = w.value(b, &v.List[i])
		}
		b = append(b, ']')
	case KindStruct:
		b = w.structValue(b, v.Struct)
	default:
		b = append(b, "null"...)
		if w.err == nil {
			w.err = fmt.Errorf("%w: %s", errInvalidKind, v.Kind)
		}
	}
	return b
}

func appendFloat(b []byte, f float64, bits int) []byte {
	if bits == 32 {
		f = float64(float32(f)) // a float32 out of range is an infinity
	}
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Infinity"`...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

// maxBits bounds the length of a bit string (PostgreSQL's limit is 83886080).
const maxBits = 1 << 27

func (w *jsonWriter) bits(b []byte, v *Value) []byte {
	n := v.Int
	if n <= 0 {
		n = int64(len(v.Bytes)) * 8
	}
	if n > maxBits {
		b = append(b, "null"...)
		if w.err == nil {
			w.err = fmt.Errorf("bit string of %d bits is longer than %d", n, maxBits)
		}
		return b
	}
	b = append(b, '"')
	last := len(v.Bytes) - 1
	for i := n - 1; i >= 0; i-- { // i: the bit's place, 0 the least significant
		c := byte('0')
		if byteAt := int64(last) - i/8; byteAt >= 0 && v.Bytes[byteAt]>>(i%8)&1 == 1 {
			c = '1'
		}
		b = append(b, c)
	}
	return append(b, '"')
}

// jsonText embeds JSON text as it is when it is valid JSON and UTF-8, and
// as a string otherwise.
func (w *jsonWriter) jsonText(b []byte, s string) []byte {
	if w.jsonAsString {
		return appendString(b, s)
	}
	// json.Valid only reads the bytes.
	raw := unsafe.Slice(unsafe.StringData(s), len(s))
	if !json.Valid(raw) || !utf8.ValidString(s) {
		return appendString(b, s)
	}
	if !strings.ContainsAny(s, "\r\n") {
		return append(b, s...)
	}
	buf := bytes.NewBuffer(b)
	if err := json.Compact(buf, raw); err != nil { // cannot happen: raw is valid
		return appendString(b, s)
	}
	return buf.Bytes()
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes a JSON string holds as they are.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// mayNeedEscape reports whether any of the eight bytes in x is a control
// character, '"', '\\' or not ASCII (the bit tricks of "Bit Twiddling
// Hacks": hasless and haszero).
func mayNeedEscape(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote := x ^ (ones * '"')
	backslash := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x|(quote-ones)&^quote|(backslash-ones)&^backslash|x)&highs != 0
}

// appendString appends s as a JSON string, escaped as encoding/json does
// with SetEscapeHTML(false): '"', '\\' and control characters escaped
// (\b \f \n \r \t short, others \u00XX), U+2028 and U+2029 escaped, each
// byte that is not part of valid UTF-8 written as \ufffd.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		// Skip eight plain bytes at a time.
		for i+8 <= len(s) && !mayNeedEscape(uint64(s[i])|uint64(s[i+1])<<8|uint64(s[i+2])<<16|uint64(s[i+3])<<24|
			uint64(s[i+4])<<32|uint64(s[i+5])<<40|uint64(s[i+6])<<48|uint64(s[i+7])<<56) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const (
	microsPerSecond = 1_000_000
	microsPerDay    = 86_400 * microsPerSecond
)

// appendDate appends the date days after 1970-01-01 as Java's
// ISO_LOCAL_DATE writes it.
func appendDate(b []byte, days int64) []byte {
	y, m, d := civil(days)
	switch {
	case y > 9999:
		b = append(b, '+')
		b = strconv.AppendInt(b, y, 10)
	case y >= 0:
		b = append4(b, int(y))
	default:
		b = append(b, '-')
		if y > -10000 {
			b = append4(b, int(-y))
		} else {
			b = strconv.AppendUint(b, uint64(-(y+1))+1, 10)
		}
	}
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	return append2(b, d)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date,
// with Howard Hinnant's civil_from_days.
func civil(days int64) (year int64, month, day int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // [0, 11], March first
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	if month > 12 {
		month -= 12
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}

// appendClock appends a time of day, or a MySQL TIME, of us microseconds:
// [-]HH:MM:SS[.fff], hours at least two digits and as many as needed.
func appendClock(b []byte, us int64, prec int8) []byte {
	u := uint64(us)
	if us < 0 {
		b = append(b, '-')
		u = -u
	}
	h := u / (3600 * microsPerSecond)
	if h < 10 {
		b = append(b, '0')
	}
	b = strconv.AppendUint(b, h, 10)
	b = append(b, ':')
	b = append2(b, int(u/(60*microsPerSecond)%60))
	b = append(b, ':')
	b = append2(b, int(u/microsPerSecond%60))
	return appendFraction(b, int(u%microsPerSecond), prec)
}

// pow10 holds 10^(6-i): the divisor that leaves i fraction digits.
var pow10 = [7]int{1_000_000, 100_000, 10_000, 1_000, 100, 10, 1}

// appendFraction appends the microseconds frac as prec digits after a
// '.', or more when frac has more non-zero digits: never cut.
func appendFraction(b []byte, frac int, prec int8) []byte {
	n := min(max(int(prec), 0), 6)
	for n < 6 && frac%pow10[n] != 0 {
		n++
	}
	if n == 0 {
		return b
	}
	var digits [6]byte
	f := frac / pow10[n]
	for d := n - 1; d >= 0; d-- {
		digits[d] = byte('0' + f%10)
		f /= 10
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

// appendTimestamp appends us microseconds since the epoch as
// YYYY-MM-DDTHH:MM:SS[.fff], without a zone.
func appendTimestamp(b []byte, us int64, prec int8) []byte {
	days := us / microsPerDay
	rem := us % microsPerDay
	if rem < 0 {
		days--
		rem += microsPerDay
	}
	b = appendDate(b, days)
	b = append(b, 'T')
	return appendClock(b, rem, prec)
}

// appendOffset appends a zone offset in seconds east of UTC: "Z",
// "+05:30", "-08:00", "+05:30:15".
func appendOffset(b []byte, off int32) []byte {
	if off == 0 {
		return append(b, 'Z')
	}
	o := int64(off)
	if o < 0 {
		b = append(b, '-')
		o = -o
	} else {
		b = append(b, '+')
	}
	if o < 10*3600 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, o/3600, 10)
	b = append(b, ':')
	b = append2(b, int(o/60%60))
	if s := o % 60; s != 0 {
		b = append(b, ':')
		b = append2(b, int(s))
	}
	return b
}

// append2 appends n (0 to 99) as two digits.
func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// append4 appends n (0 to 9999) as four digits.
func append4(b []byte, n int) []byte {
	return append(b, byte('0'+n/1000), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
}
