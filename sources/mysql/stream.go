package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice/connect"
)

// streamState is the decoding state of the binlog stream.
type streamState struct {
	file string          // the binlog file being read
	gset gomysql.GTIDSet // GTIDs up to the current transaction; nil when GTIDs are off
	// tables maps the table ids of the stream's table map events to
	// the schema version current at the map; nil for tables that are
	// not captured.
	tables map[uint64]*tableSchema
	tx     *txState
	// last is the position after the last transaction seen; emitted
	// is the last position Read returned.
	last, emitted binlogPos
	emittedAt     time.Time
}

// txState is the transaction being decoded.
type txState struct {
	// id is the transaction's id: its GTID, or without GTIDs the binlog
	// file and offset of its first event.
	id       string
	gtid     string
	thread   uint32
	begun    bool  // began with BEGIN (or a MariaDB GTID event that is not standalone)
	tsMs     int64 // the first event's timestamp
	total    int64
	perTable map[string]int64 // by db.table
	events   []connect.ChangeEvent
	// progressed says the incremental snapshot's progress changed in
	// the transaction: its end is stored even without events.
	progressed bool
}

// newTx starts a transaction at the event with header h.
func (s *Source) newTx(h *replication.EventHeader, gtid string) *txState {
	id := gtid
	if id == "" {
		id = fmt.Sprintf("%s:%d", s.st.file, h.LogPos-h.EventSize)
	}
	return &txState{id: id, gtid: gtid, tsMs: int64(h.Timestamp) * 1000, perTable: map[string]int64{}}
}

// startStreaming connects as a replica and asks for the binlog after
// s.start: by GTID set when there is one, else by file and offset.
func (s *Source) startStreaming(ctx context.Context) error {
	host, port := hostPort(s.cfg.Addr)
	cfg := replication.BinlogSyncerConfig{
		ServerID: s.cfg.ServerID, Flavor: s.flavor,
		Host: host, Port: port, User: s.cfg.User, Password: s.cfg.Password,
		Charset:                 "utf8mb4",
		TimestampStringLocation: time.UTC,
		RenderJSONAsMySQLText:   true,
		HeartbeatPeriod:         s.cfg.HeartbeatInterval,
		// A silent server fails the stream after three missed
		// heartbeats (deadlines set lazily, conn.go).
		Dialer:           timeoutDialer(3*s.cfg.HeartbeatInterval + 10*time.Second),
		DisableRetrySync: true, // the runtime reopens at the stored position
		Logger:           slog.New(quietHandler{s.log.Handler()}),
	}
	s.syncer = replication.NewBinlogSyncer(cfg)
	st := &streamState{file: s.start.File, tables: map[uint64]*tableSchema{}, last: s.start, emitted: s.start,
		emittedAt: time.Now()}
	var err error
	if s.gtidOn {
		g := s.start.GTID
		if s.flavor == flavorMariaDB {
			st.gset, err = gomysql.ParseMariadbGTIDSet(g)
		} else {
			st.gset, err = gomysql.ParseMysqlGTIDSet(g)
		}
		if err != nil {
			return s.fatal("GTID set %q: %w", g, err)
		}
	}
	if s.start.GTID != "" {
		s.streamer, err = s.syncer.StartSyncGTID(st.gset.Clone())
	} else {
		s.streamer, err = s.syncer.StartSync(gomysql.Position{Name: s.start.File, Pos: s.start.Pos})
	}
	if err != nil {
		s.syncer.Close()
		s.syncer, s.streamer = nil, nil
		return s.classify("start replication at "+describePos(s.start), err)
	}
	s.st = st
	return nil
}

// classify turns a replication error into a classed one.
func (s *Source) classify(what string, err error) error {
	var me *gomysql.MyError
	if errors.As(err, &me) {
		switch {
		case me.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG && strings.Contains(strings.ToLower(me.Message), "same server"):
			return s.fatal("%s: %w; another replica uses server_id %d: give this connector another config.server_id", what, err, s.cfg.ServerID)
		case me.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG:
			return connect.ResyncNeeded(fmt.Errorf("%s %q: %s: %w; the binlog there is no longer on the server: run \"sluice connectors reset %s\" to take a new snapshot", KindName, s.name, what, err, s.name))
		case me.Code == gomysql.ER_ACCESS_DENIED_ERROR || me.Code == gomysql.ER_SPECIFIC_ACCESS_DENIED_ERROR:
			return s.fatal("%s: %w; run GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO the user", what, err)
		}
	}
	return s.retriable("%s: %w", what, err)
}

// readStream decodes events until a batch is ready: a transaction's end,
// maxBatch events of a large one, a DDL statement, or a heartbeat.
func (s *Source) readStream(ctx context.Context) (connect.SourceBatch, error) {
	st := s.st
	if len(s.queue) > 0 {
		b := s.queue[0]
		s.queue = s.queue[1:]
		return b, nil
	}
	if b, full := s.fullBatch(); full {
		return b, nil
	}
	for {
		if st.tx == nil && st.last != st.emitted && time.Since(st.emittedAt) >= s.cfg.HeartbeatInterval {
			return s.emitPosition(), nil
		}
		if s.inc != nil && s.inc.window == nil && st.tx == nil {
			if err := s.openWindow(); err != nil {
				return connect.SourceBatch{}, err
			}
		}
		ectx, cancel := context.WithTimeout(ctx, s.cfg.HeartbeatInterval)
		ev, err := s.streamer.GetEvent(ectx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return connect.SourceBatch{}, ctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			return connect.SourceBatch{}, s.classify("read the binlog after "+describePos(st.last), err)
		}
		b, done, err := s.handle(ev)
		if err != nil || done {
			return b, err
		}
	}
}

// emitPosition returns a batch that only moves the stored position.
func (s *Source) emitPosition() connect.SourceBatch {
	st := s.st
	st.emitted, st.emittedAt = st.last, time.Now()
	return connect.SourceBatch{Position: s.streamPos(st.last)}
}

// here returns the position after the event with header h.
func (s *Source) here(h *replication.EventHeader) binlogPos {
	bp := binlogPos{File: s.st.file, Pos: h.LogPos}
	if s.st.gset != nil {
		bp.GTID = s.st.gset.String()
	}
	return bp
}

// handle decodes one event; done says a batch is ready.
func (s *Source) handle(ev *replication.BinlogEvent) (connect.SourceBatch, bool, error) {
	st := s.st
	h := ev.Header
	switch e := ev.Event.(type) {
	case *replication.RotateEvent:
		st.file = string(e.NextLogName)
		if st.tx == nil {
			st.last.File, st.last.Pos = st.file, uint32(e.Position)
		}
	case *replication.HeartbeatEvent:
		if st.tx == nil {
			s.lagMs.Store(0) // the server has nothing more to send
		}
		if st.tx == nil && st.last != st.emitted {
			return s.emitPosition(), true, nil
		}
	case *replication.MariadbGTIDEvent:
		g := e.GTID
		if err := st.gset.(*gomysql.MariadbGTIDSet).AddSet(&g); err != nil {
			return connect.SourceBatch{}, false, s.fatal("GTID %s: %w", g.String(), err)
		}
		st.tx = s.newTx(h, g.String())
		st.tx.begun = !e.IsStandalone()
	case *replication.GTIDEvent:
		u, err := uuid.FromBytes(e.SID)
		if err != nil {
			return connect.SourceBatch{}, false, s.fatal("GTID event: %w", err)
		}
		if ms, ok := st.gset.(*gomysql.MysqlGTIDSet); ok {
			ms.AddGTID(u, e.GNO)
		}
		st.tx = s.newTx(h, fmt.Sprintf("%s:%d", u, e.GNO))
	case *replication.QueryEvent:
		return s.query(ev, e)
	case *replication.TableMapEvent:
		db, name := string(e.Schema), string(e.Table)
		if s.isSignal(db, name) {
			st.tables[e.TableID] = signalTable
			break
		}
		if !s.captured(db, name) {
			st.tables[e.TableID] = nil
			break
		}
		t, ok := s.schemas.tables[db+"."+name]
		if !ok {
			return connect.SourceBatch{}, false, s.fatal("rows of %s.%s at %s: its schema is not known (the schema history has no record of it); run \"sluice connectors reset %s\" to take a new snapshot", db, name, describePos(s.here(h)), s.name)
		}
		if len(e.ColumnType) != len(t.Columns) {
			return connect.SourceBatch{}, false, s.fatal("rows of %s.%s at %s have %d columns, its schema %d: the schema history is out of step with the binlog (a DDL statement sluice could not parse?); run \"sluice connectors reset %s\" to take a new snapshot", db, name, describePos(s.here(h)), len(e.ColumnType), len(t.Columns), s.name)
		}
		st.tables[e.TableID] = t
	case *replication.RowsEvent:
		if err := s.decodeRows(ev, e); err != nil {
			return connect.SourceBatch{}, false, err
		}
		b, full := s.fullBatch()
		return b, full, nil
	case *replication.XIDEvent:
		return s.commit(h)
	case *replication.GenericEvent:
		if h.EventType == replication.XA_PREPARE_LOG_EVENT {
			// The end of a prepared XA transaction's event group: its
			// changes are captured here, as Debezium does; XA COMMIT
			// comes later as a statement of its own (query).
			return s.commit(h)
		}
	case *replication.TransactionPayloadEvent:
		// MySQL's binlog_transaction_compression: a whole transaction
		// in one event. Its events are decoded in order, at the
		// payload's place in the binlog; the batches they make queue.
		for _, inner := range e.Events {
			ih := *inner.Header
			ih.LogPos, ih.EventSize = h.LogPos, h.EventSize
			b, done, err := s.handle(&replication.BinlogEvent{RawData: inner.RawData, Header: &ih, Event: inner.Event})
			if err != nil {
				return connect.SourceBatch{}, false, err
			}
			if done {
				s.queue = append(s.queue, b)
			}
		}
		if len(s.queue) > 0 {
			b := s.queue[0]
			s.queue = s.queue[1:]
			return b, true, nil
		}
	}
	return connect.SourceBatch{}, false, nil
}

// query handles a query event: BEGIN, COMMIT, or a DDL statement.
func (s *Source) query(ev *replication.BinlogEvent, e *replication.QueryEvent) (connect.SourceBatch, bool, error) {
	st := s.st
	h := ev.Header
	q := strings.TrimSpace(string(e.Query))
	switch strings.ToUpper(q) {
	case "BEGIN":
		if st.tx == nil {
			st.tx = s.newTx(h, "")
		}
		st.tx.begun, st.tx.thread = true, e.SlaveProxyID
		return connect.SourceBatch{}, false, nil
	case "COMMIT", "ROLLBACK":
		// COMMIT ends a transaction of a non-transactional engine; a
		// ROLLBACK here keeps the non-transactional changes logged.
		return s.commit(h)
	}
	if xa, ok := xaStatement(q); ok {
		return s.xa(h, e, xa)
	}
	if st.tx != nil && st.tx.begun {
		// A statement inside a transaction (SAVEPOINT and the like); DDL
		// commits implicitly, so it never comes here.
		return connect.SourceBatch{}, false, nil
	}
	if st.tx == nil {
		st.tx = s.newTx(h, "")
	}
	st.tx.thread = e.SlaveProxyID
	changes, err := s.schemas.apply(string(e.Schema), q, s.captured)
	if err != nil {
		// The parser's errors print a stack trace with %+v: log the
		// message's first line only.
		msg, _, _ := strings.Cut(err.Error(), "\n")
		s.log.Warn("a statement in the binlog does not parse; it is taken to change no captured table", "statement", clip(q), "err", msg)
	}
	if len(changes) > 0 {
		clear(st.tables) // table ids are assigned anew after DDL
		for _, ch := range changes {
			s.discardWindow(ch.Table.id())
		}
		pos := s.here(h)
		var msgs []connect.Message
		for _, ch := range changes {
			msgs = append(msgs, historyMessage(s.name, ch.Table, ch.Type == "DROP"))
			if ch.Truncate {
				t := ch.Table.connectTable()
				st.tx.events = append(st.tx.events, connect.ChangeEvent{Op: connect.OpTruncate, Table: t, Topic: s.topic(t),
					TsMs: time.Now().UnixMilli(), Source: s.sourceInfo(ch.Table, st.tx, h, 0)})
			}
		}
		msgs = append(msgs, s.schemaChangeEvent(string(e.Schema), q, changes, st.tx, h, pos))
		events := st.tx.events
		s.countTables(st.tx.perTable)
		st.tx = nil
		st.last, st.emitted, st.emittedAt = pos, pos, time.Now()
		return connect.SourceBatch{Events: events, Messages: msgs, Position: s.streamPos(pos)}, true, nil
	}
	return s.commit(h)
}

// xaStatement returns the XA verb (START, END, COMMIT, ROLLBACK, ...) of a
// binlogged XA statement; the server logs them in canonical form, the
// verb and then the xid in hexadecimal.
func xaStatement(q string) (string, bool) {
	if len(q) < 3 || !strings.EqualFold(q[:3], "XA ") {
		return "", false
	}
	verb, _, _ := strings.Cut(strings.TrimSpace(q[3:]), " ")
	return strings.ToUpper(verb), true
}

// xa handles an XA statement. XA START opens the transaction whose rows
// follow, XA END is part of it; a prepared transaction's rows were
// captured at its XA_PREPARE event, so a later XA COMMIT only moves the
// position, and a later XA ROLLBACK is logged: the changes it undoes are
// in the topics already. XA COMMIT ... ONE PHASE ends its own transaction.
func (s *Source) xa(h *replication.EventHeader, e *replication.QueryEvent, verb string) (connect.SourceBatch, bool, error) {
	st := s.st
	switch verb {
	case "START", "BEGIN":
		if st.tx == nil {
			st.tx = s.newTx(h, "")
		}
		st.tx.begun, st.tx.thread = true, e.SlaveProxyID
		return connect.SourceBatch{}, false, nil
	case "END":
		return connect.SourceBatch{}, false, nil
	case "ROLLBACK":
		if st.tx == nil || len(st.tx.events) == 0 {
			s.log.Warn("an XA transaction was rolled back after XA PREPARE: its changes were captured at the prepare and stay in the topics", "statement", clip(string(e.Query)))
		}
	}
	return s.commit(h)
}

// commit ends the current transaction at the event with header h: a batch
// with its events and the position after it, or, when it changed nothing
// captured, a position kept for the next heartbeat.
func (s *Source) commit(h *replication.EventHeader) (connect.SourceBatch, bool, error) {
	st := s.st
	st.last = s.here(h)
	tx := st.tx
	st.tx = nil
	if h.Timestamp > 0 {
		s.lagMs.Store(max(0, time.Since(time.Unix(int64(h.Timestamp), 0)).Milliseconds()))
	}
	if tx == nil || (len(tx.events) == 0 && !tx.progressed) {
		return connect.SourceBatch{}, false, nil
	}
	st.emitted, st.emittedAt = st.last, time.Now()
	s.countTables(tx.perTable)
	return connect.SourceBatch{Events: tx.events, Position: s.streamPos(st.last)}, true, nil
}

// fullBatch returns maxBatch events of the current transaction when it has
// that many pending; the batch has no position.
func (s *Source) fullBatch() (connect.SourceBatch, bool) {
	tx := s.st.tx
	if tx == nil || len(tx.events) < maxBatch {
		return connect.SourceBatch{}, false
	}
	b := connect.SourceBatch{Events: tx.events[:maxBatch:maxBatch]}
	tx.events = append([]connect.ChangeEvent(nil), tx.events[maxBatch:]...)
	return b, true
}

// decodeRows adds the changes of a rows event to the transaction.
func (s *Source) decodeRows(ev *replication.BinlogEvent, e *replication.RowsEvent) error {
	st := s.st
	t, ok := st.tables[e.TableID]
	if !ok {
		return s.fatal("rows event of table id %d without a table map event", e.TableID)
	}
	if t == nil {
		return nil
	}
	if st.tx == nil {
		st.tx = s.newTx(ev.Header, "")
	}
	if t == signalTable {
		s.signalRows(e)
		return nil
	}
	var op connect.Op
	step := 1
	switch e.Type() {
	case replication.EnumRowsEventTypeInsert:
		op = connect.OpCreate
	case replication.EnumRowsEventTypeUpdate:
		op, step = connect.OpUpdate, 2
	case replication.EnumRowsEventTypeDelete:
		op = connect.OpDelete
	default:
		return s.fatal("rows event of unknown type %s", ev.Header.EventType)
	}
	ct := t.connectTable()
	topic := s.topic(ct)
	id := t.id()
	now := time.Now().UnixMilli()
	// The rows' images, transaction blocks and source fields come from
	// one allocation each; the source block differs only in its row.
	n, nc := len(e.Rows)/step, len(t.Columns)
	vals := make([]connect.Value, n*step*nc)
	txs := make([]connect.Transaction, n)
	tmpl := s.sourceInfo(t, st.tx, ev.Header, 0)
	ne := len(tmpl.Extra)
	extras := make([]connect.Field, n*ne)
	order := st.tx.perTable[id]
	for r, k := 0, 0; r+step <= len(e.Rows); r, k = r+step, k+1 {
		img, err := s.image(t, e.Rows[r], vals[r*nc:(r+1)*nc:(r+1)*nc])
		if err != nil {
			return err
		}
		ce := connect.ChangeEvent{Op: op, Table: ct, Topic: topic, TsMs: now}
		switch op {
		case connect.OpCreate:
			ce.After = img
		case connect.OpDelete:
			ce.Before = img
		case connect.OpUpdate:
			ce.Before = img
			if ce.After, err = s.image(t, e.Rows[r+1], vals[(r+1)*nc:(r+2)*nc:(r+2)*nc]); err != nil {
				return err
			}
		}
		s.dropFromWindow(t, ce.Before)
		s.dropFromWindow(t, ce.After)
		st.tx.total++
		order++
		txs[k] = connect.Transaction{ID: st.tx.id, TotalOrder: st.tx.total, DataCollectionOrder: order}
		ce.Transaction = &txs[k]
		ce.Source = tmpl
		ce.Source.Extra = extras[k*ne : (k+1)*ne : (k+1)*ne]
		copy(ce.Source.Extra, tmpl.Extra)
		ce.Source.Extra[sourceRowField].Value = connect.Int32(int32(k))
		st.tx.events = append(st.tx.events, ce)
	}
	st.tx.perTable[id] = order
	s.events.Add(int64(len(e.Rows) / step))
	return nil
}

// image converts one row image of a rows event into out, which has room
// for the table's columns.
func (s *Source) image(t *tableSchema, row []any, out []connect.Value) ([]connect.Value, error) {
	if len(row) != len(t.Columns) {
		return nil, s.fatal("%s: a row of %d columns for a schema of %d", t.id(), len(row), len(t.Columns))
	}
	for i, v := range row {
		c := &t.Columns[i]
		val, zero, err := binlogValue(c, v)
		if err != nil {
			return nil, s.fatal("%s: %w", t.id(), err)
		}
		if zero {
			s.warnZero(t, c)
		}
		out[i] = val
	}
	return out, nil
}

// warnZero logs, once per column and run, that a zero date was read.
func (s *Source) warnZero(t *tableSchema, c *column) {
	key := t.id() + "." + c.Name
	s.zeroMu.Lock()
	defer s.zeroMu.Unlock()
	if s.zeroWarned == nil {
		s.zeroWarned = map[string]bool{}
	}
	if s.zeroWarned[key] {
		return
	}
	s.zeroWarned[key] = true
	s.log.Warn("a zero date has no value: emitted as null (the epoch in a NOT NULL column)", "table", t.id(), "column", c.Name)
}

func (s *Source) topic(t *connect.Table) string {
	return s.cfg.TopicPrefix + "." + t.Database + "." + t.Name
}

// sourceInfo is the source block of a streamed event of t, of the event
// with header h, row row of it.
func (s *Source) sourceInfo(t *tableSchema, tx *txState, h *replication.EventHeader, row int) connect.SourceInfo {
	ts := int64(h.Timestamp) * 1000
	si := connect.SourceInfo{Connector: "mysql", Name: s.cfg.TopicPrefix, TsMs: ts, Snapshot: "false",
		Database: t.Database, Table: t.Name, TxID: tx.id}
	start := h.LogPos - h.EventSize
	si.Extra = []connect.Field{
		{Name: "server_id", Value: connect.Int64(int64(h.ServerID))},
		{Name: "gtid", Value: optString(tx.gtid), Optional: true},
		{Name: "file", Value: connect.String(s.st.file)},
		{Name: "pos", Value: connect.Int64(int64(start))},
		{Name: "row", Value: connect.Int32(int32(row))}, // at sourceRowField
		{Name: "thread", Value: optInt(int64(tx.thread), tx.thread != 0), Optional: true},
	}
	return si
}

// sourceRowField is the place of "row" in a streamed event's Extra.
const sourceRowField = 4

func optString(s string) connect.Value {
	if s == "" {
		return connect.Null(connect.KindString)
	}
	return connect.String(s)
}

func optInt(i int64, ok bool) connect.Value {
	if !ok {
		return connect.Null(connect.KindInt64)
	}
	return connect.Int64(i)
}

// schemaChangeEvent is Debezium's schema change event for a DDL statement,
// to the topic named topic_prefix.
func (s *Source) schemaChangeEvent(db, ddl string, changes []schemaChange, tx *txState, h *replication.EventHeader, pos binlogPos) connect.Message {
	if db == "" && len(changes) > 0 {
		db = changes[0].Table.Database
	}
	src := &connect.Struct{Name: "io.debezium.connector.mysql.Source", Fields: []connect.Field{
		{Name: "version", Value: connect.String("sluice")},
		{Name: "connector", Value: connect.String("mysql")},
		{Name: "name", Value: connect.String(s.cfg.TopicPrefix)},
		{Name: "ts_ms", Value: connect.Int64(int64(h.Timestamp) * 1000)},
		{Name: "snapshot", Value: connect.String("false"), Optional: true},
		{Name: "db", Value: connect.String(db)},
		{Name: "server_id", Value: connect.Int64(int64(h.ServerID))},
		{Name: "gtid", Value: optString(tx.gtid), Optional: true},
		{Name: "file", Value: connect.String(pos.File)},
		{Name: "pos", Value: connect.Int64(int64(h.LogPos - h.EventSize))},
	}}
	var tcs []connect.Value
	for _, ch := range changes {
		t := ch.Table
		tc := &connect.Struct{Name: "io.debezium.connector.schema.Change", Fields: []connect.Field{
			{Name: "type", Value: connect.String(ch.Type)},
			{Name: "id", Value: connect.String(`"` + t.Database + `"."` + t.Name + `"`)},
		}}
		if ch.Type == "DROP" {
			tc.Fields = append(tc.Fields, connect.Field{Name: "table", Value: connect.Null(connect.KindStruct), Optional: true})
		} else {
			tc.Fields = append(tc.Fields, connect.Field{Name: "table", Value: connect.StructValue(tableChange(t)), Optional: true})
		}
		tcs = append(tcs, connect.StructValue(tc))
	}
	key := &connect.Struct{Name: "io.debezium.connector.mysql.SchemaChangeKey", Fields: []connect.Field{{Name: "databaseName", Value: connect.String(db)}}}
	value := &connect.Struct{Name: "io.debezium.connector.mysql.SchemaChangeValue", Fields: []connect.Field{
		{Name: "source", Value: connect.StructValue(src)},
		{Name: "ts_ms", Value: connect.Int64(time.Now().UnixMilli())},
		{Name: "databaseName", Value: connect.String(db), Optional: true},
		{Name: "schemaName", Value: connect.Null(connect.KindString), Optional: true},
		{Name: "ddl", Value: connect.String(ddl), Optional: true},
		{Name: "tableChanges", Value: connect.Value{Kind: connect.KindArray, List: tcs}},
	}}
	return connect.Message{Topic: s.cfg.TopicPrefix, Key: key, Value: value, Timestamp: int64(h.Timestamp) * 1000}
}

// tableChange is the "table" of a Debezium table change.
func tableChange(t *tableSchema) *connect.Struct {
	var keys, cols []connect.Value
	for _, k := range t.Key {
		keys = append(keys, connect.String(k))
	}
	for i, c := range t.Columns {
		col := &connect.Struct{Name: "io.debezium.connector.schema.Column", Fields: []connect.Field{
			{Name: "name", Value: connect.String(c.Name)},
			{Name: "typeName", Value: connect.String(strings.ToUpper(c.Type))},
			{Name: "typeExpression", Value: connect.String(strings.ToUpper(c.ColumnType)), Optional: true},
			{Name: "charsetName", Value: optString(c.Charset), Optional: true},
			{Name: "length", Value: optInt(int64(max(c.Length, c.Precision)), c.Length > 0 || c.Precision > 0), Optional: true},
			{Name: "scale", Value: optInt(int64(c.Scale), c.Precision > 0), Optional: true},
			{Name: "position", Value: connect.Int32(int32(i + 1))},
			{Name: "optional", Value: connect.Bool(c.Nullable), Optional: true},
		}}
		if len(c.Labels) > 0 {
			var ls []connect.Value
			for _, l := range c.Labels {
				ls = append(ls, connect.String(l))
			}
			col.Fields = append(col.Fields, connect.Field{Name: "enumValues", Value: connect.Value{Kind: connect.KindArray, List: ls}, Optional: true})
		}
		cols = append(cols, connect.StructValue(col))
	}
	return &connect.Struct{Name: "io.debezium.connector.schema.Table", Fields: []connect.Field{
		{Name: "defaultCharsetName", Value: optString(t.Charset), Optional: true},
		{Name: "primaryKeyColumnNames", Value: connect.Value{Kind: connect.KindArray, List: keys}, Optional: true},
		{Name: "columns", Value: connect.Value{Kind: connect.KindArray, List: cols}},
	}}
}

// quietHandler passes go-mysql's log on at Warn and above only: it logs
// every connection and rotation at Info.
type quietHandler struct{ slog.Handler }

func (q quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && q.Handler.Enabled(ctx, l)
}
func (q quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{q.Handler.WithAttrs(as)}
}
func (q quietHandler) WithGroup(g string) slog.Handler { return quietHandler{q.Handler.WithGroup(g)} }
