package postgres_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/connect/embedded"
	"github.com/sluice-cdc/sluice/internal/testdb"
	sluicelog "github.com/sluice-cdc/sluice/log"
	"github.com/sluice-cdc/sluice/sources/postgres"
)

// The benchmarks below start a private PostgreSQL (internal/testdb), fill
// a table of SLUICE_BENCH_PG_ROWS rows (default 1,000,000; about 100 bytes
// each as text) and time postgres-source against PostgreSQL's own tools on
// the same data. Every iteration reads all the rows, so -benchtime 1x is
// one full run:
//
//	GOGC=800 go test ./sources/postgres -run XXX -bench Stream -benchtime 1x
//	GOGC=800 go test ./sources/postgres -run XXX -bench Snapshot -benchtime 1x
//
// BenchmarkStream inserts the rows in transactions of 1,000 with nothing
// reading them, behind a template slot made first; each run copies that
// slot (pg_copy_logical_replication_slot), so every run decodes the same
// WAL from the same point, from the OS page cache:
//
//	pipeline        the connector in the connect runtime over the embedded
//	                log (fsync on): source task, envelope, JSON converter,
//	                durable append, then the acknowledgement to the slot;
//	                rows/s from the first to the last row durable
//	convert         Source.Read, connect.Envelope and the json converter on
//	                one goroutine, no log
//	source          Source.Read alone, acknowledging every transaction
//	pg_recvlogical  PostgreSQL's client, pgoutput proto_version 1, the same
//	                publication, to /dev/null, until it passes the end LSN
//
// Every run but pg_recvlogical also runs pg_recvlogical on the same WAL
// once more and reports the ratio to it (x-recvlogical). BenchmarkSnapshot
// does the same for the initial snapshot against COPY ... TO STDOUT.
//
// Metrics besides rows/s: cpu-µs/row is this process's CPU time (user and
// system) per row over the timed part; walsender-cpu is the share of one
// core the server's walsender (or, for COPY, backend) used meanwhile;
// others-cpu is the cores everything else on the machine used meanwhile
// (from /proc/stat: a run with more than a few tenths shared the machine
// and is slower than it should be); open-ms is the time from the start to
// the first row.

// benchCreate is the table the benchmarks fill: about 100 bytes a row in
// text form.
const benchCreate = `CREATE TABLE public.bench (
	id bigint PRIMARY KEY,
	account int NOT NULL,
	amount bigint NOT NULL,
	status text NOT NULL,
	note text,
	created_at timestamptz NOT NULL,
	updated_at timestamp)`

// benchInsert inserts rows lo to hi (inclusive) in one statement.
func benchInsert(lo, hi int) string {
	return fmt.Sprintf(`INSERT INTO public.bench SELECT g, g %% 1000, g * 37, (ARRAY['new','paid','sent','done'])[g %% 4 + 1],
	'note ' || md5(g::text), timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second', timestamp '2026-01-01' + g * interval '1 millisecond'
	FROM generate_series(%d, %d) g;
`, lo, hi)
}

// benchTxRows is the rows of one transaction.
const benchTxRows = 1000

// benchTopic is the topic the connector writes.
const benchTopic = "bench.public.bench"

// benchRowCount returns SLUICE_BENCH_PG_ROWS, or 1,000,000.
func benchRowCount(b *testing.B) int {
	s := os.Getenv("SLUICE_BENCH_PG_ROWS")
	if s == "" {
		return 1_000_000
	}
	n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if err != nil || n < benchTxRows || n%benchTxRows != 0 {
		b.Fatalf("SLUICE_BENCH_PG_ROWS=%q: want a multiple of %d", s, benchTxRows)
	}
	return n
}

// benchDB is a server with the filled table.
type benchDB struct {
	pg     *testdb.Postgres
	dsn    string
	rows   int
	conn   *pgx.Conn // control queries, from the benchmark's goroutine
	endLSN string    // the WAL end after the inserts (streaming)
	seq    int
}

// startBenchDB starts a server and fills public.bench. With stream, the
// template slot is made first and the rows go in as transactions of
// benchTxRows; otherwise in one statement, then vacuumed.
func startBenchDB(b *testing.B, stream bool) *benchDB {
	b.Helper()
	rows := benchRowCount(b)
	pg := testdb.StartPostgres(b,
		testdb.PostgresSetting("max_wal_size", "8GB"),
		testdb.PostgresSetting("checkpoint_timeout", "1h"),
		testdb.PostgresSetting("max_replication_slots", "40"),
		testdb.PostgresSetting("max_wal_senders", "40"),
		testdb.PostgresSetting("autovacuum", "off"))
	pg.CreateDatabase(b, "bench")
	db := &benchDB{pg: pg, dsn: pg.DSN("bench"), rows: rows}
	pg.Exec(b, "bench", benchCreate+";\nCREATE PUBLICATION bench FOR TABLE public.bench;")
	var err error
	if db.conn, err = pgx.Connect(b.Context(), db.dsn); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.conn.Close(context.Background()) })

	start := time.Now()
	if stream {
		db.exec(b, "SELECT pg_create_logical_replication_slot('bench_template', 'pgoutput')")
		var sql strings.Builder
		for lo := 1; lo <= rows; lo += benchTxRows {
			sql.WriteString(benchInsert(lo, lo+benchTxRows-1)) // psql: one transaction each
		}
		pg.Exec(b, "bench", sql.String())
		db.endLSN = db.query(b, "SELECT pg_current_wal_lsn()::text")
		b.Logf("inserted %d rows in %d transactions in %v (%.0f rows/s); WAL %s MB, end LSN %s", rows, rows/benchTxRows,
			time.Since(start).Round(time.Millisecond), float64(rows)/time.Since(start).Seconds(),
			db.query(b, "SELECT ((pg_current_wal_lsn() - restart_lsn) / 1000000)::bigint::text FROM pg_replication_slots WHERE slot_name = 'bench_template'"), db.endLSN)
	} else {
		pg.Exec(b, "bench", benchInsert(1, rows)+"VACUUM (ANALYZE) public.bench;")
		b.Logf("inserted %d rows in %v; table %s", rows, time.Since(start).Round(time.Millisecond),
			db.query(b, "SELECT pg_size_pretty(pg_table_size('public.bench'))"))
	}
	return db
}

func (db *benchDB) exec(b *testing.B, sql string, args ...any) {
	b.Helper()
	if _, err := db.conn.Exec(b.Context(), sql, args...); err != nil {
		b.Fatalf("%s: %v", sql, err)
	}
}

func (db *benchDB) query(b *testing.B, sql string, args ...any) string {
	b.Helper()
	var s string
	if err := db.conn.QueryRow(b.Context(), sql, args...).Scan(&s); err != nil {
		b.Fatalf("%s: %v", sql, err)
	}
	return s
}

// newSlot returns the name of a new slot for one run: a copy of the
// template when streaming, a name not used yet otherwise.
func (db *benchDB) newSlot(b *testing.B) string {
	b.Helper()
	db.seq++
	slot := fmt.Sprintf("bench_run_%d", db.seq)
	if db.endLSN != "" {
		db.exec(b, "SELECT pg_copy_logical_replication_slot('bench_template', $1)", slot)
	}
	return slot
}

// dropSlot drops a run's slot once its connection has let go of it.
func (db *benchDB) dropSlot(b *testing.B, slot string) {
	b.Helper()
	for wait := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var dropped int
		err := db.conn.QueryRow(b.Context(), `SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots
			WHERE slot_name = $1 AND NOT active`, slot).Scan(&dropped)
		if err != nil {
			b.Fatalf("drop slot %s: %v", slot, err)
		}
		if dropped == 1 || db.query(b, "SELECT count(*)::text FROM pg_replication_slots WHERE slot_name = $1", slot) == "0" {
			return
		}
		if time.Now().After(wait) {
			b.Fatalf("slot %s is still active", slot)
		}
	}
}

// block is the connector's config block for a run.
func (db *benchDB) block(slot, snapshot, extra string) string {
	return fmt.Sprintf("{dsn: %q, tables: [public.bench], slot: %s, publication: bench, snapshot: %s, topic_prefix: bench%s}",
		db.dsn, slot, snapshot, extra)
}

// run is what one timed run measured.
type run struct {
	rows      int           // rows timed
	elapsed   time.Duration // from the first row to the last
	open      time.Duration // from the start to the first row
	cpu       time.Duration // this process's CPU time over elapsed
	walsender float64       // the walsender's share of a core; 0 unknown
	busy      time.Duration // the machine's CPU time over elapsed, all cores
}

// others returns the cores that processes other than the measured ones
// used: a run with more than a few tenths shared the machine.
func (r run) others() float64 {
	el := r.elapsed.Seconds()
	return (r.busy.Seconds() - r.cpu.Seconds() - r.walsender*el) / el
}

func (r run) rate() float64 { return float64(r.rows) / r.elapsed.Seconds() }

// report sums runs into the benchmark's metrics.
type report struct {
	runs []run
	base []run // the baseline's runs, for the ratio
}

func (rp *report) emit(b *testing.B, baseName string) {
	var rows int
	var el, open, cpu time.Duration
	var ws, others float64
	for _, r := range rp.runs {
		rows += r.rows
		el += r.elapsed
		open += r.open
		cpu += r.cpu
		ws += r.walsender
		others += r.others()
	}
	if rows == 0 {
		return
	}
	n := float64(len(rp.runs))
	rate := float64(rows) / el.Seconds()
	b.ReportMetric(rate, "rows/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(rows), "cpu-µs/row")
	b.ReportMetric(float64(open.Milliseconds())/n, "open-ms")
	if ws > 0 {
		b.ReportMetric(ws/n, "walsender-cpu")
	}
	b.ReportMetric(others/n, "others-cpu")
	if len(rp.base) > 0 {
		var brows int
		var bel time.Duration
		for _, r := range rp.base {
			brows += r.rows
			bel += r.elapsed
		}
		base := float64(brows) / bel.Seconds()
		b.ReportMetric(base, baseName+"-rows/s")
		b.ReportMetric(rate/base, "x-"+baseName)
	}
}

// cpuTime returns this process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy returns the CPU time all cores spent not idle, from
// /proc/stat.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	var busy int64
	for i := 1; i < len(f) && i <= 8; i++ {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		if i != 4 && i != 5 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond // USER_HZ 100
}

// walsenderMeter samples the CPU time of a server process from /proc,
// every 50 ms, until stop: the walsender serving a slot, or a backend.
type walsenderMeter struct {
	stopc chan struct{}
	done  chan struct{}
	// Set by the sampling goroutine; read after done.
	first, last       time.Time
	firstCPU, lastCPU float64 // seconds
}

func meterWalsender(dsn, slot string) *walsenderMeter { return meterServer(dsn, slot, 0) }

// meterServer samples the walsender of slot, or with pid the process pid.
func meterServer(dsn, slot string, pid int) *walsenderMeter {
	m := &walsenderMeter{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-m.stopc:
				return
			case <-tick.C:
			}
			if pid == 0 {
				var p *int32
				if conn.QueryRow(ctx, "SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&p) != nil || p == nil {
					continue
				}
				pid = int(*p)
			}
			cpu, ok := procCPU(pid)
			if !ok {
				continue // gone: keep the last sample
			}
			now := time.Now()
			if m.first.IsZero() {
				m.first, m.firstCPU = now, cpu
			}
			m.last, m.lastCPU = now, cpu
		}
	}()
	return m
}

// stop ends the sampling and returns the walsender's share of one core.
func (m *walsenderMeter) stop() float64 {
	close(m.stopc)
	<-m.done
	if d := m.last.Sub(m.first).Seconds(); d > 0.5 {
		return (m.lastCPU - m.firstCPU) / d
	}
	return 0
}

// procCPU returns a process's user and system CPU seconds from /proc.
func procCPU(pid int) (float64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3, state
	if len(f) < 13 {
		return 0, false
	}
	ut, _ := strconv.ParseFloat(f[11], 64) // field 14, utime
	st, _ := strconv.ParseFloat(f[12], 64) // field 15, stime
	return (ut + st) / 100, true           // USER_HZ is 100 on Linux
}

func benchQuiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// pipelineRun runs the connector with block in a runtime over a new
// embedded log until want rows are durable in benchTopic.
func (db *benchDB) pipelineRun(b *testing.B, slot, block string, want int) run {
	b.Helper()
	dir := b.TempDir()
	l, err := sluicelog.Open(filepath.Join(dir, "log"), sluicelog.Options{Logger: benchQuiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	reg := connect.NewRegistry()
	reg.Register(postgres.New())
	rt := connect.NewRuntime(embedded.New(l, 1, 1), reg, connect.RuntimeOptions{Logger: benchQuiet()})
	closeRT := sync.OnceFunc(func() { rt.Close() })
	defer closeRT()
	cfg := benchConfig(b, block)
	meter := meterWalsender(db.dsn, slot)
	start := time.Now()
	if err := rt.Start([]configs.Connector{*cfg}); err != nil {
		b.Fatal(err)
	}
	var r run
	var first time.Time
	var firstHW int64
	var cpu0, busy0 time.Duration
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	lastProgress, lastHW := time.Now(), int64(0)
	for ; ; <-tick.C {
		var hw int64
		if st, err := l.State(benchTopic, 0); err == nil {
			hw = st.HighWatermark
		}
		now := time.Now()
		if hw > 0 && first.IsZero() {
			first, firstHW, cpu0, busy0 = now, hw, cpuTime(), machineBusy()
			r.open = now.Sub(start)
		}
		if hw >= int64(want) {
			r.cpu, r.busy = cpuTime()-cpu0, machineBusy()-busy0
			r.elapsed = now.Sub(first)
			r.rows = want - int(firstHW)
			break
		}
		if hw != lastHW {
			lastProgress, lastHW = now, hw
		}
		if st, _ := rt.Status("bench"); len(st.Tasks) > 0 && st.Tasks[0].State == connect.StateFailed {
			b.Fatalf("the connector failed: %s", st.Tasks[0].Trace)
		}
		if now.Sub(lastProgress) > 2*time.Minute {
			b.Fatalf("no progress for 2 minutes at %d of %d rows", hw, want)
		}
	}
	r.walsender = meter.stop()
	closeRT()
	if st, err := l.State(benchTopic, 0); err != nil || st.HighWatermark != int64(want) {
		b.Fatalf("the topic has %d records, want %d (%v)", st.HighWatermark, want, err)
	}
	return r
}

// benchConfig returns the connector "bench" of kind postgres-source with
// block, a flow mapping, as its config.
func benchConfig(b *testing.B, block string) *configs.Connector {
	b.Helper()
	cfg, err := configs.Parse("bench.yaml", []byte("version: 1\nconnectors:\n  - name: bench\n    kind: postgres-source\n    config: "+block+"\n"), configs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return &cfg.Connectors[0]
}

// newBenchSource opens a postgres-source outside the runtime.
func (db *benchDB) newBenchSource(b *testing.B, block string) connect.Source {
	b.Helper()
	k := postgres.New()
	c := benchConfig(b, block)
	if probs := k.Check(c); len(probs) > 0 {
		b.Fatalf("config: %v", probs)
	}
	src, err := k.NewSource(c, connect.Env{Name: c.Name, Logger: benchQuiet()})
	if err != nil {
		b.Fatal(err)
	}
	if err := src.Open(b.Context(), nil); err != nil {
		b.Fatalf("Open: %v", err)
	}
	return src
}

// sourceRun reads want rows with Source.Read, acknowledging every
// position at once; with convert, it also builds every event's envelope
// and encodes it with the json converter.
func (db *benchDB) sourceRun(b *testing.B, slot, block string, want int, convert bool) run {
	b.Helper()
	meter := meterWalsender(db.dsn, slot)
	start := time.Now()
	src := db.newBenchSource(b, block)
	defer src.Close()
	conv, err := connect.NewConverter("json")
	if err != nil {
		b.Fatal(err)
	}
	var r run
	var first time.Time
	var firstN int
	var cpu0, busy0 time.Duration
	n := 0
	var bytes int64
	for n < want {
		batch, err := src.Read(b.Context())
		if err != nil {
			b.Fatalf("Read after %d rows: %v", n, err)
		}
		if convert {
			for i := range batch.Events {
				ev := &batch.Events[i]
				key, value := connect.Envelope(ev)
				k, v, err := conv.Encode(&connect.Message{Topic: ev.Topic, Key: key, Value: value, Event: ev})
				if err != nil {
					b.Fatal(err)
				}
				bytes += int64(len(k) + len(v))
			}
		}
		n += len(batch.Events)
		if batch.Position != nil {
			if err := src.Ack(b.Context(), batch.Position); err != nil {
				b.Fatal(err)
			}
		}
		if n > 0 && first.IsZero() {
			first, firstN, cpu0, busy0 = time.Now(), n, cpuTime(), machineBusy()
			r.open = first.Sub(start)
		}
	}
	r.cpu, r.busy = cpuTime()-cpu0, machineBusy()-busy0
	r.elapsed = time.Since(first)
	r.rows = want - firstN
	r.walsender = meter.stop()
	if n != want {
		b.Fatalf("read %d rows, want %d", n, want)
	}
	if convert {
		b.Logf("encoded %.0f bytes per row (key and value)", float64(bytes)/float64(n))
	}
	return r
}

// recvlogical streams the template's WAL to the end LSN with
// pg_recvlogical into /dev/null, from a copy of the template slot.
func (db *benchDB) recvlogical(b *testing.B) run {
	b.Helper()
	bin, err := exec.LookPath("pg_recvlogical")
	if err != nil {
		bin = "/usr/lib/postgresql/15/bin/pg_recvlogical"
	}
	slot := db.newSlot(b)
	defer db.dropSlot(b, slot)
	cmd := exec.Command(bin, "-d", db.dsn, "--slot", slot, "--start", "--no-loop", "-f", "-", "-F", "0",
		"--endpos", db.endLSN, "-o", "proto_version=1", "-o", "publication_names=bench")
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = nil, &stderr // stdout: /dev/null
	meter := meterWalsender(db.dsn, slot)
	start, busy0 := time.Now(), machineBusy()
	if err := cmd.Run(); err != nil {
		b.Fatalf("pg_recvlogical: %v\n%s", err, stderr.String())
	}
	r := run{rows: db.rows, elapsed: time.Since(start), busy: machineBusy() - busy0}
	r.walsender = meter.stop()
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if got := db.query(b, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", slot); got == "" {
		b.Fatalf("pg_recvlogical confirmed nothing")
	}
	return r
}

// BenchmarkStream times the catch-up of a slot behind the rows inserted
// in transactions of 1,000 (see the top of this file).
func BenchmarkStream(b *testing.B) {
	db := startBenchDB(b, true)
	b.Run("pipeline", func(b *testing.B) {
		var rp report
		for i := 0; i < b.N; i++ {
			slot := db.newSlot(b)
			rp.runs = append(rp.runs, db.pipelineRun(b, slot, db.block(slot, "never", ""), db.rows))
			db.dropSlot(b, slot)
			rp.base = append(rp.base, db.recvlogical(b))
		}
		rp.emit(b, "recvlogical")
	})
	for _, convert := range []bool{true, false} {
		name := "source"
		if convert {
			name = "convert"
		}
		b.Run(name, func(b *testing.B) {
			var rp report
			for i := 0; i < b.N; i++ {
				slot := db.newSlot(b)
				rp.runs = append(rp.runs, db.sourceRun(b, slot, db.block(slot, "never", ""), db.rows, convert))
				db.dropSlot(b, slot)
				rp.base = append(rp.base, db.recvlogical(b))
			}
			rp.emit(b, "recvlogical")
		})
	}
	b.Run("pg_recvlogical", func(b *testing.B) {
		var rp report
		for i := 0; i < b.N; i++ {
			rp.runs = append(rp.runs, db.recvlogical(b))
		}
		rp.emit(b, "")
	})
}

// copyRun reads the table with COPY ... TO STDOUT into io.Discard.
func (db *benchDB) copyRun(b *testing.B) run {
	b.Helper()
	meter := meterServer(db.dsn, "", int(db.conn.PgConn().PID()))
	cpu0, busy0 := cpuTime(), machineBusy()
	start := time.Now()
	tag, err := db.conn.PgConn().CopyTo(b.Context(), io.Discard, "COPY public.bench TO STDOUT")
	if err != nil {
		b.Fatal(err)
	}
	if tag.RowsAffected() != int64(db.rows) {
		b.Fatalf("COPY: %d rows, want %d", tag.RowsAffected(), db.rows)
	}
	r := run{rows: db.rows, elapsed: time.Since(start), cpu: cpuTime() - cpu0, busy: machineBusy() - busy0}
	r.walsender = meter.stop()
	return r
}

// BenchmarkSnapshot times the initial snapshot of a table of
// SLUICE_BENCH_PG_ROWS rows, to durable in the log (pipeline), read and
// encoded (convert) or read by Source.Read alone (source), each next to
// COPY public.bench TO STDOUT read by pgx into io.Discard (copy).
// SLUICE_BENCH_PG_CONFIG, if set, is added to the connector's config
// block, such as "snapshot_chunk_size: 10000".
func BenchmarkSnapshot(b *testing.B) {
	db := startBenchDB(b, false)
	extra := os.Getenv("SLUICE_BENCH_PG_CONFIG")
	if extra != "" && !strings.HasPrefix(extra, ",") {
		extra = ", " + extra
	}
	b.Run("copy", func(b *testing.B) {
		var rp report
		for i := 0; i < b.N; i++ {
			rp.runs = append(rp.runs, db.copyRun(b))
		}
		rp.emit(b, "")
	})
	b.Run("pipeline", func(b *testing.B) {
		var rp report
		for i := 0; i < b.N; i++ {
			slot := db.newSlot(b)
			rp.runs = append(rp.runs, db.pipelineRun(b, slot, db.block(slot, "initial", extra), db.rows))
			db.dropSlot(b, slot)
			rp.base = append(rp.base, db.copyRun(b))
		}
		rp.emit(b, "copy")
	})
	for _, convert := range []bool{true, false} {
		name := "source"
		if convert {
			name = "convert"
		}
		b.Run(name, func(b *testing.B) {
			var rp report
			for i := 0; i < b.N; i++ {
				slot := db.newSlot(b)
				rp.runs = append(rp.runs, db.sourceRun(b, slot, db.block(slot, "initial", extra), db.rows, convert))
				db.dropSlot(b, slot)
				rp.base = append(rp.base, db.copyRun(b))
			}
			rp.emit(b, "copy")
		})
	}
}
