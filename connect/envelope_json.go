package connect

import "strconv"

// appendEventJSON appends the json converter's key and value of ev's
// Debezium envelope to b, exactly the bytes Envelope and then the json
// converter write, without building the envelope's structs: the hot path
// of a source connector without transforms. keyEnd is where the key ends
// in the returned bytes; hasKey is false for a table without a key (a null
// key). ev must not be a truncate of a table with a key (its key is made
// by the source task).
func appendEventJSON(b []byte, ev *ChangeEvent) (out []byte, keyEnd int, hasKey bool, err error) {
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
	src := &ev.Source
	snapshot := src.Snapshot
	if snapshot == "" {
		snapshot = "false"
	}
	b = append(b, `{"before":`...)
	b = row(b, ev.Before)
	b = append(b, `,"after":`...)
	b = row(b, ev.After)
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
	for i := range src.Extra {
		f := &src.Extra[i]
		b = append(b, ',')
		b = appendString(b, f.Name)
		b = append(b, ':')
		b = w.value(b, &f.Value)
	}
	b = append(b, `},"op":`...)
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

// encodeEventJSON returns the json converter's key and value of ev's
// envelope in one exact-size allocation (see appendEventJSON).
func encodeEventJSON(ev *ChangeEvent) (key, value []byte, err error) {
	bp := bufPool.Get().(*[]byte)
	b, keyEnd, hasKey, err := appendEventJSON((*bp)[:0], ev)
	defer func() {
		if cap(b) <= 1<<20 {
			*bp = b[:0]
			bufPool.Put(bp)
		}
	}()
	if err != nil {
		return nil, nil, err
	}
	out := make([]byte, len(b))
	copy(out, b)
	if hasKey {
		key = out[:keyEnd:keyEnd]
	}
	return key, out[keyEnd:], nil
}
