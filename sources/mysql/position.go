package mysql

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
)

// A position is the binlog file and the offset in it after a transaction,
// and, when the server has GTIDs on, the GTID set of every transaction up
// to and including it:
//
//	file=binlog.000003 pos=1234
//	file=binlog.000003 pos=1234 gtid=0-1-42,1-1-7
//	file=binlog.000003 pos=1234 gtid=3e11fa47-71ca-11e1-9e33-c80aa9429562:1-42
//
// MariaDB's GTID set is its domain-server-sequence list (gtid_binlog_pos),
// MySQL's the uuid:interval set (gtid_executed). While a snapshot is under
// way a space and "snapshot=" follow, with the snapshot's progress as
// JSON (as in the postgres source):
//
//	file=binlog.000003 pos=1234 gtid=0-1-42 snapshot={"tables":[{"table":"shop.t","after":["42"],"done":42,"total":1000}]}
//
// Positions are taken only where a transaction ends: after its XID event,
// after the COMMIT query event of a non-transactional engine's
// transaction, after a DDL statement, or at a heartbeat outside a
// transaction. Resuming prefers the GTID set when there is one (it is
// valid on every server of the replication topology, so a failover to
// another server goes on where it should), else the file and offset.

// binlogPos is a place in the binlog.
type binlogPos struct {
	File string
	Pos  uint32
	// GTID is the GTID set up to here, as the server prints it; "" when
	// GTIDs are off.
	GTID string
}

// progress is the progress of the tables being snapshotted, kept in the
// position.
type progress struct {
	Tables []tableProgress `json:"tables"`
}

// tableProgress is one table's place in the snapshot.
type tableProgress struct {
	Table string `json:"table"` // db.table
	// Mode is "incremental" for a table of an ad-hoc snapshot, read
	// while streaming (incremental.go); "" for the initial snapshot.
	Mode string `json:"mode,omitempty"`
	// After is the key of the last row read, one entry per key column
	// (see keyText); nil when no row was read yet.
	After []string `json:"after,omitempty"`
	Done  int64    `json:"done"`
	Total int64    `json:"total"` // an estimate
}

// clone returns a deep copy of p.
func (p *progress) clone() *progress {
	if p == nil {
		return nil
	}
	c := &progress{Tables: make([]tableProgress, len(p.Tables))}
	copy(c.Tables, p.Tables)
	return c
}

// encodePosition returns the position at bp with a snapshot's progress
// (nil: none under way).
func encodePosition(bp binlogPos, p *progress) connect.Position {
	var b strings.Builder
	b.WriteString("file=")
	b.WriteString(bp.File)
	b.WriteString(" pos=")
	b.WriteString(strconv.FormatUint(uint64(bp.Pos), 10))
	if bp.GTID != "" {
		b.WriteString(" gtid=")
		b.WriteString(bp.GTID)
	}
	if p != nil && len(p.Tables) > 0 {
		j, err := json.Marshal(p)
		if err != nil {
			panic(err) // plain strings and numbers always marshal
		}
		b.WriteString(" snapshot=")
		b.Write(j)
	}
	return connect.Position(b.String())
}

// ErrBadPosition is the cause of the error for a position this source did
// not write.
var ErrBadPosition = errors.New("not a mysql-source position")

// binlogFile is what a binlog file name may look like.
var binlogFile = regexp.MustCompile(`^[A-Za-z0-9._-]+\.[0-9]+$`)

// parsePosition parses a position this source wrote. It is strict:
// anything else is an error wrapping ErrBadPosition.
func parsePosition(pos connect.Position) (binlogPos, *progress, error) {
	bad := func(why string) error {
		return fmt.Errorf("%q: %w (want \"file=NAME pos=N [gtid=SET]\"%s)", configs.Clip(string(pos)), ErrBadPosition, why)
	}
	text := string(pos)
	text, snap, hasSnap := strings.Cut(text, " snapshot=")
	var bp binlogPos
	parts := strings.Split(text, " ")
	if len(parts) < 2 || len(parts) > 3 {
		return bp, nil, bad("")
	}
	file, ok := strings.CutPrefix(parts[0], "file=")
	if !ok || !binlogFile.MatchString(file) {
		return bp, nil, bad("")
	}
	offText, ok := strings.CutPrefix(parts[1], "pos=")
	off, err := strconv.ParseUint(offText, 10, 32)
	if !ok || err != nil || strconv.FormatUint(off, 10) != offText || off < 4 {
		return bp, nil, bad("")
	}
	bp.File, bp.Pos = file, uint32(off)
	if len(parts) == 3 {
		g, ok := strings.CutPrefix(parts[2], "gtid=")
		if !ok || g == "" {
			return bp, nil, bad("")
		}
		set, err := parseGTIDSet(g)
		if err != nil || set.String() != g {
			return bp, nil, bad(": the GTID set does not parse")
		}
		bp.GTID = g
	}
	if !hasSnap {
		return bp, nil, nil
	}
	var p progress
	d := json.NewDecoder(strings.NewReader(snap))
	d.DisallowUnknownFields()
	if err := d.Decode(&p); err != nil || d.More() {
		return bp, nil, bad(": the snapshot progress is not valid JSON")
	}
	for _, t := range p.Tables {
		if _, _, ok := strings.Cut(t.Table, "."); !ok {
			return bp, nil, bad(": snapshot table " + configs.Clip(t.Table) + " is not db.table")
		}
		for _, k := range t.After {
			if !keyTextRE.MatchString(k) {
				return bp, nil, bad(": snapshot key " + configs.Clip(k) + " is not a key value")
			}
		}
	}
	if len(p.Tables) == 0 {
		return bp, nil, nil
	}
	return bp, &p, nil
}

// keyTextRE is what one key value in a snapshot's progress may be (see
// keyText): a number, a date or time, or "x" and hex digits.
var keyTextRE = regexp.MustCompile(`^(-?[0-9][0-9.eE+-]*|[0-9][0-9 :.-]*|x[0-9a-f]*)$`)

// parseGTIDSet parses a GTID set of either flavour: MySQL's has uuids and
// colons, MariaDB's domain-server-sequence triples.
func parseGTIDSet(s string) (gomysql.GTIDSet, error) {
	if strings.Contains(s, ":") {
		return gomysql.ParseMysqlGTIDSet(s)
	}
	return gomysql.ParseMariadbGTIDSet(s)
}
