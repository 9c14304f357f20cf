package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
)

// KindName is the connector kind's name in config files.
const KindName = "postgres-source"

// maxBatch is the most events in one batch.
const maxBatch = 1000

// Kind is the postgres-source connector kind.
type Kind struct{}

// New returns the postgres-source kind, for a connect.Registry.
func New() *Kind { return &Kind{} }

var _ connect.SourceKind = (*Kind)(nil)

func (*Kind) Name() string       { return KindName }
func (*Kind) Role() connect.Role { return connect.RoleSource }

// Check reports every problem of c's config block.
func (*Kind) Check(c *configs.Connector) []configs.Problem {
	_, problems := ParseConfig(c)
	return problems
}

// Tasks is 1: one slot, one stream.
func (*Kind) Tasks(*configs.Connector) int { return 1 }

// NewSource builds a source from c. A config with problems is a fatal error.
func (*Kind) NewSource(c *configs.Connector, env connect.Env) (connect.Source, error) {
	cfg, problems := ParseConfig(c)
	if len(problems) > 0 {
		return nil, connect.Fatal(fmt.Errorf("%s %q: invalid config: %w", KindName, c.Name, &configs.Error{Problems: problems}))
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Source{name: c.Name, cfg: cfg, log: log}, nil
}

// Position returns the position after a transaction whose commit ends at lsn.
func Position(lsn pglogrepl.LSN) connect.Position {
	return connect.Position("lsn=" + lsn.String())
}

// ErrBadPosition is the cause of the error for a position this source did
// not write.
var ErrBadPosition = errors.New("not a postgres-source position")

// ParsePosition returns the LSN of a position Position wrote. It is strict:
// anything but "lsn=" and an LSN as Postgres prints it is an error wrapping
// ErrBadPosition.
func ParsePosition(pos connect.Position) (pglogrepl.LSN, error) {
	text, ok := strings.CutPrefix(string(pos), "lsn=")
	if ok {
		lsn, err := pglogrepl.ParseLSN(text)
		if err == nil && lsn.String() == text && lsn != 0 {
			return lsn, nil
		}
	}
	return 0, fmt.Errorf("%q: %w (want \"lsn=X/Y\")", configs.Clip(string(pos)), ErrBadPosition)
}

// Source captures the changes of the configured tables through a logical
// replication slot with pgoutput. Read runs on one goroutine; Ack and Status
// may run on others: they touch only acked and, under sendMu, the
// replication connection's write side.
type Source struct {
	name string
	cfg  Config
	log  *slog.Logger

	meta *pgx.Conn      // preflight, snapshot, catalog look-ups (Read's goroutine)
	repl *pgconn.PgConn // the replication connection
	db   string         // the database's name

	sendMu    sync.Mutex // guards writes to repl
	streaming atomic.Bool
	acked     atomic.Uint64 // the last durable LSN; 0 none

	startLSN pglogrepl.LSN // where streaming starts; 0 = the slot's confirmed position
	tables   []TableRef    // the resolved tables

	// Snapshot state.
	snapTx      pgx.Tx
	snapTables  []TableRef
	snapCursor  bool
	snapCurrent *connect.Table
	snapPending []connect.ChangeEvent
	snapDone    bool
	onlySnap    bool

	// Streaming state.
	relations     map[uint32]*connect.Table
	tx            *txState
	pendingCommit *pglogrepl.CommitMessage // a commit to emit after the pending events
	nextHeartbeat time.Time
	rows          atomic.Int64
}

// txState is the transaction being decoded.
type txState struct {
	xid      string
	tsMs     int64
	lsn      pglogrepl.LSN
	total    int64
	perTable map[string]int64 // by schema.table
	events   []connect.ChangeEvent
}

var _ connect.Source = (*Source)(nil)

func (s *Source) fatal(format string, args ...any) error {
	return connect.Fatal(fmt.Errorf("%s %q: "+format, append([]any{KindName, s.name}, args...)...))
}

func (s *Source) retriable(format string, args ...any) error {
	return connect.Retriable(fmt.Errorf("%s %q: "+format, append([]any{KindName, s.name}, args...)...))
}

// Open connects, checks the server, makes the publication and the slot if
// they are missing, and prepares the snapshot or the stream. An initial
// snapshot interrupted before its last batch became durable restarts from
// the beginning (a new slot and snapshot) on the next Open(nil).
func (s *Source) Open(ctx context.Context, pos connect.Position) (err error) {
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	var resume pglogrepl.LSN
	if pos != nil {
		lsn, err := ParsePosition(pos)
		if err != nil {
			return s.fatal("position %w; the stored offset is damaged or belongs to another connector kind: reset it with \"sluice connectors reset %s\"", err, s.name)
		}
		resume = lsn
		s.acked.Store(uint64(lsn))
	}
	pcfg, perr := pgx.ParseConfig(s.cfg.DSN)
	if perr != nil {
		return s.fatal("config.dsn: %w", perr)
	}
	pcfg.RuntimeParams["timezone"] = "UTC"
	pcfg.RuntimeParams["bytea_output"] = "hex"
	pcfg.RuntimeParams["datestyle"] = "ISO, YMD"
	pcfg.RuntimeParams["intervalstyle"] = "iso_8601"
	pcfg.RuntimeParams["extra_float_digits"] = "1"
	pcfg.RuntimeParams["lc_monetary"] = "C" // money as "$1,234.56"
	if pcfg.ConnectTimeout == 0 {
		pcfg.ConnectTimeout = 10 * time.Second
	}
	if s.meta, err = pgx.ConnectConfig(ctx, pcfg); err != nil {
		return s.retriable("connect: %w", err)
	}
	s.db = pcfg.Database

	var walLevel string
	if err := s.meta.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel); err != nil {
		return s.retriable("SHOW wal_level: %w", err)
	}
	if walLevel != "logical" {
		return s.fatal("the server's wal_level is %q, not logical: run ALTER SYSTEM SET wal_level = logical and restart the server", walLevel)
	}
	if err := s.resolveTables(ctx); err != nil {
		return err
	}
	if err := s.publication(ctx); err != nil {
		return err
	}

	rcfg := pcfg.Config.Copy()
	rcfg.RuntimeParams["replication"] = "database"
	if s.repl, err = pgconn.ConnectConfig(ctx, rcfg); err != nil {
		return s.retriable("replication connection: %w", err)
	}

	// The slot may still be held for a moment by this connector's
	// previous connection, which is shutting down.
	var slotExists, slotActive bool
	for wait := time.Now().Add(10 * time.Second); ; {
		err = s.meta.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", s.cfg.Slot).Scan(&slotActive)
		switch {
		case err == nil:
			slotExists = true
		case errors.Is(err, pgx.ErrNoRows):
			slotExists, slotActive, err = false, false, nil
		default:
			return s.retriable("look up slot %s: %w", s.cfg.Slot, err)
		}
		if !slotActive {
			break
		}
		if time.Now().After(wait) {
			return s.retriable("slot %s is in use by another connection", s.cfg.Slot)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}

	needSnapshot := pos == nil && s.cfg.Snapshot != SnapshotNever
	s.onlySnap = s.cfg.Snapshot == SnapshotInitialOnly
	switch {
	case s.onlySnap && pos != nil:
		s.snapDone = true // the snapshot is done; nothing streams
	case pos != nil && !slotExists && s.cfg.Snapshot != SnapshotWhenNeeded:
		return connect.ResyncNeeded(fmt.Errorf("%s %q: replication slot %s does not exist, so the changes after %s are lost: run \"sluice connectors reset %s\" to take a new snapshot", KindName, s.name, s.cfg.Slot, resume, s.name))
	case pos != nil && slotExists:
		s.startLSN = resume
		s.snapDone = true
	case !needSnapshot && slotExists:
		s.snapDone = true // stream from the slot's confirmed position
	default:
		if pos != nil {
			// when_needed and the slot is gone: a new slot and snapshot.
			s.log.Warn("the replication slot is gone: taking a new snapshot", "slot", s.cfg.Slot, "position", string(pos))
			needSnapshot = true
			s.acked.Store(0)
		}
		if slotExists {
			// A fresh start: a previous run left the slot without a
			// stored position. Start over with a new slot and snapshot.
			s.log.Info("dropping the replication slot left by an unfinished start", "slot", s.cfg.Slot)
			if err := pglogrepl.DropReplicationSlot(ctx, s.repl, s.cfg.Slot, pglogrepl.DropReplicationSlotOptions{}); err != nil {
				return s.retriable("drop slot %s: %w", s.cfg.Slot, err)
			}
		}
		action := "NOEXPORT_SNAPSHOT"
		if needSnapshot {
			action = "EXPORT_SNAPSHOT"
		}
		res, err := pglogrepl.CreateReplicationSlot(ctx, s.repl, s.cfg.Slot, "pgoutput",
			// initial_only streams nothing: its slot only exports the
			// snapshot and goes with the connection.
			pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: action, Temporary: s.onlySnap})
		if err != nil {
			return s.retriable("create slot %s: %w", s.cfg.Slot, err)
		}
		if s.startLSN, err = pglogrepl.ParseLSN(res.ConsistentPoint); err != nil {
			return s.fatal("create slot %s: consistent point %q: %w", s.cfg.Slot, res.ConsistentPoint, err)
		}
		s.log.Info("created replication slot", "slot", s.cfg.Slot, "consistent_point", res.ConsistentPoint)
		if needSnapshot {
			if err := s.beginSnapshot(ctx, res.SnapshotName); err != nil {
				return err
			}
		} else {
			s.snapDone = true
		}
	}
	s.relations = map[uint32]*connect.Table{}
	s.log.Info("postgres source open", "slot", s.cfg.Slot, "publication", s.cfg.Publication, "tables", len(s.tables), "start_lsn", s.startLSN.String(), "snapshot", !s.snapDone)
	return nil
}

// resolveTables expands the configured tables and patterns.
func (s *Source) resolveTables(ctx context.Context) error {
	s.tables = nil
	seen := map[TableRef]bool{}
	for _, ref := range s.cfg.Tables {
		rows, err := s.meta.Query(ctx, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN ('r', 'p') AND n.nspname = $1 AND ($2 = '*' OR c.relname = $2) ORDER BY c.relname`, ref.Schema, ref.Table)
		if err != nil {
			return s.retriable("resolve tables: %w", err)
		}
		found := 0
		for rows.Next() {
			var r TableRef
			if err := rows.Scan(&r.Schema, &r.Table); err != nil {
				rows.Close()
				return s.retriable("resolve tables: %w", err)
			}
			found++
			if !seen[r] {
				seen[r] = true
				s.tables = append(s.tables, r)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s.retriable("resolve tables: %w", err)
		}
		if found == 0 && ref.Table != "*" {
			return s.fatal("config.tables: table %s does not exist", ref)
		}
	}
	if len(s.tables) == 0 {
		return s.fatal("config.tables: no table matches %v", s.cfg.Tables)
	}
	return nil
}

// publication makes the publication if it is missing.
func (s *Source) publication(ctx context.Context) error {
	var one int
	err := s.meta.QueryRow(ctx, "SELECT 1 FROM pg_publication WHERE pubname = $1", s.cfg.Publication).Scan(&one)
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return s.retriable("look up publication %s: %w", s.cfg.Publication, err)
	}
	if !s.cfg.CreatePublication {
		return s.fatal("config.publication: publication %s does not exist and create_publication is false", s.cfg.Publication)
	}
	names := make([]string, len(s.tables))
	for i, t := range s.tables {
		names[i] = pgx.Identifier{t.Schema, t.Table}.Sanitize()
	}
	sql := "CREATE PUBLICATION " + pgx.Identifier{s.cfg.Publication}.Sanitize() + " FOR TABLE " + strings.Join(names, ", ")
	if _, err := s.meta.Exec(ctx, sql); err != nil {
		return s.fatal("create publication %s: %w", s.cfg.Publication, err)
	}
	s.log.Info("created publication", "publication", s.cfg.Publication, "tables", len(s.tables))
	return nil
}

// beginSnapshot imports the slot's exported snapshot into a repeatable read
// transaction on the meta connection.
func (s *Source) beginSnapshot(ctx context.Context, name string) error {
	tx, err := s.meta.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return s.retriable("begin snapshot: %w", err)
	}
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+strings.ReplaceAll(name, "'", "''")+"'"); err != nil {
		tx.Rollback(ctx)
		return s.retriable("set transaction snapshot: %w", err)
	}
	s.snapTx = tx
	s.snapTables = append([]TableRef(nil), s.tables...)
	return nil
}

// catColumn is a column as the catalog describes it, with its type OID.
type catColumn struct {
	col  connect.Column
	oid  uint32
	info typeInfo
}

// tableFromCatalog describes a table from the catalog, as the current
// transaction sees it.
func (s *Source) tableFromCatalog(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, ref TableRef) (*connect.Table, error) {
	t, _, err := s.catalogTable(ctx, q, ref)
	return t, err
}

// catalogTable describes a table from the catalog and returns its columns'
// type facts too.
func (s *Source) catalogTable(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, ref TableRef) (*connect.Table, []catColumn, error) {
	rows, err := q.Query(ctx, `SELECT a.attname, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod), a.attnotnull,
			COALESCE((SELECT array_position(i.indkey::int2[], a.attnum) FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary), 0),
			t.typtype::text, CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE 0 END, COALESCE(et.typtype::text, ''), COALESCE(et.typdelim::text, ','),
			ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = CASE WHEN t.typtype = 'e' THEN t.oid ELSE et.oid END ORDER BY e.enumsortorder)
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type et ON t.typcategory = 'A' AND et.oid = t.typelem
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY a.attnum`, ref.Schema, ref.Table)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	t := &connect.Table{Database: s.db, Schema: ref.Schema, Name: ref.Table}
	var cat []catColumn
	keyPos := map[int]int{}
	for rows.Next() {
		var (
			name, typ, typtype, elemType, elemDelim string
			oid, elem                               uint32
			typmod                                  int32
			notNull                                 bool
			key                                     int32
			labels                                  []string
		)
		if err := rows.Scan(&name, &oid, &typmod, &typ, &notNull, &key, &typtype, &elem, &elemType, &elemDelim, &labels); err != nil {
			return nil, nil, err
		}
		if key > 0 {
			keyPos[int(key)] = len(t.Columns)
		}
		info := typeInfo{enum: typtype == "e", elem: elem, elemEnum: elemType == "e", elemDelim: elemDelim, labels: labels}
		col := column(name, oid, typmod, typ, notNull, info)
		t.Columns = append(t.Columns, col)
		cat = append(cat, catColumn{col: col, oid: oid, info: info})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	for k := 1; k <= len(keyPos); k++ {
		if i, ok := keyPos[k]; ok {
			t.Key = append(t.Key, i)
		}
	}
	return t, cat, nil
}

// Read returns the next batch: snapshot rows first, then one batch per
// transaction (or per maxBatch events of a large one).
func (s *Source) Read(ctx context.Context) (connect.SourceBatch, error) {
	if err := ctx.Err(); err != nil {
		return connect.SourceBatch{}, err
	}
	if !s.snapDone {
		b, err := s.readSnapshot(ctx)
		if err != nil && ctx.Err() != nil {
			return connect.SourceBatch{}, ctx.Err()
		}
		return b, err
	}
	if s.onlySnap {
		<-ctx.Done()
		return connect.SourceBatch{}, ctx.Err()
	}
	if !s.streaming.Load() {
		if err := s.startStreaming(ctx); err != nil {
			if ctx.Err() != nil {
				return connect.SourceBatch{}, ctx.Err()
			}
			return connect.SourceBatch{}, err
		}
	}
	return s.readStream(ctx)
}

// fetchSnapshot returns the next up to maxBatch snapshot rows, or nil when
// every table is read.
func (s *Source) fetchSnapshot(ctx context.Context) ([]connect.ChangeEvent, error) {
	for len(s.snapTables) > 0 {
		ref := s.snapTables[0]
		if !s.snapCursor {
			t, err := s.tableFromCatalog(ctx, s.snapTx, ref)
			if err != nil {
				return nil, s.retriable("snapshot of %s: describe: %w", ref, err)
			}
			cols := make([]string, len(t.Columns))
			for i, c := range t.Columns {
				cols[i] = pgx.Identifier{c.Name}.Sanitize()
			}
			sql := "DECLARE sluice_snap NO SCROLL CURSOR FOR SELECT " + strings.Join(cols, ", ") + " FROM " + pgx.Identifier{ref.Schema, ref.Table}.Sanitize()
			if len(cols) == 0 {
				sql = "DECLARE sluice_snap NO SCROLL CURSOR FOR SELECT FROM " + pgx.Identifier{ref.Schema, ref.Table}.Sanitize()
			}
			if _, err := s.snapTx.Exec(ctx, sql); err != nil {
				return nil, s.retriable("snapshot of %s: %w", ref, err)
			}
			s.snapCursor, s.snapCurrent = true, t
		}
		res, err := s.meta.PgConn().Exec(ctx, "FETCH "+strconv.Itoa(maxBatch)+" FROM sluice_snap").ReadAll()
		if err != nil {
			return nil, s.retriable("snapshot of %s: fetch: %w", ref, err)
		}
		if len(res) != 1 {
			return nil, s.retriable("snapshot of %s: fetch returned %d results", ref, len(res))
		}
		if len(res[0].Rows) == 0 {
			if _, err := s.snapTx.Exec(ctx, "CLOSE sluice_snap"); err != nil {
				return nil, s.retriable("snapshot of %s: %w", ref, err)
			}
			s.snapCursor, s.snapCurrent = false, nil
			s.snapTables = s.snapTables[1:]
			continue
		}
		t := s.snapCurrent
		topic := s.topic(t)
		now := time.Now().UnixMilli()
		events := make([]connect.ChangeEvent, 0, len(res[0].Rows))
		for _, row := range res[0].Rows {
			after := make([]connect.Value, len(t.Columns))
			for i := range t.Columns {
				if row[i] == nil {
					after[i] = connect.Null(t.Columns[i].Kind)
					continue
				}
				v, err := value(&t.Columns[i], row[i])
				if err != nil {
					return nil, s.fatal("snapshot of %s: %w", ref, err)
				}
				after[i] = v
			}
			events = append(events, connect.ChangeEvent{
				Op: connect.OpRead, Table: t, Topic: topic, After: after, TsMs: now,
				Source: s.sourceInfo(t, now, "true", "", 0),
			})
		}
		return events, nil
	}
	return nil, nil
}

// readSnapshot returns the next snapshot batch, reading one batch ahead so
// that the last row can be marked.
func (s *Source) readSnapshot(ctx context.Context) (connect.SourceBatch, error) {
	if s.snapPending == nil {
		evs, err := s.fetchSnapshot(ctx)
		if err != nil {
			return connect.SourceBatch{}, err
		}
		s.snapPending = evs
	}
	next, err := s.fetchSnapshot(ctx)
	if err != nil {
		return connect.SourceBatch{}, err
	}
	b := connect.SourceBatch{Events: s.snapPending}
	s.rows.Add(int64(len(b.Events)))
	if next != nil {
		s.snapPending = next
		return b, nil
	}
	if n := len(b.Events); n > 0 {
		b.Events[n-1].Source.Snapshot = "last"
	}
	if err := s.snapTx.Commit(ctx); err != nil {
		return connect.SourceBatch{}, s.retriable("end snapshot: %w", err)
	}
	s.snapTx, s.snapPending, s.snapDone = nil, nil, true
	b.Position = Position(s.startLSN)
	s.log.Info("snapshot done", "rows", s.rows.Load(), "lsn", s.startLSN.String())
	return b, nil
}

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
	for {
		if time.Now().After(s.nextHeartbeat) {
			if err := s.sendStatus(ctx, false); err != nil {
				return connect.SourceBatch{}, s.retriable("standby status update: %w", err)
			}
			s.emitHeartbeat(ctx)
			s.nextHeartbeat = time.Now().Add(s.cfg.HeartbeatInterval)
		}
		rctx, cancel := context.WithDeadline(ctx, s.nextHeartbeat)
		msg, err := s.repl.ReceiveMessage(rctx)
		cancel()
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
			return connect.SourceBatch{}, s.retriable("replication: %w", pgconn.ErrorResponseToPgError(msg))
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

// heartbeatPrefix is the prefix of the logical decoding messages the
// source writes as heartbeats.
const heartbeatPrefix = "sluice_heartbeat"

// emitHeartbeat writes a non-transactional logical decoding message into
// the WAL. Decoded, it comes back as a batch without events whose position
// lets the slot advance when the captured tables are idle and others are
// not. A failure is logged: the heartbeat is an optimisation.
func (s *Source) emitHeartbeat(ctx context.Context) {
	if _, err := s.meta.Exec(ctx, "SELECT pg_logical_emit_message(false, '"+heartbeatPrefix+"', '')"); err != nil && ctx.Err() == nil {
		s.log.Warn("heartbeat: pg_logical_emit_message failed", "err", err)
	}
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
		}
	case *pglogrepl.LogicalDecodingMessage:
		if m.Transactional || m.Prefix != heartbeatPrefix || s.tx != nil || m.LSN == 0 {
			return connect.SourceBatch{}, false, nil // someone else's message
		}
		// Outside a transaction every earlier commit has been sent, so
		// the message's LSN is a transaction boundary.
		return connect.SourceBatch{Position: Position(m.LSN)}, true, nil
	case *pglogrepl.BeginMessage:
		s.tx = &txState{xid: strconv.FormatUint(uint64(m.Xid), 10), tsMs: m.CommitTime.UnixMilli(), lsn: m.FinalLSN, perTable: map[string]int64{}}
	case *pglogrepl.InsertMessage:
		err = s.change(connect.OpCreate, m.RelationID, nil, m.Tuple)
	case *pglogrepl.UpdateMessage:
		err = s.change(connect.OpUpdate, m.RelationID, m.OldTuple, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		err = s.change(connect.OpDelete, m.RelationID, m.OldTuple, nil)
	case *pglogrepl.TruncateMessage:
		for _, id := range m.RelationIDs {
			if err = s.change(connect.OpTruncate, id, nil, nil); err != nil {
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
		b := connect.SourceBatch{Events: s.tx.events, Position: Position(m.TransactionEndLSN)}
		s.tx = nil
		return b, true, nil
	}
	if err != nil {
		return connect.SourceBatch{}, false, err
	}
	b, full := s.fullBatch()
	return b, full, nil
}

// relationTable builds the table of a relation message, with type names
// and nullability from the catalog when it still has the table.
func (s *Source) relationTable(ctx context.Context, m *pglogrepl.RelationMessage) (*connect.Table, error) {
	ref := TableRef{Schema: m.Namespace, Table: m.RelationName}
	_, cat, err := s.catalogTable(ctx, s.meta, ref)
	if err != nil {
		return nil, s.retriable("describe %s: %w", ref, err)
	}
	byName := map[string]*catColumn{}
	for i := range cat {
		byName[cat[i].col.Name] = &cat[i]
	}
	t := &connect.Table{Database: s.db, Schema: m.Namespace, Name: m.RelationName}
	for i, c := range m.Columns {
		typ, notNull, info := "", false, typeInfo{}
		if cc, ok := byName[c.Name]; ok {
			typ, notNull = cc.col.Type, !cc.col.Optional
			if cc.oid == c.DataType {
				info = cc.info
			}
		}
		if typ == "" {
			typ = "oid:" + strconv.FormatUint(uint64(c.DataType), 10)
		}
		t.Columns = append(t.Columns, column(c.Name, c.DataType, c.TypeModifier, typ, notNull, info))
		if c.Flags&1 != 0 {
			t.Key = append(t.Key, i)
		}
	}
	return t, nil
}

// change adds one row change to the current transaction.
func (s *Source) change(op connect.Op, rel uint32, old, new *pglogrepl.TupleData) error {
	if s.tx == nil {
		return s.fatal("row change outside a transaction")
	}
	t, ok := s.relations[rel]
	if !ok {
		return s.fatal("row change of unknown relation %d", rel)
	}
	ev := connect.ChangeEvent{Op: op, Table: t, Topic: s.topic(t), TsMs: time.Now().UnixMilli()}
	var err error
	if old != nil {
		if ev.Before, err = s.tuple(t, old, nil); err != nil {
			return err
		}
	}
	if new != nil {
		if ev.After, err = s.tuple(t, new, ev.Before); err != nil {
			return err
		}
	}
	s.tx.total++
	name := t.Schema + "." + t.Name
	s.tx.perTable[name]++
	ev.Transaction = &connect.Transaction{ID: s.tx.xid, TotalOrder: s.tx.total, DataCollectionOrder: s.tx.perTable[name]}
	ev.Source = s.sourceInfo(t, s.tx.tsMs, "false", s.tx.xid, s.tx.lsn)
	s.tx.events = append(s.tx.events, ev)
	return nil
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
// before when it has one, and is null otherwise (not yet filled in).
func (s *Source) tuple(t *connect.Table, td *pglogrepl.TupleData, before []connect.Value) ([]connect.Value, error) {
	if len(td.Columns) != len(t.Columns) {
		return nil, s.fatal("%s.%s: row has %d columns, relation %d", t.Schema, t.Name, len(td.Columns), len(t.Columns))
	}
	out := make([]connect.Value, len(t.Columns))
	for i, c := range td.Columns {
		col := &t.Columns[i]
		switch c.DataType {
		case pglogrepl.TupleDataTypeText:
			v, err := value(col, c.Data)
			if err != nil {
				return nil, s.fatal("%s.%s: %w", t.Schema, t.Name, err)
			}
			out[i] = v
		case pglogrepl.TupleDataTypeToast:
			if before != nil && !before[i].Null {
				out[i] = before[i]
			} else {
				out[i] = connect.Null(col.Kind)
			}
		case pglogrepl.TupleDataTypeNull:
			out[i] = connect.Null(col.Kind)
		default:
			return nil, s.fatal("%s.%s: column %q: unexpected tuple data type %q", t.Schema, t.Name, col.Name, c.DataType)
		}
	}
	return out, nil
}

func (s *Source) topic(t *connect.Table) string {
	return s.cfg.TopicPrefix + "." + t.Schema + "." + t.Name
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

// Ack records that everything up to pos is durable and confirms it to the
// server.
func (s *Source) Ack(ctx context.Context, pos connect.Position) error {
	lsn, err := ParsePosition(pos)
	if err != nil {
		return s.fatal("ack: position %w", err)
	}
	for {
		cur := s.acked.Load()
		if uint64(lsn) <= cur {
			return nil
		}
		if s.acked.CompareAndSwap(cur, uint64(lsn)) {
			break
		}
	}
	if !s.streaming.Load() {
		return nil // sent once streaming starts
	}
	if err := s.sendStatus(ctx, false); err != nil {
		// The Read loop sends it again at the next heartbeat.
		s.log.Debug("standby status update failed", "lsn", lsn.String(), "err", err)
	}
	return nil
}

// Close releases the connections.
func (s *Source) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.snapTx != nil {
		s.snapTx.Rollback(ctx)
		s.snapTx = nil
	}
	var errs []error
	if s.repl != nil {
		s.sendMu.Lock()
		errs = append(errs, s.repl.Close(ctx))
		s.sendMu.Unlock()
		s.repl = nil
		s.streaming.Store(false)
	}
	if s.meta != nil {
		errs = append(errs, s.meta.Close(ctx))
		s.meta = nil
	}
	return errors.Join(errs...)
}

// Status reports the snapshot rows read and the last acknowledged LSN.
func (s *Source) Status() map[string]any {
	st := map[string]any{"snapshot_rows": s.rows.Load()}
	if a := s.acked.Load(); a != 0 {
		st["acked_lsn"] = pglogrepl.LSN(a).String()
	}
	return st
}
