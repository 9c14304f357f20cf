package connect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// Converter turns messages into the bytes of records, and records back
// into Go values. Converters hold no state: one value serves every task of
// a connector concurrently.
//
// The converters are (the connector's "converter" key):
//
//	json         the default: key and value as plain JSON (see AppendJSON),
//	             the value being Debezium's envelope; Kafka Connect's
//	             JsonConverter with schemas.enable=false writes the same.
//	json-schema  Debezium's JsonConverter with schemas.enable=true: key and
//	             value each {"schema":…,"payload":…}.
//	raw          encodes like json; decodes to the record's bytes unchanged.
type Converter interface {
	// Name is the converter's name in the configuration.
	Name() string
	// Encode serializes a message. A nil Key gives a nil key and a nil
	// Value a nil value (a tombstone). The returned slices belong to the
	// caller. An error means the message holds a value the converter
	// cannot write (a value of KindInvalid, a bit string longer than
	// 2^27 bits); retrying will not help.
	Encode(m *Message) (key, value []byte, err error)
	// Decode parses a record's key and value. A nil key or value (a null
	// key, a tombstone) decodes to nil. An error means the bytes are not
	// what the converter writes; retrying will not help.
	Decode(r *Record) (key, value any, err error)
}

// NewConverter returns the converter of a name; "" is "json".
func NewConverter(name string) (Converter, error) {
	switch name {
	case "", "json":
		return jsonConverter{}, nil
	case "json-schema":
		return jsonSchemaConverter{}, nil
	case "raw":
		return rawConverter{}, nil
	}
	return nil, fmt.Errorf("unknown converter %q: use json (the default), json-schema or raw: %w", name, ErrFatal)
}

// errInvalidKind is returned by Encode for a value of KindInvalid, or of a
// kind it does not know.
var errInvalidKind = errors.New("value has no valid kind")

// bufPool holds scratch buffers for Encode: a record is written into one,
// then copied out into a single exact-size allocation.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// encodeWith writes a message's key and value with write into one pooled
// buffer and returns them copied into one allocation.
func encodeWith(m *Message, write func(dst []byte, s *Struct) ([]byte, error)) (key, value []byte, err error) {
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	defer func() {
		if cap(b) <= 1<<20 { // keep huge buffers from pinning memory
			*bp = b[:0]
			bufPool.Put(bp)
		}
	}()
	if m.Key != nil {
		if b, err = write(b, m.Key); err != nil {
			return nil, nil, fmt.Errorf("encode key of topic %q: %w", m.Topic, err)
		}
	}
	nk := len(b)
	if m.Value != nil {
		if b, err = write(b, m.Value); err != nil {
			return nil, nil, fmt.Errorf("encode value of topic %q: %w", m.Topic, err)
		}
	}
	out := make([]byte, len(b))
	copy(out, b)
	if m.Key != nil {
		key = out[:nk:nk]
	}
	if m.Value != nil {
		value = out[nk:]
	}
	return key, value, nil
}

// decodeJSON parses one JSON document, keeping numbers exact
// (json.Number). Nil bytes decode to nil.
func decodeJSON(what string, r *Record, data []byte) (any, error) {
	if data == nil {
		return nil, nil
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	err := d.Decode(&v)
	if err == nil {
		if _, e := d.Token(); e != io.EOF {
			err = errors.New("data after the JSON value")
		}
	}
	if err != nil {
		return nil, Fatal(fmt.Errorf("record %s/%d@%d: %s is not JSON: %w; was it written with another converter?",
			r.Topic, r.Partition, r.Offset, what, err))
	}
	return v, nil
}
