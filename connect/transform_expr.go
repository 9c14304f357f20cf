package connect

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
	"gopkg.in/yaml.v3"
)

// exprEnv is what a filter expression sees. Row images and the source
// block are maps of field name to Go value (see exprValue); a missing
// image (no before for a create, no after for a delete) is a nil map, in
// which every column reads as nil.
type exprEnv struct {
	Op     string         `expr:"op"`     // "c", "u", "d", "r", "t"
	Table  string         `expr:"table"`  // the table's name
	Schema string         `expr:"schema"` // the Postgres schema; "" for MySQL
	DB     string         `expr:"db"`     // the database
	Topic  string         `expr:"topic"`  // the message's topic at this point of the chain
	Before map[string]any `expr:"before"`
	After  map[string]any `expr:"after"`
	Source map[string]any `expr:"source"`
}

// program is a compiled filter expression, and which parts of the
// environment it reads (the others are not built).
type program struct {
	prog                  *vm.Program
	before, after, source bool
}

// compileExpr compiles a filter expression. A problem is reported at the
// expression's node, or at the place in it that is wrong when that place
// can be found in the file.
func compileExpr(src string, n *yaml.Node) (*program, *exprProblem) {
	prog, err := expr.Compile(src, expr.Env(exprEnv{}))
	if err != nil {
		return nil, newExprProblem(err, src, n)
	}
	// Booleans only. An expression whose type is only known when it runs
	// (after.flag) is checked then.
	if t := prog.Node().Type(); t != nil && t.Kind() != reflect.Bool && t.Kind() != reflect.Interface {
		return nil, &exprProblem{node: n, msg: fmt.Sprintf("expression gives %s, not a boolean", t), hint: `write a condition such as after.amount > 100`}
	}
	p := &program{prog: prog}
	root := prog.Node()
	ast.Walk(&root, identVisitor{p})
	return p, nil
}

type identVisitor struct{ p *program }

func (v identVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		switch id.Value {
		case "before":
			v.p.before = true
		case "after":
			v.p.after = true
		case "source":
			v.p.source = true
		}
	}
}

// exprProblem is a compile error placed in the config file.
type exprProblem struct {
	node      *yaml.Node
	line, col int // 0: at node
	msg, hint string
}

func newExprProblem(err error, src string, n *yaml.Node) *exprProblem {
	p := &exprProblem{node: n, msg: "bad expression: " + err.Error()}
	var fe *file.Error
	if !errors.As(err, &fe) {
		return p
	}
	p.msg = "bad expression: " + fe.Message
	// fe.Column counts runes from 0 on fe.Line. Written on one line,
	// plainly or quoted without escapes, the expression's text is the
	// file's text and the place can be given exactly.
	s := deref(n)
	exact := fe.Line == 1 && !strings.Contains(src, "\n") && s.Line > 0
	switch s.Style {
	case 0:
	case yaml.SingleQuotedStyle:
		exact = exact && !strings.Contains(src, "'")
	case yaml.DoubleQuotedStyle:
		exact = exact && !strings.ContainsAny(src, `"\`)
	default:
		exact = false
	}
	if exact {
		p.line, p.col = s.Line, s.Column+fe.Column
		if s.Style != 0 {
			p.col++ // the opening quote
		}
		return p
	}
	p.msg += fmt.Sprintf(" (line %d, column %d of the expression)", fe.Line, fe.Column+1)
	return p
}

// run evaluates the program for m; the result must be a boolean.
func (p *program) run(m *Message) (bool, error) {
	env := p.env(m)
	out, err := expr.Run(p.prog, env)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			// One line, without the snippet: the column says where.
			return false, fmt.Errorf("expression: %s (column %d)", fe.Message, fe.Column+1)
		}
		return false, fmt.Errorf("expression: %w", err)
	}
	b, ok := out.(bool)
	if !ok {
		if out == nil {
			return false, errors.New(`expression gave null, not a boolean; a null column can be given a default with ??, as in (after.flag ?? false)`)
		}
		return false, fmt.Errorf("expression gave %T %v, not a boolean", out, out)
	}
	return b, nil
}

// env builds the environment for m (see exprEnv). The row images come from
// the value as the chain has made it so far: the envelope's before and
// after, or the unwrapped row as after. A tombstone has no value: its
// before comes from its event, so that it follows the delete it belongs to.
func (p *program) env(m *Message) *exprEnv {
	env := &exprEnv{Op: string(opOf(m)), Topic: m.Topic}
	if t, ok := tableOf(m); ok {
		env.Table, env.Schema, env.DB = t.name, t.schema, t.db
	}
	var srcStruct *Struct
	switch shapeOf(m) {
	case shapeEnvelope:
		if p.before {
			env.Before = structMap(structField(m.Value, "before"))
		}
		if p.after {
			env.After = structMap(structField(m.Value, "after"))
		}
		srcStruct = structField(m.Value, "source")
	case shapeRow:
		if p.after {
			env.After = structMap(m.Value)
		}
	default:
		if m.Value == nil && p.before && m.Event != nil && m.Event.Table != nil && m.Event.Before != nil {
			env.Before = imageMap(m.Event.Table, m.Event.Before)
		}
	}
	if p.source {
		if srcStruct != nil {
			env.Source = structMap(srcStruct)
		} else if m.Event != nil {
			env.Source = sourceMap(&m.Event.Source)
		}
	}
	return env
}

func structMap(s *Struct) map[string]any {
	if s == nil {
		return nil
	}
	out := make(map[string]any, len(s.Fields))
	for i := range s.Fields {
		out[s.Fields[i].Name] = exprValue(s.Fields[i].Value)
	}
	return out
}

func imageMap(t *Table, img []Value) map[string]any {
	out := make(map[string]any, len(t.Columns))
	for i := range t.Columns {
		var v any
		if i < len(img) {
			v = exprValue(img[i])
		}
		out[t.Columns[i].Name] = v
	}
	return out
}

// sourceMap is the source block of an event, named and typed as in the
// envelope.
func sourceMap(s *SourceInfo) map[string]any {
	out := make(map[string]any, len(sourceNames)+len(s.Extra))
	for _, name := range sourceNames {
		if v, ok := sourceValue(s, name); ok {
			out[name] = exprValue(v)
		}
	}
	for _, f := range s.Extra {
		if _, ok := out[f.Name]; !ok {
			out[f.Name] = exprValue(f.Value)
		}
	}
	return out
}

// exprValue is a column value as an expression sees it: nil for null;
// bool; int64 for signed integers, and for unsigned ones up to
// math.MaxInt64; float64 for floats, decimals ("NaN" and "±Infinity"
// too), and unsigned integers above math.MaxInt64 (expr compares integers
// as int, which would wrap them); strings for text kinds, bytes (as they
// are), bits ("0101"), geometry (hex WKB) and time kinds (ISO 8601, which
// compare in time order as strings of the same form); []any for arrays;
// map[string]any for structs.
func exprValue(v Value) any {
	if v.Null {
		return nil
	}
	switch v.Kind {
	case KindBool:
		return v.Int != 0
	case KindInt16, KindInt32, KindInt64:
		return v.Int
	case KindUint64:
		if v.Uint <= math.MaxInt64 {
			return int64(v.Uint)
		}
		return float64(v.Uint)
	case KindFloat32, KindFloat64:
		return v.Float
	case KindDecimal:
		if f, err := strconv.ParseFloat(v.Str, 64); err == nil || errors.Is(err, strconv.ErrRange) {
			return f
		}
		return v.Str
	case KindBytes:
		return string(v.Bytes)
	case KindArray:
		out := make([]any, len(v.List))
		for i := range v.List {
			out[i] = exprValue(v.List[i])
		}
		return out
	case KindStruct:
		return structMap(v.Struct)
	}
	return valueText(v)
}

// valueText is a non-null value as text: what expressions see for text
// and time kinds, and what mask's hash digests.
func valueText(v Value) string {
	switch v.Kind {
	case KindBool:
		return strconv.FormatBool(v.Int != 0)
	case KindInt16, KindInt32, KindInt64:
		return strconv.FormatInt(v.Int, 10)
	case KindUint64:
		return strconv.FormatUint(v.Uint, 10)
	case KindFloat32:
		return strconv.FormatFloat(v.Float, 'g', -1, 32)
	case KindFloat64:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case KindBytes:
		return string(v.Bytes)
	case KindDate:
		return time.Unix(v.Int*86400, 0).UTC().Format(time.DateOnly)
	case KindTime:
		return clockText(v.Int, v.Prec)
	case KindTimeTZ:
		return clockText(v.Int, v.Prec) + zoneText(v.Offset)
	case KindTimestamp:
		return timestampText(v.Int, v.Prec)
	case KindTimestampTZ:
		return timestampText(v.Int, v.Prec) + "Z"
	case KindBits:
		return bitsText(v.Bytes, v.Int)
	case KindGeometry:
		return hex.EncodeToString(v.Bytes)
	case KindArray:
		var b strings.Builder
		b.WriteByte('[')
		for i, e := range v.List {
			if i > 0 {
				b.WriteByte(',')
			}
			if e.Null {
				b.WriteString("null")
			} else {
				b.WriteString(strconv.Quote(valueText(e)))
			}
		}
		b.WriteByte(']')
		return b.String()
	case KindStruct:
		var b strings.Builder
		b.WriteByte('{')
		if v.Struct != nil {
			for i, f := range v.Struct.Fields {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.Quote(f.Name))
				b.WriteByte(':')
				if f.Value.Null {
					b.WriteString("null")
				} else {
					b.WriteString(strconv.Quote(valueText(f.Value)))
				}
			}
		}
		b.WriteByte('}')
		return b.String()
	}
	// Decimal, string, interval, UUID, JSON, enum, set: their text.
	return v.Str
}

// fraction appends prec (1..6; 6 when prec is 0 but there is a fraction)
// digits of micros' fraction of a second.
func fraction(b []byte, micros int64, prec int8) []byte {
	frac := micros % 1e6
	if prec <= 0 {
		if frac == 0 {
			return b
		}
		prec = 6
	}
	if prec > 6 {
		prec = 6
	}
	digits := fmt.Appendf(nil, "%06d", frac)
	b = append(b, '.')
	return append(b, digits[:prec]...)
}

// clockText is a time of day (or MySQL's TIME duration): [-]HH:MM:SS[.ffffff].
func clockText(micros int64, prec int8) string {
	var b []byte
	if micros < 0 {
		b = append(b, '-')
		micros = -micros
	}
	s := micros / 1e6
	b = fmt.Appendf(b, "%02d:%02d:%02d", s/3600, s/60%60, s%60)
	return string(fraction(b, micros, prec))
}

func zoneText(offset int32) string {
	if offset == 0 {
		return "Z"
	}
	sign := byte('+')
	if offset < 0 {
		sign, offset = '-', -offset
	}
	return fmt.Sprintf("%c%02d:%02d", sign, offset/3600, offset/60%60)
}

// timestampText is a date and time, 2006-01-02T15:04:05[.ffffff], of
// microseconds since the epoch.
func timestampText(micros int64, prec int8) string {
	t := time.UnixMicro(micros).UTC()
	b := t.AppendFormat(nil, "2006-01-02T15:04:05")
	frac := micros % 1e6
	if frac < 0 {
		frac += 1e6
	}
	return string(fraction(b, frac, prec))
}

// bitsText is the last n bits of big-endian b, as "0101".
func bitsText(b []byte, n int64) string {
	total := int64(len(b)) * 8
	if n <= 0 || n > total {
		n = total
	}
	out := make([]byte, 0, n)
	for i := total - n; i < total; i++ {
		if b[i/8]&(0x80>>(i%8)) != 0 {
			out = append(out, '1')
		} else {
			out = append(out, '0')
		}
	}
	return string(out)
}
