package mysql

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/go-mysql-org/go-mysql/client"

	"github.com/sluice-cdc/sluice/connect"
)

// Schemas from the server (SHOW CREATE TABLE) and from the schema history
// topic.

// quoteIdent quotes a MySQL identifier.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// listTables returns the captured tables that exist on the server, sorted.
func (s *Source) listTables(conn *client.Conn) ([]TableRef, error) {
	var dbs []string
	for _, r := range s.cfg.Tables {
		if !slices.Contains(dbs, r.Database) {
			dbs = append(dbs, r.Database)
		}
	}
	quoted := make([]string, len(dbs))
	for i, d := range dbs {
		quoted[i] = "'" + strings.ReplaceAll(d, "'", "''") + "'"
	}
	rows, err := query(conn, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN ("+strings.Join(quoted, ", ")+") ORDER BY TABLE_SCHEMA, TABLE_NAME")
	if err != nil {
		return nil, s.retriable("list tables: %w", err)
	}
	var out []TableRef
	for _, r := range rows {
		if s.captured(r[0], r[1]) {
			out = append(out, TableRef{Database: r[0], Table: r[1]})
		}
	}
	for _, r := range s.cfg.Tables {
		if r.Table != "*" && !slices.Contains(out, r) {
			s.log.Warn("a table in config.tables does not exist (yet): it is captured once created", "table", r.String())
		}
	}
	return out, nil
}

// loadCharsets reads the default character set of the captured databases.
func (s *Source) loadCharsets(conn *client.Conn) error {
	rows, err := query(conn, "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA")
	if err != nil {
		return s.retriable("read database character sets: %w", err)
	}
	for _, r := range rows {
		s.schemas.dbCharset[r[0]] = strings.ToLower(r[1])
	}
	return nil
}

// readSchemas reads the schemas of tables from the server into out.
func (s *Source) readSchemas(conn *client.Conn, tables []TableRef, out map[string]*tableSchema) error {
	for _, r := range tables {
		rows, err := query(conn, "SHOW CREATE TABLE "+quoteIdent(r.Database)+"."+quoteIdent(r.Table))
		if err != nil {
			return s.retriable("SHOW CREATE TABLE %s: %w", r, err)
		}
		if len(rows) != 1 || len(rows[0]) < 2 {
			return s.retriable("SHOW CREATE TABLE %s returned no definition", r)
		}
		t, err := s.schemas.parseCreate(r.Database, rows[0][1], s.schemas.charsetOf(r.Database))
		if err != nil {
			return s.fatal("the definition of %s does not parse: %w", r, err)
		}
		out[t.id()] = t
	}
	return nil
}

// loadSchemas reads the schemas of every captured table from the server.
func (s *Source) loadSchemas(ctx context.Context, conn *client.Conn) error {
	if err := s.loadCharsets(conn); err != nil {
		return err
	}
	tables, err := s.listTables(conn)
	if err != nil {
		return err
	}
	return s.readSchemas(conn, tables, s.schemas.tables)
}

// historyOfAll returns the history records of every table's schema.
func (s *Source) historyOfAll() []connect.Message {
	var out []connect.Message
	for _, id := range sortedKeys(s.schemas.tables) {
		out = append(out, historyMessage(s.name, s.schemas.tables[id], false))
	}
	return out
}

// loadHistory rebuilds the schemas as of the stored position from the
// schema history topic. Without the topic (no runtime, or a history that
// was lost) it falls back to the server's schemas of today, which are
// right unless a DDL statement came after the stored position; it says so
// in the log. Captured tables the history does not know (added to
// config.tables since) are read from the server too.
func (s *Source) loadHistory(ctx context.Context) error {
	if err := s.loadCharsets(s.conn); err != nil {
		return err
	}
	found := map[string]*tableSchema{}
	if s.readTopic != nil {
		err := s.readTopic(ctx, historyTopic(s.name), func(r connect.Record) error {
			s.historyRecords.Add(1)
			s.historyBytes.Add(int64(len(r.Key) + len(r.Value)))
			name, t, err := readHistoryRecord(r)
			if err != nil {
				return err
			}
			if t == nil {
				delete(found, name)
			} else {
				found[name] = t
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return s.fatal("read the schema history topic %s: %w; if it is damaged, run \"sluice connectors reset %s\" to take a new snapshot", historyTopic(s.name), err, s.name)
		}
	}
	for id, t := range found {
		if s.captured(t.Database, t.Name) {
			s.schemas.tables[id] = t
		}
	}
	if len(found) == 0 {
		s.log.Warn("no schema history: decoding with the tables' schemas of today, which is wrong if they changed after the stored position", "topic", historyTopic(s.name))
	}
	tables, err := s.listTables(s.conn)
	if err != nil {
		return err
	}
	var missing []TableRef
	for _, r := range tables {
		if _, ok := s.schemas.tables[r.String()]; !ok {
			missing = append(missing, r)
		}
	}
	if err := s.readSchemas(s.conn, missing, s.schemas.tables); err != nil {
		return err
	}
	for _, r := range missing {
		s.pending = append(s.pending, historyMessage(s.name, s.schemas.tables[r.String()], false))
	}
	if len(found) > 0 && len(missing) > 0 {
		s.log.Warn("tables not in the schema history are read from the server (they were added to config.tables?); their rows from before are not snapshotted", "tables", fmt.Sprint(missing))
	}
	return nil
}
