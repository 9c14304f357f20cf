package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pglogrepl"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
)

// A position is "lsn=X/Y": streaming resumes after the transaction that
// ends at X/Y. While a snapshot is under way it is followed by a space and
// "snapshot=" with the snapshot's progress as JSON:
//
//	lsn=0/16B3748 snapshot={"tables":[{"table":"public.t","mode":"initial","after":["42"],"done":42,"total":1000}]}
//
// The tables are those not yet finished, in the order they are read;
// "after" is the key, as text, of the last row read (absent: none yet).

// progress is the progress of the tables being snapshotted, kept in the
// position.
type progress struct {
	Tables []tableProgress `json:"tables"`
}

// tableProgress is one table's place in a snapshot.
type tableProgress struct {
	Table string `json:"table"` // schema.table
	// Mode is "initial" (the initial snapshot, also when resumed after
	// an interruption) or "incremental" (asked for while streaming).
	Mode string `json:"mode"`
	// After is the key of the last row read, as text, one entry per key
	// column (nil for a NULL); nil when no row was read yet.
	After []*string `json:"after,omitempty"`
	Done  int64     `json:"done"`
	Total int64     `json:"total"` // an estimate
}

const (
	modeInitial     = "initial"
	modeIncremental = "incremental"
)

// clone returns a deep copy of p, so that a position encoded from it is
// not changed later.
func (p *progress) clone() *progress {
	if p == nil {
		return nil
	}
	c := &progress{Tables: make([]tableProgress, len(p.Tables))}
	copy(c.Tables, p.Tables)
	return c
}

// table returns the progress of a table, or nil.
func (p *progress) table(name string) *tableProgress {
	if p == nil {
		return nil
	}
	for i := range p.Tables {
		if p.Tables[i].Table == name {
			return &p.Tables[i]
		}
	}
	return nil
}

// Position returns the position after a transaction whose commit ends at lsn.
func Position(lsn pglogrepl.LSN) connect.Position {
	return connect.Position("lsn=" + lsn.String())
}

// encodePosition returns the position at lsn with a snapshot's progress
// (nil: none under way).
func encodePosition(lsn pglogrepl.LSN, p *progress) connect.Position {
	if p == nil || len(p.Tables) == 0 {
		return Position(lsn)
	}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // plain strings and numbers always marshal
	}
	return connect.Position("lsn=" + lsn.String() + " snapshot=" + string(b))
}

// ErrBadPosition is the cause of the error for a position this source did
// not write.
var ErrBadPosition = errors.New("not a postgres-source position")

// ParsePosition returns the LSN of a position this source wrote. It is
// strict: anything but "lsn=" and an LSN as Postgres prints it, optionally
// followed by a snapshot's progress, is an error wrapping ErrBadPosition.
func ParsePosition(pos connect.Position) (pglogrepl.LSN, error) {
	lsn, _, err := parsePosition(pos)
	return lsn, err
}

func parsePosition(pos connect.Position) (pglogrepl.LSN, *progress, error) {
	bad := func(why string) error {
		return fmt.Errorf("%q: %w (want \"lsn=X/Y\"%s)", configs.Clip(string(pos)), ErrBadPosition, why)
	}
	text, ok := strings.CutPrefix(string(pos), "lsn=")
	if !ok {
		return 0, nil, bad("")
	}
	lsnText, snap, hasSnap := strings.Cut(text, " snapshot=")
	lsn, err := pglogrepl.ParseLSN(lsnText)
	if err != nil || lsn.String() != lsnText || lsn == 0 {
		return 0, nil, bad("")
	}
	if !hasSnap {
		return lsn, nil, nil
	}
	var p progress
	d := json.NewDecoder(strings.NewReader(snap))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil || d.More() {
		return 0, nil, bad(": the snapshot progress is not valid JSON")
	}
	for _, t := range p.Tables {
		if _, _, ok := strings.Cut(t.Table, "."); !ok {
			return 0, nil, bad(": snapshot table " + configs.Clip(t.Table) + " is not schema.table")
		}
		if t.Mode != modeInitial && t.Mode != modeIncremental {
			return 0, nil, bad(": unknown snapshot mode " + configs.Clip(t.Mode))
		}
	}
	if len(p.Tables) == 0 {
		return lsn, nil, nil
	}
	return lsn, &p, nil
}
