package mysql_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/internal/testdb"
	"github.com/sluice-cdc/sluice/sources/mysql"
)

// BenchmarkStream reads 200,000 inserted rows (1,000-row transactions,
// a bigint key and three more columns) from the binlog into change
// events: the source's own decoding rate, without the log behind it.
// Each iteration opens the source again at the position before the rows.
func BenchmarkStream(b *testing.B) {
	const rows, tx = 200_000, 1000
	m := testdb.StartMariaDB(b)
	m.Exec(b, `CREATE DATABASE bn; CREATE TABLE bn.t (id bigint PRIMARY KEY, n int, s varchar(40), d decimal(12,2))`)
	blk := fmt.Sprintf("addr: %s\nuser: root\npassword: sluice\ntables: [bn.t]\nsnapshot: never\nserver_id: 9001\n", m.Addr())
	ctx := context.Background()
	open := func(pos connect.Position) connect.Source {
		k := mysql.New()
		src, err := k.NewSource(connecttest.Connector(b, k, blk), connect.Env{Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		if err := src.Open(ctx, pos); err != nil {
			b.Fatal(err)
		}
		return src
	}
	src := open(nil)
	first, err := src.Read(ctx)
	if err != nil || first.Position == nil {
		b.Fatalf("first batch: %v", err)
	}
	src.Close()
	var sql strings.Builder
	sql.WriteString("USE bn;")
	for i := 0; i < rows/tx; i++ {
		fmt.Fprintf(&sql, "INSERT INTO t SELECT seq, seq %% 1000, CONCAT('row ', seq), seq / 100 FROM seq_%d_to_%d;\n", i*tx+1, (i+1)*tx)
	}
	m.Exec(b, sql.String())
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		src := open(first.Position)
		n := 0
		for n < rows {
			bt, err := src.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			n += len(bt.Events)
		}
		src.Close()
	}
	b.ReportMetric(float64(rows*b.N)/time.Since(start).Seconds(), "rows/s")
}
