package connect

import (
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/configs"
)

// filter keeps the messages that meet every condition it has, and drops
// the others.
//
// Only change events are judged: a message without an Event (a schema
// change, a heartbeat) passes. A tombstone is judged as the delete it
// follows: its op is "d", its table the delete's, and an expression sees
// the delete's before image (from the event) and a nil after. (A
// tombstone without an Event names no table and no row: only ops judge
// it.)
type filter struct {
	ops    *[256]bool // nil: any op
	tables []tablePattern
	expr   *program
}

func (f *filter) Name() string { return "filter" }

func (f *filter) Apply(m *Message) (*Message, error) {
	if m.Event == nil && m.Value != nil {
		return m, nil
	}
	if f.ops != nil && !f.ops[opOf(m)] {
		return nil, nil
	}
	if len(f.tables) > 0 {
		// A tombstone without an event names no table: it passes.
		if t, ok := tableOf(m); ok && !matchTables(f.tables, t) {
			return nil, nil
		}
	}
	if f.expr != nil && m.Event != nil {
		keep, err := f.expr.run(m)
		if err != nil {
			return nil, err
		}
		if !keep {
			return nil, nil
		}
	}
	return m, nil
}

func matchTables(ps []tablePattern, t tableID) bool {
	for _, p := range ps {
		if p.match(t) {
			return true
		}
	}
	return false
}

var opWords = map[string]Op{"create": OpCreate, "insert": OpCreate, "update": OpUpdate, "delete": OpDelete, "read": OpRead, "snapshot": OpRead, "truncate": OpTruncate}

func buildFilter(o *options) Transform {
	f := &filter{}
	ops, hasOps := o.list("ops")
	if hasOps {
		f.ops = new([256]bool)
		for _, it := range ops {
			switch op := strings.TrimSpace(it.text); op {
			case "c", "u", "d", "r", "t":
				f.ops[op[0]] = true
			default:
				hint := "ops are c (create), u (update), d (delete), r (snapshot read) and t (truncate)"
				if w, ok := opWords[strings.ToLower(op)]; ok {
					hint = fmt.Sprintf("write %q for %s", string(w), op)
				}
				o.report(it.node, it.path, fmt.Sprintf("unknown op %q", it.text), hint)
			}
		}
		if o.emptyList("ops") {
			o.report(o.values["ops"], "ops", "no ops: the filter would drop every change event", "list the ops to keep, such as [c, u]")
		}
	}
	tables, hasTables := o.list("tables")
	for _, it := range tables {
		p, err := newTablePattern(it.text)
		if err != nil {
			o.report(it.node, it.path, fmt.Sprintf("bad table pattern %q: %v", it.text, err), "patterns are path.Match globs such as public.order_*")
			continue
		}
		f.tables = append(f.tables, p)
	}
	if o.emptyList("tables") {
		o.report(o.values["tables"], "tables", "no tables: the filter would drop every change event", "list the tables to keep, such as [public.orders]")
	}
	if o.has("expression") {
		if src, ok := o.scalar("expression"); ok {
			p, bad := compileExpr(src, o.values["expression"])
			if bad != nil {
				pr := configs.ProblemAt(bad.node, o.path+".expression", bad.msg, bad.hint)
				if bad.line > 0 {
					pr.Line, pr.Col = bad.line, bad.col
				}
				o.problems = append(o.problems, pr)
			}
			f.expr = p
		}
	}
	if !hasOps && !hasTables && !o.has("expression") {
		o.report(o.node, "", "a filter needs ops, tables or an expression", "for example ops: [c, u]")
	}
	return f
}
