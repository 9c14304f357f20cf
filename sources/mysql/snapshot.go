package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice/connect"
)

// The initial snapshot reads the tables in a consistent-snapshot
// transaction whose view is exactly the binlog up to a known position,
// from which streaming then starts: no change is lost and none comes
// twice.
//
//   - On MariaDB, START TRANSACTION WITH CONSISTENT SNAPSHOT, then SHOW
//     STATUS LIKE 'binlog_snapshot_%' gives the binlog file and offset of
//     that view without any lock, and BINLOG_GTID_POS(file, offset) its
//     GTID position.
//   - On MySQL, FLUSH TABLES WITH READ LOCK for as long as it takes to
//     start the transaction and read SHOW MASTER STATUS and gtid_executed;
//     this needs the RELOAD privilege.
//
// The schemas are read with SHOW CREATE TABLE before the transaction
// starts and again right after; if they differ, a DDL statement came in
// between, and the snapshot fails with a retriable error to start again,
// so that the definitions are those of the snapshot's binlog position. The snapshot takes no metadata locks, so DDL on a captured table
// does not wait for it; if a table changes before its chunks are read,
// the chunk's SELECT fails (InnoDB's "table definition has changed", or an
// unknown column) with a retriable error, and the runtime opens the source
// again at the last stored position, which reads the definitions anew. Each table is read in primary-key order, snapshot_chunk_size
// rows per SELECT; every chunk is one batch whose position is the
// snapshot's binlog position with the progress of every table (the key of
// the last row read). A table without a primary key is read in one go.
//
// An interrupted snapshot goes on after its last durable chunk: the
// transaction is gone by then, so the remaining chunks are read in a new
// consistent snapshot, and streaming then starts from the first
// snapshot's position. Rows changed between the two snapshots may come
// first as a newer snapshot row and then again as the older changes from
// the stream; a keyed table's last event per key is still its final state
// (the stream ends with the newest change). Watermarks to merge the two
// exactly (as the postgres source does) are not done yet.

// snapshotRun is a snapshot under way.
type snapshotRun struct {
	conn    *client.Conn
	prog    *progress
	schemas map[string]*tableSchema // the tables as this snapshot reads them
	held    *connect.SourceBatch    // the last batch with events, held back to mark its last row
	first   bool                    // no batch returned yet
}

// startSnapshot starts a consistent snapshot of the captured tables; prog
// is the progress of an interrupted snapshot to go on with (nil: a new
// one, which also sets s.start and s.schemas).
func (s *Source) startSnapshot(ctx context.Context, prog *progress) error {
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	sn := &snapshotRun{conn: conn, schemas: map[string]*tableSchema{}, first: true}
	s.snap = sn
	for _, q := range []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "SET SESSION innodb_lock_wait_timeout = 600"} {
		if _, err := conn.Execute(q); err != nil {
			return s.retriable("snapshot: %s: %w", q, err)
		}
	}
	// The definitions as they are before the snapshot starts; read again
	// after, they must be the same, so that no DDL statement came between
	// the snapshot's binlog position and the definitions it is read with.
	before := map[string]*tableSchema{}
	if prog == nil {
		if err := s.loadCharsets(conn); err != nil {
			return err
		}
		tables, err := s.listTables(conn)
		if err != nil {
			return err
		}
		if err := s.readSchemas(conn, tables, before); err != nil {
			return err
		}
	}
	var at binlogPos
	if s.flavor == flavorMariaDB {
		if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			return s.retriable("snapshot: start transaction: %w", err)
		}
		rows, err := query(conn, "SHOW STATUS LIKE 'binlog_snapshot_%'")
		if err != nil {
			return s.retriable("snapshot: SHOW STATUS LIKE 'binlog_snapshot_%%': %w", err)
		}
		for _, r := range rows {
			switch strings.ToLower(r[0]) {
			case "binlog_snapshot_file":
				at.File = r[1]
			case "binlog_snapshot_position":
				p, _ := strconv.ParseUint(r[1], 10, 32)
				at.Pos = uint32(p)
			}
		}
		if at.File == "" || at.Pos == 0 {
			return s.fatal("snapshot: the server gave no binlog_snapshot_file/position (is log_bin on?)")
		}
		if err := s.fillGTID(&at); err != nil {
			return err
		}
	} else {
		if _, err := conn.Execute("FLUSH TABLES WITH READ LOCK"); err != nil {
			if me, ok := err.(*gomysql.MyError); ok && me.Code == gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR {
				return s.fatal("snapshot: FLUSH TABLES WITH READ LOCK needs the RELOAD privilege: run GRANT RELOAD ON *.* TO the user (the lock is held only while the snapshot's binlog position is read), or set snapshot: never")
			}
			return s.retriable("snapshot: FLUSH TABLES WITH READ LOCK: %w", err)
		}
		if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			conn.Execute("UNLOCK TABLES")
			return s.retriable("snapshot: start transaction: %w", err)
		}
		prev := s.conn
		s.conn = conn
		at, err = s.currentPos(ctx)
		s.conn = prev
		if _, uerr := conn.Execute("UNLOCK TABLES"); uerr != nil && err == nil {
			err = s.retriable("snapshot: UNLOCK TABLES: %w", uerr)
		}
		if err != nil {
			return err
		}
	}

	if err := s.loadCharsets(conn); err != nil {
		return err
	}
	tables, err := s.listTables(conn)
	if err != nil {
		return err
	}
	if prog != nil {
		// Only the tables still to read, as the new snapshot sees them.
		var rest []TableRef
		for _, tp := range prog.Tables {
			db, name, _ := strings.Cut(tp.Table, ".")
			r := TableRef{Database: db, Table: name}
			for _, t := range tables {
				if t == r {
					rest = append(rest, r)
				}
			}
		}
		if err := s.readSchemas(conn, rest, sn.schemas); err != nil {
			return err
		}
		sn.prog = prog.clone()
		s.setStatusProgress(sn.prog)
		return nil
	}
	if err := s.readSchemas(conn, tables, sn.schemas); err != nil {
		return err
	}
	if changed := changedSchemas(before, sn.schemas); changed != "" {
		return s.retriable("snapshot: the definition of %s changed while the snapshot started; it starts again", changed)
	}
	for id, t := range sn.schemas {
		s.schemas.tables[id] = t
	}
	s.start = at
	s.pending = s.historyOfAll()
	sn.prog = &progress{}
	for _, r := range tables {
		sn.prog.Tables = append(sn.prog.Tables, tableProgress{Table: r.String()})
	}
	s.setStatusProgress(sn.prog)
	s.log.Info("snapshot started", "tables", len(tables), "position", describePos(at))
	return nil
}

// stopSnapshot ends the snapshot's transaction and connection.
func (s *Source) stopSnapshot() {
	if s.snap == nil {
		return
	}
	s.snap.conn.Close()
	s.snap = nil
}

// readSnapshot returns the next batch of the snapshot. It holds back one
// batch with rows so that the very last row can be marked "last"; the
// last batch carries the plain position of the snapshot, where the stream
// starts.
func (s *Source) readSnapshot(ctx context.Context) (connect.SourceBatch, error) {
	sn := s.snap
	for {
		if err := ctx.Err(); err != nil {
			return connect.SourceBatch{}, err
		}
		if len(sn.prog.Tables) == 0 {
			b := connect.SourceBatch{}
			if sn.held != nil {
				b = *sn.held
			}
			if n := len(b.Events); n > 0 {
				b.Events[n-1].Source.Snapshot = "last"
			}
			if _, err := sn.conn.Execute("COMMIT"); err != nil {
				s.log.Warn("snapshot: commit", "err", err)
			}
			s.stopSnapshot()
			s.setStatusProgress(nil)
			b.Position = encodePosition(s.start, nil)
			s.attachPending(&b)
			s.log.Info("snapshot done", "rows", s.rows.Load(), "position", describePos(s.start))
			return b, nil
		}
		events, err := s.readChunk(sn)
		if err != nil {
			return connect.SourceBatch{}, err
		}
		s.setStatusProgress(sn.prog)
		pos := encodePosition(s.start, sn.prog)
		if len(events) == 0 {
			if sn.held != nil {
				sn.held.Position = pos // the held rows come before this progress
			}
			continue
		}
		b := &connect.SourceBatch{Events: events, Position: pos}
		if sn.held == nil {
			sn.held = b
			continue
		}
		out := *sn.held
		sn.held = b
		s.attachPending(&out)
		return out, nil
	}
}

// attachPending puts the messages waiting for a position (the schema
// history of a fresh start) in front of b's.
func (s *Source) attachPending(b *connect.SourceBatch) {
	if len(s.pending) > 0 {
		b.Messages = append(s.pending, b.Messages...)
		s.pending = nil
	}
}

// readChunk reads the next chunk of the first table of the progress and
// advances the progress; a table read to its end leaves it.
func (s *Source) readChunk(sn *snapshotRun) ([]connect.ChangeEvent, error) {
	tp := &sn.prog.Tables[0]
	t, ok := sn.schemas[tp.Table]
	if !ok {
		s.log.Warn("a table to snapshot no longer exists: skipping it", "table", tp.Table)
		sn.prog.Tables = sn.prog.Tables[1:]
		return nil, nil
	}
	limit := s.cfg.SnapshotChunkSize
	keyed := len(t.Key) > 0
	var b strings.Builder
	b.WriteString("SELECT ")
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		if c.Type == "float" {
			// FLOAT prints with 6 digits; as a double it is exact.
			b.WriteString(quoteIdent(c.Name) + " + 0e0")
		} else {
			b.WriteString(quoteIdent(c.Name))
		}
	}
	b.WriteString(" FROM " + quoteIdent(t.Database) + "." + quoteIdent(t.Name))
	keyCols := make([]*column, len(t.Key))
	keyIdx := make([]int, len(t.Key))
	for i, k := range t.Key {
		keyIdx[i] = t.column(k)
		keyCols[i] = &t.Columns[keyIdx[i]]
	}
	if keyed {
		names := make([]string, len(keyCols))
		for i, c := range keyCols {
			names[i] = quoteIdent(c.Name)
		}
		if len(tp.After) == len(keyCols) {
			lits := make([]string, len(keyCols))
			for i, c := range keyCols {
				lits[i] = keyLiteral(c, tp.After[i])
			}
			b.WriteString(" WHERE " + keyAfter(names, lits))
		}
		b.WriteString(" ORDER BY " + strings.Join(names, ", ") + " LIMIT " + strconv.Itoa(limit))
	}
	if tp.Done == 0 && tp.Total == 0 {
		if rows, err := query(sn.conn, fmt.Sprintf("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = '%s' AND TABLE_NAME = '%s'",
			strings.ReplaceAll(t.Database, "'", "''"), strings.ReplaceAll(t.Name, "'", "''"))); err == nil && len(rows) == 1 {
			tp.Total, _ = strconv.ParseInt(rows[0][0], 10, 64)
		}
	}
	r, err := sn.conn.Execute(b.String())
	if err != nil {
		var me *gomysql.MyError
		if errors.As(err, &me) && (me.Code == gomysql.ER_TABLE_DEF_CHANGED || me.Code == gomysql.ER_BAD_FIELD_ERROR) {
			return nil, s.retriable("snapshot of %s: %w; the table changed during the snapshot: the snapshot goes on after its last stored chunk with the new definition", t.id(), err)
		}
		return nil, s.retriable("snapshot of %s: %w", t.id(), err)
	}
	defer r.Close()
	ct := t.connectTable()
	topic := s.topic(ct)
	now := time.Now().UnixMilli()
	info := s.snapshotInfo(t, now) // shared by the chunk's events: nothing changes its Extra
	kinds := make([]connect.Kind, len(t.Columns))
	for i := range t.Columns {
		kinds[i] = t.Columns[i].kind()
	}
	events := make([]connect.ChangeEvent, 0, len(r.Values))
	values := make([]connect.Value, len(r.Values)*len(t.Columns)) // the rows' images, in one allocation
	for n, row := range r.Values {
		after := values[n*len(t.Columns) : (n+1)*len(t.Columns) : (n+1)*len(t.Columns)]
		for i := range t.Columns {
			c := &t.Columns[i]
			v, zero, err := fieldValue(c, kinds[i], row[i])
			if err != nil {
				return nil, s.fatal("snapshot of %s: %w", t.id(), err)
			}
			if zero {
				s.warnZero(t, c)
			}
			after[i] = v
		}
		events = append(events, connect.ChangeEvent{Op: connect.OpRead, Table: ct, Topic: topic, After: after, TsMs: now,
			Source: info})
	}
	s.rows.Add(int64(len(events)))
	tp.Done += int64(len(events))
	if !keyed || len(events) < limit {
		sn.prog.Tables = sn.prog.Tables[1:]
	} else {
		last := r.Values[len(r.Values)-1]
		tp.After = make([]string, len(keyCols))
		for i, c := range keyCols {
			raw, _ := rawText(last[keyIdx[i]])
			tp.After[i] = keyText(c, raw)
		}
	}
	return events, nil
}

// fieldValue converts a text-protocol value of column c (of kind k) as
// go-mysql parsed it: integers straight from their number, everything
// else from its text (textValue).
func fieldValue(c *column, k connect.Kind, v gomysql.FieldValue) (connect.Value, bool, error) {
	switch v.Type {
	case gomysql.FieldValueTypeNull:
		return connect.Null(k), false, nil
	case gomysql.FieldValueTypeSigned:
		switch k {
		case connect.KindInt16, connect.KindInt32, connect.KindInt64:
			return connect.Value{Kind: k, Int: v.AsInt64()}, false, nil
		}
	case gomysql.FieldValueTypeUnsigned:
		switch k {
		case connect.KindUint64:
			return connect.Value{Kind: k, Uint: v.AsUint64()}, false, nil
		case connect.KindInt16, connect.KindInt32, connect.KindInt64:
			if u := v.AsUint64(); u <= math.MaxInt64 {
				return connect.Value{Kind: k, Int: int64(u)}, false, nil
			}
		}
	case gomysql.FieldValueTypeString:
		return kindTextValue(c, k, v.AsString())
	}
	raw, _ := rawText(v)
	return kindTextValue(c, k, raw)
}

// changedSchemas names a table whose definition differs between a and b,
// or that only one has; "" when they agree.
func changedSchemas(a, b map[string]*tableSchema) string {
	for _, id := range sortedKeys(a) {
		ta, tb := a[id], b[id]
		if tb == nil {
			return id
		}
		ja, _ := json.Marshal(ta)
		jb, _ := json.Marshal(tb)
		if string(ja) != string(jb) {
			return id
		}
	}
	for id := range b {
		if a[id] == nil {
			return id
		}
	}
	return ""
}

// keyAfter returns the condition that a row's key (names) comes after the
// key lits, spelled out as (k1 > v1) OR (k1 = v1 AND k2 > v2) ...: MariaDB
// does not use the index for the row comparison (k1, k2) > (v1, v2).
func keyAfter(names, lits []string) string {
	var ors []string
	for i := range names {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, names[j]+" = "+lits[j])
		}
		ands = append(ands, names[i]+" > "+lits[i])
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}

// rawText returns a text-protocol value as MySQL sent it.
func rawText(v gomysql.FieldValue) ([]byte, bool) {
	switch v.Type {
	case gomysql.FieldValueTypeNull:
		return nil, true
	case gomysql.FieldValueTypeSigned:
		return strconv.AppendInt(nil, v.AsInt64(), 10), false
	case gomysql.FieldValueTypeUnsigned:
		return strconv.AppendUint(nil, v.AsUint64(), 10), false
	case gomysql.FieldValueTypeFloat:
		return strconv.AppendFloat(nil, v.AsFloat64(), 'g', -1, 64), false
	}
	return append([]byte(nil), v.AsString()...), false
}

// snapshotInfo is the source block of a snapshot row of t.
func (s *Source) snapshotInfo(t *tableSchema, now int64) connect.SourceInfo {
	si := connect.SourceInfo{Connector: "mysql", Name: s.cfg.TopicPrefix, TsMs: now, Snapshot: "true",
		Database: t.Database, Table: t.Name}
	si.Extra = []connect.Field{
		{Name: "server_id", Value: connect.Int64(int64(s.serverID))},
		{Name: "gtid", Value: optString(s.start.GTID), Optional: true},
		{Name: "file", Value: connect.String(s.start.File)},
		{Name: "pos", Value: connect.Int64(int64(s.start.Pos))},
		{Name: "row", Value: connect.Int32(0)},
		{Name: "thread", Value: connect.Null(connect.KindInt64), Optional: true},
	}
	return si
}
