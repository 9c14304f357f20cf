package mysql

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
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
//   - With snapshot_parallelism N > 1, N connections each start such a
//     transaction while one of them holds FLUSH TABLES WITH READ LOCK, so
//     that all N see the binlog up to one position (on MariaDB too; a
//     user without RELOAD falls back to one connection, with a warning).
//
// The schemas are read with SHOW CREATE TABLE before the transaction
// starts and again right after; if they differ, a DDL statement came in
// between, and the snapshot fails with a retriable error to start again,
// so that the definitions are those of the snapshot's binlog position.
// A table's first SELECT takes a shared metadata lock that its
// transaction holds until the snapshot ends, so DDL on a table already
// read waits for the snapshot (and, as DDL waiting for a metadata lock
// does, holds up later statements on that table). A table changed before
// its first chunk is read makes that SELECT fail (InnoDB's "table
// definition has changed", or an unknown column) with a retriable error,
// and the runtime opens the source again at the last stored position,
// which reads the definitions anew.
//
// One worker per connection takes a table at a time and reads it in
// primary-key order, snapshot_chunk_size rows per SELECT; Read's goroutine
// applies each chunk's progress and returns it as one batch whose position
// is the snapshot's binlog position with the progress of every table (the
// key of the last row read). A table without a primary key is read in one
// go.
//
// An interrupted snapshot goes on after its last durable chunk: the
// transaction is gone by then, so the remaining chunks are read in a new
// consistent snapshot, and streaming then starts from the first
// snapshot's position. Rows changed between the two snapshots may come
// first as a newer snapshot row and then again as the older changes from
// the stream; a keyed table's last event per key is still its final state
// (the stream ends with the newest change). Watermarks to merge the two
// exactly (as the postgres source does) are not done yet.

// snapshotRun is a snapshot under way: workers, one per connection, each
// read one table at a time, chunk by chunk, and hand the chunks to Read's
// goroutine, which keeps the progress of every table (prog) and writes it
// into each chunk's position.
type snapshotRun struct {
	conns   []*client.Conn          // one per worker, each in the snapshot's transaction
	prog    *progress               // the tables not done, as of the chunks Read returned
	schemas map[string]*tableSchema // the tables as this snapshot reads them
	held    *connect.SourceBatch    // the last batch with events, held back to mark its last row
	out     chan snapChunk          // chunks read by the workers
	stop    context.CancelFunc      // ends the workers
	done    sync.WaitGroup          // the workers
}

// snapChunk is one chunk of a table, or the error that ended a worker.
type snapChunk struct {
	tp     tableProgress // the table's progress after the chunk
	events []connect.ChangeEvent
	last   bool // the table is done
	err    error
}

// startSnapshot starts a consistent snapshot of the captured tables; prog
// is the progress of an interrupted snapshot to go on with (nil: a new
// one, which also sets s.start and s.schemas).
func (s *Source) startSnapshot(ctx context.Context, prog *progress) error {
	conn, err := s.snapshotConn(ctx)
	if err != nil {
		return err
	}
	sn := &snapshotRun{conns: []*client.Conn{conn}, schemas: map[string]*tableSchema{}}
	s.snap = sn
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
	for len(sn.conns) < s.cfg.SnapshotParallelism {
		c, err := s.snapshotConn(ctx)
		if err != nil {
			return err
		}
		sn.conns = append(sn.conns, c)
	}
	at, err := s.beginSnapshot(ctx, sn)
	if err != nil {
		return err
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
		s.startWorkers(sn)
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
	s.log.Info("snapshot started", "tables", len(tables), "position", describePos(at), "connections", len(sn.conns))
	s.startWorkers(sn)
	return nil
}

// snapshotConn opens a connection for a snapshot worker.
func (s *Source) snapshotConn(ctx context.Context) (*client.Conn, error) {
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	for _, q := range []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "SET SESSION innodb_lock_wait_timeout = 600"} {
		if _, err := conn.Execute(q); err != nil {
			conn.Close()
			return nil, s.retriable("snapshot: %s: %w", q, err)
		}
	}
	return conn, nil
}

// beginSnapshot starts the consistent-snapshot transaction of every
// connection of sn at one binlog position, and returns that position.
// One connection on MariaDB needs no lock (binlog_snapshot_file and
// _position); several, or MySQL, hold FLUSH TABLES WITH READ LOCK while
// the transactions start and the position is read. Without the RELOAD
// privilege that needs, MariaDB goes on with one connection, MySQL fails.
func (s *Source) beginSnapshot(ctx context.Context, sn *snapshotRun) (binlogPos, error) {
	conn := sn.conns[0]
	var at binlogPos
	if s.flavor == flavorMariaDB && len(sn.conns) > 1 {
		if _, err := conn.Execute("FLUSH TABLES WITH READ LOCK"); err != nil {
			if me, ok := err.(*gomysql.MyError); !ok || me.Code != gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR {
				return at, s.retriable("snapshot: FLUSH TABLES WITH READ LOCK: %w", err)
			}
			s.log.Warn("snapshot_parallelism needs FLUSH TABLES WITH READ LOCK, and so the RELOAD privilege, to start its transactions at one binlog position: reading the tables one at a time; run GRANT RELOAD ON *.* TO the user to read them in parallel", "snapshot_parallelism", len(sn.conns))
			for _, c := range sn.conns[1:] {
				c.Close()
			}
			sn.conns = sn.conns[:1]
		} else {
			s.noReload.Store(false)
			return s.lockedBegin(ctx, sn)
		}
		s.noReload.Store(true)
	}
	if s.flavor != flavorMariaDB {
		if _, err := conn.Execute("FLUSH TABLES WITH READ LOCK"); err != nil {
			if me, ok := err.(*gomysql.MyError); ok && me.Code == gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR {
				return at, s.fatal("snapshot: FLUSH TABLES WITH READ LOCK needs the RELOAD privilege: run GRANT RELOAD ON *.* TO the user (the lock is held only while the snapshot's binlog position is read), or set snapshot: never")
			}
			return at, s.retriable("snapshot: FLUSH TABLES WITH READ LOCK: %w", err)
		}
		return s.lockedBegin(ctx, sn)
	}
	if _, err := conn.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
		return at, s.retriable("snapshot: start transaction: %w", err)
	}
	rows, err := query(conn, "SHOW STATUS LIKE 'binlog_snapshot_%'")
	if err != nil {
		return at, s.retriable("snapshot: SHOW STATUS LIKE 'binlog_snapshot_%%': %w", err)
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
		return at, s.fatal("snapshot: the server gave no binlog_snapshot_file/position (is log_bin on?)")
	}
	if err := s.fillGTID(&at); err != nil {
		return at, err
	}
	return at, nil
}

// lockedBegin starts the transactions of sn's connections and reads the
// binlog position while sn.conns[0] holds the global read lock, then
// releases it.
func (s *Source) lockedBegin(ctx context.Context, sn *snapshotRun) (at binlogPos, err error) {
	conn := sn.conns[0]
	defer func() {
		if _, uerr := conn.Execute("UNLOCK TABLES"); uerr != nil && err == nil {
			err = s.retriable("snapshot: UNLOCK TABLES: %w", uerr)
		}
	}()
	for _, c := range sn.conns {
		if _, err := c.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			return at, s.retriable("snapshot: start transaction: %w", err)
		}
	}
	prev := s.conn
	s.conn = conn
	at, err = s.currentPos(ctx)
	s.conn = prev
	return at, err
}

// startWorkers starts one worker per connection of sn, each reading the
// tables of sn.prog it takes, in order.
func (s *Source) startWorkers(sn *snapshotRun) {
	tables := make(chan tableProgress, len(sn.prog.Tables))
	for _, tp := range sn.prog.Tables {
		tables <- tp
	}
	close(tables)
	ctx, stop := context.WithCancel(context.Background())
	sn.stop = stop
	sn.out = make(chan snapChunk, len(sn.conns))
	for _, conn := range sn.conns {
		// Each worker is two goroutines: one selects the chunks (the next
		// one's WHERE needs only the last key of this one), the other
		// converts them, so that go-mysql's reading and the conversion
		// overlap.
		type fetched struct {
			tp   tableProgress
			t    *tableSchema
			r    *gomysql.Result
			last bool
			err  error
		}
		rows := make(chan fetched, 1)
		sn.done.Add(2)
		go func() {
			defer sn.done.Done()
			defer close(rows)
			for tp := range tables {
				for {
					t, r, last, err := s.fetchChunk(conn, sn.schemas, &tp)
					select {
					case rows <- fetched{tp: tp, t: t, r: r, last: last, err: err}:
					case <-ctx.Done():
						if r != nil {
							r.Close()
						}
						return
					}
					if err != nil {
						return
					}
					if last {
						break
					}
				}
			}
		}()
		go func() {
			defer sn.done.Done()
			for f := range rows {
				c := snapChunk{tp: f.tp, last: f.last, err: f.err}
				if f.r != nil && c.err == nil {
					c.events, c.err = s.convertChunk(f.t, f.r)
				} else if f.r != nil {
					f.r.Close()
				}
				select {
				case sn.out <- c:
				case <-ctx.Done():
					for f := range rows { // let the fetcher end
						if f.r != nil {
							f.r.Close()
						}
					}
					return
				}
				if c.err != nil {
					for f := range rows {
						if f.r != nil {
							f.r.Close()
						}
					}
					return
				}
			}
		}()
	}
}

// stopSnapshot ends the snapshot's transaction and connection.
func (s *Source) stopSnapshot() {
	sn := s.snap
	if sn == nil {
		return
	}
	if sn.stop != nil {
		sn.stop()
	}
	for _, c := range sn.conns {
		// The socket only: go-mysql's Close writes to the connection,
		// which a worker may be using. A worker in a query gets an error.
		c.Conn.Conn.Close()
	}
	sn.done.Wait()
	for _, c := range sn.conns {
		c.Close()
	}
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
			s.stopSnapshot() // the transactions only read: closing ends them
			s.setStatusProgress(nil)
			b.Position = encodePosition(s.start, nil)
			s.attachPending(&b)
			s.log.Info("snapshot done", "rows", s.rows.Load(), "position", describePos(s.start))
			return b, nil
		}
		var c snapChunk
		select {
		case c = <-sn.out:
		case <-ctx.Done():
			return connect.SourceBatch{}, ctx.Err()
		}
		if c.err != nil {
			return connect.SourceBatch{}, c.err
		}
		events := c.events
		for i := range sn.prog.Tables {
			if sn.prog.Tables[i].Table == c.tp.Table {
				if c.last {
					sn.prog.Tables = slices.Delete(sn.prog.Tables, i, i+1)
				} else {
					sn.prog.Tables[i] = c.tp
				}
				break
			}
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

// fetchChunk selects the next chunk of the table of tp and advances tp
// (rows done, the last key); last reports the table read to its end. The
// caller converts the rows (convertChunk), which closes the result.
func (s *Source) fetchChunk(conn *client.Conn, schemas map[string]*tableSchema, tp *tableProgress) (_ *tableSchema, _ *gomysql.Result, last bool, _ error) {
	t, ok := schemas[tp.Table]
	if !ok {
		s.log.Warn("a table to snapshot no longer exists: skipping it", "table", tp.Table)
		return nil, nil, true, nil
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
		if rows, err := query(conn, fmt.Sprintf("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = '%s' AND TABLE_NAME = '%s'",
			strings.ReplaceAll(t.Database, "'", "''"), strings.ReplaceAll(t.Name, "'", "''"))); err == nil && len(rows) == 1 {
			tp.Total, _ = strconv.ParseInt(rows[0][0], 10, 64)
		}
	}
	r, err := conn.Execute(b.String())
	if err != nil {
		var me *gomysql.MyError
		if errors.As(err, &me) && (me.Code == gomysql.ER_TABLE_DEF_CHANGED || me.Code == gomysql.ER_BAD_FIELD_ERROR) {
			return nil, nil, false, s.retriable("snapshot of %s: %w; the table changed during the snapshot: the snapshot goes on after its last stored chunk with the new definition", t.id(), err)
		}
		return nil, nil, false, s.retriable("snapshot of %s: %w", t.id(), err)
	}
	n := len(r.Values)
	tp.Done += int64(n)
	if !keyed || n < limit {
		last = true
	} else {
		row := r.Values[n-1]
		tp.After = make([]string, len(keyCols))
		for i, c := range keyCols {
			raw, _ := rawText(row[keyIdx[i]])
			tp.After[i] = keyText(c, raw)
		}
	}
	return t, r, last, nil
}

// convertChunk turns the rows of a chunk of t into op 'r' events and
// closes r.
func (s *Source) convertChunk(t *tableSchema, r *gomysql.Result) ([]connect.ChangeEvent, error) {
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
