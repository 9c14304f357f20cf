package file

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/sluice-cdc/sluice/connect"
)

// appendLine appends r as one JSON line, ending in "\n":
//
//	{"topic":T,"partition":P,"offset":O,"timestamp":MS,"key":K,"value":V,"headers":[{"key":HK,"value":HV},...]}
//
// K and V are the record's bytes embedded as JSON when they are a JSON
// object or array (on one line: as written, or compacted), else a JSON string when they
// are UTF-8 text, else base64 text followed by "key_encoding":"base64" or
// "value_encoding":"base64"; null for a null key or a tombstone's value.
// Header values are strings, or base64 with "value_encoding":"base64", or
// null.
func appendLine(b []byte, r *connect.SinkRecord) []byte {
	b = append(b, `{"topic":`...)
	b = appendString(b, r.Topic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(r.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Offset, 10)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, r.Timestamp, 10)
	b = appendPayload(b, "key", r.Key, true)
	b = appendPayload(b, "value", r.Value, true)
	b = append(b, `,"headers":[`...)
	for i, h := range r.Headers {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = appendString(b, h.Key)
		b = appendPayload(b, "value", h.Value, false)
		b = append(b, '}')
	}
	return append(b, "]}\n"...)
}

// appendPayload appends ,"name":DATA and, for base64, ,"name_encoding":"base64".
func appendPayload(b []byte, name string, data []byte, embed bool) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	switch {
	case data == nil:
		return append(b, "null"...)
	case embed && isCompound(data) && utf8.Valid(data):
		if bytes.IndexAny(data, "\n\r") < 0 && json.Valid(data) {
			// Already one line (sluice's converters write compact
			// JSON): copy it, no need to re-encode.
			return append(b, data...)
		}
		buf := bytes.NewBuffer(b)
		if err := json.Compact(buf, data); err == nil {
			return buf.Bytes()
		}
		b = buf.Bytes()[:len(b)] // not JSON after all
	}
	if utf8.Valid(data) {
		return appendString(b, string(data))
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, data)
	b = append(b, `","`...)
	b = append(b, name...)
	return append(b, `_encoding":"base64"`...)
}

// isCompound reports whether data starts, after white space, like a JSON
// object or array. Only those are embedded: a JSON scalar would read back
// the same as text ("x" and x) or as a tombstone (null).
func isCompound(data []byte) bool {
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// appendString appends s as a JSON string, escaped as sluice's json
// converter escapes strings.
func appendString(b []byte, s string) []byte {
	b, _ = connect.AppendJSON(b, connect.String(s))
	return b
}
