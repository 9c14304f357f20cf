package datagen

import (
	"encoding/hex"
	"math/bits"
	"strconv"

	"github.com/sluice-cdc/sluice/connect"
)

// The stream is a pure function of the config and the sequence number:
//
//   - Event n touches key k in cycle c = n / rows, at place i = n % rows of
//     the cycle. Every cycle visits each key once, in the order of a
//     permutation of the keys drawn from (seed, c): k = (a·i + b) mod rows,
//     with a coprime to rows. So event n is the v-th touch of key k, v = c.
//     With rows 0, event n creates key n (v = 0).
//   - The row of key k after its v-th touch, image(k, v), is drawn from
//     (seed, k, v); key columns come from k alone.
//   - Whether touch v deletes the row, del(v), is decided by a draw from
//     (seed, k, v) weighted d : u, and only when the row exists:
//     del(v) = v > 0 ∧ draw(v) ∧ ¬del(v−1). A run of draws that all say
//     "delete" therefore alternates delete, create, delete, ...; del(v) is
//     found by walking back to the last draw that said "update" (expected
//     length u+d : u, and closed-form when u is 0).
//   - Touch v is a create when the row does not exist (v = 0 or
//     del(v−1)), a delete when del(v), else an update. Before of an update
//     or delete is image(k, v−1): the row as the previous touch left it.
//
// Nothing depends on what happened earlier in a run, so a source opened at
// sequence number n emits exactly the events a run from 0 emits from n on.

// epochMs is the synthetic commit time of event 0: 2024-01-01T00:00:00Z.
const epochMs = 1_704_067_200_000

// generator builds events. It caches the current cycle's permutation, so
// one generator serves one goroutine.
type generator struct {
	cfg    Config
	table  *connect.Table
	topic  string
	kinds  []colKind
	isKey  []bool
	weight uint64 // U + D

	cycle    uint64 // the cycle whose permutation permA, permB hold
	cycleOK  bool
	permA    uint64
	permB    uint64
	msPerSeq float64 // synthetic commit time between two events

	txn   uint64 // the transaction whose ID txnID holds
	txnOK bool
	txnID string
	plans []touchPlan // scratch of events
}

// colKind is how a column's values are made.
type colKind uint8

const (
	colInt colKind = iota
	colBigint
	colUint64
	colText
	colDecimal
	colBool
	colTimestampTZ
	colDate
	colJSON
	colBytes
	colUUID
)

var colKinds = map[string]struct {
	kind   colKind
	vkind  connect.Kind
	dbType string
}{
	"int":         {colInt, connect.KindInt32, "integer"},
	"bigint":      {colBigint, connect.KindInt64, "bigint"},
	"uint64":      {colUint64, connect.KindUint64, "bigint unsigned"},
	"text":        {colText, connect.KindString, "text"},
	"decimal":     {colDecimal, connect.KindDecimal, "numeric(12,2)"},
	"bool":        {colBool, connect.KindBool, "boolean"},
	"timestamptz": {colTimestampTZ, connect.KindTimestampTZ, "timestamp with time zone"},
	"date":        {colDate, connect.KindDate, "date"},
	"json":        {colJSON, connect.KindJSON, "jsonb"},
	"bytes":       {colBytes, connect.KindBytes, "bytea"},
	"uuid":        {colUUID, connect.KindUUID, "uuid"},
}

func newGenerator(cfg Config) *generator {
	g := &generator{
		cfg:    cfg,
		topic:  cfg.TopicPrefix + "." + cfg.Database + "." + cfg.Table,
		weight: cfg.Ops.U + cfg.Ops.D,
	}
	t := &connect.Table{Database: cfg.Database, Name: cfg.Table}
	for i, c := range cfg.Columns {
		ck := colKinds[c.Type]
		col := connect.Column{Name: c.Name, Type: ck.dbType, Kind: ck.vkind}
		switch ck.kind {
		case colDecimal:
			col.Precision, col.Scale = 12, 2
		case colTimestampTZ:
			col.Prec = 6
		}
		t.Columns = append(t.Columns, col)
		if c.Key {
			t.Key = append(t.Key, i)
		}
		g.kinds = append(g.kinds, ck.kind)
		g.isKey = append(g.isKey, c.Key)
	}
	g.table = t
	if cfg.Rate > 0 {
		g.msPerSeq = 1000 / cfg.Rate
	} else {
		g.msPerSeq = 1
	}
	return g
}

// splitmix64's finalizer: a bijection of uint64 that mixes well.
func fmix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

const golden = 0x9e3779b97f4a7c15

// hash mixes the seed, a salt and two numbers.
func (g *generator) hash(salt, a, b uint64) uint64 {
	h := fmix(uint64(g.cfg.Seed) + salt*golden)
	h = fmix(h ^ (a + golden))
	return fmix(h ^ (b + 0x3c6ef372fe94f82b))
}

const (
	saltPerm = iota + 1
	saltOp
	saltRow
)

// touch returns the key and the touch number of event n.
func (g *generator) touch(n uint64) (k, v uint64) {
	rows := g.cfg.Rows
	if rows == 0 {
		return n, 0
	}
	c, i := n/rows, n%rows
	if !g.cycleOK || g.cycle != c {
		g.cycle, g.cycleOK = c, true
		g.permA = g.hash(saltPerm, c, 0) % rows
		for gcd(g.permA, rows) != 1 {
			g.permA++
			if g.permA == rows {
				g.permA = 1
			}
		}
		g.permB = g.hash(saltPerm, c, 1) % rows
	}
	hi, lo := bits.Mul64(g.permA, i)
	k = bits.Rem64(hi, lo, rows) + g.permB
	if k >= rows || k < g.permB { // k overflowed rows (or uint64)
		k -= rows
	}
	return k, c
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// draw says whether touch v of key k deletes the row, if it exists.
func (g *generator) draw(k, v uint64) bool {
	return g.hash(saltOp, k, v)%g.weight < g.cfg.Ops.D
}

// deleted reports del(v) for key k (see the comment at the top).
func (g *generator) deleted(k, v uint64) bool {
	if v == 0 || g.cfg.Ops.D == 0 || g.cfg.Rows == 0 {
		return false
	}
	if g.cfg.Ops.U == 0 {
		return v%2 == 1
	}
	j := v
	for j > 0 && g.draw(k, j) {
		j--
	}
	return (v-j)%2 == 1
}

// event returns event number n.
func (g *generator) event(n uint64) connect.ChangeEvent {
	var ev [1]connect.ChangeEvent
	g.events(ev[:], n)
	return ev[0]
}

// touchPlan is what an event does to which key.
type touchPlan struct {
	k, v uint64
	op   connect.Op
}

// events fills evs with events n, n+1, ..., allocating their parts in a
// few blocks rather than piece by piece.
func (g *generator) events(evs []connect.ChangeEvent, n uint64) {
	cols := len(g.kinds)
	plans := g.plans[:0]
	images := 0
	for i := range evs {
		k, v := g.touch(n + uint64(i))
		p := touchPlan{k: k, v: v, op: connect.OpUpdate}
		switch {
		case v == 0 || g.deleted(k, v-1):
			p.op = connect.OpCreate
		case g.deleted(k, v):
			p.op = connect.OpDelete
		}
		if p.op == connect.OpUpdate {
			images += 2
		} else {
			images++
		}
		plans = append(plans, p)
	}
	g.plans = plans

	values := make([]connect.Value, images*cols)
	txs := make([]connect.Transaction, len(evs))
	extras := make([]connect.Field, len(evs))
	take := func() []connect.Value {
		row := values[:cols:cols]
		values = values[cols:]
		return row
	}
	bs := g.cfg.BatchSize
	for i, p := range plans {
		seq := n + uint64(i)
		ev := &evs[i]
		*ev = connect.ChangeEvent{Op: p.op, Table: g.table, Topic: g.topic}
		if p.op != connect.OpCreate {
			ev.Before = g.image(take(), p.k, p.v-1)
		}
		if p.op != connect.OpDelete {
			ev.After = g.image(take(), p.k, p.v)
		}
		if txn := seq / bs; !g.txnOK || txn != g.txn {
			g.txn, g.txnOK, g.txnID = txn, true, strconv.FormatUint(txn, 10)
		}
		order := int64(seq%bs) + 1
		txs[i] = connect.Transaction{ID: g.txnID, TotalOrder: order, DataCollectionOrder: order}
		ev.Transaction = &txs[i]
		ts := epochMs + int64(float64(seq)*g.msPerSeq)
		ev.TsMs = ts
		extras[i] = connect.Field{Name: "seq", Value: connect.Int64(int64(seq))}
		ev.Source = connect.SourceInfo{
			Connector: "datagen",
			Name:      g.cfg.TopicPrefix,
			TsMs:      ts,
			Snapshot:  "false",
			Database:  g.cfg.Database,
			Table:     g.cfg.Table,
			TxID:      g.txnID,
			Extra:     extras[i : i+1 : i+1],
		}
	}
}

// image fills row with the row of key k after touch v.
func (g *generator) image(row []connect.Value, k, v uint64) []connect.Value {
	h := g.hash(saltRow, k, v)
	for i, kind := range g.kinds {
		if g.isKey[i] {
			row[i] = keyValue(kind, k)
		} else {
			row[i] = value(kind, fmix(h+uint64(i+1)*golden))
		}
	}
	return row
}

// keyValue is a key column's value for key k: distinct keys give distinct
// values.
func keyValue(kind colKind, k uint64) connect.Value {
	switch kind {
	case colInt:
		return connect.Int32(int32(k + 1))
	case colBigint:
		return connect.Int64(int64(k + 1))
	case colUint64:
		return connect.Uint64(k + 1)
	case colText:
		return connect.String("key-" + strconv.FormatUint(k+1, 10))
	case colUUID:
		// The low 62 bits are a bijection of k, so keys stay distinct
		// below 2^62; the rest looks random.
		const mask62 = 1<<62 - 1
		lo := (k * golden) & mask62
		lo ^= lo >> 29
		lo = (lo * 0xbf58476d1ce4e5b9) & mask62
		return uuidValue(fmix(k^0x5851f42d4c957f2d), lo)
	}
	panic("datagen: a " + strconv.Itoa(int(kind)) + " column cannot be a key")
}

var words = [...]string{
	"amber", "birch", "cedar", "delta", "ember", "fjord", "grove", "harbor",
	"iris", "juniper", "kelp", "lumen", "maple", "nectar", "onyx", "pebble",
	"quartz", "raven", "sable", "tundra", "umber", "violet", "willow", "xenon",
	"yarrow", "zephyr", "aurora", "basalt", "coral", "dune", "estuary", "flint",
}

// Ranges of generated values.
const (
	dayMicros   = 86_400_000_000
	epochDays   = 18_262 // 2020-01-01
	epochMicros = epochMs * 1000
)

// value is a non-key column's value drawn from h.
func value(kind colKind, h uint64) connect.Value {
	switch kind {
	case colInt:
		return connect.Int32(int32(h % 1_000_000))
	case colBigint:
		return connect.Int64(int64(h % 10_000_000_000))
	case colUint64:
		return connect.Uint64(h)
	case colText:
		var buf [24]byte
		b := append(buf[:0], words[h%32]...)
		b = append(b, '-')
		b = strconv.AppendUint(b, (h>>8)%10_000, 10)
		return connect.String(string(b))
	case colDecimal:
		cents := (h >> 3) % 10_000_000
		var buf [24]byte
		b := buf[:0]
		if h&7 == 0 && cents != 0 {
			b = append(b, '-')
		}
		b = strconv.AppendUint(b, cents/100, 10)
		b = append(b, '.', byte('0'+cents%100/10), byte('0'+cents%10))
		return connect.Decimal(string(b))
	case colBool:
		return connect.Bool(h&1 == 1)
	case colTimestampTZ:
		return connect.TimestampTZ(epochMicros - int64(h%(365*dayMicros)))
	case colDate:
		return connect.Value{Kind: connect.KindDate, Int: epochDays + int64(h%3650)}
	case colJSON:
		var buf [48]byte
		b := append(buf[:0], `{"n":`...)
		b = strconv.AppendUint(b, (h>>8)%1000, 10)
		b = append(b, `,"tag":"`...)
		b = append(b, words[h%32]...)
		b = append(b, `"}`...)
		return connect.JSON(string(b))
	case colBytes:
		b := make([]byte, 16)
		h2 := fmix(h)
		for i := range 8 {
			b[i], b[8+i] = byte(h>>(8*i)), byte(h2>>(8*i))
		}
		return connect.Bytes(b)
	case colUUID:
		return uuidValue(h, fmix(h))
	}
	panic("datagen: unknown column kind " + strconv.Itoa(int(kind)))
}

// uuidValue formats a version 4 UUID from hi and lo, overwriting the
// version and variant bits.
func uuidValue(hi, lo uint64) connect.Value {
	hi = hi&^(0xf<<12) | 4<<12
	lo = lo&^(3<<62) | 2<<62
	var raw [16]byte
	for i := range 8 {
		raw[i], raw[8+i] = byte(hi>>(56-8*i)), byte(lo>>(56-8*i))
	}
	var s [36]byte
	hex.Encode(s[0:8], raw[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], raw[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], raw[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], raw[8:10])
	s[23] = '-'
	hex.Encode(s[24:], raw[10:])
	return connect.Value{Kind: connect.KindUUID, Str: string(s[:])}
}
