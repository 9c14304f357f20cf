package connect

import (
	"math"
	"strconv"
)

// appendEventJSON appends the json converter's key and value of ev's
// Debezium envelope to b, exactly the bytes Envelope and then the json
// converter write, without building the envelope's structs: the hot path
// of a source connector without transforms. keyEnd is where the key ends
// in the returned bytes; hasKey is false for a table without a key (a null
// key). ev must not be a truncate of a table with a key (its key is made
// by the source task).
//
// src remembers the last source block written, whose bytes the next event
// reuses as far as its block is the same (sourceBlockCache).
func appendEventJSON(b []byte, ev *ChangeEvent, src *sourceBlockCache) (out []byte, keyEnd int, hasKey bool, err error) {
	var w jsonWriter
	var cols []Column
	var keyCols []int
	if ev.Table != nil {
		cols = ev.Table.Columns
		keyCols = ev.Table.Key
	}
	if ev.Op == OpTruncate {
		keyCols = nil
	}
	if len(keyCols) > 0 {
		img := ev.After
		if img == nil {
			img = ev.Before
		}
		b = append(b, '{')
		for i, ci := range keyCols {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, cols[ci].Name)
			b = append(b, ':')
			v := columnValue(img, ci, &cols[ci])
			b = w.value(b, &v)
		}
		b = append(b, '}')
		hasKey = true
	}
	keyEnd = len(b)

	row := func(b []byte, img []Value) []byte {
		if ev.Op == OpTruncate || img == nil {
			return append(b, "null"...)
		}
		b = append(b, '{')
		for i := range cols {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, cols[i].Name)
			b = append(b, ':')
			if i >= len(img) {
				b = append(b, "null"...)
				continue
			}
			b = w.value(b, &img[i])
		}
		return append(b, '}')
	}
	b = append(b, `{"before":`...)
	b = row(b, ev.Before)
	b = append(b, `,"after":`...)
	b = row(b, ev.After)
	b = src.append(b, &ev.Source, &w)
	b = append(b, `,"op":`...)
	b = appendString(b, opName(ev.Op))
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, ev.TsMs, 10)
	if t := ev.Transaction; t != nil {
		b = append(b, `,"transaction":{"id":`...)
		b = appendString(b, t.ID)
		b = append(b, `,"total_order":`...)
		b = strconv.AppendInt(b, t.TotalOrder, 10)
		b = append(b, `,"data_collection_order":`...)
		b = strconv.AppendInt(b, t.DataCollectionOrder, 10)
		b = append(b, "}}"...)
	} else {
		b = append(b, `,"transaction":null}`...)
	}
	return b, keyEnd, hasKey, w.err
}

// sourceBlockCache holds the JSON of the last source block an encoder
// wrote and the SourceInfo it came from. The next block that has the same
// fields and starts with the same Extra fields reuses the bytes up to the
// first Extra field that differs: a snapshot chunk's rows share their
// whole block, a binlog rows event's rows all but "row" and "thread".
type sourceBlockCache struct {
	src  SourceInfo
	json []byte
	ends []int // where the JSON of Extra[i] ends; base where Extra starts
	base int
}

func (c *sourceBlockCache) append(b []byte, s *SourceInfo, w *jsonWriter) []byte {
	k := c.sameExtra(s)
	if k < 0 {
		start := len(b)
		b = appendSourceJSON(b, s, w, c)
		c.src, c.json = *s, append(c.json[:0], b[start:]...)
		if w.err != nil {
			c.json = nil
		}
		return b
	}
	end := c.base
	if k > 0 {
		end = c.ends[k-1]
	}
	b = append(b, c.json[:end]...)
	if k == len(s.Extra) {
		return append(b, '}')
	}
	start := len(b)
	b = appendExtraJSON(b, s.Extra[k:], w, c, k, end)
	c.src.Extra = s.Extra
	c.json = append(c.json[:end], b[start:]...)
	if w.err != nil {
		c.json = nil
	}
	return b
}

// sameExtra returns how many leading Extra fields of s encode as the
// remembered ones, or -1 when another field of s differs.
func (c *sourceBlockCache) sameExtra(s *SourceInfo) int {
	p := &c.src
	if c.json == nil || len(s.Extra) != len(p.Extra) ||
		s.TsMs != p.TsMs || s.Version != p.Version || s.Connector != p.Connector || s.Name != p.Name ||
		s.Snapshot != p.Snapshot || s.Database != p.Database || s.Schema != p.Schema || s.Table != p.Table || s.TxID != p.TxID {
		return -1
	}
	if len(s.Extra) == 0 || &s.Extra[0] == &p.Extra[0] {
		// The very same fields: a batch's events do not change once
		// the source has emitted them.
		return len(s.Extra)
	}
	for i := range s.Extra {
		if !sameField(&s.Extra[i], &p.Extra[i]) {
			return i
		}
	}
	return len(s.Extra)
}

// sameField reports whether two fields of scalar values are equal; a
// value with bytes, a list or a struct is not compared.
func sameField(a, b *Field) bool {
	x, y := &a.Value, &b.Value
	return a.Name == b.Name && a.Optional == b.Optional && x.Kind == y.Kind && x.Null == y.Null &&
		x.Int == y.Int && x.Uint == y.Uint && math.Float64bits(x.Float) == math.Float64bits(y.Float) &&
		x.Str == y.Str && x.Prec == y.Prec && x.Offset == y.Offset &&
		x.Bytes == nil && y.Bytes == nil && x.List == nil && y.List == nil && x.Struct == nil && y.Struct == nil
}

// appendSourceJSON appends ev's `,"source":{...}` to b; c learns where
// its Extra fields start and end.
func appendSourceJSON(b []byte, src *SourceInfo, w *jsonWriter, c *sourceBlockCache) []byte {
	start := len(b)
	snapshot := src.Snapshot
	if snapshot == "" {
		snapshot = "false"
	}
	b = append(b, `,"source":{"version":`...)
	b = appendString(b, src.Version)
	b = append(b, `,"connector":`...)
	b = appendString(b, src.Connector)
	b = append(b, `,"name":`...)
	b = appendString(b, src.Name)
	b = append(b, `,"ts_ms":`...)
	b = strconv.AppendInt(b, src.TsMs, 10)
	b = append(b, `,"snapshot":`...)
	b = appendString(b, snapshot)
	b = append(b, `,"db":`...)
	b = appendString(b, src.Database)
	if src.Schema != "" {
		b = append(b, `,"schema":`...)
		b = appendString(b, src.Schema)
	}
	b = append(b, `,"table":`...)
	b = appendString(b, src.Table)
	if src.TxID != "" {
		b = append(b, `,"txId":`...)
		if n, err := strconv.ParseInt(src.TxID, 10, 64); err == nil {
			b = strconv.AppendInt(b, n, 10)
		} else {
			b = appendString(b, src.TxID)
		}
	}
	c.base = len(b) - start
	return appendExtraJSON(b, src.Extra, w, c, 0, len(b)-start)
}

// appendExtraJSON appends the Extra fields from, the first being field i
// of the block, and the block's closing brace; at is the length of the
// block's JSON before them, for c's ends.
func appendExtraJSON(b []byte, from []Field, w *jsonWriter, c *sourceBlockCache, i, at int) []byte {
	c.ends = c.ends[:i]
	for j := range from {
		f := &from[j]
		n := len(b)
		b = append(b, ',')
		b = appendString(b, f.Name)
		b = append(b, ':')
		b = w.value(b, &f.Value)
		at += len(b) - n
		c.ends = append(c.ends, at)
	}
	return append(b, '}')
}

// eventEncoder writes the json converter's keys and values of events
// (see appendEventJSON) into shared chunks of memory, one allocation for
// many records, remembering the last source block. One goroutine uses an
// encoder; the records it returns stay valid after the next call.
type eventEncoder struct {
	src   sourceBlockCache
	free  []byte // the unused rest of the current chunk, length 0
	guess int    // room to make before an event: twice the last one's size
}

// encoderChunk is the size of the chunks records are written into.
const encoderChunk = 64 << 10

func (e *eventEncoder) encode(ev *ChangeEvent) (key, value []byte, err error) {
	if cap(e.free) < e.guess || cap(e.free) < 256 {
		e.free = make([]byte, 0, max(encoderChunk, e.guess))
	}
	b, keyEnd, hasKey, err := appendEventJSON(e.free, ev, &e.src)
	if err != nil {
		return nil, nil, err
	}
	// An event larger than the room left was appended to a new array of
	// its own; what remains of either is the next event's room.
	e.free = b[len(b):]
	e.guess = 2 * len(b)
	out := b[:len(b):len(b)]
	if hasKey {
		key = out[:keyEnd:keyEnd]
	}
	return key, out[keyEnd:], nil
}
