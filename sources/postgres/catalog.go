package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/connect"
)

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
			COALESCE((SELECT k.ord FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, ord) WHERE i.indrelid = c.oid AND i.indisprimary AND k.attnum = a.attnum), 0)::int4,
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
