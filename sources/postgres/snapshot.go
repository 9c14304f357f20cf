package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-cdc/sluice/connect"
)

// beginSnapshot imports the slot's exported snapshot into a repeatable read
// transaction on the meta connection.
func (s *Source) beginSnapshot(ctx context.Context, name string) error {
	tx, err := s.meta.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return s.retriable("begin snapshot: %w", err)
	}
	if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+strings.ReplaceAll(name, "'", "''")+"'"); err != nil {
		tx.Rollback(ctx)
		return s.retriable("set transaction snapshot: %w", err)
	}
	s.snapTx = tx
	s.snapTables = append([]TableRef(nil), s.tables...)
	return nil
}

// fetchSnapshot returns the next up to maxBatch snapshot rows, or nil when
// every table is read.
func (s *Source) fetchSnapshot(ctx context.Context) ([]connect.ChangeEvent, error) {
	for len(s.snapTables) > 0 {
		ref := s.snapTables[0]
		if !s.snapCursor {
			t, err := s.tableFromCatalog(ctx, s.snapTx, ref)
			if err != nil {
				return nil, s.retriable("snapshot of %s: describe: %w", ref, err)
			}
			cols := make([]string, len(t.Columns))
			for i, c := range t.Columns {
				cols[i] = pgx.Identifier{c.Name}.Sanitize()
			}
			sql := "DECLARE sluice_snap NO SCROLL CURSOR FOR SELECT " + strings.Join(cols, ", ") + " FROM " + pgx.Identifier{ref.Schema, ref.Table}.Sanitize()
			if len(cols) == 0 {
				sql = "DECLARE sluice_snap NO SCROLL CURSOR FOR SELECT FROM " + pgx.Identifier{ref.Schema, ref.Table}.Sanitize()
			}
			if _, err := s.snapTx.Exec(ctx, sql); err != nil {
				return nil, s.retriable("snapshot of %s: %w", ref, err)
			}
			s.snapCursor, s.snapCurrent = true, t
		}
		res, err := s.meta.PgConn().Exec(ctx, "FETCH "+strconv.Itoa(maxBatch)+" FROM sluice_snap").ReadAll()
		if err != nil {
			return nil, s.retriable("snapshot of %s: fetch: %w", ref, err)
		}
		if len(res) != 1 {
			return nil, s.retriable("snapshot of %s: fetch returned %d results", ref, len(res))
		}
		if len(res[0].Rows) == 0 {
			if _, err := s.snapTx.Exec(ctx, "CLOSE sluice_snap"); err != nil {
				return nil, s.retriable("snapshot of %s: %w", ref, err)
			}
			s.snapCursor, s.snapCurrent = false, nil
			s.snapTables = s.snapTables[1:]
			continue
		}
		t := s.snapCurrent
		topic := s.topic(t)
		now := time.Now().UnixMilli()
		events := make([]connect.ChangeEvent, 0, len(res[0].Rows))
		for _, row := range res[0].Rows {
			after := make([]connect.Value, len(t.Columns))
			for i := range t.Columns {
				if row[i] == nil {
					after[i] = connect.Null(t.Columns[i].Kind)
					continue
				}
				v, err := value(&t.Columns[i], row[i])
				if err != nil {
					return nil, s.fatal("snapshot of %s: %w", ref, err)
				}
				after[i] = v
			}
			events = append(events, connect.ChangeEvent{
				Op: connect.OpRead, Table: t, Topic: topic, After: after, TsMs: now,
				Source: s.sourceInfo(t, now, "true", "", 0),
			})
		}
		return events, nil
	}
	return nil, nil
}

// readSnapshot returns the next snapshot batch, reading one batch ahead so
// that the last row can be marked.
func (s *Source) readSnapshot(ctx context.Context) (connect.SourceBatch, error) {
	if s.snapPending == nil {
		evs, err := s.fetchSnapshot(ctx)
		if err != nil {
			return connect.SourceBatch{}, err
		}
		s.snapPending = evs
	}
	next, err := s.fetchSnapshot(ctx)
	if err != nil {
		return connect.SourceBatch{}, err
	}
	b := connect.SourceBatch{Events: s.snapPending}
	s.rows.Add(int64(len(b.Events)))
	if next != nil {
		s.snapPending = next
		return b, nil
	}
	if n := len(b.Events); n > 0 {
		b.Events[n-1].Source.Snapshot = "last"
	}
	if err := s.snapTx.Commit(ctx); err != nil {
		return connect.SourceBatch{}, s.retriable("end snapshot: %w", err)
	}
	s.snapTx, s.snapPending, s.snapDone = nil, nil, true
	b.Position = Position(s.startLSN)
	s.log.Info("snapshot done", "rows", s.rows.Load(), "lsn", s.startLSN.String())
	return b, nil
}
