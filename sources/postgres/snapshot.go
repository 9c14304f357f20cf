package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-cdc/sluice/connect"
)

// The initial snapshot reads the tables through the snapshot the slot
// exported when it was created, so that the rows and the stream from the
// slot's consistent point are exactly the tables, with no gap and no
// overlap. snapshot_parallelism workers, each on its own connection that
// imports the snapshot, take the tables one by one and read each in key
// order through a cursor, snapshot_chunk_size rows per fetch. Every chunk
// is one batch whose position holds the progress of every table (the key
// of the last row read), so an interrupted snapshot is not read again from
// the start: the exported snapshot is gone then, so the rest is read by
// the incremental snapshot (incremental.go) while streaming from the
// consistent point, which merges it with the changes made since.
//
// With snapshot initial_only nothing streams; an interrupted initial_only
// snapshot reads the rest of the tables in a new snapshot.

// chunk is what a snapshot worker hands Read: the rows of one fetch.
type chunk struct {
	table  string // schema.table
	events []connect.ChangeEvent
	after  []*string // the key of the last row, nil for a table without a key
	total  int64     // the table's estimated row count; 0 unknown
	last   bool      // the table is read to its end
	err    error
}

// initialSnapshot is a running initial snapshot.
type initialSnapshot struct {
	out    chan chunk
	cancel context.CancelFunc
	wg     sync.WaitGroup
	held   *connect.SourceBatch // the last batch with events, held back to mark its last row
}

// startSnapshot starts the workers that read the tables of s.prog;
// snapshotName is the exported snapshot to import ("" for a new one).
func (s *Source) startSnapshot(snapshotName string) {
	ctx, cancel := context.WithCancel(context.Background())
	sn := &initialSnapshot{out: make(chan chunk, s.cfg.SnapshotParallelism), cancel: cancel}
	queue := make(chan tableProgress, len(s.prog.Tables))
	for _, tp := range s.prog.Tables {
		queue <- tp
	}
	close(queue)
	workers := min(s.cfg.SnapshotParallelism, len(s.prog.Tables))
	for range workers {
		sn.wg.Add(1)
		go func() {
			defer sn.wg.Done()
			if err := s.snapshotWorker(ctx, snapshotName, queue, sn.out); err != nil && ctx.Err() == nil {
				select {
				case sn.out <- chunk{err: err}:
				case <-ctx.Done():
				}
			}
		}()
	}
	go func() {
		sn.wg.Wait()
		close(sn.out)
	}()
	s.snap = sn
}

// stopSnapshot stops the workers and waits for them.
func (s *Source) stopSnapshot() {
	if s.snap == nil {
		return
	}
	s.snap.cancel()
	for range s.snap.out { // drain so that no worker blocks on a send
	}
	s.snap = nil
}

// snapshotWorker reads tables from queue on its own connection in one
// repeatable-read transaction that imports snapshotName when given.
func (s *Source) snapshotWorker(ctx context.Context, snapshotName string, queue <-chan tableProgress, out chan<- chunk) error {
	conn, err := pgx.ConnectConfig(ctx, s.pcfg)
	if err != nil {
		return s.retriable("snapshot connection: %w", err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return s.retriable("begin snapshot: %w", err)
	}
	defer tx.Rollback(context.Background())
	if snapshotName != "" {
		if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+strings.ReplaceAll(snapshotName, "'", "''")+"'"); err != nil {
			return s.retriable("import the slot's snapshot %s: %w", snapshotName, err)
		}
	}
	for tp := range queue {
		if err := s.snapshotTable(ctx, tx, tp, out); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// snapshotTable reads one table from after tp.After to its end.
func (s *Source) snapshotTable(ctx context.Context, tx pgx.Tx, tp tableProgress, out chan<- chunk) error {
	ref := parseRef(tp.Table)
	t, err := s.tableFromCatalog(ctx, tx, ref)
	if err != nil {
		return s.retriable("snapshot of %s: describe: %w", ref, err)
	}
	send := func(c chunk) error {
		select {
		case out <- c:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if len(t.Columns) == 0 {
		exists, err := tableExists(ctx, tx, ref)
		if err != nil {
			return s.retriable("snapshot of %s: %w", ref, err)
		}
		if !exists {
			s.log.Warn("a table to snapshot no longer exists: skipping it", "table", ref.String())
			return send(chunk{table: tp.Table, last: true})
		}
	}
	total, err := estimateRows(ctx, tx, ref)
	if err != nil {
		return s.retriable("snapshot of %s: estimate rows: %w", ref, err)
	}
	after := tp.After
	if len(t.Key) == 0 {
		after = nil // a table without a key is read whole
		if tp.Done > 0 {
			// Its first rows were read by an interrupted snapshot: a
			// truncate event tells consumers to forget them.
			if err := send(chunk{table: tp.Table, events: []connect.ChangeEvent{s.restartEvent(t, nil)}}); err != nil {
				return err
			}
		}
	}
	sql, args := selectRows(t, ref, after, 0)
	if _, err := tx.Exec(ctx, "DECLARE sluice_snap NO SCROLL CURSOR FOR "+sql, args...); err != nil {
		return s.retriable("snapshot of %s: %w", ref, err)
	}
	fetch := "FETCH " + strconv.Itoa(s.cfg.SnapshotChunkSize) + " FROM sluice_snap"
	topic := s.cfg.TopicPrefix + "." + t.Schema + "." + t.Name // not s.topic: workers run in parallel
	var rd rowReader
	for {
		// Rows are decoded as they arrive, straight from pgconn's buffer:
		// each row's text is copied once, into one string its values share.
		rr := tx.Conn().PgConn().ExecParams(ctx, fetch, nil, nil, nil, nil)
		c := chunk{table: tp.Table, total: total, after: after}
		now := time.Now().UnixMilli()
		var vals []connect.Value
		var derr error
		for rr.NextRow() {
			if len(vals) < len(t.Columns) {
				vals = make([]connect.Value, len(t.Columns)*s.cfg.SnapshotChunkSize) // one allocation for many rows
			}
			texts := rd.read(rr.Values())
			ev, err := s.readEvent(t, topic, texts, vals[:len(t.Columns):len(t.Columns)], now, "true")
			if err != nil {
				derr = err
				break
			}
			vals = vals[len(t.Columns):]
			if c.events == nil {
				c.events = make([]connect.ChangeEvent, 0, s.cfg.SnapshotChunkSize)
			}
			c.events = append(c.events, ev)
		}
		if _, err := rr.Close(); err != nil {
			return s.retriable("snapshot of %s: fetch: %w", ref, err)
		}
		if derr != nil {
			return derr
		}
		c.last = len(c.events) < s.cfg.SnapshotChunkSize
		if len(c.events) > 0 && len(t.Key) > 0 {
			c.after = rd.key(t)
		}
		if err := send(c); err != nil {
			return err
		}
		if c.last {
			_, err := tx.Exec(ctx, "CLOSE sluice_snap")
			return err
		}
	}
}

// rowReader copies rows in text form out of pgconn's buffer.
type rowReader struct {
	texts []*string // the last row's values; nil for NULL
	strs  []string
}

// read copies row into one string and returns its values, which share it.
func (rd *rowReader) read(row [][]byte) []*string {
	n := 0
	for _, v := range row {
		n += len(v)
	}
	var b strings.Builder
	b.Grow(n)
	for _, v := range row {
		b.Write(v)
	}
	all := b.String()
	if cap(rd.strs) < len(row) {
		rd.strs, rd.texts = make([]string, len(row)), make([]*string, len(row))
	}
	rd.strs, rd.texts = rd.strs[:len(row)], rd.texts[:len(row)]
	at := 0
	for i, v := range row {
		if v == nil {
			rd.texts[i] = nil
			continue
		}
		rd.strs[i] = all[at : at+len(v)]
		rd.texts[i] = &rd.strs[i]
		at += len(v)
	}
	return rd.texts
}

// key returns the key columns of the last row read.
func (rd *rowReader) key(t *connect.Table) []*string {
	out := make([]*string, len(t.Key))
	for i, k := range t.Key {
		if p := rd.texts[k]; p != nil {
			s := *p
			out[i] = &s
		}
	}
	return out
}

// readEvents turns rows in text form into op 'r' events.
func (s *Source) readEvents(t *connect.Table, rows [][][]byte, snapshot string) ([]connect.ChangeEvent, error) {
	topic := s.cfg.TopicPrefix + "." + t.Schema + "." + t.Name // not s.topic: workers run in parallel
	now := time.Now().UnixMilli()
	events := make([]connect.ChangeEvent, len(rows))
	texts := make([]*string, len(t.Columns))
	for r, row := range rows {
		for i := range t.Columns {
			texts[i] = nil
			if row[i] != nil {
				s := string(row[i])
				texts[i] = &s
			}
		}
		ev, err := s.readEvent(t, topic, texts, make([]connect.Value, len(t.Columns)), now, snapshot)
		if err != nil {
			return nil, err
		}
		events[r] = ev
	}
	return events, nil
}

// readEvent turns one row's texts (nil for NULL) into an op 'r' event
// whose after image is filled into after.
func (s *Source) readEvent(t *connect.Table, topic string, texts []*string, after []connect.Value, now int64, snapshot string) (connect.ChangeEvent, error) {
	for i := range t.Columns {
		if texts[i] == nil {
			after[i] = connect.Null(t.Columns[i].Kind)
			continue
		}
		v, err := valueOf(&t.Columns[i], *texts[i])
		if err != nil {
			return connect.ChangeEvent{}, s.fatal("snapshot of %s.%s: %w", t.Schema, t.Name, err)
		}
		after[i] = v
	}
	return connect.ChangeEvent{
		Op: connect.OpRead, Table: t, Topic: topic, After: after, TsMs: now,
		Source: s.sourceInfo(t, now, snapshot, "", 0),
	}, nil
}

// readSnapshot returns the next batch of the initial snapshot. It holds
// back one batch with rows so that the very last row can be marked
// "last"; the last batch carries the plain position of the consistent
// point, after which the stream starts.
func (s *Source) readSnapshot(ctx context.Context) (connect.SourceBatch, error) {
	sn := s.snap
	for {
		var c chunk
		var ok bool
		select {
		case c, ok = <-sn.out:
		case <-ctx.Done():
			return connect.SourceBatch{}, ctx.Err()
		}
		if !ok {
			b := connect.SourceBatch{}
			if sn.held != nil {
				b = *sn.held
			}
			if n := len(b.Events); n > 0 {
				b.Events[n-1].Source.Snapshot = "last"
			}
			s.snap, s.prog = nil, nil
			s.setStatusProgress(nil)
			b.Position = Position(s.startLSN)
			s.lastPos = s.startLSN
			s.log.Info("snapshot done", "rows", s.rows.Load(), "lsn", s.startLSN.String())
			return b, nil
		}
		if c.err != nil {
			return connect.SourceBatch{}, c.err
		}
		s.advance(c.table, c.after, int64(len(c.events)), c.total, c.last)
		s.rows.Add(int64(len(c.events)))
		pos := encodePosition(s.startLSN, s.prog)
		if len(c.events) == 0 {
			if sn.held != nil {
				sn.held.Position = pos // the held rows come before this progress
			}
			continue
		}
		b := &connect.SourceBatch{Events: c.events, Position: pos}
		if sn.held == nil {
			sn.held = b
			continue
		}
		out := *sn.held
		sn.held = b
		return out, nil
	}
}

// advance records that n more rows of table were read, up to key after;
// last removes the table from the progress.
func (s *Source) advance(table string, after []*string, n, total int64, last bool) {
	for i := range s.prog.Tables {
		tp := &s.prog.Tables[i]
		if tp.Table != table {
			continue
		}
		if last {
			s.prog.Tables = append(s.prog.Tables[:i:i], s.prog.Tables[i+1:]...)
		} else {
			tp.After, tp.Done = after, tp.Done+n
			if total > 0 {
				tp.Total = total
			}
		}
		break
	}
	s.setStatusProgress(s.prog)
}

// selectRows returns the query that reads a table's rows in key order
// after the key after (nil: from the first), at most limit of them (0: all),
// and its arguments. A table without a key is read in no particular order.
func selectRows(t *connect.Table, ref TableRef, after []*string, limit int) (string, []any) {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(cols, ", "))
	b.WriteString(" FROM ")
	b.WriteString(pgx.Identifier{ref.Schema, ref.Table}.Sanitize())
	var args []any
	if len(t.Key) > 0 {
		keys := make([]string, len(t.Key))
		for i, k := range t.Key {
			keys[i] = cols[k]
		}
		if after != nil && len(after) == len(t.Key) {
			params := make([]string, len(t.Key))
			for i, k := range t.Key {
				params[i] = "$" + strconv.Itoa(i+1) + "::" + t.Columns[k].Type
				if after[i] == nil {
					args = append(args, nil)
				} else {
					args = append(args, *after[i])
				}
			}
			b.WriteString(" WHERE (" + strings.Join(keys, ", ") + ") > (" + strings.Join(params, ", ") + ")")
		}
		b.WriteString(" ORDER BY " + strings.Join(keys, ", "))
	}
	if limit > 0 {
		b.WriteString(" LIMIT " + strconv.Itoa(limit))
	}
	return b.String(), args
}

// keyText returns the key columns of a row in text form.
func keyText(t *connect.Table, row [][]byte) []*string {
	out := make([]*string, len(t.Key))
	for i, k := range t.Key {
		if row[k] != nil {
			s := string(row[k])
			out[i] = &s
		}
	}
	return out
}

// keyString joins key texts into one comparable string.
func keyString(parts []*string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == nil {
			b.WriteString("\x00N")
		} else {
			b.WriteString("\x00V")
			b.WriteString(*p)
		}
	}
	return b.String()
}

// parseRef splits "schema.table".
func parseRef(name string) TableRef {
	schema, table, _ := strings.Cut(name, ".")
	return TableRef{Schema: schema, Table: table}
}

type querier interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}

// tableExists reports whether a table exists.
func tableExists(ctx context.Context, q querier, ref TableRef) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", pgx.Identifier{ref.Schema, ref.Table}.Sanitize()).Scan(&ok)
	return ok, err
}

// estimateRows returns the planner's row estimate of a table, or its
// count when it was never analyzed.
func estimateRows(ctx context.Context, q querier, ref TableRef) (int64, error) {
	name := pgx.Identifier{ref.Schema, ref.Table}.Sanitize()
	var n float64
	if err := q.QueryRow(ctx, "SELECT reltuples FROM pg_class WHERE oid = $1::regclass", name).Scan(&n); err != nil {
		return 0, err
	}
	if n >= 0 {
		return int64(n), nil
	}
	var c int64
	err := q.QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&c)
	return c, err
}

// undefinedTable reports whether err is Postgres's "relation does not exist".
func undefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}
