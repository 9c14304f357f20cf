package postgres

import (
	"container/list"
	"context"
	"slices"

	"github.com/jackc/pglogrepl"

	"github.com/sluice-cdc/sluice/connect"
)

// Unchanged TOAST values. An update that leaves a large (TOASTed) value
// unchanged does not carry it in the WAL unless the table has REPLICA
// IDENTITY FULL: pgoutput sends the marker 'u' instead. The source fills
// such a value, in this order, from
//
//  1. the old row image of the same update (REPLICA IDENTITY FULL);
//  2. the newest image of the row this source emitted in this run, kept in
//     a bounded cache (imageCacheRows rows, imageCacheBytes bytes of
//     values), which also covers events not yet durable in the log;
//  3. the latest record of the row in its topic (connect.Env.Previous):
//     the image sluice wrote before;
//
// and only when none has it (the row was written before capture began and
// never read by a snapshot, or retention removed its records), with
// Debezium's placeholder: the string "__debezium_unavailable_value" for
// text, its bytes for bytea, the JSON string of it for json, and null for
// other kinds (an array of unchanged TOASTed elements is null).

// UnavailableValue is the placeholder of an unchanged TOASTed value that
// could not be filled, the same as Debezium's default.
const UnavailableValue = "__debezium_unavailable_value"

const (
	imageCacheRows  = 10000
	imageCacheBytes = 64 << 20
)

// imageCache keeps the newest after image of recently changed rows, by
// table and key, least recently used first out.
type imageCache struct {
	byKey map[string]*list.Element
	order list.List // of *image, most recent at the front
	bytes int
}

type image struct {
	key   string
	table *connect.Table
	after []connect.Value
	size  int
}

func (c *imageCache) get(key string) *image {
	if e, ok := c.byKey[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*image)
	}
	return nil
}

func (c *imageCache) put(key string, t *connect.Table, after []connect.Value) {
	if c.byKey == nil {
		c.byKey = map[string]*list.Element{}
	}
	c.remove(key)
	im := &image{key: key, table: t, after: after, size: imageSize(after)}
	c.byKey[key] = c.order.PushFront(im)
	c.bytes += im.size
	for c.order.Len() > imageCacheRows || c.bytes > imageCacheBytes {
		c.remove(c.order.Back().Value.(*image).key)
	}
}

func (c *imageCache) remove(key string) {
	if e, ok := c.byKey[key]; ok {
		c.bytes -= e.Value.(*image).size
		c.order.Remove(e)
		delete(c.byKey, key)
	}
}

// imageSize approximates the memory of a row's values.
func imageSize(vals []connect.Value) int {
	n := 64 * len(vals)
	for _, v := range vals {
		n += len(v.Str) + len(v.Bytes)
	}
	return n
}

// toastable reports whether a table has columns whose values may be
// TOASTed: variable-length kinds.
func toastable(t *connect.Table) bool {
	return slices.ContainsFunc(t.Columns, func(c connect.Column) bool {
		switch c.Kind {
		case connect.KindString, connect.KindBytes, connect.KindJSON, connect.KindArray, connect.KindDecimal, connect.KindBits:
			return true
		}
		return false
	})
}

// fillToast fills the unchanged TOASTed values of ev.After (listed in
// missing) and remembers the row's newest image.
func (s *Source) fillToast(ctx context.Context, ev *connect.ChangeEvent, new *pglogrepl.TupleData, missing []int) error {
	t := ev.Table
	if !toastable(t) || len(t.Key) == 0 {
		return s.placeholders(ev, missing)
	}
	// Only a row large enough to hold an out-of-line value is worth
	// remembering; building the key is skipped for the others unless
	// a remembered image must go.
	large := ev.Op != connect.OpDelete && mayHoldToast(ev.After)
	if len(missing) == 0 && !large && s.images.order.Len() == 0 {
		return nil
	}
	names := make([]string, len(t.Key))
	for i, k := range t.Key {
		names[i] = t.Columns[k].Name
	}
	key := t.Schema + "." + t.Name + keyString(tupleKey(t, new, names))
	if len(missing) > 0 {
		if im := s.images.get(key); im != nil {
			missing = fillByName(ev, im.table, im.after, missing)
		}
	}
	if len(missing) > 0 && s.previous != nil {
		after, found, err := s.previous(ctx, ev)
		if err != nil {
			return s.retriable("read the previous image of a row of %s.%s to fill an unchanged TOAST value: %w", t.Schema, t.Name, err)
		}
		if found && len(after) == len(t.Columns) {
			missing = fillByName(ev, t, after, missing)
		}
	}
	if err := s.placeholders(ev, missing); err != nil {
		return err
	}
	if large || len(missing) > 0 {
		s.images.put(key, t, ev.After)
	} else {
		s.images.remove(key)
	}
	return nil
}

// mayHoldToast reports whether a row may be large enough for PostgreSQL
// to store a value of it out of line: its tuple over about 2 kB. The text
// forms bound the stored size: no type takes more than twice its text
// plus a header (an int4[] of one-digit elements is the worst).
func mayHoldToast(row []connect.Value) bool {
	n := 24
	for i := range row {
		n += 24 + 2*textSize(&row[i])
		if n >= 2000 {
			return true
		}
	}
	return false
}

// textSize approximates the length of a value's text form.
func textSize(v *connect.Value) int {
	n := len(v.Str) + 2*len(v.Bytes)
	for i := range v.List {
		n += 2 + textSize(&v.List[i])
	}
	return n
}

// fillByName copies the values of the missing columns of ev.After from an
// image of table it, matching columns by name and kind, and returns the
// columns still missing.
func fillByName(ev *connect.ChangeEvent, it *connect.Table, img []connect.Value, missing []int) []int {
	var left []int
	for _, i := range missing {
		col := ev.Table.Columns[i]
		j := slices.IndexFunc(it.Columns, func(c connect.Column) bool { return c.Name == col.Name && c.Kind == col.Kind })
		if j < 0 || j >= len(img) || img[j].Null && col.Kind != img[j].Kind {
			left = append(left, i)
			continue
		}
		ev.After[i] = img[j]
	}
	return left
}

// placeholders puts the unavailable-value placeholder into the missing
// columns.
func (s *Source) placeholders(ev *connect.ChangeEvent, missing []int) error {
	for _, i := range missing {
		col := &ev.Table.Columns[i]
		switch col.Kind {
		case connect.KindString:
			ev.After[i] = connect.String(UnavailableValue)
		case connect.KindBytes:
			ev.After[i] = connect.Bytes([]byte(UnavailableValue))
		case connect.KindJSON:
			ev.After[i] = connect.JSON(`"` + UnavailableValue + `"`)
		default:
			ev.After[i] = connect.Null(col.Kind)
		}
		s.unavailable.Add(1)
	}
	return nil
}

// PreviousImages asks the runtime for Env.Previous, and so for a key index
// on the kind's topics (connect.PreviousImager).
func (*Kind) PreviousImages() bool { return true }

var _ connect.PreviousImager = (*Kind)(nil)

// PreviousImagesOf limits the key index to the topics of tables that have
// a key and columns whose values may be TOASTed: only their rows are ever
// looked up (connect.TablePreviousImager).
func (*Kind) PreviousImagesOf(t *connect.Table) bool { return len(t.Key) > 0 && toastable(t) }

var _ connect.TablePreviousImager = (*Kind)(nil)
