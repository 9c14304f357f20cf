package datagen

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluice-cdc/sluice/configs"
)

// Config is a datagen-source's config block, with every default filled.
// The keys and defaults are documented in the package doc.
type Config struct {
	TopicPrefix string       // topic_prefix. Default: the connector's name.
	Database    string       // database. Default: "datagen".
	Table       string       // table. Default: "events".
	Columns     []ColumnSpec // columns. Default: DefaultColumns.
	Rows        uint64       // rows: distinct keys; 0 = every event a new key. Default: 1000.
	Rate        float64      // rate: events per second; 0 = as fast as possible. Default: 1000.
	BatchSize   uint64       // batch_size: events per batch, one transaction each. Default: 100.
	Ops         Ops          // ops. Default: {u: 1, d: 0}.
	MaxEvents   uint64       // max_events: 0 = unlimited. Default: 0.
	Seed        int64        // seed. Default: 1.
}

// ColumnSpec is one generated column.
type ColumnSpec struct {
	Name string // name: required, unique
	Type string // type: one of ColumnTypes
	Key  bool   // key: part of the primary key. Default: false.
}

// Ops weighs what an event does to a key that has a row: update it (U) or
// delete it (D). An event on a key without a row always creates it.
type Ops struct {
	U, D uint64
}

// ColumnTypes are the column types datagen generates, and KeyTypes those
// that may be key columns.
var (
	ColumnTypes = []string{"int", "bigint", "uint64", "text", "decimal", "bool", "timestamptz", "date", "json", "bytes", "uuid"}
	KeyTypes    = []string{"int", "bigint", "uint64", "text", "uuid"}
)

// DefaultColumns is a small orders-like table keyed by id.
var DefaultColumns = []ColumnSpec{
	{Name: "id", Type: "bigint", Key: true},
	{Name: "customer_id", Type: "int"},
	{Name: "status", Type: "text"},
	{Name: "amount", Type: "decimal"},
	{Name: "paid", Type: "bool"},
	{Name: "created_at", Type: "timestamptz"},
}

// Defaults.
const (
	DefaultDatabase  = "datagen"
	DefaultTable     = "events"
	DefaultRows      = 1000
	DefaultRate      = 1000
	DefaultBatchSize = 100
	DefaultSeed      = 1

	// MaxBatchSize bounds batch_size, so that one batch stays a sensible
	// amount of memory.
	MaxBatchSize = 1_000_000
)

var keys = []string{"topic_prefix", "database", "table", "columns", "rows", "rate", "batch_size", "ops", "max_events", "seed"}

// topicPart is what a part of a topic name may hold.
var topicPart = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ParseConfig reads connector c's config block, fills the defaults and
// checks the result, returning every problem found.
func ParseConfig(c *configs.Connector) (Config, []configs.Problem) {
	cfg := Config{
		TopicPrefix: c.Name,
		Database:    DefaultDatabase,
		Table:       DefaultTable,
		Columns:     DefaultColumns,
		Rows:        DefaultRows,
		Rate:        DefaultRate,
		BatchSize:   DefaultBatchSize,
		Ops:         Ops{U: 1},
		Seed:        DefaultSeed,
	}
	ck := &checker{BlockChecker: configs.BlockChecker{Problems: configs.CheckKeys(c.Config, "config", keys)}}
	es := configs.Entries(c.Config)

	names := []struct {
		key string
		out *string
	}{{"topic_prefix", &cfg.TopicPrefix}, {"database", &cfg.Database}, {"table", &cfg.Table}}
	for _, f := range names {
		e, ok := es[f.key]
		if !ok {
			continue
		}
		p := "config." + f.key
		if ck.Text(e.Value, p, f.out) && !topicPart.MatchString(*f.out) {
			ck.Report(e.Value, p, fmt.Sprintf("%q cannot be part of a topic name", configs.Clip(*f.out)), "use letters, digits, '.', '_' and '-'")
		}
	}
	if cfg.TopicPrefix == "" {
		ck.Report(c.Config, "config.topic_prefix", "missing", "name the connector, or set topic_prefix")
	}

	count := func(key string, out *uint64, min int64, hint string) {
		e, ok := es[key]
		if !ok {
			return
		}
		var v int64
		p := "config." + key
		if !ck.Integer(e.Value, p, &v) {
			return
		}
		if v < min {
			ck.Report(e.Value, p, fmt.Sprintf("must be at least %d, not %d", min, v), hint)
			return
		}
		*out = uint64(v)
	}
	count("rows", &cfg.Rows, 0, "0 gives every event a new key")
	count("batch_size", &cfg.BatchSize, 1, "")
	count("max_events", &cfg.MaxEvents, 0, "0 means unlimited")
	if e, ok := es["batch_size"]; ok && cfg.BatchSize > MaxBatchSize {
		ck.Report(e.Value, "config.batch_size", fmt.Sprintf("must be at most %d, not %d", MaxBatchSize, cfg.BatchSize), "")
	}
	if e, ok := es["rate"]; ok {
		if ck.Number(e.Value, "config.rate", &cfg.Rate) && cfg.Rate < 0 {
			ck.Report(e.Value, "config.rate", fmt.Sprintf("must not be negative, not %v", cfg.Rate), "0 means as fast as possible")
		}
	}
	if e, ok := es["seed"]; ok {
		ck.Integer(e.Value, "config.seed", &cfg.Seed)
	}
	if e, ok := es["ops"]; ok {
		cfg.Ops = ck.ops(e.Value, cfg.Rows)
	}
	if e, ok := es["columns"]; ok {
		cfg.Columns = ck.columns(e.Value)
	}
	for i, col := range cfg.Columns {
		if col.Key && col.Type == "int" && (cfg.Rows == 0 || cfg.Rows > math.MaxInt32) {
			var n *yaml.Node = c.Config
			if e, ok := es["rows"]; ok {
				n = e.Value
			}
			ck.Report(n, "config.rows", fmt.Sprintf("the int key column %q holds at most %d distinct rows", col.Name, math.MaxInt32),
				fmt.Sprintf("make columns[%d] a bigint, or lower rows (0 means unlimited)", i))
		}
	}
	if topic := cfg.TopicPrefix + "." + cfg.Database + "." + cfg.Table; len(topic) > 249 {
		ck.Report(c.Config, "config", fmt.Sprintf("topic name %q is longer than 249 characters", configs.Clip(topic)), "shorten topic_prefix, database or table")
	}
	return cfg, ck.Problems
}

// ops decodes the ops mapping.
func (ck *checker) ops(n *yaml.Node, rows uint64) Ops {
	var ops Ops
	m := configs.Deref(n)
	if m.Kind != yaml.MappingNode {
		ck.Report(n, "config.ops", "expected a mapping, got "+configs.Describe(m), "write weights such as {u: 9, d: 1}")
		return Ops{U: 1}
	}
	es := configs.Entries(m)
	if e, ok := es["c"]; ok {
		ck.Report(e.Key, "config.ops.c", "creates are not weighted",
			"an event on a key without a row is always a create, and updates and deletes are weighed by u and d; for creates only, set rows: 0")
	}
	for key := range es {
		if key != "c" && key != "u" && key != "d" {
			ck.Report(es[key].Key, "config.ops."+key, "unknown operation", `the weights are u (update) and d (delete)`)
		}
	}
	weight := func(key string, out *uint64) {
		e, ok := es[key]
		if !ok {
			return
		}
		var v int64
		p := "config.ops." + key
		if !ck.Integer(e.Value, p, &v) {
			return
		}
		if v < 0 {
			ck.Report(e.Value, p, fmt.Sprintf("a weight must not be negative, not %d", v), "")
			return
		}
		*out = uint64(v)
	}
	weight("u", &ops.U)
	weight("d", &ops.D)
	if ops.U+ops.D == 0 && rows != 0 {
		if _, bad := es["c"]; !bad {
			ck.Report(n, "config.ops", "u and d are both 0", "give updates or deletes a weight, or set rows: 0 for creates only")
		}
		return Ops{U: 1}
	}
	return ops
}

// columns decodes the columns list.
func (ck *checker) columns(n *yaml.Node) []ColumnSpec {
	s := configs.Deref(n)
	if s.Kind != yaml.SequenceNode {
		ck.Report(n, "config.columns", "expected a list, got "+configs.Describe(s), "write a list of {name: ..., type: ...}")
		return DefaultColumns
	}
	if len(s.Content) == 0 {
		ck.Report(n, "config.columns", "no columns", "give at least one, or remove the key for the default columns")
		return DefaultColumns
	}
	var cols []ColumnSpec
	seen := map[string]int{}
	anyKey := false
	for i, item := range s.Content {
		p := fmt.Sprintf("config.columns[%d]", i)
		m := configs.Deref(item)
		if m.Kind != yaml.MappingNode {
			ck.Report(item, p, "expected a mapping, got "+configs.Describe(m), "write {name: ..., type: ...}")
			continue
		}
		ck.Problems = append(ck.Problems, configs.CheckKeys(item, p, []string{"name", "type", "key"})...)
		es := configs.Entries(m)
		var col ColumnSpec
		if e, ok := es["name"]; !ok {
			ck.Report(item, p+".name", "missing", "every column needs a name")
		} else if ck.Text(e.Value, p+".name", &col.Name) {
			if col.Name == "" {
				ck.Report(e.Value, p+".name", "empty", "")
			} else if j, dup := seen[col.Name]; dup {
				ck.Report(e.Value, p+".name", fmt.Sprintf("duplicate column name %q (columns[%d])", col.Name, j), "")
			} else {
				seen[col.Name] = i
			}
		}
		typeOK := false
		if e, ok := es["type"]; !ok {
			ck.Report(item, p+".type", "missing", "one of: "+joinTypes(ColumnTypes))
		} else if ck.Text(e.Value, p+".type", &col.Type) {
			if typeOK = slices.Contains(ColumnTypes, col.Type); !typeOK {
				hint := configs.DidYouMean(col.Type, ColumnTypes)
				if hint == "" {
					hint = "use one of: " + joinTypes(ColumnTypes)
				}
				ck.Report(e.Value, p+".type", fmt.Sprintf("unknown column type %q", configs.Clip(col.Type)), hint)
			}
		}
		if e, ok := es["key"]; ok && ck.Boolean(e.Value, p+".key", &col.Key) && col.Key {
			anyKey = true
			if typeOK && !slices.Contains(KeyTypes, col.Type) {
				ck.Report(es["type"].Value, p+".type", fmt.Sprintf("a %s column cannot be a key", col.Type), "key columns are one of: "+joinTypes(KeyTypes))
			}
		}
		cols = append(cols, col)
	}
	if !anyKey && len(cols) > 0 && len(cols) == len(s.Content) {
		// The first column is the key.
		cols[0].Key = true
		if t := cols[0].Type; slices.Contains(ColumnTypes, t) && !slices.Contains(KeyTypes, t) {
			ck.Report(configs.Entries(s.Content[0])["type"].Value, "config.columns[0].type", fmt.Sprintf("no column has key: true, so the first one is the key, and a %s column cannot be one", t),
				"mark a column of type "+joinTypes(KeyTypes)+" with key: true")
		}
	}
	return cols
}

func joinTypes(ts []string) string { return strings.Join(ts, ", ") }

// checker decodes the config block, collecting a problem for each value
// that does not fit.
type checker struct{ configs.BlockChecker }
