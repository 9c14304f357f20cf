package pgworkload

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

// Record is one record of a topic.
type Record struct {
	Topic      string
	Partition  int32
	Offset     int64
	Key, Value []byte
}

// ReadLog returns every record below the high watermark of the topics of
// l whose names start with prefix and a dot, partition by partition in
// offset order.
func ReadLog(l *sluicelog.Log, prefix string) ([]Record, error) {
	var out []Record
	for _, info := range l.Topics() {
		if !strings.HasPrefix(info.Name, prefix+".") {
			continue
		}
		for p := int32(0); p < info.Partitions; p++ {
			for off := int64(0); ; {
				res, err := l.Read(info.Name, p, off, sluicelog.ReadOptions{MaxBytes: 4 << 20})
				if err != nil {
					return nil, fmt.Errorf("read %s/%d at %d: %w", info.Name, p, off, err)
				}
				if len(res.Batches) == 0 {
					break
				}
				for i := range res.Batches {
					recs, err := res.Batches[i].Records()
					if err != nil {
						return nil, fmt.Errorf("decode %s/%d at %d: %w", info.Name, p, res.Batches[i].BaseOffset, err)
					}
					for _, r := range recs {
						if r.Offset < off {
							continue
						}
						out = append(out, Record{Topic: info.Name, Partition: p, Offset: r.Offset,
							Key: bytes.Clone(r.Key), Value: bytes.Clone(r.Value)})
						off = r.Offset + 1
					}
				}
			}
		}
	}
	return out, nil
}

// Event is a change event as the json converter wrote it.
type Event struct {
	Rec             *Record
	Table           string // from source.table
	Op              string
	Before, After   map[string]any // numbers are json.Number
	Snapshot        string
	LSN             int64 // source.lsn; 0 for snapshot reads
	TxID, TxOrderID string
	Order           int64 // transaction.total_order
	splitRank       int   // 0 for the delete of a key change, 1 otherwise

	// Where the event goes in commit order (see commitOrder).
	sortLSN, sortOrder int64
	sortRank           int
	seq                int
}

// Decode turns records into events; tombstones (null values) are left out.
func Decode(recs []Record) ([]Event, error) {
	var out []Event
	for i := range recs {
		r := &recs[i]
		if r.Value == nil {
			continue
		}
		var v struct {
			Before, After map[string]any
			Op            string
			Source        struct {
				Table    string
				Snapshot string
				LSN      json.Number `json:"lsn"`
				TxID     json.Number `json:"txId"`
			}
			Transaction *struct {
				ID         string      `json:"id"`
				TotalOrder json.Number `json:"total_order"`
			}
		}
		d := json.NewDecoder(bytes.NewReader(r.Value))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s/%d@%d: %w: %s", r.Topic, r.Partition, r.Offset, err, r.Value)
		}
		ev := Event{Rec: r, Table: v.Source.Table, Op: v.Op, Before: v.Before, After: v.After, Snapshot: v.Source.Snapshot, TxID: v.Source.TxID.String(), splitRank: 1}
		if v.Source.LSN != "" {
			ev.LSN, _ = v.Source.LSN.Int64()
		}
		if v.Transaction != nil {
			ev.TxOrderID = v.Transaction.ID
			ev.Order, _ = v.Transaction.TotalOrder.Int64()
		}
		if ev.Op == "d" {
			ev.splitRank = 0
		}
		out = append(out, ev)
	}
	return out, nil
}

// Result is what Check found.
type Result struct {
	Problems []string
	Events   int            // events read (tombstones not counted)
	Ops      map[string]int // events by op
	Txs      int            // streamed transactions
	Rows     map[string]int // rows per table in the database
	// Incremental lists the tables whose snapshot was merged with the
	// stream (see incrementalTables).
	Incremental map[string]bool

	// lastBy lists the events that wrote each table/key (and the last
	// truncate of each table), to explain a problem.
	lastBy map[string]string
}

func (r *Result) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Summary is a line for a test log.
func (r *Result) Summary() string {
	return fmt.Sprintf("%d events %v in %d transactions; rows %v; incremental snapshot of %v; %d problems", r.Events, r.Ops, r.Txs, r.Rows, r.Incremental, len(r.Problems))
}

// Check rebuilds every workload table from the events of recs and
// compares it with the table in the database of dsn. defaults are the
// workload's column defaults (Workload.Defaults; nil for none). It also
// checks that no streamed event is in the log twice, that every streamed
// transaction is whole (total_order 1 to N), that each partition holds
// its events in commit order, and that nothing a rolled-back statement
// wrote was captured.
func Check(ctx context.Context, dsn string, recs []Record, defaults map[string]map[string]string) (*Result, error) {
	res := &Result{Ops: map[string]int{}, Rows: map[string]int{}, lastBy: map[string]string{}}
	events, err := Decode(recs)
	if err != nil {
		return nil, err
	}
	folded := foldTruncates(res, events)
	res.Events = len(folded)
	checkStream(res, folded)
	incremental := incrementalTables(events)
	res.Incremental = incremental
	// Every copy of a truncate takes part in ordering its partition's
	// snapshot reads; only the first is applied.
	ordered := commitOrder(events)
	applied := map[string]bool{}
	reads := map[string]int{} // table/key → snapshot reads

	// Rebuild.
	keyed := map[string]map[string]map[string]any{} // table → key → row
	bags := map[string]map[string]int{}             // table → row → count
	for _, ev := range ordered {
		if ev.Op == "t" && ev.LSN != 0 {
			id := fmt.Sprint(ev.Rec.Topic, "/", ev.TxID, "/", ev.LSN, "/", ev.Order)
			if applied[id] {
				continue
			}
			applied[id] = true
		}
		res.Ops[ev.Op]++
		for _, img := range []map[string]any{ev.Before, ev.After} {
			for col, v := range img {
				if s, ok := v.(string); ok && strings.HasPrefix(s, Marker) {
					res.problem("%s: column %s holds %q, written by a rolled-back statement", where(&ev), col, s)
				}
			}
		}
		if kc, ok := keys[ev.Table]; ok {
			if ev.Op == "r" {
				k := ev.Table + "/" + rowKey(ev.After, kc)
				if reads[k]++; reads[k] == 2 {
					res.problem("%s: the snapshot reads key %s a second time", where(&ev), rowKey(ev.After, kc))
				}
			}
			applyKeyed(res, keyed, kc, &ev, incremental[ev.Table])
		} else {
			applyBag(res, bags, &ev, incremental[ev.Table])
		}
	}

	// Compare with the database.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	for _, qt := range Tables {
		table := strings.TrimPrefix(qt, "public.")
		cols, types, rows, err := tableText(ctx, conn, table)
		if err != nil {
			return nil, err
		}
		res.Rows[table] = len(rows)
		if kc, ok := keys[table]; ok {
			compareKeyed(res, table, kc, cols, types, rows, keyed[table], defaults[table])
		} else {
			compareBag(res, table, cols, rows, bags[table])
		}
	}
	return res, nil
}

// foldTruncates keeps one of the copies of a truncate of a table with a
// key, which goes to every partition of its topic, and checks that every
// partition has one.
func foldTruncates(res *Result, events []Event) []Event {
	type id struct {
		topic, table, tx string
		lsn, order       int64
	}
	copies := map[id]map[int32]bool{}
	parts := map[string]map[int32]bool{}
	out := make([]Event, 0, len(events))
	for _, ev := range events {
		if parts[ev.Rec.Topic] == nil {
			parts[ev.Rec.Topic] = map[int32]bool{}
		}
		parts[ev.Rec.Topic][ev.Rec.Partition] = true
		if ev.Op != "t" || ev.LSN == 0 {
			out = append(out, ev)
			continue
		}
		k := id{ev.Rec.Topic, ev.Table, ev.TxID, ev.LSN, ev.Order}
		if copies[k] == nil {
			copies[k] = map[int32]bool{}
			out = append(out, ev)
		} else if copies[k][ev.Rec.Partition] {
			res.problem("%s: a truncate twice in one partition", where(&ev))
		}
		copies[k][ev.Rec.Partition] = true
	}
	for k, ps := range copies {
		if _, keyed := keys[k.table]; keyed && len(ps) != len(parts[k.topic]) {
			res.problem("%s: the truncate at lsn %d is in %d of its %d partitions", k.topic, k.lsn, len(ps), len(parts[k.topic]))
		}
	}
	return out
}

func where(ev *Event) string {
	return fmt.Sprintf("%s/%d@%d (op %s, lsn %d, tx %s #%d)", ev.Rec.Topic, ev.Rec.Partition, ev.Rec.Offset, ev.Op, ev.LSN, ev.TxID, ev.Order)
}

// checkStream checks the streamed events: each (transaction, total_order)
// once (twice for a key change: a delete and a create), every
// transaction whole, each partition in commit order.
func checkStream(res *Result, events []Event) {
	type slot struct {
		lsn   int64
		order int64
	}
	groups := map[slot][]*Event{}
	txLSN := map[string]int64{}
	maxOrder := map[int64]int64{}
	for i := range events {
		ev := &events[i]
		if ev.Snapshot != "false" && ev.Snapshot != "" {
			continue
		}
		if ev.LSN == 0 || ev.TxID == "" || ev.Order == 0 {
			res.problem("%s: a streamed event without lsn, txId or transaction order", where(ev))
			continue
		}
		if ev.TxOrderID != ev.TxID {
			res.problem("%s: transaction.id %q differs from source.txId", where(ev), ev.TxOrderID)
		}
		if l, ok := txLSN[ev.TxID]; ok && l != ev.LSN {
			res.problem("%s: transaction %s also has lsn %d", where(ev), ev.TxID, l)
		}
		txLSN[ev.TxID] = ev.LSN
		s := slot{ev.LSN, ev.Order}
		groups[s] = append(groups[s], ev)
		maxOrder[ev.LSN] = max(maxOrder[ev.LSN], ev.Order)
	}
	res.Txs = len(maxOrder)
	for s, g := range groups {
		switch {
		case len(g) == 1:
		case len(g) == 2 && (g[0].Op == "d" && g[1].Op == "c" || g[0].Op == "c" && g[1].Op == "d"):
			// A key change, split in two.
		default:
			var ops []string
			for _, ev := range g {
				ops = append(ops, where(ev))
			}
			res.problem("transaction at lsn %d, event #%d is in the log %d times: %s", s.lsn, s.order, len(g), strings.Join(ops, "; "))
		}
	}
	for lsn, n := range maxOrder {
		for o := int64(1); o <= n; o++ {
			if _, ok := groups[slot{lsn, o}]; !ok {
				res.problem("transaction at lsn %d: event #%d of %d is missing", lsn, o, n)
			}
		}
	}
	// Within a partition, offsets follow commit order.
	last := map[string]slot{}
	for i := range events {
		ev := &events[i]
		if ev.LSN == 0 {
			continue
		}
		k := fmt.Sprint(ev.Rec.Topic, "/", ev.Rec.Partition)
		cur := slot{ev.LSN, ev.Order}
		if p, ok := last[k]; ok && (cur.lsn < p.lsn || cur.lsn == p.lsn && cur.order < p.order) {
			res.problem("%s comes after lsn %d #%d in its partition", where(ev), p.lsn, p.order)
		}
		last[k] = cur
	}
}

// commitOrder returns the events in the order the database committed
// them. A streamed event is placed by its commit LSN and transaction
// order, the delete of a split key change before its create. A snapshot
// read goes right after the streamed event before it in its partition:
// the initial snapshot's rows come before the stream, the rows of an
// incremental snapshot (which also finishes an interrupted initial one)
// between the changes it was merged with.
func commitOrder(events []Event) []Event {
	out := slices.Clone(events)
	type part struct {
		topic string
		p     int32
	}
	last := map[part][2]int64{}
	for i := range out {
		ev := &out[i]
		ev.seq = i
		k := part{ev.Rec.Topic, ev.Rec.Partition}
		if ev.LSN != 0 {
			ev.sortLSN, ev.sortOrder, ev.sortRank = ev.LSN, ev.Order, ev.splitRank
			last[k] = [2]int64{ev.LSN, ev.Order}
			continue
		}
		l := last[k]
		ev.sortLSN, ev.sortOrder, ev.sortRank = l[0], l[1], 2
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if a.sortLSN != b.sortLSN {
			return a.sortLSN < b.sortLSN
		}
		if a.sortOrder != b.sortOrder {
			return a.sortOrder < b.sortOrder
		}
		if a.sortRank != b.sortRank {
			return a.sortRank < b.sortRank
		}
		return a.seq < b.seq
	})
	return out
}

// incrementalTables returns the tables whose snapshot reads come after a
// streamed event in their partition: an incremental snapshot, merged with
// the stream. Until such a table's snapshot reaches a row, changes to it
// arrive for rows the topic has not shown yet.
func incrementalTables(events []Event) map[string]bool {
	out := map[string]bool{}
	streamed := map[string]bool{}
	for i := range events {
		ev := &events[i]
		k := fmt.Sprint(ev.Rec.Topic, "/", ev.Rec.Partition)
		if ev.LSN != 0 {
			streamed[k] = true
		} else if streamed[k] {
			out[ev.Table] = true
		}
	}
	return out
}

// text returns a JSON value as PostgreSQL's text output of a column of
// type typ prints it; null is reported by ok false.
func text(v any, typ string) (s string, ok bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case json.Number:
		return v.String(), true
	case string:
		if typ == "bytea" {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return "undecodable base64 " + v, true
			}
			return `\x` + hex.EncodeToString(b), true
		}
		return v, true
	case bool:
		if v {
			return "true", true
		}
		return "false", true
	default:
		b, _ := json.Marshal(v)
		return string(b), true
	}
}

// rowKey is the text of a row's key columns.
func rowKey(img map[string]any, kc []string) string {
	var parts []string
	for _, c := range kc {
		s, ok := text(img[c], "")
		if !ok {
			s = `\N`
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "|")
}

// applyKeyed applies an event to the rebuilt table of a table with a key.
// With incremental, snapshot reads overwrite rows, and updates and
// deletes of rows not seen yet are allowed (the snapshot has not reached
// them).
func applyKeyed(res *Result, keyed map[string]map[string]map[string]any, kc []string, ev *Event, incremental bool) {
	for _, img := range []map[string]any{ev.Before, ev.After} {
		if img != nil {
			k := ev.Table + "/" + rowKey(img, kc)
			defer func() {
				res.lastBy[k] += "\n\t\t" + where(ev) + " snapshot " + ev.Snapshot + fmt.Sprint(" sortLSN ", ev.sortLSN)
			}()
		}
	}
	rows := keyed[ev.Table]
	if rows == nil {
		rows = map[string]map[string]any{}
		keyed[ev.Table] = rows
	}
	switch ev.Op {
	case "r":
		k := rowKey(ev.After, kc)
		if _, dup := rows[k]; dup && !incremental {
			res.problem("%s: creates key %s, which exists (a duplicate, or a lost delete)", where(ev), k)
		}
		rows[k] = ev.After
	case "c":
		k := rowKey(ev.After, kc)
		if _, dup := rows[k]; dup {
			res.problem("%s: creates key %s, which exists (a duplicate, or a lost delete); its earlier events: %s (last truncate: %s)", where(ev), k, res.lastBy[ev.Table+"/"+k], res.lastBy[ev.Table+"/truncate"])
		}
		rows[k] = ev.After
	case "u":
		k := rowKey(ev.After, kc)
		if ev.Before != nil {
			if bk := rowKey(ev.Before, kc); bk != k {
				res.problem("%s: an update from key %s to %s was not split", where(ev), bk, k)
				delete(rows, bk)
			}
		}
		if _, ok := rows[k]; !ok && !incremental {
			res.problem("%s: updates key %s, which does not exist (a lost create)", where(ev), k)
		}
		rows[k] = ev.After
	case "d":
		k := rowKey(ev.Before, kc)
		if _, ok := rows[k]; !ok && !incremental {
			res.problem("%s: deletes key %s, which does not exist (a duplicate, or a lost create)", where(ev), k)
		}
		delete(rows, k)
	case "t":
		clear(rows)
		res.lastBy[ev.Table+"/truncate"] = where(ev)
	default:
		res.problem("%s: unknown op", where(ev))
	}
}

// bagRow is a keyless row as text: its columns sorted by name.
func bagRow(img map[string]any) string {
	names := make([]string, 0, len(img))
	for n := range img {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		s, ok := text(img[n], "")
		if !ok {
			s = `\N`
		}
		fmt.Fprintf(&b, "%s=%s;", n, s)
	}
	return b.String()
}

// applyBag applies an event to the rebuilt multiset of a keyless table.
// With incremental, rows may be removed before the snapshot adds them
// (counts go below zero for a while).
func applyBag(res *Result, bags map[string]map[string]int, ev *Event, incremental bool) {
	rows := bags[ev.Table]
	if rows == nil {
		rows = map[string]int{}
		bags[ev.Table] = rows
	}
	remove := func(img map[string]any) {
		if img == nil {
			res.problem("%s: no before image (REPLICA IDENTITY FULL gives one)", where(ev))
			return
		}
		r := bagRow(img)
		if rows[r] <= 0 && incremental {
			rows[r]--
			return
		}
		if rows[r] == 0 {
			res.problem("%s: removes row %s, which is not there (a duplicate, or a lost create)", where(ev), r)
			return
		}
		rows[r]--
	}
	switch ev.Op {
	case "r", "c":
		rows[bagRow(ev.After)]++
	case "u":
		remove(ev.Before)
		rows[bagRow(ev.After)]++
	case "d":
		remove(ev.Before)
	case "t":
		clear(rows)
	default:
		res.problem("%s: unknown op", where(ev))
	}
}

// tableText returns a table's columns, their types and its rows, every
// value as text (nil for NULL).
func tableText(ctx context.Context, conn *pgx.Conn, table string) (cols []string, types map[string]string, rows []map[string]*string, err error) {
	types = map[string]string{}
	r, err := conn.Query(ctx, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position", table)
	if err != nil {
		return nil, nil, nil, err
	}
	for r.Next() {
		var c, t string
		if err := r.Scan(&c, &t); err != nil {
			r.Close()
			return nil, nil, nil, err
		}
		cols = append(cols, c)
		types[c] = t
	}
	r.Close()
	if err := r.Err(); err != nil {
		return nil, nil, nil, err
	}
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = pgx.Identifier{c}.Sanitize() + "::text"
	}
	r, err = conn.Query(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM public."+pgx.Identifier{table}.Sanitize())
	if err != nil {
		return nil, nil, nil, err
	}
	defer r.Close()
	for r.Next() {
		vals := make([]*string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			return nil, nil, nil, err
		}
		row := map[string]*string{}
		for i, c := range cols {
			row[c] = vals[i]
		}
		rows = append(rows, row)
	}
	return cols, types, rows, r.Err()
}

func show(p *string) string {
	if p == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *p)
}

func compareKeyed(res *Result, table string, kc, cols []string, types map[string]string, rows []map[string]*string, rebuilt map[string]map[string]any, defaults map[string]string) {
	seen := map[string]bool{}
	for _, row := range rows {
		var parts []string
		for _, c := range kc {
			parts = append(parts, *row[c])
		}
		k := strings.Join(parts, "|")
		seen[k] = true
		got, ok := rebuilt[k]
		if !ok {
			res.problem("%s: row %s is in the database but not in the rebuilt table (a lost change)", table, k)
			continue
		}
		for _, c := range cols {
			want := row[c]
			v, present := got[c]
			var have *string
			switch {
			case present:
				if s, ok := text(v, types[c]); ok {
					have = &s
				}
			case defaults[c] != "":
				d := defaults[c]
				have = &d
			default:
				res.problem("%s: row %s: column %s is in no event", table, k, c)
				continue
			}
			if show(have) != show(want) {
				res.problem("%s: row %s: column %s is %s in the rebuilt table, %s in the database", table, k, c, show(have), show(want))
			}
		}
	}
	for k := range rebuilt {
		if !seen[k] {
			res.problem("%s: row %s is in the rebuilt table but not in the database (a lost delete or truncate)", table, k)
		}
	}
}

func compareBag(res *Result, table string, cols []string, rows []map[string]*string, rebuilt map[string]int) {
	want := map[string]int{}
	for _, row := range rows {
		img := map[string]any{}
		for _, c := range cols {
			if row[c] != nil {
				img[c] = *row[c]
			} else {
				img[c] = nil
			}
		}
		want[bagRow(img)]++
	}
	for r, n := range want {
		if rebuilt[r] != n {
			res.problem("%s: row %s is %d times in the database, %d times in the rebuilt table", table, r, n, rebuilt[r])
		}
	}
	for r, n := range rebuilt {
		if _, ok := want[r]; !ok && n != 0 {
			res.problem("%s: row %s is %d times in the rebuilt table, never in the database", table, r, n)
		}
	}
}

// FenceTopic is the topic of wl_fence under prefix.
func FenceTopic(prefix string) string { return prefix + ".public.wl_fence" }

// FenceValue returns the value Fence wrote that a record of FenceTopic
// carries, or 0 for a tombstone or another record.
func FenceValue(value []byte) int64 {
	var v struct {
		After *struct {
			N int64 `json:"n"`
		} `json:"after"`
	}
	if json.Unmarshal(value, &v) != nil || v.After == nil {
		return 0
	}
	return v.After.N
}

// FenceReached reports whether FenceTopic of l holds a record of a Fence
// that returned v or more.
func FenceReached(l *sluicelog.Log, prefix string, v int64) (bool, error) {
	topic := FenceTopic(prefix)
	info, err := l.Topic(topic)
	if err != nil {
		return false, nil // not created yet
	}
	for p := int32(0); p < info.Partitions; p++ {
		for off := int64(0); ; {
			res, err := l.Read(topic, p, off, sluicelog.ReadOptions{})
			if err != nil {
				return false, err
			}
			if len(res.Batches) == 0 {
				break
			}
			for i := range res.Batches {
				recs, err := res.Batches[i].Records()
				if err != nil {
					return false, err
				}
				for _, r := range recs {
					if FenceValue(r.Value) >= v {
						return true, nil
					}
				}
				off = res.Batches[i].LastOffset + 1
			}
		}
	}
	return false, nil
}
