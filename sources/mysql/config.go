package mysql

import (
	"fmt"
	"hash/fnv"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/configs"
)

// Config is a mysql-source's config block, with every default filled.
type Config struct {
	Addr     string // addr: required, host:port.
	User     string // user: required.
	Password string // password. Default: empty.
	// ServerID is server_id: the id the source registers with as a
	// replica; it must differ from the server's own and from every other
	// replica's. Default: DefaultServerID(connector name), in
	// 5400..2^31-1.
	ServerID uint32
	Tables   []TableRef // tables: required, db.table or db.*.
	// Snapshot is snapshot: initial | never | when_needed |
	// initial_only. Default: initial.
	Snapshot          string
	TopicPrefix       string        // topic_prefix. Default: the connector's name.
	HeartbeatInterval time.Duration // heartbeat_interval. Default: 10s.
	// SnapshotChunkSize is snapshot_chunk_size: the rows of one snapshot
	// chunk (one batch, one stored position). Default: 1024.
	SnapshotChunkSize int
	// SnapshotParallelism is snapshot_parallelism: how many tables the
	// initial snapshot reads at once, each on its own connection.
	// Default: 1.
	SnapshotParallelism int
	// SignalTable is signal_table: the table (Debezium's layout: id,
	// type, data) that ad-hoc snapshot requests and their watermarks
	// are written to. Default: none, and no ad-hoc snapshots.
	SignalTable *TableRef
}

// TableRef is one entry of tables: a database and a table name, or "*"
// for every table of the database.
type TableRef struct {
	Database, Table string
}

func (r TableRef) String() string { return r.Database + "." + r.Table }

// matches reports whether the table db.table is r or matched by r.
func (r TableRef) matches(db, table string) bool {
	return r.Database == db && (r.Table == "*" || r.Table == table)
}

// Snapshot modes.
const (
	SnapshotInitial     = "initial"
	SnapshotNever       = "never"
	SnapshotWhenNeeded  = "when_needed"
	SnapshotInitialOnly = "initial_only"
)

// SnapshotModes lists the snapshot modes.
var SnapshotModes = []string{SnapshotInitial, SnapshotNever, SnapshotWhenNeeded, SnapshotInitialOnly}

const (
	// DefaultSnapshotChunkSize is snapshot_chunk_size's default.
	DefaultSnapshotChunkSize = 1024
	// DefaultHeartbeatInterval is heartbeat_interval's default.
	DefaultHeartbeatInterval = 10 * time.Second
	// minServerID and maxServerID bound the default server ids: above
	// the small ids people give servers by hand, below 2^31 (some tools
	// read server ids as signed).
	minServerID = 5400
	maxServerID = 1<<31 - 1
)

var keys = []string{"addr", "user", "password", "server_id", "tables", "snapshot", "topic_prefix", "heartbeat_interval", "snapshot_chunk_size", "snapshot_parallelism", "signal_table"}

var (
	// ident is an unquoted MySQL identifier as the tables list takes it.
	ident     = regexp.MustCompile(`^[A-Za-z0-9_$]+$`)
	topicPart = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// DefaultServerID returns the default server_id of a connector: a hash of
// its name in 5400..2^31-1, so that two connectors with different names
// almost surely register with different ids. Set server_id when several
// sluice connectors or other replicas read one server and a clash matters.
func DefaultServerID(connector string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(connector))
	return minServerID + h.Sum32()%(maxServerID-minServerID+1)
}

// ParseConfig reads connector c's config block, fills the defaults and
// checks the result, returning every problem found. It does not connect.
func ParseConfig(c *configs.Connector) (Config, []configs.Problem) {
	cfg := Config{
		ServerID:          DefaultServerID(c.Name),
		Snapshot:          SnapshotInitial,
		TopicPrefix:       c.Name,
		HeartbeatInterval: DefaultHeartbeatInterval,
		SnapshotChunkSize: DefaultSnapshotChunkSize,

		SnapshotParallelism: 1,
	}
	ck := &configs.BlockChecker{Problems: configs.CheckKeys(c.Config, "config", keys)}
	es := configs.Entries(c.Config)

	if e, ok := es["addr"]; !ok {
		ck.Report(c.Config, "config.addr", "missing", "give the server's host:port, such as 127.0.0.1:3306")
	} else if ck.Text(e.Value, "config.addr", &cfg.Addr) {
		host, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil || host == "" {
			ck.Report(e.Value, "config.addr", fmt.Sprintf("%q is not host:port", configs.Clip(cfg.Addr)), "write such as 127.0.0.1:3306")
		} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			ck.Report(e.Value, "config.addr", fmt.Sprintf("port %q is not a number from 1 to 65535", configs.Clip(port)), "write such as 127.0.0.1:3306")
		}
	}
	if e, ok := es["user"]; !ok {
		ck.Report(c.Config, "config.user", "missing", "name a user with REPLICATION SLAVE, REPLICATION CLIENT and SELECT")
	} else if ck.Text(e.Value, "config.user", &cfg.User) && cfg.User == "" {
		ck.Report(e.Value, "config.user", "empty", "name a user with REPLICATION SLAVE, REPLICATION CLIENT and SELECT")
	}
	if e, ok := es["password"]; ok {
		ck.Text(e.Value, "config.password", &cfg.Password)
	}
	if e, ok := es["server_id"]; ok {
		var n int64
		if ck.Integer(e.Value, "config.server_id", &n) {
			if n < 1 || n > 1<<32-1 {
				ck.Report(e.Value, "config.server_id", fmt.Sprintf("%d is out of range", n), "use 1 to 4294967295, different from the server's own server_id and every other replica's")
			} else {
				cfg.ServerID = uint32(n)
			}
		}
	}

	if e, ok := es["tables"]; !ok {
		ck.Report(c.Config, "config.tables", "missing", "list the tables to capture, such as [shop.customers, shop.*]")
	} else {
		cfg.Tables = tables(ck, e.Value)
	}

	if e, ok := es["snapshot"]; ok {
		if ck.Text(e.Value, "config.snapshot", &cfg.Snapshot) && !slices.Contains(SnapshotModes, cfg.Snapshot) {
			hint := configs.DidYouMean(cfg.Snapshot, SnapshotModes)
			if hint == "" {
				hint = "use one of: " + strings.Join(SnapshotModes, ", ")
			}
			ck.Report(e.Value, "config.snapshot", fmt.Sprintf("unknown snapshot mode %q", configs.Clip(cfg.Snapshot)), hint)
		}
	}

	if e, ok := es["topic_prefix"]; ok {
		if ck.Text(e.Value, "config.topic_prefix", &cfg.TopicPrefix) && cfg.TopicPrefix != "" && !topicPart.MatchString(cfg.TopicPrefix) {
			ck.Report(e.Value, "config.topic_prefix", fmt.Sprintf("%q cannot be part of a topic name", configs.Clip(cfg.TopicPrefix)), "use letters, digits, '.', '_' and '-'")
		}
	}
	if cfg.TopicPrefix == "" {
		ck.Report(c.Config, "config.topic_prefix", "missing", "name the connector, or set topic_prefix")
	}

	if e, ok := es["heartbeat_interval"]; ok {
		var s string
		if ck.Text(e.Value, "config.heartbeat_interval", &s) {
			d, err := time.ParseDuration(s)
			switch {
			case err != nil:
				ck.Report(e.Value, "config.heartbeat_interval", fmt.Sprintf("%q is not a duration", configs.Clip(s)), "write a duration such as 10s")
			case d < 100*time.Millisecond || d > time.Hour:
				ck.Report(e.Value, "config.heartbeat_interval", fmt.Sprintf("%s is out of range", d), "use 100ms to 1h")
			default:
				cfg.HeartbeatInterval = d
			}
		}
	}
	ck.IntRange(es, "snapshot_chunk_size", &cfg.SnapshotChunkSize, 1, 1<<20)
	ck.IntRange(es, "snapshot_parallelism", &cfg.SnapshotParallelism, 1, 64)
	if e, ok := es["signal_table"]; ok {
		var name string
		if ck.Text(e.Value, "config.signal_table", &name) {
			db, table, ok := strings.Cut(name, ".")
			if !ok || !ident.MatchString(db) || !ident.MatchString(table) {
				ck.Report(e.Value, "config.signal_table", fmt.Sprintf("%q is not db.table", configs.Clip(name)), "name the signal table as db.table, such as shop.sluice_signal")
			} else {
				cfg.SignalTable = &TableRef{Database: db, Table: table}
			}
		}
	}
	return cfg, ck.Problems
}

// tables decodes the tables list.
func tables(ck *configs.BlockChecker, n *yaml.Node) []TableRef {
	var out []TableRef
	for _, r := range ck.TableList(n, "config.tables", "db", "shop", ident) {
		out = append(out, TableRef{Database: r[0], Table: r[1]})
	}
	return out
}
