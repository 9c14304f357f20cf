package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/pgworkload"
	"github.com/sluice-cdc/sluice/internal/testdb"
)

// myCrash is a "sluice run" process, restarted after every kill, with a
// mysql-source named myc capturing the MariaDB database public (so that
// its fence table's topic is pgworkload.FenceTopic("wl")) into topics
// wl.public.*.
type myCrash struct {
	*crashProc
	m     *testdb.MariaDB
	fence int64
}

const myCrashTables = `CREATE DATABASE public;
CREATE TABLE public.items (id int PRIMARY KEY, n int, s varchar(40), d decimal(10,2));
CREATE TABLE public.pairs (a int, b int, v varchar(20), PRIMARY KEY (a, b));
CREATE TABLE public.wl_fence (id int PRIMARY KEY, n bigint);
USE public;
`

func startMyCrash(t *testing.T, m *testdb.MariaDB, extraSQL, extraConfig string) *myCrash {
	t.Helper()
	c := &myCrash{crashProc: newCrashProc(t, "myc"), m: m}
	m.Exec(t, myCrashTables+extraSQL)
	c.setConfig(extraConfig)
	c.start()
	return c
}

// setConfig writes the config file with extra lines (indented by six
// spaces) in the connector's config block; the next start reads it.
func (c *myCrash) setConfig(extra string) {
	c.writeConfig("mysql-source", fmt.Sprintf(`      addr: %s
      user: root
      password: sluice
      server_id: 7301
      tables: [public.*]
      topic_prefix: wl
      heartbeat_interval: 500ms
%s`, c.m.Addr(), extra))
}

// fenceNow commits a fence row and waits until the log holds it.
func (c *myCrash) fenceNow(ctx context.Context) {
	c.t.Helper()
	c.fence++
	c.m.Exec(c.t, fmt.Sprintf("REPLACE INTO public.wl_fence VALUES (1, %d)", c.fence))
	waitForFence(c.t, ctx, c.addr, c.fence, c.runs[len(c.runs)-1])
}

// myWorkload runs transactions random transactions on items and pairs:
// inserts, updates, deletes and key changes, several statements each,
// some rolled back, one of 2,500 rows (more than a source batch), an
// ALTER TABLE adding a column and a TRUNCATE of pairs. between(i) runs
// after transaction i commits.
func myWorkload(t *testing.T, m *testdb.MariaDB, rng *rand.Rand, transactions int, between func(i int)) {
	t.Helper()
	next := 1_000_000
	for i := 1; i <= transactions; i++ {
		var sql strings.Builder
		switch {
		case i == transactions/4:
			sql.WriteString("USE public; INSERT INTO items (id, n, s, d) SELECT seq, seq % 97, CONCAT('bulk ', seq), seq / 100 FROM seq_2000000_to_2002499;")
		case i == transactions/3:
			sql.WriteString("ALTER TABLE public.items ADD COLUMN extra int NOT NULL DEFAULT 7 AFTER n;")
		case i == transactions/2:
			sql.WriteString("TRUNCATE TABLE public.pairs;")
		default:
			sql.WriteString("BEGIN;")
			for range 1 + rng.IntN(6) {
				id := 1 + rng.IntN(next-1_000_000+50)
				if rng.IntN(2) == 0 {
					id += 1_000_000 - 50
				}
				switch rng.IntN(7) {
				case 0, 1:
					next++
					fmt.Fprintf(&sql, "INSERT INTO public.items (id, n, s, d) VALUES (%d, %d, 'r%d', %d.%02d);", next, rng.IntN(1000), next, rng.IntN(100000), rng.IntN(100))
				case 2:
					fmt.Fprintf(&sql, "UPDATE public.items SET n = %d, s = NULL WHERE id = %d;", rng.IntN(1000), id)
				case 3:
					fmt.Fprintf(&sql, "DELETE FROM public.items WHERE id = %d;", id)
				case 4:
					next++
					fmt.Fprintf(&sql, "UPDATE public.items SET id = %d WHERE id = %d;", next, id)
				case 5:
					fmt.Fprintf(&sql, "INSERT INTO public.pairs VALUES (%d, %d, 'p%d') ON DUPLICATE KEY UPDATE v = 'q%d';", rng.IntN(20), rng.IntN(20), i, i)
				case 6:
					fmt.Fprintf(&sql, "DELETE FROM public.pairs WHERE a = %d;", rng.IntN(20))
				}
			}
			if rng.IntN(8) == 0 {
				sql.WriteString("ROLLBACK;")
			} else {
				sql.WriteString("COMMIT;")
			}
		}
		m.Exec(t, sql.String())
		between(i)
	}
}

// myEvent is a change event as the json converter wrote it.
type myEvent struct {
	Before, After map[string]any
	Op            string
	Source        struct {
		Table    string `json:"table"`
		Snapshot string `json:"snapshot"`
		TxID     string `json:"txId"`
	} `json:"source"`
	Transaction *struct {
		ID         string `json:"id"`
		TotalOrder int64  `json:"total_order"`
	} `json:"transaction"`
}

// check stops sluice with SIGTERM, reads every wl.public.* topic from
// offset 0, rebuilds items and pairs from it, and compares them with
// MariaDB's, value by value; and checks that every streamed change of a
// committed transaction is in the log once: no (transaction, order, op)
// twice, and each transaction's orders 1..n with none missing.
func (c *myCrash) check() {
	t := c.t
	t.Helper()
	l := c.stop()
	defer l.Close()
	recs, err := pgworkload.ReadLog(l, "wl.public")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string][]string{"items": {"id"}, "pairs": {"a", "b"}}
	// rebuilt[table][partition][key] = row; a partition is replayed in
	// offset order, and a key's changes all go to one partition.
	rebuilt := map[string]map[int32]map[string]map[string]any{}
	seen := map[string]int{}       // txId/order/op → count
	orders := map[string][]int64{} // txId → orders
	streamed := 0
	for _, r := range recs {
		if r.Value == nil {
			continue
		}
		var ev myEvent
		d := json.NewDecoder(bytes.NewReader(r.Value))
		d.UseNumber()
		if err := d.Decode(&ev); err != nil {
			t.Fatalf("%s/%d@%d: %v: %s", r.Topic, r.Partition, r.Offset, err, r.Value)
		}
		kc, ok := keys[ev.Source.Table]
		if !ok {
			continue
		}
		if rebuilt[ev.Source.Table] == nil {
			rebuilt[ev.Source.Table] = map[int32]map[string]map[string]any{}
		}
		part := rebuilt[ev.Source.Table][r.Partition]
		if part == nil {
			part = map[string]map[string]any{}
			rebuilt[ev.Source.Table][r.Partition] = part
		}
		rowKey := func(img map[string]any) string {
			var parts []string
			for _, k := range kc {
				parts = append(parts, fmt.Sprint(img[k]))
			}
			return strings.Join(parts, ",")
		}
		switch ev.Op {
		case "r", "c", "u":
			if ev.Before != nil && rowKey(ev.Before) != rowKey(ev.After) {
				t.Errorf("%s/%d@%d: an update changes the key: %s", r.Topic, r.Partition, r.Offset, r.Value)
			}
			part[rowKey(ev.After)] = ev.After
		case "d":
			delete(part, rowKey(ev.Before))
		case "t":
			clear(part)
		}
		if ev.Source.Snapshot == "false" && ev.Transaction != nil && ev.Op != "t" {
			streamed++
			id := fmt.Sprintf("%s/%d/%s", ev.Transaction.ID, ev.Transaction.TotalOrder, ev.Op)
			seen[id]++
			if seen[id] == 2 {
				t.Errorf("%s is in the log twice (the second at %s/%d@%d)", id, r.Topic, r.Partition, r.Offset)
			}
			orders[ev.Transaction.ID] = append(orders[ev.Transaction.ID], ev.Transaction.TotalOrder)
		}
	}
	for tx, os := range orders {
		slices.Sort(os)
		os = slices.Compact(os)
		if os[0] != 1 || os[len(os)-1] != int64(len(os)) {
			t.Errorf("transaction %s: orders %v are not 1..n: an event is missing", tx, os)
		}
	}
	for table, kc := range keys {
		got := map[string]string{}
		for _, part := range rebuilt[table] {
			for k, img := range part {
				got[k] = myRowText(img)
			}
		}
		want := map[string]string{}
		lines := strings.Split(c.m.Query(t, "SELECT * FROM public."+table), "\n")
		cols := strings.Split(c.m.Query(t, "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'public' AND TABLE_NAME = '"+table+"' ORDER BY ORDINAL_POSITION"), "\n")
		for _, line := range lines {
			if line == "" {
				continue
			}
			f := strings.Split(line, "\t")
			img := map[string]any{}
			for i, col := range cols {
				if f[i] != "NULL" {
					img[col] = f[i]
				} else {
					img[col] = nil
				}
			}
			var parts []string
			for _, k := range kc {
				parts = append(parts, fmt.Sprint(img[k]))
			}
			want[strings.Join(parts, ",")] = myRowText(img)
		}
		problems := 0
		for k, w := range want {
			if g, ok := got[k]; !ok {
				t.Errorf("%s %s: missing from the log; MariaDB has %s", table, k, w)
				problems++
			} else if g != w {
				// A row whose last event came before the ALTER has no
				// extra column; MariaDB gives it the default.
				if g2 := strings.Replace(w, " extra=7", "", 1); g != g2 {
					t.Errorf("%s %s: log %s, MariaDB %s", table, k, g, w)
					problems++
				}
			}
			if problems > 20 {
				t.Fatal("too many problems")
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s %s: in the log (%s) but not in MariaDB", table, k, g)
			}
		}
		t.Logf("%s: %d rows rebuilt, %d in MariaDB", table, len(got), len(want))
	}
	t.Logf("%d kills; %d streamed events in %d transactions", c.kills, streamed, len(orders))
}

// myRowText renders a row image with its columns sorted, values as
// MariaDB's client prints them.
func myRowText(img map[string]any) string {
	cols := make([]string, 0, len(img))
	for c := range img {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	var b strings.Builder
	for _, c := range cols {
		v := img[c]
		if v == nil {
			v = "NULL"
		}
		fmt.Fprintf(&b, " %s=%v", c, v)
	}
	return b.String()
}

func mySeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SLUICE_MYSQL_WORKLOAD_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SLUICE_MYSQL_WORKLOAD_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("workload seed %d (replay with SLUICE_MYSQL_WORKLOAD_SEED=%d)", seed, seed)
	return seed
}

// TestProcessKill9MySQLSource kills "sluice run" with SIGKILL during its
// initial snapshot of a MariaDB database (20,000 rows read in chunks of
// 20 on two connections, so that the kill lands in it), and then four times while it streams
// a random workload, each time right after a transaction committed (one
// of them the 2,500-row transaction, larger than a source batch). After a
// last run has caught up (a fence row read back through the Kafka API),
// the topics are read from offset 0: the tables rebuilt from them equal
// MariaDB's value by value, and no streamed change is there twice or
// missing.
func TestProcessKill9MySQLSource(t *testing.T) {
	rng := rand.New(rand.NewPCG(mySeed(t), 3))
	m := testdb.StartMariaDB(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	c := startMyCrash(t, m,
		"INSERT INTO public.items (id, n, s, d) SELECT seq, seq % 1000, CONCAT('snap ', seq), seq / 7 FROM seq_1_to_20000;",
		"      snapshot_chunk_size: 20\n      snapshot_parallelism: 2\n")
	c.waitPosition("a stored snapshot chunk", func(pos string) bool { return strings.Contains(pos, "snapshot=") })
	c.setConfig("      snapshot_chunk_size: 2000\n      snapshot_parallelism: 2\n")
	if pos := c.kill(); !strings.Contains(pos, "snapshot=") {
		t.Fatalf("the kill did not interrupt the initial snapshot: stored position %q", pos)
	}
	c.fenceNow(ctx) // the snapshot is done and streaming
	const transactions = 400
	myWorkload(t, m, rng, transactions, func(i int) {
		// Right after transactions 80, 100 (the bulk one), 200 and 320.
		if i == transactions/5 || i == transactions/4 || i == transactions/2 || i == 4*transactions/5 {
			t.Logf("kill after transaction %d: stored position %.100s", i, c.kill())
		}
	})
	if c.kills != 5 {
		t.Fatalf("%d kills, want 5", c.kills)
	}
	c.fenceNow(ctx)
	c.check()
}
