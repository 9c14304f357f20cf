package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	return &Source{name: c.Name, cfg: cfg, log: log, previous: env.Previous}, nil
}

// Source captures the changes of the configured tables through a logical
// replication slot with pgoutput. Read runs on one goroutine; Ack and Status
// may run on others: they touch only acked and, under sendMu, the
// replication connection's write side.
type Source struct {
	name string
	cfg  Config
	log  *slog.Logger

	pcfg *pgx.ConnConfig // how to connect (snapshot workers, snapshot requests)
	meta *pgx.Conn       // preflight, snapshot chunks, catalog look-ups (Read's goroutine)
	repl *pgconn.PgConn  // the replication connection
	db   string          // the database's name

	sendMu    sync.Mutex // guards writes to repl
	streaming atomic.Bool
	statusDue atomic.Bool   // an Ack moved acked: the Read loop sends the status
	dl        deadline      // the replication connection's read deadline (stream.go)
	acked     atomic.Uint64 // the last durable LSN; 0 none

	startLSN pglogrepl.LSN // where streaming starts; 0 = the slot's confirmed position
	tables   []TableRef    // the resolved tables

	// Snapshot state (Read's goroutine).
	prog     *progress        // the tables being snapshotted; nil none
	snap     *initialSnapshot // the initial snapshot's workers, while they run
	onlySnap bool             // snapshot initial_only: nothing streams
	win      *window          // the incremental snapshot's open chunk
	prevWin  *window
	winSeq   int64
	winRun   string // this run's random part of window ids
	// The ids of the transactions decoded last (a ring): a chunk whose
	// snapshot does not yet see one of them is read again.
	recentXids [1024]uint32
	recentNext int
	lastPos    pglogrepl.LSN // the LSN of the last position Read returned
	lastRecv   time.Time     // when the replication connection last brought a message
	// heartbeatOK says the last heartbeat was written: its echo is then
	// expected every heartbeat interval.
	heartbeatOK bool

	// Status, read from other goroutines.
	statusMu   sync.Mutex
	statusProg *progress
	snapFailed atomic.Value // string: a table whose incremental snapshot was given up
	slotLag    atomic.Int64 // bytes of WAL the slot holds back; -1 unknown
	replLagMs  atomic.Int64 // commit to read, of the last transaction

	topics map[[2]string]string // by schema, table (Read's goroutine)

	// Unchanged TOAST values (toast.go).
	previous    func(context.Context, *connect.ChangeEvent) ([]connect.Value, bool, error)
	images      imageCache
	unavailable atomic.Int64 // values given the placeholder

	// Streaming state.
	relations     map[uint32]*connect.Table
	tx            *txState
	pendingCommit *pglogrepl.CommitMessage // a commit to emit after the pending events
	nextHeartbeat time.Time
	rows          atomic.Int64
}

// txState is the transaction being decoded.
type txState struct {
	xid32     uint32
	xid       string
	watermark string // the content of a snapshot watermark in the transaction
	tsMs      int64
	lsn       pglogrepl.LSN
	total     int64
	perTable  map[[2]string]int64 // by schema, table
	extra     []connect.Field     // the source block's extra fields (lsn), shared by the events
	events    []connect.ChangeEvent
}

var _ connect.Source = (*Source)(nil)

func (s *Source) fatal(format string, args ...any) error {
	return connect.Fatal(fmt.Errorf("%s %q: "+format, append([]any{KindName, s.name}, args...)...))
}

func (s *Source) retriable(format string, args ...any) error {
	return connect.Retriable(fmt.Errorf("%s %q: "+format, append([]any{KindName, s.name}, args...)...))
}

// connectError classes a failed connection: a wrong password, a role or
// address pg_hba.conf refuses, or a missing database is fatal (retrying
// cannot fix them); anything else, such as a refused or cut connection,
// is retriable.
func (s *Source) connectError(what string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "28P01" || pgErr.Code == "28000" || pgErr.Code == "3D000") {
		return s.fatal("%s: %w; check the user, password and database of config.dsn, and the server's pg_hba.conf (the role needs the REPLICATION attribute and a replication entry)", what, err)
	}
	return s.retriable("%s: %w", what, err)
}

// Open connects, checks the server, makes the publication and the slot if
// they are missing, and prepares the snapshot or the stream. A snapshot
// interrupted after some of its chunks became durable goes on after them
// (see snapshot.go).
func (s *Source) Open(ctx context.Context, pos connect.Position) (err error) {
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.slotLag.Store(-1)
	var resume pglogrepl.LSN
	var prog *progress
	if pos != nil {
		lsn, p, err := parsePosition(pos)
		if err != nil {
			return s.fatal("position %w; the stored offset is damaged or belongs to another connector kind: reset it with \"sluice connectors reset %s\"", err, s.name)
		}
		resume, prog = lsn, p
		s.acked.Store(uint64(lsn))
		s.lastPos = lsn
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
	s.pcfg = pcfg
	if s.meta, err = pgx.ConnectConfig(ctx, pcfg); err != nil {
		return s.connectError("connect", err)
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
	if err := s.preflight(ctx); err != nil { // preflight.go
		return err
	}
	s.onlySnap = s.cfg.Snapshot == SnapshotInitialOnly
	if err := s.publication(ctx, pos != nil); err != nil {
		return err
	}

	rcfg := pcfg.Config.Copy()
	rcfg.RuntimeParams["replication"] = "database"
	if s.repl, err = pgconn.ConnectConfig(ctx, rcfg); err != nil {
		return s.connectError("replication connection", err)
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
	switch {
	case s.onlySnap && pos != nil:
		// Nothing streams. An interrupted snapshot reads the rest of
		// its tables in a new snapshot (its temporary slot is gone).
		if prog != nil {
			s.prog = prog
			s.startSnapshot("")
		}
	case pos != nil && !slotExists && s.cfg.Snapshot != SnapshotWhenNeeded:
		return connect.ResyncNeeded(fmt.Errorf("%s %q: replication slot %s does not exist, so the changes after %s are lost: run \"sluice connectors reset %s\" to take a new snapshot", KindName, s.name, s.cfg.Slot, resume, s.name))
	case pos != nil && slotExists:
		// Stream from the position; a snapshot under way goes on as an
		// incremental snapshot merged with the stream.
		s.startLSN, s.prog = resume, prog
		if prog != nil {
			s.log.Info("resuming an interrupted snapshot while streaming", "tables", len(prog.Tables))
		}
	case !needSnapshot && slotExists:
		// Stream from the slot's confirmed position.
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
			s.prog = &progress{}
			for _, r := range s.tables {
				s.prog.Tables = append(s.prog.Tables, tableProgress{Table: r.String(), Mode: modeInitial})
			}
			s.startSnapshot(res.SnapshotName)
		}
	}
	s.relations = map[uint32]*connect.Table{}
	s.setStatusProgress(s.prog)
	s.log.Info("postgres source open", "slot", s.cfg.Slot, "publication", s.cfg.Publication, "tables", len(s.tables), "start_lsn", s.startLSN.String(), "snapshot", s.snap != nil)
	return nil
}

// Read returns the next batch: snapshot rows first, then one batch per
// transaction (or per maxBatch events of a large one).
func (s *Source) Read(ctx context.Context) (connect.SourceBatch, error) {
	if err := ctx.Err(); err != nil {
		return connect.SourceBatch{}, err
	}
	if s.snap != nil {
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
	// Only the Read goroutine uses the replication connection (pgconn
	// may close it from a read, racing a write from here): wake it to
	// send the standby status update.
	s.statusDue.Store(true)
	s.dl.wake()
	return nil
}

// Close releases the connections.
func (s *Source) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.stopSnapshot()
	var errs []error
	if s.repl != nil {
		if s.streaming.Load() && s.statusDue.Load() {
			// Read has returned: confirm the last acknowledged position
			// before leaving.
			s.sendStatus(ctx, false)
		}
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

// Status reports the snapshot's progress per table, the rows snapshotted,
// the last acknowledged LSN, the slot's lag in bytes of WAL and the
// replication lag.
func (s *Source) Status() map[string]any {
	st := map[string]any{"snapshot_rows": s.rows.Load()}
	if a := s.acked.Load(); a != 0 {
		st["acked_lsn"] = pglogrepl.LSN(a).String()
	}
	if l := s.slotLag.Load(); l >= 0 {
		st["slot_lag_bytes"] = l
	}
	if l := s.replLagMs.Load(); l > 0 {
		st["replication_lag_seconds"] = float64(l) / 1000
	}
	if n := s.unavailable.Load(); n > 0 {
		st["toast_placeholders"] = n
	}
	if f, ok := s.snapFailed.Load().(string); ok {
		st["snapshot_failed_table"] = f
	}
	s.statusMu.Lock()
	p := s.statusProg
	s.statusMu.Unlock()
	if p != nil {
		tables := map[string]any{}
		for _, tp := range p.Tables {
			tables[tp.Table] = map[string]any{"mode": tp.Mode, "rows_done": tp.Done, "rows_total": max(tp.Total, tp.Done)}
		}
		st["snapshot_tables"] = tables
	}
	return st
}

// setStatusProgress publishes a copy of the snapshot progress for Status.
func (s *Source) setStatusProgress(p *progress) {
	c := p.clone()
	if c != nil && len(c.Tables) == 0 {
		c = nil
	}
	s.statusMu.Lock()
	s.statusProg = c
	s.statusMu.Unlock()
}
