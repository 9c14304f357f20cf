package postgres

import (
	"context"
	"encoding/json"
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

// publication makes the publication if it is missing, and adds the
// configured tables it lacks. When resuming (resuming true) with a snapshot
// mode other than never, the tables added are snapshotted incrementally:
// the request is written into the WAL in the same transaction as the ALTER
// PUBLICATION, so the stream brings it right where the tables' changes
// start to be published.
func (s *Source) publication(ctx context.Context, resuming bool) error {
	var all bool
	err := s.meta.QueryRow(ctx, "SELECT puballtables FROM pg_publication WHERE pubname = $1", s.cfg.Publication).Scan(&all)
	if err == nil {
		if all {
			return nil
		}
		return s.addToPublication(ctx, resuming)
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

// addToPublication adds the configured tables an existing publication
// lacks (create_publication true), or fails naming them.
func (s *Source) addToPublication(ctx context.Context, resuming bool) error {
	rows, err := s.meta.Query(ctx, "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1", s.cfg.Publication)
	if err != nil {
		return s.retriable("look up the tables of publication %s: %w", s.cfg.Publication, err)
	}
	have := map[TableRef]bool{}
	for rows.Next() {
		var r TableRef
		if err := rows.Scan(&r.Schema, &r.Table); err != nil {
			rows.Close()
			return s.retriable("look up the tables of publication %s: %w", s.cfg.Publication, err)
		}
		have[r] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.retriable("look up the tables of publication %s: %w", s.cfg.Publication, err)
	}
	var missing, names []string
	for _, t := range s.tables {
		if !have[t] {
			missing = append(missing, t.String())
			names = append(names, pgx.Identifier{t.Schema, t.Table}.Sanitize())
		}
	}
	if len(missing) == 0 {
		return nil
	}
	alter := "ALTER PUBLICATION " + pgx.Identifier{s.cfg.Publication}.Sanitize() + " ADD TABLE " + strings.Join(names, ", ")
	if !s.cfg.CreatePublication {
		return s.fatal("config.tables: publication %s does not publish %s and create_publication is false: run %s", s.cfg.Publication, strings.Join(missing, ", "), alter)
	}
	sql := "BEGIN; " + alter + "; "
	if resuming && s.cfg.Snapshot != SnapshotNever && !s.onlySnap {
		payload, err := json.Marshal(signal{Slot: s.cfg.Slot, Tables: missing})
		if err != nil {
			return s.fatal("snapshot request: %w", err)
		}
		sql += "SELECT pg_logical_emit_message(true, '" + signalPrefix + "', '" + string(escapeLiteral(payload)) + "'); "
	}
	if _, err := s.meta.Exec(ctx, sql+"COMMIT"); err != nil {
		s.meta.Exec(ctx, "ROLLBACK")
		return s.fatal("add %s to publication %s: %w", strings.Join(missing, ", "), s.cfg.Publication, err)
	}
	s.log.Info("added tables to the publication", "publication", s.cfg.Publication, "tables", missing, "snapshot", resuming && s.cfg.Snapshot != SnapshotNever)
	return nil
}

// catalogQuerier runs a query: a connection or a transaction.
type catalogQuerier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

// catColumn is a column as the catalog describes it, with its type OID and
// the plan to read its values.
type catColumn struct {
	col    connect.Column
	oid    uint32
	typmod int32
	plan   *plan
}

// tableFromCatalog describes a table from the catalog, as the current
// transaction sees it.
func (s *Source) tableFromCatalog(ctx context.Context, q catalogQuerier, ref TableRef) (*connect.Table, error) {
	t, _, err := s.catalogTable(ctx, q, ref)
	return t, err
}

// catalogTable describes a table from the catalog and returns its columns'
// type facts too. Its key is key_columns when they are set for it, else its
// primary key, else its replica identity index; a table without any has
// none (its records get a null key).
func (s *Source) catalogTable(ctx context.Context, q catalogQuerier, ref TableRef) (*connect.Table, []catColumn, error) {
	rows, err := q.Query(ctx, `SELECT a.attname, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod), a.attnotnull,
			COALESCE((SELECT k.ord FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, ord) WHERE i.indrelid = c.oid AND i.indisprimary AND k.attnum = a.attnum AND k.ord <= i.indnkeyatts), 0)::int4,
			COALESCE((SELECT k.ord FROM pg_index i, unnest(i.indkey) WITH ORDINALITY k(attnum, ord) WHERE i.indrelid = c.oid AND i.indisreplident AND k.attnum = a.attnum AND k.ord <= i.indnkeyatts), 0)::int4
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY a.attnum`, ref.Schema, ref.Table)
	if err != nil {
		return nil, nil, err
	}
	var attrs []pgAttr
	pkPos, riPos := map[int]int{}, map[int]int{}
	for rows.Next() {
		var a pgAttr
		var pk, ri int32
		if err := rows.Scan(&a.name, &a.oid, &a.typmod, &a.typeName, &a.notNull, &pk, &ri); err != nil {
			rows.Close()
			return nil, nil, err
		}
		if pk > 0 {
			pkPos[int(pk)] = len(attrs)
		}
		if ri > 0 {
			riPos[int(ri)] = len(attrs)
		}
		attrs = append(attrs, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	oids := make([]uint32, len(attrs))
	for i, a := range attrs {
		oids[i] = a.oid
	}
	types, err := loadTypes(ctx, q, oids)
	if err != nil {
		return nil, nil, err
	}
	t := &connect.Table{Database: s.db, Schema: ref.Schema, Name: ref.Table}
	cat := make([]catColumn, len(attrs))
	ps := make([]*plan, len(attrs))
	for i, a := range attrs {
		col, p := describe(types, a.name, a.typeName, a.oid, a.typmod, a.notNull)
		t.Columns = append(t.Columns, col)
		cat[i], ps[i] = catColumn{col: col, oid: a.oid, typmod: a.typmod, plan: p}, p
	}
	setPlans(t, ps)
	t.Key = s.tableKey(ref, t.Columns, inOrder(pkPos), inOrder(riPos))
	return t, cat, nil
}

// inOrder returns the values of an index position → column map in
// position order (positions from 1).
func inOrder(pos map[int]int) []int {
	var out []int
	for k := 1; k <= len(pos); k++ {
		if i, ok := pos[k]; ok {
			out = append(out, i)
		}
	}
	return out
}

// tableKey chooses a table's key columns: key_columns when set for it
// (those of them that cols has), else pk, else ri.
func (s *Source) tableKey(ref TableRef, cols []connect.Column, pk, ri []int) []int {
	if names, ok := s.cfg.KeyColumns[ref]; ok {
		var key []int
		for _, name := range names {
			for i := range cols {
				if cols[i].Name == name {
					key = append(key, i)
					break
				}
			}
		}
		if len(key) > 0 {
			return key
		}
	}
	if len(pk) > 0 {
		return pk
	}
	return ri
}

// loadTypes reads from pg_type the types oids and every type they refer
// to: domains' base types, arrays' elements, composites' attributes.
func loadTypes(ctx context.Context, q catalogQuerier, oids []uint32) (map[uint32]*pgType, error) {
	types := map[uint32]*pgType{}
	pending := oids
	for len(pending) > 0 {
		var want []int64
		seen := map[uint32]bool{}
		for _, o := range pending {
			if _, ok := types[o]; !ok && o != 0 && !seen[o] {
				seen[o] = true
				want = append(want, int64(o))
			}
		}
		pending = nil
		if len(want) == 0 {
			break
		}
		rows, err := q.Query(ctx, `SELECT t.oid, t.typtype::text, t.typcategory::text, t.typbasetype, t.typtypmod, t.typnotnull,
				t.typelem, t.typdelim::text, t.typrelid,
				t.typname = 'hstore' AND EXISTS (SELECT 1 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
					WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e' AND e.extname = 'hstore'),
				ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
			FROM pg_type t WHERE t.oid::int8 = ANY($1::int8[])`, want)
		if err != nil {
			return nil, err
		}
		var relids []int64
		byRel := map[uint32]*pgType{}
		for rows.Next() {
			var t pgType
			var typtype, category, delim string
			if err := rows.Scan(&t.oid, &typtype, &category, &t.base, &t.baseMod, &t.notNull, &t.elem, &delim, &t.relid, &t.hstore, &t.labels); err != nil {
				rows.Close()
				return nil, err
			}
			t.typtype, t.category, t.delim = typtype[0], category[0], delim[0]
			types[t.oid] = &t
			switch {
			case t.typtype == 'd':
				pending = append(pending, t.base)
			case t.typtype == 'c':
				relids = append(relids, int64(t.relid))
				byRel[t.relid] = &t
			case t.elem != 0:
				pending = append(pending, t.elem)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if len(relids) == 0 {
			continue
		}
		rows, err = q.Query(ctx, `SELECT a.attrelid, a.attname, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod), a.attnotnull
			FROM pg_attribute a WHERE a.attrelid::int8 = ANY($1::int8[]) AND a.attnum > 0 AND NOT a.attisdropped
			ORDER BY a.attrelid, a.attnum`, relids)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var rel uint32
			var a pgAttr
			if err := rows.Scan(&rel, &a.name, &a.oid, &a.typmod, &a.typeName, &a.notNull); err != nil {
				rows.Close()
				return nil, err
			}
			if t := byRel[rel]; t != nil {
				t.attrs = append(t.attrs, a)
				pending = append(pending, a.oid)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return types, nil
}

// relationTable builds the table of a relation message. Each column whose
// type (and modifier) the catalog still gives it takes the catalog's
// description (type name, nullability, plan); one whose type changed since
// the message's WAL was written is described from its type OID and
// modifier, nullable. The key is
// the catalog's (see catalogTable), by column name, so that snapshot and
// stream agree; only a table the catalog no longer has takes the
// message's replica identity columns.
func (s *Source) relationTable(ctx context.Context, m *pglogrepl.RelationMessage) (*connect.Table, error) {
	ref := TableRef{Schema: m.Namespace, Table: m.RelationName}
	ct, cat, err := s.catalogTable(ctx, s.meta, ref)
	if err != nil {
		return nil, s.retriable("describe %s: %w", ref, err)
	}
	byName := map[string]int{}
	for i := range cat {
		byName[cat[i].col.Name] = i
	}
	t := &connect.Table{Database: s.db, Schema: m.Namespace, Name: m.RelationName, Columns: make([]connect.Column, len(m.Columns))}
	ps := make([]*plan, len(m.Columns))
	same := func(c *pglogrepl.RelationMessageColumn) (int, bool) {
		j, ok := byName[c.Name]
		return j, ok && cat[j].oid == c.DataType && cat[j].typmod == c.TypeModifier
	}
	var changed []uint32
	for i, c := range m.Columns {
		if j, ok := same(c); ok {
			t.Columns[i], ps[i] = cat[j].col, cat[j].plan
		} else {
			changed = append(changed, c.DataType)
		}
	}
	if len(changed) > 0 {
		types, err := loadTypes(ctx, s.meta, changed)
		if err != nil {
			return nil, s.retriable("describe %s: %w", ref, err)
		}
		for i, c := range m.Columns {
			if _, ok := same(c); ok {
				continue
			}
			typ := "oid:" + strconv.FormatUint(uint64(c.DataType), 10)
			if err := s.meta.QueryRow(ctx, "SELECT format_type($1::oid, $2)", int64(c.DataType), c.TypeModifier).Scan(&typ); err != nil {
				return nil, s.retriable("describe %s: %w", ref, err)
			}
			t.Columns[i], ps[i] = describe(types, c.Name, typ, c.DataType, c.TypeModifier, false)
		}
	}
	setPlans(t, ps)
	if len(cat) > 0 {
		for _, k := range ct.Key {
			if i, ok := indexOf(m.Columns, cat[k].col.Name); ok {
				t.Key = append(t.Key, i)
			}
		}
		return t, nil
	}
	for i, c := range m.Columns {
		if c.Flags&1 != 0 {
			t.Key = append(t.Key, i)
		}
	}
	return t, nil
}

// indexOf returns the index of the relation column named name.
func indexOf(cols []*pglogrepl.RelationMessageColumn, name string) (int, bool) {
	for i, c := range cols {
		if c.Name == name {
			return i, true
		}
	}
	return 0, false
}
