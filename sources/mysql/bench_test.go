package mysql_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gomysql "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/connecttest"
	"github.com/sluice-cdc/sluice/internal/testdb"
	"github.com/sluice-cdc/sluice/sources/mysql"
)

// The benchmarks of the MySQL source, against a private MariaDB:
//
//	GOGC=800 go test ./sources/mysql -run XXX -bench . -benchtime 1x
//
// Each one fills the table bn.t (a bigint key, an int, a varchar(40) and a
// decimal(12,2), about 40 bytes a row) with SLUICE_BENCH_MY_ROWS rows
// (default 1,000,000) and reads them once per iteration:
//
//	Stream    the binlog of the inserts (1,000-row transactions), read by
//	          the source alone (Source.Read into change events)
//	Pipeline  the same binlog through the runtime into the durable log
//	          (source task, json converter, fsync), rows/s from the start
//	          of the connector to the last record durable
//	Snapshot  the table read by an initial snapshot, alone and through the
//	          pipeline (SLUICE_BENCH_MY_CONFIG adds config lines, ';'
//	          between them, such as "snapshot_chunk_size: 8192")
//
// Besides rows/s each reports cpu-µs/row (this process's CPU time per
// row, which a busy machine disturbs less than the wall clock) and its
// baseline in the same run: for the stream mariadb-binlog
// --read-from-remote-server decoding the same binlog's rows into
// /dev/null, for the snapshot a plain SELECT of the table read by
// go-mysql into nothing.

func benchRows(b *testing.B) int {
	n := 1_000_000
	if s := os.Getenv("SLUICE_BENCH_MY_ROWS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1000 {
			b.Fatalf("SLUICE_BENCH_MY_ROWS=%q: want a number of at least 1000", s)
		}
		n = v / 1000 * 1000
	}
	return n
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

const benchDDL = `CREATE DATABASE bn; CREATE TABLE bn.t (id bigint PRIMARY KEY, n int, s varchar(40), d decimal(12,2))`

// benchInsert inserts rows rows into bn.t in 1,000-row transactions.
func benchInsert(b *testing.B, m *testdb.MariaDB, rows int) {
	b.Helper()
	var sql strings.Builder
	sql.WriteString("USE bn;")
	for i := 0; i < rows/1000; i++ {
		fmt.Fprintf(&sql, "INSERT INTO t SELECT seq, seq %% 1000, CONCAT('row ', seq), seq / 100 FROM seq_%d_to_%d;\n", i*1000+1, (i+1)*1000)
		if sql.Len() > 1<<20 {
			m.Exec(b, sql.String())
			sql.Reset()
			sql.WriteString("USE bn;")
		}
	}
	m.Exec(b, sql.String())
}

// streamSetup starts MariaDB, stores the position before the rows by
// opening the source once (snapshot never), and inserts the rows.
func streamSetup(b *testing.B, serverID int) (*testdb.MariaDB, string, connect.Position, int) {
	b.Helper()
	rows := benchRows(b)
	m := testdb.StartMariaDB(b)
	m.Exec(b, benchDDL)
	blk := fmt.Sprintf("addr: %s\nuser: root\npassword: sluice\ntables: [bn.t]\nsnapshot: never\nserver_id: %d\n", m.Addr(), serverID)
	src := openBench(b, blk, nil)
	first, err := src.Read(context.Background())
	if err != nil || first.Position == nil {
		b.Fatalf("first batch: %v", err)
	}
	src.Close()
	benchInsert(b, m, rows)
	return m, blk, first.Position, rows
}

func openBench(b *testing.B, blk string, pos connect.Position) connect.Source {
	b.Helper()
	k := mysql.New()
	src, err := k.NewSource(connecttest.Connector(b, k, blk), connect.Env{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if err := src.Open(context.Background(), pos); err != nil {
		b.Fatal(err)
	}
	return src
}

// binlogBaseline runs mariadb-binlog --read-from-remote-server from the
// position pos (file=F pos=N ...) to the end of the binlog, decoding rows
// into /dev/null, and returns its rows/s.
func binlogBaseline(b *testing.B, m *testdb.MariaDB, pos connect.Position, rows int) float64 {
	b.Helper()
	bin, err := exec.LookPath("mariadb-binlog")
	if err != nil {
		if bin, err = exec.LookPath("mysqlbinlog"); err != nil {
			b.Fatal("mariadb-binlog is not installed (Debian package mariadb-client)")
		}
	}
	var file string
	var off uint64
	for _, f := range strings.Fields(string(pos)) {
		if v, ok := strings.CutPrefix(f, "file="); ok {
			file = v
		}
		if v, ok := strings.CutPrefix(f, "pos="); ok {
			off, _ = strconv.ParseUint(v, 10, 32)
		}
	}
	cmd := exec.Command(bin, "--read-from-remote-server", "--host", m.Host, "--port", strconv.Itoa(m.Port),
		"--user", m.User, "--password="+m.Password, "--base64-output=decode-rows", "--verbose",
		"--start-position", strconv.FormatUint(off, 10), "--to-last-log", file)
	return rateToDevNull(b, cmd, rows)
}

// rateToDevNull runs cmd with its output into /dev/null and returns rows
// divided by its run time.
func rateToDevNull(b *testing.B, cmd *exec.Cmd, rows int) float64 {
	b.Helper()
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devnull.Close()
	cmd.Stdout = devnull
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s: %v\n%s", cmd, err, stderr.String())
	}
	return float64(rows) / time.Since(start).Seconds()
}

// BenchmarkStream reads the binlog of the inserted rows into change
// events with the source alone, acknowledging every batch.
func BenchmarkStream(b *testing.B) {
	m, blk, pos, rows := streamSetup(b, 9001)
	ctx := context.Background()
	b.ResetTimer()
	var wall, cpu time.Duration
	for range b.N {
		src := openBench(b, blk, pos)
		start, c0 := time.Now(), cpuTime()
		n := 0
		for n < rows {
			bt, err := src.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			n += len(bt.Events)
			if bt.Position != nil {
				src.Ack(ctx, bt.Position)
			}
		}
		wall += time.Since(start)
		cpu += cpuTime() - c0
		src.Close()
	}
	b.StopTimer()
	reportRates(b, rows, wall, cpu, "mariadb-binlog", binlogBaseline(b, m, pos, rows))
}

// BenchmarkPipeline streams the binlog of the inserted rows into the
// embedded log through the runtime: rows/s from the connector's start to
// the last record durable in the topic. Each iteration starts from a copy
// of a log whose stored position is before the rows.
func BenchmarkPipeline(b *testing.B) {
	rows := benchRows(b)
	m := testdb.StartMariaDB(b)
	m.Exec(b, benchDDL)
	blk := fmt.Sprintf("addr: %s\nuser: root\npassword: sluice\ntables: [bn.t]\nsnapshot: never\nserver_id: 9002\n", m.Addr())
	before := &rig{t: b, dir: b.TempDir()}
	before.start(blk)
	before.waitFor("the schema history", "__sluice.schema_history.rt", func(vs []map[string]any) bool { return len(vs) > 0 })
	before.stop()
	file, off := masterPos(b, m)
	pos := connect.Position(fmt.Sprintf("file=%s pos=%d", file, off))
	benchInsert(b, m, rows)
	b.ResetTimer()
	var wall, cpu time.Duration
	for range b.N {
		r := &rig{t: b, dir: b.TempDir()}
		if err := os.CopyFS(r.dir, os.DirFS(before.dir)); err != nil {
			b.Fatal(err)
		}
		start, c0 := time.Now(), cpuTime()
		r.start(blk)
		waitOffsets(b, r, "rt.bn.t", rows, start)
		wall += time.Since(start)
		cpu += cpuTime() - c0
		r.stop()
	}
	b.StopTimer()
	reportRates(b, rows, wall, cpu, "mariadb-binlog", binlogBaseline(b, m, pos, rows))
}

// reportRates reports rows/s and cpu-µs/row of b.N runs of rows rows that
// took wall and cpu, with the baseline's rows/s and the ratio to it.
func reportRates(b *testing.B, rows int, wall, cpu time.Duration, baseline string, base float64) {
	rate := float64(rows*b.N) / wall.Seconds()
	b.ReportMetric(rate, "rows/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(rows*b.N), "cpu-µs/row")
	b.ReportMetric(base, baseline+"-rows/s")
	b.ReportMetric(rate/base, "x-"+baseline)
}

// waitOffsets waits until topic's partition 0 holds rows records.
func waitOffsets(b *testing.B, r *rig, topic string, rows int, start time.Time) {
	b.Helper()
	for {
		_, end, err := r.cl.Offsets(context.Background(), topic, 0)
		if err == nil && end >= int64(rows) {
			return
		}
		if time.Since(start) > 5*time.Minute {
			st, _ := r.rt.Status("rt")
			b.Fatalf("%d of %d rows after 5 minutes; status %+v", end, rows, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// BenchmarkSnapshot reads the table with an initial snapshot: the source
// alone, and through the pipeline into the durable log; the baseline is a
// plain SELECT of the table read by go-mysql into nothing.
func BenchmarkSnapshot(b *testing.B) {
	rows := benchRows(b)
	m := testdb.StartMariaDB(b)
	m.Exec(b, benchDDL)
	benchInsert(b, m, rows)
	blk := fmt.Sprintf("addr: %s\nuser: root\npassword: sluice\ntables: [bn.t]\nsnapshot: initial_only\nserver_id: 9003\n", m.Addr())
	if extra := os.Getenv("SLUICE_BENCH_MY_CONFIG"); extra != "" {
		blk += strings.ReplaceAll(extra, ";", "\n") + "\n" // such as snapshot_chunk_size: 8192
	}
	selectRate := func() float64 {
		conn, err := client.Connect(m.Addr(), m.User, m.Password, "")
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		var res gomysql.Result
		n := 0
		if err := conn.ExecuteSelectStreaming("SELECT * FROM bn.t", &res, func([]gomysql.FieldValue) error { n++; return nil }, nil); err != nil {
			b.Fatal(err)
		}
		if n != rows {
			b.Fatalf("SELECT read %d rows, want %d", n, rows)
		}
		return float64(rows) / time.Since(start).Seconds()
	}
	// cliRate is the same SELECT through the mariadb client (--quick,
	// rows printed as they arrive) into /dev/null.
	cliRate := func() float64 {
		return rateToDevNull(b, m.Command("--quick", "--skip-column-names", "-e", "SELECT * FROM bn.t"), rows)
	}
	report := func(b *testing.B, wall, cpu time.Duration) {
		reportRates(b, rows, wall, cpu, "select", selectRate())
		cli := cliRate()
		b.ReportMetric(cli, "mariadb-cli-rows/s")
		b.ReportMetric(float64(rows*b.N)/wall.Seconds()/cli, "x-mariadb-cli")
	}
	b.Run("source", func(b *testing.B) {
		ctx := context.Background()
		var wall, cpu time.Duration
		for range b.N {
			start, c0 := time.Now(), cpuTime()
			src := openBench(b, blk, nil)
			n := 0
			for n < rows {
				bt, err := src.Read(ctx)
				if err != nil {
					b.Fatal(err)
				}
				n += len(bt.Events)
			}
			wall += time.Since(start)
			cpu += cpuTime() - c0
			src.Close()
		}
		b.StopTimer()
		report(b, wall, cpu)
	})
	b.Run("pipeline", func(b *testing.B) {
		var wall, cpu time.Duration
		for range b.N {
			r := &rig{t: b, dir: b.TempDir()}
			start, c0 := time.Now(), cpuTime()
			r.start(blk)
			waitOffsets(b, r, "rt.bn.t", rows, start)
			wall += time.Since(start)
			cpu += cpuTime() - c0
			r.stop()
		}
		b.StopTimer()
		report(b, wall, cpu)
	})
}
