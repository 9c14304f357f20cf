package postgres

import (
	"runtime"
	"sync"
	"unsafe"
	"weak"

	"github.com/sluice-cdc/sluice/connect"
)

// A column's connect.Kind says how to read most values' text forms. A few
// types need more than the kind: a composite type's attributes, that a
// KindJSON column is hstore, and an array's element delimiter when it is
// not ',' (box[] uses ';') or the plan of its elements. The catalog look-up
// resolves that into a plan, and domains into their base types, once per
// table description (catalog.go); value reads a text form with its
// column's plan.

// pgType is one row of pg_type, with what the source needs of it.
type pgType struct {
	oid      uint32
	typtype  byte   // 'b' base, 'c' composite, 'd' domain, 'e' enum, 'r' range, ...
	category byte   // typcategory: 'A' for arrays
	base     uint32 // a domain's base type
	baseMod  int32  // a domain's type modifier of its base type; -1 none
	notNull  bool   // a domain's NOT NULL
	elem     uint32 // typelem: an array's element type
	delim    byte   // typdelim: the delimiter between elements of arrays of this type
	relid    uint32 // typrelid: a composite type's attributes' relation
	hstore   bool   // the hstore extension's type
	labels   []string
	attrs    []pgAttr // a composite type's attributes
}

// pgAttr is one attribute of a composite type.
type pgAttr struct {
	name     string
	oid      uint32
	typmod   int32
	typeName string
	notNull  bool
}

// Type OIDs that look like arrays in pg_type but print as space-separated
// lists: they are strings.
const (
	oidInt2Vector = 22
	oidOIDVector  = 30
)

// plan is how to read the text form of a column whose kind does not say
// all: nil for every other column.
type plan struct {
	hstore bool             // KindJSON: hstore's text form
	fields []connect.Column // KindJSON: a composite's attributes, in order
	fplans []*plan          // the plans of fields
	delim  byte             // KindArray: the element delimiter; 0 means ','
	elem   *plan            // KindArray: the elements' plan
}

// describe returns the column of type oid and modifier typmod, resolved
// through types (which holds oid and every type it refers to; a type it
// lacks is taken for a built-in scalar), and the plan to read its values.
// A domain is its base type, NOT NULL when the domain is.
func describe(types map[uint32]*pgType, name, typeName string, oid uint32, typmod int32, notNull bool) (connect.Column, *plan) {
	t := types[oid]
	for depth := 0; t != nil && t.typtype == 'd' && depth < 32; depth++ {
		notNull = notNull || t.notNull
		if typmod < 0 {
			typmod = t.baseMod
		}
		oid, t = t.base, types[t.base]
	}
	switch {
	case t == nil:
	case t.typtype == 'e':
		return connect.Column{Name: name, Type: typeName, Kind: connect.KindEnum, Optional: !notNull, Enum: t.labels}, nil
	case t.typtype == 'c':
		p := &plan{}
		for _, a := range t.attrs {
			f, fp := describe(types, a.name, a.typeName, a.oid, a.typmod, a.notNull)
			p.fields = append(p.fields, f)
			p.fplans = append(p.fplans, fp)
		}
		return connect.Column{Name: name, Type: typeName, Kind: connect.KindJSON, Optional: !notNull}, p
	case t.hstore:
		return connect.Column{Name: name, Type: typeName, Kind: connect.KindJSON, Optional: !notNull}, &plan{hstore: true}
	case t.category == 'A' && t.elem != 0 && oid != oidInt2Vector && oid != oidOIDVector:
		e, ep := describe(types, name, typeName, t.elem, typmod, false)
		col := e
		col.Kind, col.Elem, col.Optional = connect.KindArray, e.Kind, !notNull
		var p *plan
		delim := byte(',')
		if et := types[t.elem]; et != nil {
			delim = et.delim
		}
		if ep != nil || delim != ',' {
			p = &plan{elem: ep, delim: delim}
		}
		return col, p
	}
	return scalarColumn(name, typeName, oid, typmod, notNull), nil
}

// scalarColumn describes a column of a built-in scalar type.
func scalarColumn(name, typeName string, oid uint32, typmod int32, notNull bool) connect.Column {
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

// The plans of the columns of published tables. connect.Column has no room
// for a plan, and value is called with the column alone, so the plan is
// kept beside the column, keyed by the column's address and held weakly:
// an entry goes when its table is collected. Only columns with a plan
// (composites, hstore, arrays of them or with another delimiter) have an
// entry, and only KindJSON and KindArray columns look theirs up.
var plans struct {
	mu sync.RWMutex
	m  map[uintptr]planEntry
}

type planEntry struct {
	col  weak.Pointer[connect.Column]
	plan *plan
}

// setPlans records the plans of a table's columns; the table must not
// change afterwards.
func setPlans(t *connect.Table, ps []*plan) {
	for i, p := range ps {
		if p != nil {
			setPlan(&t.Columns[i], p)
		}
	}
}

func setPlan(col *connect.Column, p *plan) {
	key := uintptr(unsafe.Pointer(col))
	e := planEntry{col: weak.Make(col), plan: p}
	plans.mu.Lock()
	if plans.m == nil {
		plans.m = map[uintptr]planEntry{}
	}
	plans.m[key] = e
	plans.mu.Unlock()
	runtime.AddCleanup(col, func(e planEntry) {
		plans.mu.Lock()
		if plans.m[key] == e {
			delete(plans.m, key)
		}
		plans.mu.Unlock()
	}, e)
}

// planOf returns the plan recorded for col, or nil.
func planOf(col *connect.Column) *plan {
	plans.mu.RLock()
	e, ok := plans.m[uintptr(unsafe.Pointer(col))]
	plans.mu.RUnlock()
	if !ok || e.col.Value() != col {
		return nil // none, or a collected column's entry not yet cleaned up
	}
	return e.plan
}
