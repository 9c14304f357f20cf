package postgres

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/configs"
)

// Config is a postgres-source's config block, with every default filled.
type Config struct {
	DSN               string        // dsn: required, a libpq URL or key=value string.
	Tables            []TableRef    // tables: required, schema.table or schema.*.
	Slot              string        // slot. Default: "sluice_<connector name>".
	Publication       string        // publication. Default: as slot.
	Snapshot          string        // snapshot: initial | never | when_needed | initial_only. Default: initial.
	TopicPrefix       string        // topic_prefix. Default: the connector's name.
	CreatePublication bool          // create_publication. Default: true.
	HeartbeatInterval time.Duration // heartbeat_interval. Default: 10s.
	// SnapshotParallelism is snapshot_parallelism: how many tables the
	// initial snapshot reads at once, each on its own connection.
	// Default: 1.
	SnapshotParallelism int
	// SnapshotChunkSize is snapshot_chunk_size: the rows of one snapshot
	// chunk (one batch, one stored position). Default: 1024.
	SnapshotChunkSize int
	// KeyColumns is key_columns: the key of a table, by table, in place
	// of its primary key (or replica identity index). Each table is one
	// of tables or matched by one of its patterns; Open checks that the
	// columns exist, are NOT NULL and unique. Default: none.
	KeyColumns map[TableRef][]string
}

// TableRef is one entry of tables: a schema and a table name, or "*" for
// every table of the schema.
type TableRef struct {
	Schema, Table string
}

func (r TableRef) String() string { return r.Schema + "." + r.Table }

// Snapshot modes.
const (
	SnapshotInitial     = "initial"
	SnapshotNever       = "never"
	SnapshotWhenNeeded  = "when_needed"
	SnapshotInitialOnly = "initial_only"
)

// SnapshotModes lists the snapshot modes.
var SnapshotModes = []string{SnapshotInitial, SnapshotNever, SnapshotWhenNeeded, SnapshotInitialOnly}

// DefaultSnapshotChunkSize is snapshot_chunk_size's default, Debezium's
// incremental.snapshot.chunk.size.
const DefaultSnapshotChunkSize = 1024

// DefaultHeartbeatInterval is heartbeat_interval's default.
const DefaultHeartbeatInterval = 10 * time.Second

var keys = []string{"dsn", "tables", "slot", "publication", "snapshot", "topic_prefix", "create_publication", "heartbeat_interval", "snapshot_parallelism", "snapshot_chunk_size", "key_columns"}

var (
	// ident is an unquoted Postgres identifier as the tables list takes it.
	ident = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)
	// slotName is what a replication slot name may hold.
	slotName  = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	topicPart = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)
)

// DefaultSlot returns the default slot and publication name of a connector:
// "sluice_" and the name, lower-cased, with characters other than letters,
// digits and '_' turned into '_'.
func DefaultSlot(connector string) string {
	var b strings.Builder
	b.WriteString("sluice_")
	for _, r := range strings.ToLower(connector) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// ParseConfig reads connector c's config block, fills the defaults and
// checks the result, returning every problem found. It does not connect.
func ParseConfig(c *configs.Connector) (Config, []configs.Problem) {
	cfg := Config{
		Slot:              DefaultSlot(c.Name),
		Publication:       DefaultSlot(c.Name),
		Snapshot:          SnapshotInitial,
		TopicPrefix:       c.Name,
		CreatePublication: true,
		HeartbeatInterval: DefaultHeartbeatInterval,

		SnapshotParallelism: 1,
		SnapshotChunkSize:   DefaultSnapshotChunkSize,
	}
	ck := &configs.BlockChecker{Problems: configs.CheckKeys(c.Config, "config", keys)}
	es := configs.Entries(c.Config)

	if e, ok := es["dsn"]; !ok {
		ck.Report(c.Config, "config.dsn", "missing", "give a libpq URL such as postgres://user@host:5432/db")
	} else if ck.Text(e.Value, "config.dsn", &cfg.DSN) {
		if cfg.DSN == "" {
			ck.Report(e.Value, "config.dsn", "empty", "give a libpq URL such as postgres://user@host:5432/db")
		} else if _, err := pgconn.ParseConfig(cfg.DSN); err != nil {
			ck.Report(e.Value, "config.dsn", "does not parse: "+err.Error(), "")
		}
	}

	if e, ok := es["tables"]; !ok {
		ck.Report(c.Config, "config.tables", "missing", "list the tables to capture, such as [public.customers, public.*]")
	} else {
		cfg.Tables = tables(ck, e.Value)
	}

	for _, f := range []struct {
		key string
		out *string
	}{{"slot", &cfg.Slot}, {"publication", &cfg.Publication}} {
		e, ok := es[f.key]
		if !ok {
			continue
		}
		p := "config." + f.key
		if ck.Text(e.Value, p, f.out) && !slotName.MatchString(*f.out) {
			ck.Report(e.Value, p, fmt.Sprintf("%q is not a valid name", configs.Clip(*f.out)), "use 1 to 63 lower-case letters, digits and '_'")
		}
	}
	if _, ok := es["slot"]; !ok && !slotName.MatchString(cfg.Slot) {
		ck.Report(c.Config, "config.slot", fmt.Sprintf("the default %q is not a valid slot name", configs.Clip(cfg.Slot)), "set slot")
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

	if e, ok := es["create_publication"]; ok {
		ck.Boolean(e.Value, "config.create_publication", &cfg.CreatePublication)
	}
	if e, ok := es["heartbeat_interval"]; ok {
		var s string
		if ck.Text(e.Value, "config.heartbeat_interval", &s) {
			d, err := time.ParseDuration(s)
			switch {
			case err != nil:
				ck.Report(e.Value, "config.heartbeat_interval", fmt.Sprintf("%q is not a duration", configs.Clip(s)), "write a duration such as 10s")
			case d <= 0:
				ck.Report(e.Value, "config.heartbeat_interval", "must be positive", "write a duration such as 10s")
			default:
				cfg.HeartbeatInterval = d
			}
		}
	}
	ck.IntRange(es, "snapshot_parallelism", &cfg.SnapshotParallelism, 1, 64)
	ck.IntRange(es, "snapshot_chunk_size", &cfg.SnapshotChunkSize, 1, 1<<20)
	if e, ok := es["key_columns"]; ok {
		cfg.KeyColumns = keyColumns(ck, e.Value, cfg.Tables)
	}
	return cfg, ck.Problems
}

// keyColumns decodes key_columns: a mapping of schema.table, one of tables
// or matched by one of its patterns, to a list of column names.
func keyColumns(ck *configs.BlockChecker, n *yaml.Node, tables []TableRef) map[TableRef][]string {
	m := configs.Deref(n)
	if m.Kind != yaml.MappingNode {
		ck.Report(n, "config.key_columns", "expected a mapping, got "+configs.Describe(m), "write a mapping such as {public.events: [id, created_at]}")
		return nil
	}
	out := map[TableRef][]string{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		p := "config.key_columns." + k.Value
		schema, table, ok := strings.Cut(k.Value, ".")
		if !ok || !ident.MatchString(schema) || !ident.MatchString(table) {
			ck.Report(k, p, fmt.Sprintf("%q is not schema.table", configs.Clip(k.Value)), "write such as public.events")
			continue
		}
		ref := TableRef{Schema: schema, Table: table}
		if _, dup := out[ref]; dup {
			ck.Report(k, p, ref.String()+" is listed twice", "")
			continue
		}
		if len(tables) > 0 && !slices.ContainsFunc(tables, func(t TableRef) bool { return t == ref || t.Schema == schema && t.Table == "*" }) {
			ck.Report(k, p, ref.String()+" is not among tables", "add it to tables, or remove it here")
		}
		l := configs.Deref(v)
		if l.Kind != yaml.SequenceNode || len(l.Content) == 0 {
			ck.Report(v, p, "expected a list of column names, got "+configs.Describe(l), "write a list such as [id]")
			continue
		}
		var cols []string
		for j, item := range l.Content {
			ip := fmt.Sprintf("%s[%d]", p, j)
			var name string
			if !ck.Text(item, ip, &name) {
				continue
			}
			switch {
			case name == "":
				ck.Report(item, ip, "empty column name", "")
			case slices.Contains(cols, name):
				ck.Report(item, ip, fmt.Sprintf("column %q is listed twice", configs.Clip(name)), "")
			default:
				cols = append(cols, name)
			}
		}
		out[ref] = cols
	}
	return out
}

// tables decodes the tables list.
func tables(ck *configs.BlockChecker, n *yaml.Node) []TableRef {
	var out []TableRef
	for _, r := range ck.TableList(n, "config.tables", "schema", "public", ident) {
		out = append(out, TableRef{Schema: r[0], Table: r[1]})
	}
	return out
}
