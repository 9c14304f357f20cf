package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// preflight checks, before anything is created, that the connection's role
// may capture the resolved tables and that every table's changes can be
// keyed, and that key_columns name NOT NULL columns that some unique index
// covers. It returns one fatal error listing every problem, each with the
// SQL (or the config change) that fixes it.
func (s *Source) preflight(ctx context.Context) error {
	var (
		role, roleSQL     string
		repl, super, rds  bool
		problems          []string
		schemas, unread   []string
		unowned           []string
		publicationExists bool
		sqlNames          = map[TableRef]string{} // the tables' names as SQL
	)
	err := s.meta.QueryRow(ctx, `SELECT current_user, quote_ident(current_user), r.rolreplication, r.rolsuper,
			CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication') THEN pg_has_role('rds_replication', 'MEMBER') ELSE false END,
			EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)
		FROM pg_roles r WHERE r.rolname = current_user`, s.cfg.Publication).Scan(&role, &roleSQL, &repl, &super, &rds, &publicationExists)
	if err != nil {
		return s.retriable("preflight: look up role: %w", err)
	}
	if !repl && !super && !rds {
		problems = append(problems, fmt.Sprintf("role %s has neither the REPLICATION attribute nor superuser, so it cannot open a replication connection: run ALTER ROLE %s WITH REPLICATION", role, roleSQL))
	}

	names := make([]string, len(s.tables))
	schemaNames := make([]string, len(s.tables))
	for i, t := range s.tables {
		schemaNames[i], names[i] = t.Schema, t.Table
	}
	rows, err := s.meta.Query(ctx, `SELECT n.nspname, c.relname, format('%I.%I', n.nspname, c.relname), quote_ident(n.nspname),
			has_schema_privilege(n.oid, 'USAGE'), has_table_privilege(c.oid, 'SELECT'), pg_has_role(c.relowner, 'MEMBER'),
			c.relreplident::text, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))
		ORDER BY n.nspname, c.relname`, schemaNames, names)
	if err != nil {
		return s.retriable("preflight: look up tables: %w", err)
	}
	for rows.Next() {
		var (
			ref                   TableRef
			tableSQL, schemaSQL   string
			usage, sel, owner, pk bool
			replident             string
		)
		if err := rows.Scan(&ref.Schema, &ref.Table, &tableSQL, &schemaSQL, &usage, &sel, &owner, &replident, &pk); err != nil {
			rows.Close()
			return s.retriable("preflight: look up tables: %w", err)
		}
		sqlNames[ref] = tableSQL
		if !usage && !slices.Contains(schemas, schemaSQL) {
			schemas = append(schemas, schemaSQL)
		}
		if !sel {
			unread = append(unread, tableSQL)
		}
		if !owner && !super {
			unowned = append(unowned, tableSQL)
		}
		_, keyed := s.cfg.KeyColumns[ref]
		if !pk && !keyed && (replident == "d" || replident == "n") {
			mode := map[string]string{"d": "DEFAULT", "n": "NOTHING"}[replident]
			problems = append(problems, fmt.Sprintf("table %s has no primary key and REPLICA IDENTITY %s, so Postgres refuses its UPDATEs and DELETEs once it is published, and its changes have no key: run ALTER TABLE %s REPLICA IDENTITY FULL, or set key_columns for it", tableSQL, mode, tableSQL))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.retriable("preflight: look up tables: %w", err)
	}
	if len(schemas) > 0 {
		problems = append(problems, fmt.Sprintf("role %s has no USAGE privilege on schema %s: run GRANT USAGE ON SCHEMA %s TO %s", role, strings.Join(schemas, ", "), strings.Join(schemas, ", "), roleSQL))
	}
	if len(unread) > 0 {
		problems = append(problems, fmt.Sprintf("role %s may not read %s, which the snapshot reads: run GRANT SELECT ON %s TO %s", role, strings.Join(unread, ", "), strings.Join(unread, ", "), roleSQL))
	}
	if !publicationExists && s.cfg.CreatePublication && len(unowned) > 0 {
		all := make([]string, len(s.tables))
		for i, t := range s.tables {
			all[i] = sqlNames[t]
		}
		problems = append(problems, fmt.Sprintf("role %s does not own %s, so it cannot create publication %s: run CREATE PUBLICATION %s FOR TABLE %s as the tables' owner or a superuser",
			role, strings.Join(unowned, ", "), s.cfg.Publication, pgx.Identifier{s.cfg.Publication}.Sanitize(), strings.Join(all, ", ")))
	}

	for _, ref := range s.sortedKeyRefs() {
		p, err := s.checkKeyColumns(ctx, ref, sqlNames[ref])
		if err != nil {
			return s.retriable("preflight: key_columns of %s: %w", ref, err)
		}
		if p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return s.fatal("preflight: %s", strings.Join(problems, "; "))
	}
	return nil
}

// sortedKeyRefs returns the tables of key_columns in a stable order.
func (s *Source) sortedKeyRefs() []TableRef {
	refs := make([]TableRef, 0, len(s.cfg.KeyColumns))
	for ref := range s.cfg.KeyColumns {
		refs = append(refs, ref)
	}
	slices.SortFunc(refs, func(a, b TableRef) int { return strings.Compare(a.String(), b.String()) })
	return refs
}

// checkKeyColumns checks the key_columns of one table, whose name as SQL is
// tableSQL ("" when tables does not capture it): it is captured, and its
// key columns exist, are NOT NULL, are covered by a unique index, and are
// in the rows of its deletes. The snapshot reads a table in key order and
// goes on after the last key it read, which skips rows unless the key
// tells every row apart. It returns the problem, or "".
func (s *Source) checkKeyColumns(ctx context.Context, ref TableRef, tableSQL string) (string, error) {
	cols := s.cfg.KeyColumns[ref]
	if tableSQL == "" {
		return fmt.Sprintf("config.key_columns names %s, which is not a table that tables captures: create it, or remove it from key_columns", ref), nil
	}
	rows, err := s.meta.Query(ctx, `SELECT a.attname, quote_ident(a.attname), a.attnotnull FROM pg_attribute a
		WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, tableSQL)
	if err != nil {
		return "", err
	}
	type attr struct {
		sql     string
		notNull bool
	}
	attrs := map[string]attr{}
	var all []string
	for rows.Next() {
		var name string
		var a attr
		if err := rows.Scan(&name, &a.sql, &a.notNull); err != nil {
			rows.Close()
			return "", err
		}
		attrs[name] = a
		all = append(all, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	var quoted []string
	for _, c := range cols {
		a, ok := attrs[c]
		switch {
		case !ok:
			return fmt.Sprintf("config.key_columns: %s has no column %q (its columns: %s)", tableSQL, c, strings.Join(all, ", ")), nil
		case !a.notNull:
			return fmt.Sprintf("config.key_columns: column %q of %s may be NULL, which a key must not: run ALTER TABLE %s ALTER COLUMN %s SET NOT NULL, or choose other columns",
				c, tableSQL, tableSQL, a.sql), nil
		}
		quoted = append(quoted, a.sql)
	}
	var unique bool
	err = s.meta.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i
		WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL
			AND NOT EXISTS (SELECT 1 FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) k(attnum)
				JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE a.attname <> ALL ($2::text[])))`,
		tableSQL, cols).Scan(&unique)
	if err != nil {
		return "", err
	}
	if !unique {
		return fmt.Sprintf("config.key_columns: no unique index of %s is on %s or some of them, so they may not tell its rows apart, and the snapshot, which pages through a table by key, would skip rows: run CREATE UNIQUE INDEX ON %s (%s), or choose columns that are unique",
			tableSQL, strings.Join(cols, ", "), tableSQL, strings.Join(quoted, ", ")), nil
	}
	// A delete's old row holds only the replica identity's columns (every
	// column under FULL): a key column outside them would be null there.
	// Without a primary key under DEFAULT, or under NOTHING, Postgres
	// refuses the table's deletes once it is published.
	var (
		replident string
		pk        bool
		outside   []string
	)
	err = s.meta.QueryRow(ctx, `SELECT c.relreplident::text, EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
			ARRAY(SELECT k FROM unnest($2::text[]) k WHERE k NOT IN (
				SELECT a.attname FROM pg_index i CROSS JOIN LATERAL unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) x(attnum)
					JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = x.attnum
				WHERE i.indrelid = c.oid AND CASE c.relreplident WHEN 'd' THEN i.indisprimary WHEN 'i' THEN i.indisreplident ELSE false END))
		FROM pg_class c WHERE c.oid = $1::regclass`, tableSQL, cols).Scan(&replident, &pk, &outside)
	if err != nil {
		return "", err
	}
	if len(outside) > 0 && (replident == "i" || replident == "d" && pk) {
		identity := map[string]string{"d": "its primary key", "i": "its replica identity index"}[replident]
		return fmt.Sprintf("config.key_columns: %s of %s are not in its replica identity (%s), so its deletes would not carry them: run ALTER TABLE %s REPLICA IDENTITY FULL, or choose key columns within it",
			strings.Join(outside, ", "), tableSQL, identity, tableSQL), nil
	}
	return "", nil
}
