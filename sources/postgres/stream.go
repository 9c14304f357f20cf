package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/sluice-cdc/sluice/connect"
)

// startStreaming sends START_REPLICATION.
func (s *Source) startStreaming(ctx context.Context) error {
	err := pglogrepl.StartReplication(ctx, s.repl, s.cfg.Slot, s.startLSN, pglogrepl.StartReplicationOptions{
		Mode: pglogrepl.LogicalReplication,
		PluginArgs: []string{"proto_version '1'",
			"publication_names '" + strings.ReplaceAll(s.cfg.Publication, "'", "''") + "'",
			"messages 'true'"},
	})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42704" {
			return connect.ResyncNeeded(fmt.Errorf("%s %q: start replication: %w: run \"sluice connectors reset %s\" to take a new snapshot", KindName, s.name, err, s.name))
		}
		return s.retriable("start replication at %s: %w", s.startLSN, err)
	}
	s.streaming.Store(true)
	s.lastRecv = time.Now()
	s.nextHeartbeat = time.Now().Add(s.cfg.HeartbeatInterval)
	if s.acked.Load() != 0 {
		// Confirm what was acknowledged before streaming started.
		if err := s.sendStatus(ctx, false); err != nil {
			return s.retriable("standby status update: %w", err)
		}
	}
	return nil
}

// sendStatus confirms the last durable LSN to the server.
func (s *Source) sendStatus(ctx context.Context, reply bool) error {
	lsn := pglogrepl.LSN(s.acked.Load())
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.repl == nil {
		return errors.New("closed")
	}
	return pglogrepl.SendStandbyStatusUpdate(ctx, s.repl, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: lsn, WALFlushPosition: lsn, WALApplyPosition: lsn, ReplyRequested: reply,
	})
}

// readStream decodes the stream until a transaction ends or maxBatch
// events are pending.
func (s *Source) readStream(ctx context.Context) (connect.SourceBatch, error) {
	if m := s.pendingCommit; m != nil {
		s.pendingCommit = nil
		b, _, err := s.decodeMessage(ctx, m)
		return b, err
	}
	if b, full := s.fullBatch(); full {
		return b, nil
	}
	// Messages are received without a context (pgconn then skips its
	// per-call context watcher, about a microsecond a row): the read
	// deadline of the connection wakes the loop for the heartbeat, and
	// ctx's end sets it to now.
	dl := &s.dl
	dl.start(s.repl.Conn())
	stop := context.AfterFunc(ctx, dl.cancel)
	defer stop()
	defer dl.stop()
	for {
		if s.statusDue.Swap(false) {
			if err := s.sendStatus(ctx, false); err != nil {
				return connect.SourceBatch{}, s.retriable("standby status update: %w", err)
			}
		}
		if time.Now().After(s.nextHeartbeat) {
			if err := s.sendStatus(ctx, false); err != nil {
				return connect.SourceBatch{}, s.retriable("standby status update: %w", err)
			}
			if err := s.emitHeartbeat(ctx); err != nil {
				return connect.SourceBatch{}, err
			}
			s.measureSlotLag(ctx)
			s.nextHeartbeat = time.Now().Add(s.cfg.HeartbeatInterval)
		}
		if limit := s.silenceLimit(); s.heartbeatOK && time.Since(s.lastRecv) > limit {
			// Our own heartbeat comes back every interval: silence this
			// long means the connection is cut without being closed.
			return connect.SourceBatch{}, s.retriable("no message from the server for %s although heartbeats were sent: the connection seems cut", time.Since(s.lastRecv).Round(time.Second))
		}
		if s.tx == nil {
			if err := s.openWindow(ctx); err != nil {
				return connect.SourceBatch{}, err
			}
		}
		dl.set(s.nextHeartbeat)
		msg, err := s.repl.ReceiveMessage(context.Background())
		if err == nil {
			s.lastRecv = time.Now()
		}
		if err != nil {
			if ctx.Err() != nil {
				return connect.SourceBatch{}, ctx.Err()
			}
			if pgconn.Timeout(err) {
				continue
			}
			return connect.SourceBatch{}, s.retriable("receive: %w", err)
		}
		switch msg := msg.(type) {
		case *pgproto3.ErrorResponse:
			pgErr := pgconn.ErrorResponseToPgError(msg)
			if pgErr.Code == "42704" {
				// The publication was dropped. The server reads it as of
				// each change, so the changes made while it was missing
				// never decode through it, even once it exists again.
				return connect.SourceBatch{}, connect.ResyncNeeded(fmt.Errorf("%s %q: replication: %w: the publication was dropped, and the changes made without it cannot be decoded: run \"sluice connectors reset %s\" to take a new snapshot", KindName, s.name, pgErr, s.name))
			}
			return connect.SourceBatch{}, s.retriable("replication: %w", pgErr)
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				continue
			}
			switch msg.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
				if err != nil {
					return connect.SourceBatch{}, s.fatal("keepalive: %w", err)
				}
				if ka.ReplyRequested {
					if b, ok := s.idleAdvance(ka.ServerWALEnd); ok {
						return b, nil
					}
					if err := s.sendStatus(ctx, false); err != nil {
						return connect.SourceBatch{}, s.retriable("standby status update: %w", err)
					}
					s.nextHeartbeat = time.Now().Add(s.cfg.HeartbeatInterval)
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(msg.Data[1:])
				if err != nil {
					return connect.SourceBatch{}, s.fatal("xlog data: %w", err)
				}
				b, done, err := s.decode(ctx, xld.WALData)
				if err != nil || done {
					return b, err
				}
			}
		default:
			// Notices and the like: nothing to do.
		}
	}
}

// deadline is the replication connection's read deadline while readStream
// runs: the next heartbeat, now when Ack has a status to send (wake), and
// now for good once Read's ctx ends (cancel).
type deadline struct {
	mu       sync.Mutex
	conn     net.Conn // nil outside readStream
	at       time.Time
	canceled bool
}

func (d *deadline) start(c net.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conn, d.at, d.canceled = c, time.Time{}, false
}

func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		d.conn.SetReadDeadline(time.Time{})
	}
	d.conn = nil
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil && !d.canceled && !t.Equal(d.at) {
		d.at = t
		d.conn.SetReadDeadline(t)
	}
}

// wake makes a blocked read return now; the next set puts the deadline
// back.
func (d *deadline) wake() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		d.at = time.Time{}
		d.conn.SetReadDeadline(time.Now())
	}
}

func (d *deadline) cancel() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.canceled = true
	if d.conn != nil {
		d.conn.SetReadDeadline(time.Now())
	}
}

// heartbeatPrefix is the prefix of the logical decoding messages the
// source writes as heartbeats.
const heartbeatPrefix = "sluice_heartbeat"

// emitHeartbeat writes a non-transactional logical decoding message into
// the WAL. Decoded, it comes back as a batch without events whose position
// lets the slot advance when the captured tables are idle and others are
// not. A failure is logged: the heartbeat is an optimisation.
//
// The query has a time limit; when it runs out, or the connection is
// gone, the error returned is retriable: the connection is cut.
func (s *Source) emitHeartbeat(ctx context.Context) error {
	qctx, cancel := context.WithTimeout(ctx, s.queryTimeout())
	defer cancel()
	_, err := s.meta.Exec(qctx, "SELECT pg_logical_emit_message(false, '"+heartbeatPrefix+"', '')")
	switch {
	case err == nil:
		s.heartbeatOK = true
	case ctx.Err() != nil:
		return ctx.Err()
	case s.meta.IsClosed() || qctx.Err() != nil:
		return s.retriable("heartbeat: %w", err)
	default:
		s.heartbeatOK = false
		s.log.Warn("heartbeat: pg_logical_emit_message failed", "err", err)
	}
	return nil
}

// queryTimeout is the time limit of the heartbeat and lag queries.
func (s *Source) queryTimeout() time.Duration { return max(s.cfg.HeartbeatInterval, 5*time.Second) }

// silenceLimit is how long the replication connection may stay silent
// while heartbeats are sent before it counts as cut.
func (s *Source) silenceLimit() time.Duration { return 3*s.cfg.HeartbeatInterval + 5*time.Second }

// idleAdvance returns a batch with only a position at the server's WAL end,
// given in a keepalive that asks for a reply (the server is idle for half
// of wal_sender_timeout, or shutting down), when the source holds nothing
// back: no transaction
// being decoded, and every position Read returned acknowledged. Then
// everything up to the WAL end that concerns the captured tables is
// durable, and a transaction that commits after it still comes, so it is
// a safe place to resume from and to confirm. Without it a server shutting
// down waits forever for the confirmation of its WAL end.
func (s *Source) idleAdvance(walEnd pglogrepl.LSN) (connect.SourceBatch, bool) {
	acked := pglogrepl.LSN(s.acked.Load())
	if s.tx != nil || s.pendingCommit != nil || acked < s.lastPos || walEnd <= acked || walEnd <= s.lastPos {
		return connect.SourceBatch{}, false
	}
	return connect.SourceBatch{Position: s.position(walEnd)}, true
}

// measureSlotLag records how many bytes of WAL the slot holds back. A
// failure is logged: it is a metric.
func (s *Source) measureSlotLag(ctx context.Context) {
	var lag int64
	ctx, cancel := context.WithTimeout(ctx, s.queryTimeout())
	defer cancel()
	err := s.meta.QueryRow(ctx, "SELECT COALESCE(pg_current_wal_lsn() - confirmed_flush_lsn, 0)::bigint FROM pg_replication_slots WHERE slot_name = $1", s.cfg.Slot).Scan(&lag)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Debug("measure the slot's lag", "err", err)
		}
		return
	}
	s.slotLag.Store(lag)
}

// decode handles one pgoutput message; done says a batch is ready.
func (s *Source) decode(ctx context.Context, data []byte) (connect.SourceBatch, bool, error) {
	m, err := pglogrepl.Parse(data)
	if err != nil {
		return connect.SourceBatch{}, false, s.fatal("decode pgoutput: %w", err)
	}
	return s.decodeMessage(ctx, m)
}

// decodeMessage handles one decoded pgoutput message.
func (s *Source) decodeMessage(ctx context.Context, msg pglogrepl.Message) (b connect.SourceBatch, done bool, err error) {
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		t, err := s.relationTable(ctx, m)
		if err != nil {
			return connect.SourceBatch{}, false, err
		}
		if old, ok := s.relations[m.RelationID]; !ok || !reflect.DeepEqual(old, t) {
			s.relations[m.RelationID] = t // a new schema version
			if ok {
				s.relationChanged(t.Schema, t.Name)
			}
		}
	case *pglogrepl.LogicalDecodingMessage:
		switch {
		case m.Transactional && m.Prefix == signalPrefix:
			s.onSignal(m)
		case m.Transactional && m.Prefix == watermarkPrefix && s.tx != nil:
			s.tx.watermark = string(m.Content) // handled at the commit
		case m.Transactional || s.tx != nil || m.LSN == 0:
			// someone else's message
		case m.Prefix == heartbeatPrefix:
			// Outside a transaction every earlier commit has been
			// sent, so the message's LSN is a transaction boundary.
			return connect.SourceBatch{Position: s.position(m.LSN)}, true, nil
		case m.Prefix == watermarkPrefix:
			b, done := s.onWatermark(string(m.Content), m.LSN)
			return b, done, nil
		}
	case *pglogrepl.BeginMessage:
		s.tx = &txState{xid32: m.Xid, xid: strconv.FormatUint(uint64(m.Xid), 10), tsMs: m.CommitTime.UnixMilli(), lsn: m.FinalLSN, perTable: map[[2]string]int64{}}
	case *pglogrepl.InsertMessage:
		err = s.change(ctx, connect.OpCreate, m.RelationID, nil, m.Tuple)
	case *pglogrepl.UpdateMessage:
		err = s.change(ctx, connect.OpUpdate, m.RelationID, m.OldTuple, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		err = s.change(ctx, connect.OpDelete, m.RelationID, m.OldTuple, nil)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if err = s.change(ctx, connect.OpTruncate, id, nil, nil); err != nil {
				break
			}
		}
	case *pglogrepl.CommitMessage:
		if s.tx == nil {
			return connect.SourceBatch{}, false, s.fatal("commit at %s without begin", m.CommitLSN)
		}
		if b, full := s.fullBatch(); full {
			// More than maxBatch events pending (a truncate of many
			// tables): the commit comes again from the next Read.
			s.pendingCommit = m
			return b, true, nil
		}
		if wm := s.tx.watermark; wm != "" && len(s.tx.events) == 0 {
			// A watermark's own transaction: the window's rows, if it
			// is the open window's high watermark, go out positioned
			// at the end of the transaction.
			s.recentXids[s.recentNext%len(s.recentXids)] = s.tx.xid32
			s.recentNext++
			s.tx = nil
			if b, ok := s.onWatermark(wm, m.TransactionEndLSN); ok {
				return b, true, nil
			}
			return connect.SourceBatch{Position: s.position(m.TransactionEndLSN)}, true, nil
		}
		b := connect.SourceBatch{Events: s.tx.events, Position: s.position(m.TransactionEndLSN)}
		s.recentXids[s.recentNext%len(s.recentXids)] = s.tx.xid32
		s.recentNext++
		if lag := time.Since(m.CommitTime).Milliseconds(); lag > 0 {
			s.replLagMs.Store(lag)
		} else {
			s.replLagMs.Store(1) // 0 means unknown
		}
		s.tx = nil
		return b, true, nil
	}
	if err != nil {
		return connect.SourceBatch{}, false, err
	}
	b, full := s.fullBatch()
	return b, full, nil
}

// change adds one row change to the current transaction.
func (s *Source) change(ctx context.Context, op connect.Op, rel uint32, old, new *pglogrepl.TupleData) error {
	if s.tx == nil {
		return s.fatal("row change outside a transaction")
	}
	t, ok := s.relations[rel]
	if !ok {
		return s.fatal("row change of unknown relation %d", rel)
	}
	ev := connect.ChangeEvent{Op: op, Table: t, Topic: s.topic(t), TsMs: time.Now().UnixMilli()}
	var err error
	var missing []int
	if old != nil {
		if ev.Before, _, err = s.tuple(t, old, nil); err != nil {
			return err
		}
	}
	if new != nil {
		if ev.After, missing, err = s.tuple(t, new, ev.Before); err != nil {
			return err
		}
	}
	if op != connect.OpTruncate {
		img := new
		if img == nil {
			img = old
		}
		if err := s.fillToast(ctx, &ev, img, missing); err != nil {
			return err
		}
	}
	s.tx.total++
	name := [2]string{t.Schema, t.Name}
	s.tx.perTable[name]++
	ev.Transaction = &connect.Transaction{ID: s.tx.xid, TotalOrder: s.tx.total, DataCollectionOrder: s.tx.perTable[name]}
	if s.tx.extra == nil {
		s.tx.extra = []connect.Field{{Name: "lsn", Value: connect.Int64(int64(s.tx.lsn)), Optional: true}}
	}
	ev.Source = s.sourceInfo(t, s.tx.tsMs, "false", s.tx.xid, 0)
	ev.Source.Extra = s.tx.extra // shared by the transaction's events
	s.tx.events = append(s.tx.events, ev)
	if s.win != nil {
		s.observe(t, op, s.tx.xid32, old, new)
	}
	return nil
}

// tupleKey returns the columns of a row image of t named by names in text
// form, or nil when there is no image or it lacks one of them.
func tupleKey(t *connect.Table, td *pglogrepl.TupleData, names []string) []*string {
	if td == nil || len(td.Columns) != len(t.Columns) {
		return nil
	}
	out := make([]*string, len(names))
	for i, name := range names {
		k := slices.IndexFunc(t.Columns, func(c connect.Column) bool { return c.Name == name })
		if k < 0 {
			return nil
		}
		c := td.Columns[k]
		switch c.DataType {
		case pglogrepl.TupleDataTypeText:
			v := string(c.Data)
			out[i] = &v
		case pglogrepl.TupleDataTypeNull:
		default:
			return nil
		}
	}
	return out
}

// fullBatch returns maxBatch events of the current transaction when it has
// that many pending.
func (s *Source) fullBatch() (connect.SourceBatch, bool) {
	if s.tx == nil || len(s.tx.events) < maxBatch {
		return connect.SourceBatch{}, false
	}
	b := connect.SourceBatch{Events: s.tx.events[:maxBatch:maxBatch]}
	s.tx.events = append([]connect.ChangeEvent(nil), s.tx.events[maxBatch:]...)
	return b, true
}

// tuple converts a row image. An unchanged TOASTed value takes the value of
// before when it has one; otherwise it is null and its index is listed in
// missing (see toast.go).
func (s *Source) tuple(t *connect.Table, td *pglogrepl.TupleData, before []connect.Value) (_ []connect.Value, missing []int, _ error) {
	if len(td.Columns) != len(t.Columns) {
		return nil, nil, s.fatal("%s.%s: row has %d columns, relation %d", t.Schema, t.Name, len(td.Columns), len(t.Columns))
	}
	out := make([]connect.Value, len(t.Columns))
	for i, c := range td.Columns {
		col := &t.Columns[i]
		switch c.DataType {
		case pglogrepl.TupleDataTypeText:
			v, err := value(col, c.Data)
			if err != nil {
				return nil, nil, s.fatal("%s.%s: %w", t.Schema, t.Name, err)
			}
			out[i] = v
		case pglogrepl.TupleDataTypeToast:
			if before != nil && !before[i].Null {
				out[i] = before[i]
			} else {
				out[i] = connect.Null(col.Kind)
				missing = append(missing, i)
			}
		case pglogrepl.TupleDataTypeNull:
			out[i] = connect.Null(col.Kind)
		default:
			return nil, nil, s.fatal("%s.%s: column %q: unexpected tuple data type %q", t.Schema, t.Name, col.Name, c.DataType)
		}
	}
	return out, missing, nil
}

// topic returns a table's topic, <topic_prefix>.<schema>.<table>, made
// once per table.
func (s *Source) topic(t *connect.Table) string {
	key := [2]string{t.Schema, t.Name}
	if name, ok := s.topics[key]; ok {
		return name
	}
	name := s.cfg.TopicPrefix + "." + t.Schema + "." + t.Name
	if s.topics == nil {
		s.topics = map[[2]string]string{}
	}
	s.topics[key] = name
	return name
}

func (s *Source) sourceInfo(t *connect.Table, tsMs int64, snapshot, xid string, lsn pglogrepl.LSN) connect.SourceInfo {
	si := connect.SourceInfo{
		Connector: "postgresql", Name: s.cfg.TopicPrefix, TsMs: tsMs, Snapshot: snapshot,
		Database: s.db, Schema: t.Schema, Table: t.Name, TxID: xid,
	}
	if lsn != 0 {
		si.Extra = []connect.Field{{Name: "lsn", Value: connect.Int64(int64(lsn)), Optional: true}}
	}
	return si
}
