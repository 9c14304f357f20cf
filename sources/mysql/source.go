package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
)

// KindName is the connector kind's name in config files.
const KindName = "mysql-source"

// maxBatch is the most events in one batch.
const maxBatch = 1000

// Kind is the mysql-source connector kind.
type Kind struct{}

// New returns the mysql-source kind, for a connect.Registry.
func New() *Kind { return &Kind{} }

var _ connect.SourceKind = (*Kind)(nil)

func (*Kind) Name() string       { return KindName }
func (*Kind) Role() connect.Role { return connect.RoleSource }

// Check reports every problem of c's config block.
func (*Kind) Check(c *configs.Connector) []configs.Problem {
	_, problems := ParseConfig(c)
	return problems
}

// Tasks is 1: one binlog, one stream.
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
	s := &Source{name: c.Name, cfg: cfg, log: log, readTopic: env.ReadTopic}
	s.lagMs.Store(-1)
	return s, nil
}

// Flavors of server.
const (
	flavorMariaDB = gomysql.MariaDBFlavor
	flavorMySQL   = gomysql.MySQLFlavor
)

// Source captures the row changes of the configured tables from the
// binlog. Read runs on one goroutine; Ack and Status may run on others:
// they touch only the atomics and statusMu's fields.
type Source struct {
	name      string
	cfg       Config
	log       *slog.Logger
	readTopic func(ctx context.Context, topic string, fn func(connect.Record) error) error

	conn     *client.Conn // preflight, schemas, snapshot (Read's goroutine)
	flavor   string       // flavorMariaDB or flavorMySQL
	version  string
	serverID uint32 // the server's own server_id
	gtidOn   bool

	schemas *schemas
	// start is where streaming starts: after the snapshot, or the
	// stored position.
	start binlogPos

	// Snapshot state (Read's goroutine).
	snap     *snapshotRun
	onlySnap bool // snapshot initial_only: nothing streams after it
	// pending are messages (the schema history of a fresh start) that go
	// with the next positioned batch.
	pending []connect.Message
	// inc is the incremental (ad-hoc) snapshot under way, nil without
	// one; runID tells this run's watermarks from earlier runs'
	// (incremental.go).
	inc   *incremental
	runID string

	// Streaming state (stream.go).
	syncer   *replication.BinlogSyncer
	streamer *replication.BinlogStreamer
	st       *streamState
	queue    []connect.SourceBatch // batches decoded ahead (compressed transactions)
	// zeroWarned lists the columns whose zero dates were logged; the
	// snapshot's workers share it.
	zeroMu     sync.Mutex
	zeroWarned map[string]bool

	// Status, read from other goroutines.
	acked  atomic.Value // string: the last durable position
	rows   atomic.Int64 // snapshot rows read
	events atomic.Int64 // change events streamed
	// lagMs is how far the stream is behind the server, in ms: now
	// minus the timestamp of the last transaction read (whole seconds in
	// the binlog), 0 at a heartbeat (nothing left to read), -1 before the
	// stream starts.
	lagMs    atomic.Int64
	noReload atomic.Bool // snapshot_parallelism fell back to one connection
	// historyRecords and historyBytes are the size of the schema history:
	// the records read from its topic at Open and those written since.
	historyRecords atomic.Int64
	historyBytes   atomic.Int64
	statusMu       sync.Mutex
	statusPrg      *progress
	perTable       map[string]int64 // events streamed per db.table, counted at commits
	history        int              // tables in the schema history
}

var _ connect.Source = (*Source)(nil)

func (s *Source) fatal(format string, args ...any) error {
	return connect.Fatal(fmt.Errorf("%s %q: "+format, append([]any{KindName, s.name}, args...)...))
}

func (s *Source) retriable(format string, args ...any) error {
	return connect.Retriable(fmt.Errorf("%s %q: "+format, append([]any{KindName, s.name}, args...)...))
}

// Open connects, checks the server, loads the schemas and prepares the
// snapshot or the stream (see doc.go).
func (s *Source) Open(ctx context.Context, pos connect.Position) (err error) {
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	var resume binlogPos
	var prog *progress
	if pos != nil {
		if resume, prog, err = parsePosition(pos); err != nil {
			return s.fatal("position %w; the stored offset is damaged or belongs to another connector kind: reset it with \"sluice connectors reset %s\"", err, s.name)
		}
		s.acked.Store(string(pos))
	}
	if s.conn, err = s.connect(ctx); err != nil {
		return err
	}
	if err := s.preflight(ctx); err != nil {
		return err
	}
	if err := s.checkSignalTable(); err != nil {
		return err
	}
	if prog != nil {
		// The tables of an incremental snapshot go on while streaming;
		// the others are an interrupted initial snapshot.
		var initial []tableProgress
		for _, tp := range prog.Tables {
			if tp.Mode == modeIncremental {
				if s.inc == nil {
					s.inc = &incremental{}
				}
				s.inc.tables = append(s.inc.tables, tp)
			} else {
				initial = append(initial, tp)
			}
		}
		prog = nil
		if len(initial) > 0 {
			prog = &progress{Tables: initial}
		}
	}
	s.schemas = newSchemas()
	s.onlySnap = s.cfg.Snapshot == SnapshotInitialOnly

	switch {
	case pos == nil && s.cfg.Snapshot == SnapshotNever:
		// Stream from the server's current position, with today's schemas.
		if s.start, err = s.currentPos(ctx); err != nil {
			return err
		}
		if err := s.loadSchemas(ctx, s.conn); err != nil {
			return err
		}
		s.pending = s.historyOfAll()
	case pos == nil:
		if err := s.startSnapshot(ctx, nil); err != nil {
			return err
		}
	default:
		if err := s.loadHistory(ctx); err != nil {
			return err
		}
		purged, err := s.purged(ctx, resume)
		if err != nil {
			return err
		}
		switch {
		case purged && s.cfg.Snapshot == SnapshotWhenNeeded:
			s.log.Warn("the stored binlog position was purged from the server: taking a new snapshot", "position", string(pos))
			s.schemas, s.pending = newSchemas(), nil
			if err := s.startSnapshot(ctx, nil); err != nil {
				return err
			}
		case purged && !s.onlySnap:
			return connect.ResyncNeeded(fmt.Errorf("%s %q: the binlog at the stored position %s was purged from the server, so the changes after it are lost: run \"sluice connectors reset %s\" to take a new snapshot (or set snapshot: when_needed to do so by itself)", KindName, s.name, describePos(resume), s.name))
		case prog != nil && s.cfg.SignalTable != nil && s.keyed(prog):
			// An interrupted snapshot, with a signal table: the rest is
			// read as an incremental snapshot merged with the stream
			// from the first snapshot's position (incremental.go).
			s.start = resume
			if s.inc == nil {
				s.inc = &incremental{}
			}
			for _, tp := range prog.Tables {
				tp.Mode = modeIncremental
				s.inc.tables = append(s.inc.tables, tp)
			}
			s.setStatusProgress(s.incProgress())
			s.log.Info("resuming an interrupted snapshot as an incremental one", "tables", len(prog.Tables))
		case prog != nil:
			// An interrupted snapshot: the rest is read in a new
			// consistent snapshot, then streaming goes on from the
			// first snapshot's position (snapshot.go).
			s.start = resume
			s.log.Info("resuming an interrupted snapshot", "tables", len(prog.Tables))
			if err := s.startSnapshot(ctx, prog); err != nil {
				return err
			}
		default:
			s.start = resume
		}
	}
	s.countTables(nil)
	s.log.Info("mysql source open", "flavor", s.flavor, "version", s.version, "server_id", s.cfg.ServerID,
		"tables", len(s.schemas.tables), "start", describePos(s.start), "snapshot", s.snap != nil)
	return nil
}

// keyed reports whether every table of prog has a primary key in the
// schemas, so that an incremental snapshot can read it.
func (s *Source) keyed(prog *progress) bool {
	for _, tp := range prog.Tables {
		if t := s.schemas.tables[tp.Table]; t == nil || len(t.Key) == 0 {
			return false
		}
	}
	return true
}

// connect opens a connection for queries.
func (s *Source) connect(ctx context.Context) (*client.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// A server that stops answering (a lost route) must not hold a
	// query, or the handshake, forever: every read and write waits at
	// most connTimeout, and the error is retriable.
	conn, err := client.ConnectWithDialer(cctx, "", s.cfg.Addr, s.cfg.User, s.cfg.Password, "", timeoutDialer(connTimeout))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var me *gomysql.MyError
		if errors.As(err, &me) && (me.Code == gomysql.ER_ACCESS_DENIED_ERROR || me.Code == gomysql.ER_DBACCESS_DENIED_ERROR) {
			return nil, s.fatal("connect to %s as %s: %w; check config.user and config.password", s.cfg.Addr, s.cfg.User, err)
		}
		return nil, s.retriable("connect to %s: %w", s.cfg.Addr, err)
	}
	// Times in UTC; strings in their columns' own character sets, as
	// the binlog has them (values.go).
	for _, q := range []string{"SET time_zone = '+00:00'", "SET NAMES utf8mb4", "SET character_set_results = NULL"} {
		if _, err := conn.Execute(q); err != nil {
			conn.Close()
			return nil, s.retriable("%s: %w", q, err)
		}
	}
	return conn, nil
}

// connTimeout bounds each read and write of a query connection.
const connTimeout = time.Minute

// query runs a query and returns its rows as strings (NULL as "").
func query(conn *client.Conn, q string) ([][]string, error) {
	r, err := conn.Execute(q)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := make([][]string, len(r.Values))
	for i, row := range r.Values {
		out[i] = make([]string, len(row))
		for j, v := range row {
			switch v.Type {
			case gomysql.FieldValueTypeNull:
			case gomysql.FieldValueTypeString:
				out[i][j] = string(v.AsString())
			default:
				out[i][j] = fmt.Sprint(v.Value())
			}
		}
	}
	return out, nil
}

// preflight checks that the server writes a binlog this source can read,
// that the user may read it, and that config.server_id is not the
// server's own.
func (s *Source) preflight(ctx context.Context) error {
	rows, err := query(s.conn, "SELECT @@version, @@server_id, @@log_bin, @@binlog_format, @@binlog_row_image")
	if err != nil || len(rows) != 1 {
		return s.retriable("read server variables: %w", err)
	}
	v := rows[0]
	s.version = v[0]
	s.flavor = flavorMySQL
	if strings.Contains(strings.ToLower(s.version), "mariadb") {
		s.flavor = flavorMariaDB
	}
	id, _ := strconv.ParseUint(v[1], 10, 32)
	s.serverID = uint32(id)
	if v[2] != "1" && !strings.EqualFold(v[2], "ON") {
		return s.fatal("the server at %s writes no binlog (log_bin is off): add log_bin=binlog to the [mysqld] section of my.cnf and restart the server", s.cfg.Addr)
	}
	if !strings.EqualFold(v[3], "ROW") {
		return s.fatal("the server's binlog_format is %s, not ROW: run SET GLOBAL binlog_format = 'ROW' (sessions already open keep the old format) and add binlog_format=ROW to the [mysqld] section of my.cnf", v[3])
	}
	if !strings.EqualFold(v[4], "FULL") {
		return s.fatal("the server's binlog_row_image is %s, not FULL: run SET GLOBAL binlog_row_image = 'FULL' and add binlog_row_image=FULL to the [mysqld] section of my.cnf", v[4])
	}
	if s.cfg.ServerID == s.serverID {
		return s.fatal("config.server_id %d is the server's own server_id: give the connector another one (each replica of a server needs its own)", s.cfg.ServerID)
	}
	if s.flavor == flavorMariaDB {
		s.gtidOn = true // MariaDB always has GTIDs
	} else {
		rows, err := query(s.conn, "SELECT @@GLOBAL.gtid_mode")
		s.gtidOn = err == nil && len(rows) == 1 && strings.EqualFold(rows[0][0], "ON")
	}
	return s.checkGrants()
}

// checkGrants checks the user's privileges: REPLICATION SLAVE,
// REPLICATION CLIENT (MariaDB 10.5+ shows it as BINLOG MONITOR) and
// SELECT.
func (s *Source) checkGrants() error {
	rows, err := query(s.conn, "SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return s.retriable("SHOW GRANTS: %w", err)
	}
	global := ""
	all := ""
	for _, r := range rows {
		g := strings.ToUpper(r[0])
		all += g + "\n"
		if strings.Contains(g, " ON *.* ") {
			global += g + "\n"
		}
	}
	has := func(p string) bool {
		return strings.Contains(global, "ALL PRIVILEGES") || strings.Contains(global, p)
	}
	var missing []string
	if !has("REPLICATION SLAVE") {
		missing = append(missing, "REPLICATION SLAVE")
	}
	if !has("REPLICATION CLIENT") && !has("BINLOG MONITOR") {
		missing = append(missing, "REPLICATION CLIENT")
	}
	if !has("SELECT") && !strings.Contains(all, "SELECT") && !strings.Contains(all, "ALL PRIVILEGES") {
		missing = append(missing, "SELECT")
	}
	if len(missing) > 0 {
		user := s.cfg.User
		if r, err := query(s.conn, "SELECT CURRENT_USER()"); err == nil && len(r) == 1 {
			if u, h, ok := strings.Cut(r[0][0], "@"); ok {
				user = "'" + u + "'@'" + h + "'"
			}
		}
		return s.fatal("user %s lacks %s: run GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO %s", s.cfg.User, strings.Join(missing, ", "), user)
	}
	return nil
}

// currentPos returns the server's current binlog position.
func (s *Source) currentPos(ctx context.Context) (binlogPos, error) {
	rows, err := query(s.conn, "SHOW MASTER STATUS")
	if err != nil {
		return binlogPos{}, s.retriable("SHOW MASTER STATUS: %w", err)
	}
	if len(rows) != 1 || len(rows[0]) < 2 {
		return binlogPos{}, s.fatal("SHOW MASTER STATUS returned no binlog: is log_bin on?")
	}
	p, _ := strconv.ParseUint(rows[0][1], 10, 32)
	bp := binlogPos{File: rows[0][0], Pos: uint32(p)}
	if err := s.fillGTID(&bp); err != nil {
		return binlogPos{}, err
	}
	return bp, nil
}

// fillGTID sets bp.GTID to the GTID set at bp's file and offset.
func (s *Source) fillGTID(bp *binlogPos) error {
	if !s.gtidOn {
		return nil
	}
	var q string
	if s.flavor == flavorMariaDB {
		q = fmt.Sprintf("SELECT BINLOG_GTID_POS('%s', %d)", strings.ReplaceAll(bp.File, "'", "''"), bp.Pos)
	} else {
		q = "SELECT @@GLOBAL.gtid_executed"
	}
	rows, err := query(s.conn, q)
	if err != nil || len(rows) != 1 {
		return s.retriable("%s: %w", q, err)
	}
	g := strings.ReplaceAll(strings.ReplaceAll(rows[0][0], "\n", ""), " ", "")
	if g == "" {
		return nil
	}
	set, err := parseGTIDSet(g)
	if err != nil {
		return s.fatal("%s returned %q: %w", q, g, err)
	}
	bp.GTID = set.String()
	return nil
}

// purged reports whether the binlog at bp is gone from the server.
func (s *Source) purged(ctx context.Context, bp binlogPos) (bool, error) {
	if bp.GTID != "" && s.flavor == flavorMySQL {
		rows, err := query(s.conn, "SELECT GTID_SUBSET(@@GLOBAL.gtid_purged, '"+strings.ReplaceAll(bp.GTID, "'", "")+"')")
		if err == nil && len(rows) == 1 {
			return rows[0][0] != "1", nil
		}
	}
	rows, err := query(s.conn, "SHOW BINARY LOGS")
	if err != nil {
		return false, s.retriable("SHOW BINARY LOGS: %w", err)
	}
	for _, r := range rows {
		if r[0] == bp.File {
			return false, nil
		}
	}
	if bp.GTID != "" && s.flavor == flavorMariaDB && len(rows) > 0 {
		// After a failover the file names differ; the GTID position is
		// still good if it is not older than the oldest binlog.
		q := fmt.Sprintf("SELECT BINLOG_GTID_POS('%s', 4)", strings.ReplaceAll(rows[0][0], "'", "''"))
		if r, err := query(s.conn, q); err == nil && len(r) == 1 {
			return !gtidNotOlder(bp.GTID, r[0][0]), nil
		}
	}
	return true, nil
}

// gtidNotOlder reports whether MariaDB GTID position a is at or after b in
// every domain b has.
func gtidNotOlder(a, b string) bool {
	as, err1 := gomysql.ParseMariadbGTIDSet(a)
	bs, err2 := gomysql.ParseMariadbGTIDSet(b)
	if err1 != nil || err2 != nil {
		return false
	}
	am, bm := as.(*gomysql.MariadbGTIDSet), bs.(*gomysql.MariadbGTIDSet)
	for d, g := range bm.Sets {
		ag, ok := am.Sets[d]
		if !ok || ag.SequenceNumber < g.SequenceNumber {
			return false
		}
	}
	return true
}

func describePos(bp binlogPos) string {
	s := bp.File + ":" + strconv.FormatUint(uint64(bp.Pos), 10)
	if bp.GTID != "" {
		s += " (GTID " + bp.GTID + ")"
	}
	return s
}

// Read returns the next batch: snapshot chunks first, then one batch per
// transaction (or per maxBatch events of a large one).
func (s *Source) Read(ctx context.Context) (connect.SourceBatch, error) {
	b, err := s.read(ctx)
	if err == nil {
		s.countHistory(b.Messages)
	}
	return b, err
}

// countHistory adds the schema history records among msgs to the status,
// with their size as the json converter writes them.
func (s *Source) countHistory(msgs []connect.Message) {
	topic := historyTopic(s.name)
	for i := range msgs {
		if msgs[i].Topic != topic {
			continue
		}
		s.historyRecords.Add(1)
		if k, v, err := historyConverter.Encode(&msgs[i]); err == nil {
			s.historyBytes.Add(int64(len(k) + len(v)))
		}
	}
}

// historyConverter measures schema history records for the status.
var historyConverter, _ = connect.NewConverter("json")

func (s *Source) read(ctx context.Context) (connect.SourceBatch, error) {
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
	if s.streamer == nil {
		if err := s.startStreaming(ctx); err != nil {
			if ctx.Err() != nil {
				return connect.SourceBatch{}, ctx.Err()
			}
			return connect.SourceBatch{}, err
		}
		if len(s.pending) > 0 {
			b := connect.SourceBatch{Messages: s.pending, Position: encodePosition(s.start, nil)}
			s.pending = nil
			return b, nil
		}
	}
	b, err := s.readStream(ctx)
	if err != nil && ctx.Err() != nil {
		return connect.SourceBatch{}, ctx.Err()
	}
	return b, err
}

// Ack records that everything up to pos is durable. MySQL has nothing to
// confirm; the position shows in the status.
func (s *Source) Ack(ctx context.Context, pos connect.Position) error {
	if _, _, err := parsePosition(pos); err != nil {
		return s.fatal("ack: position %w", err)
	}
	s.acked.Store(string(pos))
	return nil
}

// Close releases the connections.
func (s *Source) Close() error {
	s.stopSnapshot()
	if s.syncer != nil {
		s.syncer.Close()
		s.syncer, s.streamer = nil, nil
	}
	var err error
	if s.conn != nil {
		err = s.conn.Close()
		s.conn = nil
	}
	return err
}

// Status reports the snapshot's progress, the rows and events read (in
// all and per table), the last durable position, the seconds the stream is
// behind the server, and the size of the schema history (tables, records,
// bytes). The runtime exports its numbers as sluice_source_status_* gauges.
func (s *Source) Status() map[string]any {
	st := map[string]any{"snapshot_rows": s.rows.Load(), "events": s.events.Load()}
	if a, ok := s.acked.Load().(string); ok && a != "" {
		st["acked_position"] = a
	}
	if l := s.lagMs.Load(); l >= 0 {
		st["seconds_behind_source"] = float64(l) / 1000
	}
	if s.noReload.Load() {
		st["snapshot_warning"] = "snapshot_parallelism needs the RELOAD privilege (GRANT RELOAD ON *.* TO the user): the snapshot reads one table at a time"
	}
	st["schema_history_records"] = s.historyRecords.Load()
	st["schema_history_bytes"] = s.historyBytes.Load()
	s.statusMu.Lock()
	p := s.statusPrg
	if len(s.perTable) > 0 {
		per := map[string]any{}
		for k, v := range s.perTable {
			per[k] = v
		}
		st["events_per_table"] = per
	}
	st["schema_history_tables"] = s.history
	s.statusMu.Unlock()
	if p != nil {
		tables := map[string]any{}
		for _, tp := range p.Tables {
			tables[tp.Table] = map[string]any{"rows_done": tp.Done, "rows_total": max(tp.Total, tp.Done)}
		}
		st["snapshot_tables"] = tables
	}
	return st
}

func (s *Source) setStatusProgress(p *progress) {
	c := p.clone()
	if c != nil && len(c.Tables) == 0 {
		c = nil
	}
	s.statusMu.Lock()
	s.statusPrg = c
	s.statusMu.Unlock()
}

// countTables adds a transaction's events per table to the status, with
// the size of the schema history.
func (s *Source) countTables(per map[string]int64) {
	s.statusMu.Lock()
	defer s.statusMu.Unlock()
	if s.perTable == nil {
		s.perTable = map[string]int64{}
	}
	for k, v := range per {
		s.perTable[k] += v
	}
	s.history = len(s.schemas.tables)
}

// captured reports whether the config captures db.table.
func (s *Source) captured(db, table string) bool {
	for _, r := range s.cfg.Tables {
		if r.matches(db, table) {
			return true
		}
	}
	return false
}

// hostPort splits config.addr.
func hostPort(addr string) (string, uint16) {
	h, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.ParseUint(p, 10, 16)
	return h, uint16(n)
}
