package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice/connect"
)

// The incremental snapshot reads tables again while streaming, in key
// order, one chunk at a time, with watermarks (Debezium's incremental
// snapshot, after Netflix's DBLog): for each chunk the source writes a low
// watermark into the WAL (pg_logical_emit_message), selects the chunk,
// and writes a high watermark. When the stream reaches the low watermark
// the chunk's rows are held; every change the stream brings between the
// two watermarks removes the rows of its keys from the chunk, since the
// change is as new as the selected row or newer; at the high watermark the
// rows left go out as op 'r' events. So a row never overwrites a newer
// change, and no change is lost.
//
// One race is closed on top of DBLog: Postgres writes a transaction's
// commit into the WAL a moment before other sessions see it, so a commit
// just before the low watermark may be invisible to the chunk's select.
// The select therefore runs in a repeatable-read transaction that also
// reads pg_current_snapshot(): a change the stream brings while the chunk
// is open from a transaction that snapshot did not see drops its rows too,
// even before the low watermark, and a chunk whose snapshot misses one of
// the transactions already decoded is read again.
//
// It serves two purposes: an ad-hoc snapshot asked for with
// RequestSnapshot (rows marked source.snapshot "incremental"), and the
// rest of an initial snapshot that was interrupted (rows marked "true").
// Its progress travels in every position, so a restart carries on with
// the chunk after the last one sent.
//
// A table without a key cannot be merged by key: it is read in one chunk,
// and read again if the stream changes it between the watermarks (up to
// keylessAttempts times, then the table's snapshot is given up, with an
// error in the log and the status).

const (
	watermarkPrefix = "sluice_watermark"
	signalPrefix    = "sluice_signal"
	keylessAttempts = 5
)

// window is a chunk between its watermarks.
type window struct {
	id       string // "<slot>:<run>:<n>"
	tp       string // schema.table
	table    *connect.Table
	events   []connect.ChangeEvent // the chunk's rows; nil entries were dropped
	index    map[string]int        // key string → index in events
	keyNames []string              // the key columns' names
	after    []*string             // the key of the chunk's last row
	read     int64                 // rows selected
	total    int64
	last     bool // the chunk ends the table
	lowSeen  bool
	snap     pgSnapshot // what the chunk's select saw
	changed  bool       // a table without a key changed in the window
	attempts int
}

// signal is the payload of an ad-hoc snapshot request in the WAL.
type signal struct {
	Slot   string   `json:"slot"`
	Tables []string `json:"tables"`
}

// snapshotting reports whether the stream has snapshot work to do.
func (s *Source) snapshotting() bool {
	return s.prog != nil && len(s.prog.Tables) > 0
}

// openWindow starts the next chunk when there is work and no chunk is
// open: low watermark, select, high watermark.
func (s *Source) openWindow(ctx context.Context) error {
	if s.win != nil || !s.snapshotting() {
		return nil
	}
	tp := s.prog.Tables[0]
	ref := parseRef(tp.Table)
	t, err := s.tableFromCatalog(ctx, s.meta, ref)
	if err != nil {
		return s.retriable("snapshot of %s: describe: %w", ref, err)
	}
	if len(t.Columns) == 0 {
		if exists, err := tableExists(ctx, s.meta, ref); err != nil {
			return s.retriable("snapshot of %s: %w", ref, err)
		} else if !exists {
			s.skipGone(tp.Table)
			return nil
		}
	}
	total := tp.Total
	if tp.Done == 0 || total == 0 {
		if total, err = estimateRows(ctx, s.meta, ref); err != nil {
			return s.retriable("snapshot of %s: estimate rows: %w", ref, err)
		}
	}
	if s.winSeq == 0 {
		// Watermarks of an earlier run may still be ahead in the stream
		// (after a crash, the stream replays from the stored position):
		// a run's windows carry its own random id, so those never
		// close a window of this run.
		var b [8]byte
		rand.Read(b[:])
		s.winRun = hex.EncodeToString(b[:])
	}
	s.winSeq++
	w := &window{id: s.cfg.Slot + ":" + s.winRun + ":" + strconv.FormatInt(s.winSeq, 10), tp: tp.Table, table: t, total: total, index: map[string]int{}}
	if s.prevWin != nil && s.prevWin.tp == tp.Table && len(t.Key) == 0 {
		w.attempts = s.prevWin.attempts
	}
	limit := s.cfg.SnapshotChunkSize
	after := tp.After
	if len(t.Key) == 0 {
		limit, after = 0, nil
	}
	if err := s.watermark(ctx, w.id, "low"); err != nil {
		return err
	}
	sql, args := selectRows(t, ref, after, limit)
	rows, snap, err := s.selectChunk(ctx, sql, args)
	if err == nil && s.missesDecoded(snap) {
		// A transaction the stream already brought is not yet visible
		// to the select: its rows would be stale. Read the chunk again.
		s.log.Debug("a snapshot chunk missed a decoded transaction: reading it again", "table", tp.Table)
		return nil
	}
	if err != nil {
		if undefinedTable(err) {
			s.skipGone(tp.Table)
			return nil
		}
		return err
	}
	mode := "incremental"
	if tp.Mode == modeInitial {
		mode = "true"
	}
	if w.events, err = s.readEvents(t, rows, mode); err != nil {
		return err
	}
	w.read = int64(len(rows))
	w.snap = snap
	w.last = limit == 0 || len(rows) < limit
	w.after = after
	for _, k := range t.Key {
		w.keyNames = append(w.keyNames, t.Columns[k].Name)
	}
	if len(t.Key) > 0 {
		for i, row := range rows {
			w.index[keyString(keyText(t, row))] = i
		}
		if len(rows) > 0 {
			w.after = keyText(t, rows[len(rows)-1])
		}
	}
	if err := s.watermark(ctx, w.id, "high"); err != nil {
		return err
	}
	s.win = w
	return nil
}

// skipGone drops a table that no longer exists from the snapshot.
func (s *Source) skipGone(table string) {
	s.log.Warn("a table to snapshot no longer exists: skipping it", "table", table)
	s.advance(table, nil, 0, 0, true)
}

// selectChunk runs a chunk's query in a repeatable-read transaction and
// returns its rows in text form and the transaction's snapshot.
func (s *Source) selectChunk(ctx context.Context, sql string, args []any) ([][][]byte, pgSnapshot, error) {
	tx, err := s.meta.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, pgSnapshot{}, s.retriable("select a snapshot chunk: %w", err)
	}
	defer tx.Rollback(context.Background())
	var text string
	if err := tx.QueryRow(ctx, "SELECT pg_current_snapshot()::text").Scan(&text); err != nil {
		return nil, pgSnapshot{}, s.retriable("select a snapshot chunk: %w", err)
	}
	snap, err := parseSnapshot(text)
	if err != nil {
		return nil, pgSnapshot{}, s.fatal("select a snapshot chunk: %w", err)
	}
	rr := s.meta.PgConn().ExecParams(ctx, sql, textArgs(args), nil, nil, nil)
	var rows [][][]byte
	for rr.NextRow() {
		vals := rr.Values()
		row := make([][]byte, len(vals))
		for i, v := range vals {
			if v != nil {
				row[i] = append([]byte{}, v...)
			}
		}
		rows = append(rows, row)
	}
	if _, err := rr.Close(); err != nil {
		return nil, pgSnapshot{}, s.retriable("select a snapshot chunk: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, pgSnapshot{}, s.retriable("select a snapshot chunk: %w", err)
	}
	return rows, snap, nil
}

// pgSnapshot is what pg_current_snapshot() says: transactions before xmin
// are finished, those from xmax on not yet started, and xip lists those in
// progress in between.
type pgSnapshot struct {
	xmin, xmax uint64
	xip        map[uint64]bool
}

// parseSnapshot parses "xmin:xmax:xip,xip,...".
func parseSnapshot(text string) (pgSnapshot, error) {
	parts := strings.Split(text, ":")
	if len(parts) != 3 {
		return pgSnapshot{}, fmt.Errorf("pg_current_snapshot() returned %q", text)
	}
	var sn pgSnapshot
	var err1, err2 error
	sn.xmin, err1 = strconv.ParseUint(parts[0], 10, 64)
	sn.xmax, err2 = strconv.ParseUint(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return pgSnapshot{}, fmt.Errorf("pg_current_snapshot() returned %q", text)
	}
	if parts[2] != "" {
		sn.xip = map[uint64]bool{}
		for _, x := range strings.Split(parts[2], ",") {
			v, err := strconv.ParseUint(x, 10, 64)
			if err != nil {
				return pgSnapshot{}, fmt.Errorf("pg_current_snapshot() returned %q", text)
			}
			sn.xip[v] = true
		}
	}
	return sn, nil
}

// sees reports whether a transaction, by its 32-bit id as the stream gives
// it, had committed for the snapshot. The id is widened with the epoch that
// puts it nearest xmax: ids in use are never 2^31 or more apart.
func (sn pgSnapshot) sees(xid uint32) bool {
	if sn.xmax == 0 {
		return true // no snapshot taken: nothing to say
	}
	x := sn.xmax&^0xFFFFFFFF | uint64(xid)
	switch {
	case x > sn.xmax && x-sn.xmax >= 1<<31 && x >= 1<<32:
		x -= 1 << 32 // the epoch before
	case x < sn.xmax && sn.xmax-x > 1<<31:
		x += 1 << 32 // the epoch after
	}
	return x < sn.xmin || x < sn.xmax && !sn.xip[x]
}

// missesDecoded reports whether the snapshot does not see a transaction
// the stream has already brought.
func (s *Source) missesDecoded(sn pgSnapshot) bool {
	n := min(s.recentNext, len(s.recentXids))
	for i := range n {
		if !sn.sees(s.recentXids[i]) {
			return true
		}
	}
	return false
}

// textArgs turns query arguments (strings or nil) into text parameters.
func textArgs(args []any) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			out[i] = []byte(s)
		}
	}
	return out
}

// watermark writes a watermark message into the WAL, in a transaction of
// its own: its commit flushes the WAL, so the stream brings the watermark
// at once (a non-transactional message waits for the WAL writer, 200 ms
// by default).
func (s *Source) watermark(ctx context.Context, id, which string) error {
	// id is "<slot>:<run>:<n>": a slot name holds only [a-z0-9_], the
	// run is hex.
	sql := "BEGIN; SELECT pg_logical_emit_message(true, '" + watermarkPrefix + "', '" + id + ":" + which + "'); COMMIT"
	if _, err := s.meta.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
		return s.retriable("snapshot watermark: %w", err)
	}
	return nil
}

// onWatermark handles a watermark coming back in the stream, at a
// transaction boundary lsn; at the open window's high watermark it returns
// the chunk's rows left as a batch.
func (s *Source) onWatermark(content string, lsn pglogrepl.LSN) (connect.SourceBatch, bool) {
	w := s.win
	if w == nil {
		return connect.SourceBatch{}, false
	}
	switch content {
	case w.id + ":low":
		w.lowSeen = true
		return connect.SourceBatch{}, false
	case w.id + ":high":
	default:
		return connect.SourceBatch{}, false // another window's, or another connector's
	}
	s.win, s.prevWin = nil, w
	if w.changed {
		w.attempts++
		if w.attempts >= keylessAttempts {
			s.log.Error("giving up the snapshot of a table without a key: it changed while it was read, every time; set key_columns for it", "table", w.tp, "attempts", w.attempts)
			s.snapFailed.Store(w.tp)
			s.advance(w.tp, nil, 0, 0, true)
			return connect.SourceBatch{Position: s.position(lsn)}, true
		}
		return connect.SourceBatch{}, false // read it again
	}
	events := slices.DeleteFunc(w.events, func(ev connect.ChangeEvent) bool { return ev.After == nil })
	if len(w.table.Key) == 0 {
		// A table without a key is read whole while its changes stream
		// (and part of it may have been read by an interrupted initial
		// snapshot): a truncate event first tells consumers to forget
		// what they have of it, or its rows would count twice.
		events = append([]connect.ChangeEvent{s.restartEvent(w.table, events)}, events...)
	}
	s.advance(w.tp, w.after, w.read, w.total, w.last)
	s.rows.Add(int64(len(events)))
	if n := len(events); n > 0 && w.last && events[n-1].Source.Snapshot == "true" && !s.initialLeft() {
		events[n-1].Source.Snapshot = "last"
	}
	return connect.SourceBatch{Events: events, Position: s.position(lsn)}, true
}

// restartEvent is the op 't' event that goes before the rows of a table
// without a key whose snapshot starts again: rows is the new read (its
// first row lends the snapshot marker and time).
func (s *Source) restartEvent(t *connect.Table, rows []connect.ChangeEvent) connect.ChangeEvent {
	now := time.Now().UnixMilli()
	marker := "true"
	if len(rows) > 0 {
		marker = rows[0].Source.Snapshot
	}
	return connect.ChangeEvent{Op: connect.OpTruncate, Table: t, Topic: s.topic(t), TsMs: now, Source: s.sourceInfo(t, now, marker, "", 0)}
}

// initialLeft reports whether tables of the initial snapshot are left.
func (s *Source) initialLeft() bool {
	if s.prog == nil {
		return false
	}
	for _, tp := range s.prog.Tables {
		if tp.Mode == modeInitial {
			return true
		}
	}
	return false
}

// observe removes from the open window the rows whose keys a streamed
// change of table t touches; old and new are the change's row images.
func (s *Source) observe(t *connect.Table, op connect.Op, xid uint32, old, new *pglogrepl.TupleData) {
	w := s.win
	if w == nil || t.Schema+"."+t.Name != w.tp || !w.lowSeen && w.snap.sees(xid) {
		return
	}
	if op == connect.OpTruncate {
		for i := range w.events {
			w.events[i].After = nil
		}
	}
	if len(w.table.Key) == 0 {
		w.changed = true
		return
	}
	for _, td := range []*pglogrepl.TupleData{old, new} {
		if k := tupleKey(t, td, w.keyNames); k != nil {
			if i, ok := w.index[keyString(k)]; ok {
				w.events[i].After = nil
			}
		}
	}
}

// relationChanged notes a new schema of a table: the open window's rows,
// read with the old one, are read again.
func (s *Source) relationChanged(schema, table string) {
	if w := s.win; w != nil && w.tp == schema+"."+table {
		s.log.Info("the schema of a table changed while a snapshot chunk was read: reading the chunk again", "table", w.tp)
		s.win = nil
	}
}

// onSignal handles an ad-hoc snapshot request read from the stream.
func (s *Source) onSignal(m *pglogrepl.LogicalDecodingMessage) {
	var sig signal
	if err := json.Unmarshal(m.Content, &sig); err != nil {
		s.log.Warn("ignoring a snapshot signal that is not valid JSON", "lsn", m.LSN.String(), "err", err)
		return
	}
	if sig.Slot != s.cfg.Slot {
		return // another connector's
	}
	for _, name := range sig.Tables {
		if !slices.ContainsFunc(s.tables, func(r TableRef) bool { return r.String() == name }) {
			s.log.Warn("ignoring a snapshot request for a table that is not captured", "table", name)
			continue
		}
		if s.prog.table(name) != nil {
			s.log.Info("a snapshot of the table is already under way", "table", name)
			continue
		}
		if s.prog == nil {
			s.prog = &progress{}
		}
		s.prog.Tables = append(s.prog.Tables, tableProgress{Table: name, Mode: modeIncremental})
		s.log.Info("incremental snapshot requested", "table", name)
	}
	s.setStatusProgress(s.prog)
}

// RequestSnapshot asks for tables to be read again while streaming goes
// on. The request is written into the WAL in a committed transaction
// (pg_logical_emit_message), so it is durable when this returns, and it
// takes effect when the stream reaches it: from then on the stored
// positions carry it.
func (s *Source) RequestSnapshot(ctx context.Context, tables []string) error {
	if s.onlySnap {
		return s.fatal("snapshot initial_only streams nothing, so it cannot take ad-hoc snapshots")
	}
	if len(tables) == 0 {
		return s.fatal("no tables given: name tables as schema.table")
	}
	for _, name := range tables {
		if !slices.ContainsFunc(s.tables, func(r TableRef) bool { return r.String() == name }) {
			have := make([]string, len(s.tables))
			for i, r := range s.tables {
				have[i] = r.String()
			}
			return s.fatal("table %q is not captured by this connector (it captures %v)", name, have)
		}
	}
	payload, err := json.Marshal(signal{Slot: s.cfg.Slot, Tables: tables})
	if err != nil {
		return s.fatal("snapshot request: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, s.pcfg)
	if err != nil {
		return s.retriable("snapshot request: connect: %w", err)
	}
	defer conn.Close(context.Background())
	// A transactional message is written when its transaction commits,
	// and the commit waits for the WAL to be flushed.
	if _, err := conn.Exec(ctx, "BEGIN; SELECT pg_logical_emit_message(true, '"+signalPrefix+"', '"+string(escapeLiteral(payload))+"'); COMMIT"); err != nil {
		return s.retriable("snapshot request: %w", err)
	}
	return nil
}

// escapeLiteral doubles the single quotes of a string literal's text.
func escapeLiteral(b []byte) []byte {
	var out []byte
	for _, c := range b {
		if c == '\'' {
			out = append(out, '\'')
		}
		out = append(out, c)
	}
	return out
}

// position returns the position at lsn with the progress of the snapshot
// under way; Read returns it.
func (s *Source) position(lsn pglogrepl.LSN) connect.Position {
	s.lastPos = max(s.lastPos, lsn)
	return encodePosition(lsn, s.prog)
}
