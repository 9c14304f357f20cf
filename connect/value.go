package connect

import (
	"fmt"
	"strconv"
)

// Kind is the type of a column value, chosen so that every database type
// arrives exactly: no float for a decimal, no int64 for an unsigned bigint,
// no lost sub-second digits.
type Kind uint8

const (
	KindInvalid Kind = iota
	KindBool
	KindInt16 // Int
	KindInt32 // Int
	KindInt64 // Int
	// KindUint64 is an unsigned 64-bit integer (MySQL BIGINT UNSIGNED): Uint.
	KindUint64
	KindFloat32 // Float
	KindFloat64 // Float
	// KindDecimal is an exact decimal as text (Str): "-12.3400", or "NaN",
	// "Infinity", "-Infinity" where the database has them.
	KindDecimal
	KindString // Str
	KindBytes  // Bytes
	// KindDate is a calendar date: Int days since 1970-01-01.
	KindDate
	// KindTime is a time of day without zone: Int microseconds since
	// midnight; MySQL's TIME may be negative or past 24h. Prec digits.
	KindTime
	// KindTimeTZ is a time of day with a zone offset: Int microseconds
	// since midnight, Offset seconds east of UTC.
	KindTimeTZ
	// KindTimestamp is a date and time without zone (DATETIME,
	// timestamp without time zone): Int microseconds since the epoch as
	// if UTC. Prec digits.
	KindTimestamp
	// KindTimestampTZ is an instant: Int microseconds since the epoch, UTC.
	KindTimestampTZ
	// KindInterval is a duration: Str in ISO-8601 ("P1Y2M3DT4H5M6.5S").
	KindInterval
	KindUUID // Str, canonical lower-case
	// KindJSON is JSON text (Str), emitted as JSON text.
	KindJSON
	KindEnum // Str, the label
	// KindSet is a MySQL SET: Str, the labels joined by commas.
	KindSet
	// KindBits is a bit string: Bytes big-endian, Int the length in bits.
	KindBits
	// KindGeometry is a spatial value: Bytes as WKB, Int the SRID.
	KindGeometry
	// KindArray is a list of values of one kind: List.
	KindArray
	// KindStruct is a nested structure: Struct.
	KindStruct
)

var kindNames = [...]string{
	KindInvalid: "invalid", KindBool: "bool", KindInt16: "int16", KindInt32: "int32", KindInt64: "int64",
	KindUint64: "uint64", KindFloat32: "float32", KindFloat64: "float64", KindDecimal: "decimal",
	KindString: "string", KindBytes: "bytes", KindDate: "date", KindTime: "time", KindTimeTZ: "timetz",
	KindTimestamp: "timestamp", KindTimestampTZ: "timestamptz", KindInterval: "interval", KindUUID: "uuid",
	KindJSON: "json", KindEnum: "enum", KindSet: "set", KindBits: "bits", KindGeometry: "geometry",
	KindArray: "array", KindStruct: "struct",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is one typed value. Kind is set even when Null is true, so a null
// column still has its type (the json-schema converter needs it). Which
// payload field holds the value depends on Kind, as documented there.
type Value struct {
	Kind   Kind
	Null   bool
	Int    int64
	Uint   uint64
	Float  float64
	Str    string
	Bytes  []byte
	List   []Value
	Struct *Struct
	// Prec is the number of fractional-second digits of a time kind.
	Prec int8
	// Offset is a KindTimeTZ's zone offset in seconds east of UTC.
	Offset int32
}

// Null returns a null value of kind k.
func Null(k Kind) Value { return Value{Kind: k, Null: true} }

// Convenience constructors.
func Bool(b bool) Value {
	v := Value{Kind: KindBool}
	if b {
		v.Int = 1
	}
	return v
}
func Int64(i int64) Value            { return Value{Kind: KindInt64, Int: i} }
func Int32(i int32) Value            { return Value{Kind: KindInt32, Int: int64(i)} }
func Uint64(u uint64) Value          { return Value{Kind: KindUint64, Uint: u} }
func Float64(f float64) Value        { return Value{Kind: KindFloat64, Float: f} }
func String(s string) Value          { return Value{Kind: KindString, Str: s} }
func Bytes(b []byte) Value           { return Value{Kind: KindBytes, Bytes: b} }
func Decimal(s string) Value         { return Value{Kind: KindDecimal, Str: s} }
func JSON(s string) Value            { return Value{Kind: KindJSON, Str: s} }
func StructValue(s *Struct) Value    { return Value{Kind: KindStruct, Struct: s} }
func TimestampTZ(micros int64) Value { return Value{Kind: KindTimestampTZ, Int: micros, Prec: 6} }

// Bool reports a KindBool value.
func (v Value) BoolValue() bool { return v.Int != 0 }

func (v Value) GoString() string {
	if v.Null {
		return fmt.Sprintf("null(%s)", v.Kind)
	}
	switch v.Kind {
	case KindBool:
		return strconv.FormatBool(v.Int != 0)
	case KindInt16, KindInt32, KindInt64, KindDate, KindTime, KindTimestamp, KindTimestampTZ:
		return fmt.Sprintf("%s(%d)", v.Kind, v.Int)
	case KindUint64:
		return fmt.Sprintf("uint64(%d)", v.Uint)
	case KindFloat32, KindFloat64:
		return fmt.Sprintf("%s(%g)", v.Kind, v.Float)
	case KindBytes, KindBits, KindGeometry:
		return fmt.Sprintf("%s(%x)", v.Kind, v.Bytes)
	case KindArray:
		return fmt.Sprintf("array%v", v.List)
	case KindStruct:
		return fmt.Sprintf("struct%v", v.Struct)
	}
	return fmt.Sprintf("%s(%q)", v.Kind, v.Str)
}

// Field is a named value of a Struct. Optional says the field may be null
// (its schema is optional).
type Field struct {
	Name     string
	Value    Value
	Optional bool
}

// Struct is an ordered set of named values: a row image, a key, the
// Debezium envelope. Name is its schema name (for json-schema), such as
// "shop.public.customers.Value".
type Struct struct {
	Name   string
	Fields []Field
}

// Get returns the named field's value.
func (s *Struct) Get(name string) (Value, bool) {
	if s == nil {
		return Value{}, false
	}
	for _, f := range s.Fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return Value{}, false
}

// Set replaces the named field's value, or appends the field.
func (s *Struct) Set(name string, v Value, optional bool) {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			s.Fields[i].Value = v
			return
		}
	}
	s.Fields = append(s.Fields, Field{Name: name, Value: v, Optional: optional})
}

// Delete removes the named field; it reports whether it was there.
func (s *Struct) Delete(name string) bool {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			s.Fields = append(s.Fields[:i], s.Fields[i+1:]...)
			return true
		}
	}
	return false
}

// Clone copies the struct deeply enough that changing the copy's fields
// (and nested structs) leaves the original alone. Byte slices are shared.
func (s *Struct) Clone() *Struct {
	if s == nil {
		return nil
	}
	c := &Struct{Name: s.Name, Fields: make([]Field, len(s.Fields))}
	copy(c.Fields, s.Fields)
	for i := range c.Fields {
		if c.Fields[i].Value.Struct != nil {
			c.Fields[i].Value.Struct = c.Fields[i].Value.Struct.Clone()
		}
	}
	return c
}
