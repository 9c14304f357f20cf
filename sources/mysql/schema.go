package mysql

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/pingcap/tidb/pkg/parser"
	"github.com/pingcap/tidb/pkg/parser/ast"
	pmysql "github.com/pingcap/tidb/pkg/parser/mysql"
	_ "github.com/pingcap/tidb/pkg/parser/test_driver" // literal values in DDL
	"github.com/pingcap/tidb/pkg/parser/types"

	"github.com/sluice-cdc/sluice/connect"
)

// The binlog's row events carry column types but not names (unless
// binlog_row_metadata=FULL, which cannot be relied on), so the source
// keeps every captured table's schema as of its current position: read
// from SHOW CREATE TABLE at a fresh start, then changed by each DDL
// statement of the stream, parsed with the TiDB parser (CREATE, ALTER,
// DROP, RENAME and TRUNCATE TABLE, DROP DATABASE). SHOW CREATE TABLE's
// text goes through the same parser, so there is one way a definition is
// read.
//
// The history is stored in the compacted topic
// __sluice.schema_history.<connector name>: one record per table, key
// {"table":"db.table"}, value {"table":"db.table","definition":"<JSON of
// tableSchema>"}, a tombstone when the table is dropped. The records of a
// DDL statement go in the batch that carries the position after it, so
// they are written atomically with it, and the latest record of each table
// is its schema as of the stored position. Open reads the topic back with
// Env.ReadTopic.

// column is one column of a table's schema.
type column struct {
	Name string `json:"name"`
	// Type is the data type as information_schema's DATA_TYPE names it:
	// "int", "varchar", "text", "blob", "enum", "json", ...
	Type string `json:"type"`
	// ColumnType is the type as COLUMN_TYPE prints it: "int(10) unsigned".
	ColumnType string `json:"column_type"`
	Unsigned   bool   `json:"unsigned,omitempty"`
	// Length is the character or byte length of strings, the width of
	// bits; Precision and Scale those of decimals; Fsp the fractional
	// digits of time types.
	Length    int `json:"length,omitempty"`
	Precision int `json:"precision,omitempty"`
	Scale     int `json:"scale,omitempty"`
	Fsp       int `json:"fsp,omitempty"`
	// Charset of character columns ("binary" for binary strings and
	// blobs); empty for others.
	Charset   string   `json:"charset,omitempty"`
	Collation string   `json:"collation,omitempty"`
	Labels    []string `json:"labels,omitempty"` // enum and set
	Nullable  bool     `json:"nullable"`
}

// tableSchema is a table's schema at one point of its history. A version
// is never changed once published: a DDL statement makes a new one.
type tableSchema struct {
	Database string   `json:"database"`
	Name     string   `json:"name"`
	Charset  string   `json:"charset,omitempty"` // the table's default
	Columns  []column `json:"columns"`
	Key      []string `json:"key,omitempty"` // primary key columns, in key order

	table *connect.Table // built once, on first use
}

func (t *tableSchema) id() string { return t.Database + "." + t.Name }

// clone returns a copy that may be changed.
func (t *tableSchema) clone() *tableSchema {
	c := &tableSchema{Database: t.Database, Name: t.Name, Charset: t.Charset,
		Columns: slices.Clone(t.Columns), Key: slices.Clone(t.Key)}
	return c
}

func (t *tableSchema) column(name string) int {
	return slices.IndexFunc(t.Columns, func(c column) bool { return strings.EqualFold(c.Name, name) })
}

// connectTable returns the table as connect describes it.
func (t *tableSchema) connectTable() *connect.Table {
	if t.table != nil {
		return t.table
	}
	ct := &connect.Table{Database: t.Database, Name: t.Name, Columns: make([]connect.Column, len(t.Columns))}
	for i := range t.Columns {
		ct.Columns[i] = t.Columns[i].connectColumn()
	}
	for _, k := range t.Key {
		if i := t.column(k); i >= 0 {
			ct.Key = append(ct.Key, i)
		}
	}
	t.table = ct
	return ct
}

// schemas is the schema of every captured table, by "db.table".
type schemas struct {
	tables map[string]*tableSchema
	// dbCharset is the default character set of databases, for tables
	// created without one.
	dbCharset map[string]string
	parser    *parser.Parser
}

func newSchemas() *schemas {
	return &schemas{tables: map[string]*tableSchema{}, dbCharset: map[string]string{}, parser: parser.New()}
}

// schemaChange is what one DDL statement did to one table.
type schemaChange struct {
	// Type is Debezium's: CREATE, ALTER or DROP.
	Type string
	// Table is the table's schema after the change; for a drop, before it.
	Table *tableSchema
	// Old is the name the table had before a rename, "" otherwise.
	Old string
	// Truncate says the statement emptied the table.
	Truncate bool
}

// parseCreate parses SHOW CREATE TABLE's output into a schema.
func (s *schemas) parseCreate(db, sql, dbCharset string) (*tableSchema, error) {
	stmts, _, err := s.parser.Parse(spatialTypes(sql), "", "")
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", clip(sql), err)
	}
	if len(stmts) != 1 {
		return nil, fmt.Errorf("parse %q: %d statements", clip(sql), len(stmts))
	}
	ct, ok := stmts[0].(*ast.CreateTableStmt)
	if !ok {
		return nil, fmt.Errorf("parse %q: not CREATE TABLE", clip(sql))
	}
	return createTable(ct, db, dbCharset)
}

// apply parses a DDL statement run with default database db, applies it
// to the schemas of the tables captured (keep says which), and returns
// what changed. A statement the parser cannot read, or that touches no
// captured table, changes nothing.
func (s *schemas) apply(db, sql string, keep func(db, table string) bool) ([]schemaChange, error) {
	stmts, _, err := s.parser.Parse(spatialTypes(mariadbStatement(sql)), "", "")
	if err != nil {
		return nil, err
	}
	var out []schemaChange
	for _, st := range stmts {
		ch, err := s.applyOne(db, st, keep)
		if err != nil {
			return out, err
		}
		out = append(out, ch...)
	}
	return out, nil
}

func (s *schemas) dbOf(n *ast.TableName, db string) string {
	if n.Schema.O != "" {
		return n.Schema.O
	}
	return db
}

func (s *schemas) charsetOf(db string) string {
	if c := s.dbCharset[db]; c != "" {
		return c
	}
	return "utf8mb4"
}

func (s *schemas) applyOne(db string, st ast.StmtNode, keep func(db, table string) bool) ([]schemaChange, error) {
	switch st := st.(type) {
	case *ast.CreateDatabaseStmt:
		for _, o := range st.Options {
			if o.Tp == ast.DatabaseOptionCharset {
				s.dbCharset[st.Name.O] = strings.ToLower(o.Value)
			}
		}
	case *ast.AlterDatabaseStmt:
		name := st.Name.O
		if name == "" {
			name = db
		}
		for _, o := range st.Options {
			if o.Tp == ast.DatabaseOptionCharset {
				s.dbCharset[name] = strings.ToLower(o.Value)
			}
		}
	case *ast.DropDatabaseStmt:
		var out []schemaChange
		for _, id := range sortedKeys(s.tables) {
			if t := s.tables[id]; t.Database == st.Name.O {
				delete(s.tables, id)
				out = append(out, schemaChange{Type: "DROP", Table: t})
			}
		}
		return out, nil
	case *ast.CreateTableStmt:
		if st.TemporaryKeyword != ast.TemporaryNone {
			return nil, nil
		}
		tdb := s.dbOf(st.Table, db)
		if !keep(tdb, st.Table.Name.O) {
			return nil, nil
		}
		id := tdb + "." + st.Table.Name.O
		if _, ok := s.tables[id]; ok && st.IfNotExists {
			return nil, nil
		}
		var t *tableSchema
		if st.ReferTable != nil {
			src, ok := s.tables[s.dbOf(st.ReferTable, db)+"."+st.ReferTable.Name.O]
			if !ok {
				return nil, fmt.Errorf("CREATE TABLE %s LIKE %s: the schema of %s is not known (it is not captured)", id, st.ReferTable.Name.O, st.ReferTable.Name.O)
			}
			t = src.clone()
			t.Database, t.Name = tdb, st.Table.Name.O
		} else {
			var err error
			if t, err = createTable(st, tdb, s.charsetOf(tdb)); err != nil {
				return nil, err
			}
		}
		s.tables[id] = t
		return []schemaChange{{Type: "CREATE", Table: t}}, nil
	case *ast.DropTableStmt:
		if st.IsView || st.TemporaryKeyword != ast.TemporaryNone {
			return nil, nil
		}
		var out []schemaChange
		for _, n := range st.Tables {
			id := s.dbOf(n, db) + "." + n.Name.O
			if t, ok := s.tables[id]; ok {
				delete(s.tables, id)
				out = append(out, schemaChange{Type: "DROP", Table: t})
			}
		}
		return out, nil
	case *ast.TruncateTableStmt:
		if t, ok := s.tables[s.dbOf(st.Table, db)+"."+st.Table.Name.O]; ok {
			return []schemaChange{{Type: "ALTER", Table: t, Truncate: true}}, nil
		}
	case *ast.RenameTableStmt:
		var out []schemaChange
		for _, tt := range st.TableToTables {
			out = append(out, s.rename(tt.OldTable, tt.NewTable, db, keep)...)
		}
		return out, nil
	case *ast.AlterTableStmt:
		return s.alter(st, db, keep)
	}
	return nil, nil
}

// rename moves a table's schema to a new name: a drop when the new name is
// not captured, a create when only the new one is (its schema is then
// unknown, which is an error).
func (s *schemas) rename(from, to *ast.TableName, db string, keep func(db, table string) bool) []schemaChange {
	oldID := s.dbOf(from, db) + "." + from.Name.O
	t, ok := s.tables[oldID]
	if !ok {
		return nil
	}
	delete(s.tables, oldID)
	ndb := s.dbOf(to, db)
	if !keep(ndb, to.Name.O) {
		return []schemaChange{{Type: "DROP", Table: t}}
	}
	n := t.clone()
	n.Database, n.Name = ndb, to.Name.O
	s.tables[n.id()] = n
	return []schemaChange{{Type: "DROP", Table: t}, {Type: "CREATE", Table: n, Old: oldID}}
}

// alter applies ALTER TABLE.
func (s *schemas) alter(st *ast.AlterTableStmt, db string, keep func(db, table string) bool) ([]schemaChange, error) {
	id := s.dbOf(st.Table, db) + "." + st.Table.Name.O
	old, ok := s.tables[id]
	if !ok {
		return nil, nil
	}
	t := old.clone()
	var renameTo *ast.TableName
	for _, spec := range st.Specs {
		switch spec.Tp {
		case ast.AlterTableAddColumns:
			for _, cd := range spec.NewColumns {
				if spec.IfNotExists && t.column(cd.Name.Name.O) >= 0 {
					continue
				}
				c, pk, err := columnDef(cd, t.Charset)
				if err != nil {
					return nil, fmt.Errorf("ALTER TABLE %s: %w", id, err)
				}
				if err := t.place(c, -1, spec.Position); err != nil {
					return nil, fmt.Errorf("ALTER TABLE %s: %w", id, err)
				}
				if pk {
					t.Key = []string{c.Name}
				}
			}
		case ast.AlterTableDropColumn:
			i := t.column(spec.OldColumnName.Name.O)
			if i < 0 {
				if spec.IfExists {
					continue
				}
				return nil, fmt.Errorf("ALTER TABLE %s: no column %s to drop", id, spec.OldColumnName.Name.O)
			}
			name := t.Columns[i].Name
			t.Columns = slices.Delete(t.Columns, i, i+1)
			t.Key = slices.DeleteFunc(t.Key, func(k string) bool { return strings.EqualFold(k, name) })
		case ast.AlterTableModifyColumn, ast.AlterTableChangeColumn:
			oldName := spec.NewColumns[0].Name.Name.O
			if spec.OldColumnName != nil {
				oldName = spec.OldColumnName.Name.O
			}
			i := t.column(oldName)
			if i < 0 {
				if spec.IfExists {
					continue
				}
				return nil, fmt.Errorf("ALTER TABLE %s: no column %s to change", id, oldName)
			}
			c, pk, err := columnDef(spec.NewColumns[0], t.Charset)
			if err != nil {
				return nil, fmt.Errorf("ALTER TABLE %s: %w", id, err)
			}
			if slices.ContainsFunc(t.Key, func(k string) bool { return strings.EqualFold(k, oldName) }) {
				c.Nullable = false
			}
			for j, k := range t.Key {
				if strings.EqualFold(k, oldName) {
					t.Key[j] = c.Name
				}
			}
			if err := t.place(c, i, spec.Position); err != nil {
				return nil, fmt.Errorf("ALTER TABLE %s: %w", id, err)
			}
			if pk {
				t.Key = []string{c.Name}
			}
		case ast.AlterTableRenameColumn:
			i := t.column(spec.OldColumnName.Name.O)
			if i < 0 {
				return nil, fmt.Errorf("ALTER TABLE %s: no column %s to rename", id, spec.OldColumnName.Name.O)
			}
			for j, k := range t.Key {
				if strings.EqualFold(k, t.Columns[i].Name) {
					t.Key[j] = spec.NewColumnName.Name.O
				}
			}
			t.Columns[i].Name = spec.NewColumnName.Name.O
		case ast.AlterTableAddConstraint:
			if spec.Constraint != nil && spec.Constraint.Tp == ast.ConstraintPrimaryKey {
				t.Key = nil
				for _, k := range spec.Constraint.Keys {
					if k.Column == nil {
						continue
					}
					if i := t.column(k.Column.Name.O); i >= 0 {
						t.Key = append(t.Key, t.Columns[i].Name)
						t.Columns[i].Nullable = false
					}
				}
			}
		case ast.AlterTableDropPrimaryKey:
			t.Key = nil
		case ast.AlterTableRenameTable:
			renameTo = spec.NewTable
		case ast.AlterTableOption:
			for _, o := range spec.Options {
				if o.Tp == ast.TableOptionCharset && o.StrValue != "" {
					cs := strings.ToLower(o.StrValue)
					if o.UintValue == ast.TableOptionCharsetWithConvertTo {
						for j := range t.Columns {
							if t.Columns[j].Charset != "" && t.Columns[j].Charset != "binary" {
								t.Columns[j].Charset, t.Columns[j].Collation = cs, ""
							}
						}
					}
					t.Charset = cs
				}
			}
		}
	}
	s.tables[id] = t
	out := []schemaChange{{Type: "ALTER", Table: t}}
	if renameTo != nil {
		ndb := s.dbOf(renameTo, db)
		if ndb+"."+renameTo.Name.O != id {
			delete(s.tables, id)
			out = []schemaChange{{Type: "DROP", Table: old}}
			if keep(ndb, renameTo.Name.O) {
				n := t.clone()
				n.Database, n.Name = ndb, renameTo.Name.O
				s.tables[n.id()] = n
				out = append(out, schemaChange{Type: "CREATE", Table: n, Old: id})
			}
		}
	}
	return out, nil
}

// place puts c at index i (replacing the column there; -1 appends), then
// moves it where pos says.
func (t *tableSchema) place(c column, i int, pos *ast.ColumnPosition) error {
	if i >= 0 {
		t.Columns = slices.Delete(t.Columns, i, i+1)
	} else {
		i = len(t.Columns)
	}
	if pos != nil {
		switch pos.Tp {
		case ast.ColumnPositionFirst:
			i = 0
		case ast.ColumnPositionAfter:
			j := t.column(pos.RelativeColumn.Name.O)
			if j < 0 {
				return fmt.Errorf("no column %s to place %s after", pos.RelativeColumn.Name.O, c.Name)
			}
			i = j + 1
		}
	}
	if i > len(t.Columns) {
		i = len(t.Columns)
	}
	t.Columns = slices.Insert(t.Columns, i, c)
	return nil
}

// createTable builds a schema from CREATE TABLE.
func createTable(st *ast.CreateTableStmt, db, dbCharset string) (*tableSchema, error) {
	t := &tableSchema{Database: db, Name: st.Table.Name.O, Charset: dbCharset}
	for _, o := range st.Options {
		if o.Tp == ast.TableOptionCharset && o.StrValue != "" {
			t.Charset = strings.ToLower(o.StrValue)
		}
	}
	for _, cd := range st.Cols {
		c, pk, err := columnDef(cd, t.Charset)
		if err != nil {
			return nil, fmt.Errorf("CREATE TABLE %s.%s: %w", db, t.Name, err)
		}
		if pk {
			t.Key = []string{c.Name}
		}
		t.Columns = append(t.Columns, c)
	}
	for _, con := range st.Constraints {
		switch con.Tp {
		case ast.ConstraintPrimaryKey:
			t.Key = nil
			for _, k := range con.Keys {
				if k.Column != nil {
					if i := t.column(k.Column.Name.O); i >= 0 {
						t.Key = append(t.Key, t.Columns[i].Name)
					}
				}
			}
		case ast.ConstraintCheck:
			if name := jsonValidColumn(con.Expr); name != "" {
				if i := t.column(name); i >= 0 {
					t.Columns[i].Type, t.Columns[i].ColumnType = "json", "json"
				}
			}
		}
	}
	for _, k := range t.Key {
		t.Columns[t.column(k)].Nullable = false
	}
	return t, nil
}

// jsonValidColumn returns the column of a CHECK (json_valid(col)): how
// MariaDB shows a JSON column, which it stores as LONGTEXT.
func jsonValidColumn(e ast.ExprNode) string {
	f, ok := e.(*ast.FuncCallExpr)
	if !ok || f.FnName.L != "json_valid" || len(f.Args) != 1 {
		return ""
	}
	c, ok := f.Args[0].(*ast.ColumnNameExpr)
	if !ok {
		return ""
	}
	return c.Name.Name.O
}

// columnDef builds a column from its definition; pk says it is declared
// PRIMARY KEY.
func columnDef(cd *ast.ColumnDef, tableCharset string) (column, bool, error) {
	ft := cd.Tp
	if ft == nil {
		return column{}, false, fmt.Errorf("column %s has no type", cd.Name.Name.O)
	}
	c := column{Name: cd.Name.Name.O, Nullable: true}
	pk := false
	for _, o := range cd.Options {
		switch o.Tp {
		case ast.ColumnOptionNotNull:
			c.Nullable = false
		case ast.ColumnOptionNull:
			c.Nullable = true
		case ast.ColumnOptionPrimaryKey:
			pk, c.Nullable = true, false
		case ast.ColumnOptionCollate:
			c.Collation = strings.ToLower(o.StrValue)
		case ast.ColumnOptionCheck:
			if jsonValidColumn(o.Expr) != "" {
				ft = types.NewFieldType(pmysql.TypeJSON)
			}
		}
	}
	tp := ft.GetType()
	if el := ft.GetElems(); tp == pmysql.TypeEnum && len(el) == 1 && strings.HasPrefix(el[0], spatialPrefix) {
		name := strings.TrimPrefix(el[0], spatialPrefix)
		c.Type, c.ColumnType = name, name
		return c, pk, nil
	}
	c.Unsigned = pmysql.HasUnsignedFlag(ft.GetFlag())
	c.Type = strings.ToLower(types.TypeToStr(tp, ft.GetCharset()))
	c.ColumnType = strings.ToLower(ft.InfoSchemaStr())
	flen, dec := ft.GetFlen(), ft.GetDecimal()
	defFlen, defDec := pmysql.GetDefaultFieldLengthAndDecimal(tp)
	if flen == types.UnspecifiedLength {
		flen = defFlen
	}
	if dec == types.UnspecifiedLength {
		dec = defDec
	}
	switch tp {
	case pmysql.TypeNewDecimal:
		c.Precision, c.Scale = flen, max(dec, 0)
	case pmysql.TypeBit:
		c.Length = max(flen, 1)
	case pmysql.TypeDuration, pmysql.TypeDatetime, pmysql.TypeTimestamp:
		c.Fsp = max(dec, 0)
	case pmysql.TypeString, pmysql.TypeVarchar, pmysql.TypeVarString:
		c.Length = flen
	case pmysql.TypeEnum, pmysql.TypeSet:
		c.Labels = slices.Clone(ft.GetElems())
	case pmysql.TypeTiny:
		if flen == 1 && !c.Unsigned && strings.HasPrefix(c.ColumnType, "tinyint(1)") {
			c.Type = "tinyint" // BOOL: tinyint(1), kept as an integer like MySQL shows it
		}
	}
	switch {
	case tp == pmysql.TypeJSON:
		c.Type, c.ColumnType = "json", "json"
		c.Charset = "utf8mb4"
	case types.IsTypeBlob(tp) || types.IsTypeChar(tp) || tp == pmysql.TypeVarString || tp == pmysql.TypeEnum || tp == pmysql.TypeSet:
		cs := strings.ToLower(ft.GetCharset())
		if cs == "" {
			cs = tableCharset
		}
		if cs == "" {
			cs = "utf8mb4"
		}
		c.Charset = cs
		if c.Collation == "" {
			c.Collation = strings.ToLower(ft.GetCollate())
		}
		if cs == "binary" {
			switch c.Type {
			case "char":
				c.Type = "binary"
			case "varchar":
				c.Type = "varbinary"
			}
		}
	}
	return c, pk, nil
}

// historyTopic is the name of a connector's schema history topic.
func historyTopic(connector string) string { return "__sluice.schema_history." + connector }

// historyMessage is the record of a table's schema in the history topic:
// its definition, or a tombstone when dropped is true.
func historyMessage(connector string, t *tableSchema, dropped bool) connect.Message {
	key := &connect.Struct{Name: "sluice.SchemaHistoryKey", Fields: []connect.Field{{Name: "table", Value: connect.String(t.id())}}}
	m := connect.Message{Topic: historyTopic(connector), Key: key}
	if !dropped {
		def, err := json.Marshal(t)
		if err != nil {
			panic(err) // strings, numbers and booleans always marshal
		}
		m.Value = &connect.Struct{Name: "sluice.SchemaHistoryValue", Fields: []connect.Field{
			{Name: "table", Value: connect.String(t.id())},
			{Name: "definition", Value: connect.String(string(def))},
		}}
	}
	return m
}

// readHistoryRecord decodes one record of the history topic: the table's
// name and its schema, nil for a tombstone. It reads the json and the
// json-schema converters' records alike (and raw, which writes json).
func readHistoryRecord(r connect.Record) (string, *tableSchema, error) {
	field := func(data []byte, name string) (string, error) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return "", err
		}
		if p, ok := m["payload"]; ok && len(m) == 2 {
			if err := json.Unmarshal(p, &m); err != nil {
				return "", err
			}
		}
		var s string
		if err := json.Unmarshal(m[name], &s); err != nil {
			return "", fmt.Errorf("field %q: %w", name, err)
		}
		return s, nil
	}
	if r.Key == nil {
		return "", nil, fmt.Errorf("record at offset %d has no key", r.Offset)
	}
	name, err := field(r.Key, "table")
	if err != nil {
		return "", nil, fmt.Errorf("record at offset %d: key: %w", r.Offset, err)
	}
	if r.Value == nil {
		return name, nil, nil
	}
	def, err := field(r.Value, "definition")
	if err != nil {
		return "", nil, fmt.Errorf("record at offset %d: value: %w", r.Offset, err)
	}
	t := &tableSchema{}
	if err := json.Unmarshal([]byte(def), t); err != nil {
		return "", nil, fmt.Errorf("record at offset %d: definition: %w", r.Offset, err)
	}
	if t.id() != name || len(t.Columns) == 0 {
		return "", nil, fmt.Errorf("record at offset %d: the definition of %s is not one of a table", r.Offset, name)
	}
	return name, t, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:197] + "..."
	}
	return s
}
