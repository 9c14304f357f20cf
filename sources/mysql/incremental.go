package mysql

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice/connect"
)

// Ad-hoc (incremental) snapshots, Debezium's execute-snapshot signal, with
// DBLog's watermarks written into the binlog through the signal table
// (config.signal_table, Debezium's layout: id, type, data).
//
// A request is a row of the signal table, type execute-snapshot, data
// {"data-collections":["db.t"],"type":"incremental"}: RequestSnapshot
// inserts one (committed before it returns), and so may a user. When the
// stream reaches it, its tables join the incremental snapshot, whose
// progress (mode "incremental", the key of the last row emitted) goes
// into every stored position from then on, so a restart goes on with it.
//
// The tables are read one chunk (a window) at a time, on Read's goroutine
// between binlog events: insert a low watermark row (snapshot-window-open),
// select the next snapshot_chunk_size rows in key order, insert a high
// watermark row (snapshot-window-close), and buffer the rows. While the
// stream is between the two watermarks, every change to a row of the
// window's table drops that key from the buffer: the stream carries a
// change at least as new as the selected row. At the high watermark the
// rows left go out as op 'r' events (source.snapshot "incremental") in
// the high watermark's transaction, with the progress. A DDL statement on
// the table while a window is pending drops the window; it is read again.
// Window ids carry a random id of this run, so a window never closes at
// the watermark of an earlier run. The watermark rows are deleted after
// the window closes. Tables without a primary key are skipped, with a
// warning: without a key no change can be matched to a buffered row.

// Signal types, Debezium's names.
const (
	signalExecuteSnapshot = "execute-snapshot"
	signalWindowOpen      = "snapshot-window-open"
	signalWindowClose     = "snapshot-window-close"
	modeIncremental       = "incremental"
)

// afterWindowSelect, when set (by tests), runs between a window's select
// and its high watermark with the table and the key of the window's first
// row: a change it makes lands inside the window.
var afterWindowSelect func(table, key string)

// signalTable stands for the signal table in streamState.tables.
var signalTable = &tableSchema{Name: "(signal table)"}

// incremental is the incremental snapshot under way.
type incremental struct {
	tables []tableProgress // the first is read now
	window *window
	seq    int // windows opened by this run
}

// window is one chunk of the first table, between its watermarks.
type window struct {
	id    string
	table string
	open  bool // the stream is past the low watermark
	rows  []windowRow
	byKey map[string]int // index into rows; a dropped row's entry is removed
	full  bool           // the chunk had snapshot_chunk_size rows: more may follow
	after []string       // the key of the chunk's last row, for the progress
}

// selectWindow selects the next chunk of t after tp's last key, with the
// columns floats added at the end as doubles.
func (s *Source) selectWindow(t *tableSchema, tp *tableProgress, names, floats []string) (*gomysql.Result, error) {
	var q strings.Builder
	q.WriteString("SELECT *")
	for _, f := range floats {
		q.WriteString(", " + quoteIdent(f) + " + 0e0")
	}
	q.WriteString(" FROM " + quoteIdent(t.Database) + "." + quoteIdent(t.Name))
	if len(tp.After) == len(t.Key) {
		lits := make([]string, len(t.Key))
		for i, k := range t.Key {
			lits[i] = keyLiteral(&t.Columns[t.column(k)], tp.After[i])
		}
		q.WriteString(" WHERE " + keyAfter(names, lits))
	}
	q.WriteString(" ORDER BY " + strings.Join(names, ", ") + " LIMIT " + strconv.Itoa(s.cfg.SnapshotChunkSize))
	return s.conn.Execute(q.String())
}

// windowRow is a selected row as text; null marks NULL columns.
type windowRow struct {
	key  string
	vals [][]byte
	null []bool
}

// incProgress is the progress the stored positions carry: the
// incremental snapshot's tables, nil without one.
func (s *Source) incProgress() *progress {
	if s.inc == nil || len(s.inc.tables) == 0 {
		return nil
	}
	return &progress{Tables: s.inc.tables}
}

// streamPos is a stream position at bp with the incremental progress.
func (s *Source) streamPos(bp binlogPos) connect.Position {
	return encodePosition(bp, s.incProgress())
}

// isSignal reports whether db.table is config.signal_table.
func (s *Source) isSignal(db, table string) bool {
	return s.cfg.SignalTable != nil && s.cfg.SignalTable.Database == db && s.cfg.SignalTable.Table == table
}

// checkSignalTable checks at Open that config.signal_table exists with
// Debezium's columns.
func (s *Source) checkSignalTable() error {
	st := s.cfg.SignalTable
	if st == nil {
		return nil
	}
	_, err := s.conn.Execute("SELECT id, type, data FROM " + quoteIdent(st.Database) + "." + quoteIdent(st.Table) + " LIMIT 0")
	var me *gomysql.MyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &me) && (me.Code == gomysql.ER_NO_SUCH_TABLE || me.Code == gomysql.ER_BAD_FIELD_ERROR || me.Code == gomysql.ER_BAD_DB_ERROR):
		return s.fatal("config.signal_table %s: %v: create it with CREATE TABLE %s.%s (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL) and GRANT SELECT, INSERT, DELETE ON %s.%s TO the user",
			st, err, quoteIdent(st.Database), quoteIdent(st.Table), quoteIdent(st.Database), quoteIdent(st.Table))
	}
	return s.retriable("config.signal_table %s: %w", st, err)
}

// RequestSnapshot asks for tables (db.table) to be read again while the
// stream goes on: it inserts an execute-snapshot row into the signal
// table and returns once that is committed (see connect.Snapshotter).
func (s *Source) RequestSnapshot(ctx context.Context, tables []string) error {
	st := s.cfg.SignalTable
	switch {
	case s.onlySnap:
		return s.fatal("snapshot initial_only streams nothing, so it cannot take ad-hoc snapshots")
	case st == nil:
		return s.fatal("ad-hoc snapshots write their watermarks into a signal table: set config.signal_table (such as %s.sluice_signal, created as CREATE TABLE ... (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048) NULL))", s.cfg.Tables[0].Database)
	case len(tables) == 0:
		return s.fatal("no tables given: name tables as db.table")
	}
	for _, name := range tables {
		db, table, ok := strings.Cut(name, ".")
		if !ok || !s.captured(db, table) {
			return s.fatal("table %q is not captured by this connector (config.tables: %v)", name, s.cfg.Tables)
		}
	}
	data, err := json.Marshal(map[string]any{"data-collections": tables, "type": modeIncremental})
	if err != nil {
		return s.fatal("snapshot request: %w", err)
	}
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return s.insertSignal(conn, "sluice-"+randomID(), signalExecuteSnapshot, string(data))
}

// insertSignal inserts (and, in autocommit, commits) a signal row.
func (s *Source) insertSignal(conn interface {
	Execute(string, ...any) (*gomysql.Result, error)
}, id, typ, data string) error {
	st := s.cfg.SignalTable
	_, err := conn.Execute("INSERT INTO "+quoteIdent(st.Database)+"."+quoteIdent(st.Table)+" (id, type, data) VALUES (?, ?, ?)", id, typ, data)
	var me *gomysql.MyError
	if errors.As(err, &me) && (me.Code == gomysql.ER_TABLEACCESS_DENIED_ERROR || me.Code == gomysql.ER_NO_SUCH_TABLE) {
		return s.fatal("write to config.signal_table %s: %w; run GRANT SELECT, INSERT, DELETE ON %s.%s TO the user", st, err, quoteIdent(st.Database), quoteIdent(st.Table))
	}
	if err != nil {
		return s.retriable("write to config.signal_table %s: %w", st, err)
	}
	return nil
}

func randomID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// signalRows handles the rows of a signal table's rows event: inserted
// execute-snapshot requests and this run's watermarks.
func (s *Source) signalRows(e *replication.RowsEvent) {
	if e.Type() != replication.EnumRowsEventTypeInsert {
		return
	}
	for _, row := range e.Rows {
		if len(row) < 3 {
			continue
		}
		id, typ, data := cellText(row[0]), cellText(row[1]), cellText(row[2])
		switch typ {
		case signalExecuteSnapshot:
			s.requested(id, data)
		case signalWindowOpen:
			if w := s.window(); w != nil && id == w.id+"-open" {
				w.open = true
			}
		case signalWindowClose:
			if w := s.window(); w != nil && id == w.id+"-close" {
				s.closeWindow()
			}
		}
	}
}

// window returns the pending window, or nil.
func (s *Source) window() *window {
	if s.inc == nil {
		return nil
	}
	return s.inc.window
}

// cellText is a rows event's string cell as text.
func cellText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// requested adds the tables of an execute-snapshot signal to the
// incremental snapshot; the transaction that carries it stores the new
// progress.
func (s *Source) requested(id, data string) {
	var d struct {
		Collections []string `json:"data-collections"`
		Type        string   `json:"type"`
	}
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		s.log.Warn("an execute-snapshot signal with data that is not JSON: ignored", "id", id, "data", clip(data), "err", err)
		return
	}
	if d.Type != "" && !strings.EqualFold(d.Type, modeIncremental) {
		s.log.Warn("an execute-snapshot signal of a type other than incremental: ignored", "id", id, "type", d.Type)
		return
	}
	for _, name := range d.Collections {
		t := s.schemas.tables[name]
		switch {
		case t == nil:
			s.log.Warn("an execute-snapshot signal names a table that is not captured: ignored", "id", id, "table", name)
			continue
		case len(t.Key) == 0:
			s.log.Warn("an execute-snapshot signal names a table without a primary key, which an incremental snapshot cannot read: ignored", "id", id, "table", name)
			continue
		}
		if s.inc == nil {
			s.inc = &incremental{}
		}
		if slices.ContainsFunc(s.inc.tables, func(tp tableProgress) bool { return tp.Table == name }) {
			continue
		}
		s.inc.tables = append(s.inc.tables, tableProgress{Table: name, Mode: modeIncremental})
		s.log.Info("incremental snapshot requested", "id", id, "table", name)
	}
	s.incChanged()
}

// incChanged marks the current transaction as one whose position must be
// stored (its progress changed), and shows the progress in the status.
func (s *Source) incChanged() {
	if s.st != nil && s.st.tx != nil {
		s.st.tx.progressed = true
	}
	if s.snap == nil {
		s.setStatusProgress(s.incProgress())
	}
}

// openWindow reads the next chunk of the first table between its two
// watermarks. Read's goroutine calls it outside any transaction.
func (s *Source) openWindow() error {
	inc := s.inc
	tp := &inc.tables[0]
	t := s.schemas.tables[tp.Table]
	if t == nil || len(t.Key) == 0 {
		s.log.Warn("a table of the incremental snapshot is gone or has no primary key: skipping it", "table", tp.Table)
		inc.tables = inc.tables[1:]
		s.incChanged()
		if len(inc.tables) == 0 {
			s.inc = nil
		}
		return nil
	}
	if s.runID == "" {
		s.runID = randomID()
	}
	inc.seq++
	w := &window{id: fmt.Sprintf("sluice-%s-%d", s.runID, inc.seq), table: tp.Table, byKey: map[string]int{}}
	if tp.Done == 0 && tp.Total == 0 {
		if rows, err := query(s.conn, fmt.Sprintf("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = '%s' AND TABLE_NAME = '%s'",
			strings.ReplaceAll(t.Database, "'", "''"), strings.ReplaceAll(t.Name, "'", "''"))); err == nil && len(rows) == 1 {
			tp.Total, _ = strconv.ParseInt(rows[0][0], 10, 64)
		}
	}
	if err := s.insertSignal(s.conn, w.id+"-open", signalWindowOpen, tp.Table); err != nil {
		return err
	}
	names := make([]string, len(t.Key))
	for i, k := range t.Key {
		names[i] = quoteIdent(k)
	}
	// SELECT * returns the table's columns as of now, which the close of
	// the window checks against the stream's schema. FLOAT prints with 6
	// digits: each FLOAT column of the stream's schema is also selected
	// as a double, at the end, and replaces the printed one.
	var floats []string
	for _, c := range t.Columns {
		if c.Type == "float" {
			floats = append(floats, c.Name)
		}
	}
	r, err := s.selectWindow(t, tp, names, floats)
	var me *gomysql.MyError
	if err != nil && len(floats) > 0 && errors.As(err, &me) && me.Code == gomysql.ER_BAD_FIELD_ERROR {
		// A FLOAT column is gone from the table already (the stream
		// has not reached the DDL): this window is dropped when it
		// does, so its rows need no exact floats.
		floats = nil
		r, err = s.selectWindow(t, tp, names, nil)
	}
	if err != nil {
		return s.retriable("incremental snapshot of %s: %w", tp.Table, err)
	}
	defer r.Close()
	nf := len(r.Fields) - len(floats) // the table's columns, then the doubles
	exact := make(map[int]int, len(floats))
	for k, name := range floats {
		for j, f := range r.Fields[:nf] {
			if string(f.Name) == name {
				exact[j] = nf + k
			}
		}
	}
	// The key columns' places in this result, whose columns are the
	// table's as of now.
	keyAt := make([]int, len(t.Key))
	for i, k := range t.Key {
		keyAt[i] = -1
		for j, f := range r.Fields[:nf] {
			if string(f.Name) == k {
				keyAt[i] = j
			}
		}
		if keyAt[i] < 0 {
			return s.retriable("incremental snapshot of %s: key column %s is not in the table now; the window is read again", tp.Table, k)
		}
	}
	for _, row := range r.Values {
		wr := windowRow{vals: make([][]byte, nf), null: make([]bool, nf)}
		for i := range nf {
			from := i
			if j, ok := exact[i]; ok {
				from = j
			}
			wr.vals[i], wr.null[i] = rawText(row[from])
		}
		parts := make([]string, len(t.Key))
		for i, at := range keyAt {
			parts[i] = keyText(&t.Columns[t.column(t.Key[i])], wr.vals[at])
		}
		wr.key = strings.Join(parts, "\x00")
		w.byKey[wr.key] = len(w.rows)
		w.rows = append(w.rows, wr)
		w.after = parts
	}
	w.full = len(r.Values) == s.cfg.SnapshotChunkSize
	if afterWindowSelect != nil && len(w.rows) > 0 {
		afterWindowSelect(tp.Table, w.rows[0].key)
	}
	if err := s.insertSignal(s.conn, w.id+"-close", signalWindowClose, tp.Table); err != nil {
		return err
	}
	inc.window = w
	return nil
}

// dropFromWindow drops the rows of t whose keys the image img (a changed
// row) has from the pending window, once the stream is inside it.
func (s *Source) dropFromWindow(t *tableSchema, img []connect.Value) {
	w := s.window()
	if w == nil || !w.open || w.table != t.id() || img == nil {
		return
	}
	parts := make([]string, len(t.Key))
	for i, k := range t.Key {
		parts[i] = valueKeyText(img[t.column(k)])
	}
	key := strings.Join(parts, "\x00")
	if i, ok := w.byKey[key]; ok {
		delete(w.byKey, key)
		w.rows[i].vals = nil
	}
}

// valueKeyText renders a key value as keyText renders its text.
func valueKeyText(v connect.Value) string {
	switch v.Kind {
	case connect.KindInt16, connect.KindInt32, connect.KindInt64:
		return strconv.FormatInt(v.Int, 10)
	case connect.KindUint64:
		return strconv.FormatUint(v.Uint, 10)
	case connect.KindBytes:
		return hex.EncodeToString(v.Bytes)
	}
	return v.Str
}

// discardWindow drops the pending window of table (after DDL on it): its
// chunk is read again.
func (s *Source) discardWindow(table string) {
	if w := s.window(); w != nil && w.table == table {
		s.log.Info("a schema change of the table drops the incremental snapshot's pending window; it is read again", "table", table)
		s.inc.window = nil
	}
}

// closeWindow emits the window's rows left, as op 'r' events of the
// current transaction, and moves the progress on.
func (s *Source) closeWindow() {
	inc := s.inc
	w := inc.window
	inc.window = nil
	tp := &inc.tables[0]
	t := s.schemas.tables[tp.Table]
	if t == nil {
		return // dropped meanwhile: openWindow skips it
	}
	ct := t.connectTable()
	topic := s.topic(ct)
	now := time.Now().UnixMilli()
	info := s.snapshotInfo(t, now)
	info.Snapshot = modeIncremental
	tx := s.st.tx
	if tx == nil {
		tx = s.newTx(&replication.EventHeader{}, "")
		s.st.tx = tx
	}
	for _, wr := range w.rows {
		if wr.vals == nil {
			continue
		}
		if len(wr.vals) != len(t.Columns) {
			s.log.Info("the incremental snapshot's window has other columns than the stream's schema: it is read again", "table", tp.Table)
			return
		}
	}
	n := 0
	for _, wr := range w.rows {
		if wr.vals == nil {
			continue
		}
		after := make([]connect.Value, len(t.Columns))
		ok := true
		for i := range t.Columns {
			c := &t.Columns[i]
			if wr.null[i] {
				after[i] = connect.Null(c.kind())
				continue
			}
			v, _, err := kindTextValue(c, c.kind(), wr.vals[i])
			if err != nil {
				s.log.Warn("an incremental snapshot row does not convert: skipped", "table", tp.Table, "err", err)
				ok = false
				break
			}
			after[i] = v
		}
		if !ok {
			continue
		}
		tx.events = append(tx.events, connect.ChangeEvent{Op: connect.OpRead, Table: ct, Topic: topic, After: after, TsMs: now, Source: info})
		n++
	}
	s.rows.Add(int64(n))
	tp.Done += int64(len(w.rows))
	if w.full {
		tp.After = w.after
	} else {
		s.log.Info("incremental snapshot of a table done", "table", tp.Table, "rows", tp.Done)
		inc.tables = inc.tables[1:]
	}
	s.incChanged()
	if len(inc.tables) == 0 {
		s.inc = nil
		s.incChanged()
	}
	// The watermark rows are of no use once seen.
	st := s.cfg.SignalTable
	if _, err := s.conn.Execute("DELETE FROM "+quoteIdent(st.Database)+"."+quoteIdent(st.Table)+" WHERE id IN (?, ?)", w.id+"-open", w.id+"-close"); err != nil {
		s.log.Warn("delete the incremental snapshot's watermark rows", "err", err)
	}
}
