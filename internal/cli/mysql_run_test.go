package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-cdc/sluice/internal/testdb"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProcessRunMySQLSource runs the real binary with a mysql-source
// config against MariaDB: the snapshot and a streamed change reach the
// topic, and /metrics shows the source's gauges of issue 6 (seconds
// behind the source, the schema history's size, snapshot rows) and the
// runtime's records per table.
func TestProcessRunMySQLSource(t *testing.T) {
	m := testdb.StartMariaDB(t)
	m.Exec(t, `CREATE DATABASE shop; CREATE TABLE shop.items (id int PRIMARY KEY, s varchar(10));
		INSERT INTO shop.items VALUES (1, 'a'), (2, 'b');`)
	dir := t.TempDir()
	config := filepath.Join(dir, "sluice.yaml")
	err := os.WriteFile(config, []byte(fmt.Sprintf(`version: 1
node:
  data_dir: %s
  kafka_listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
connectors:
  - name: my
    kind: mysql-source
    config:
      addr: %s
      user: root
      password: sluice
      server_id: 6101
      tables: [shop.items]
      topic_prefix: shopmy
      heartbeat_interval: 500ms
`, filepath.Join(dir, "data"), m.Addr())), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd, addr, stderr := startSluiceRun(t, sluiceBinary(t), config)
	waitForRecords(t, t.Context(), addr, "shopmy.shop.items", stderr)
	m.Exec(t, `INSERT INTO shop.items VALUES (3, 'c'); UPDATE shop.items SET s = 'z' WHERE id = 1;`)

	admin := listeningRE.FindStringSubmatch(stderr.String())
	if admin == nil {
		t.Fatalf("no admin address logged; stderr:\n%s", stderr)
	}
	want := map[string]func(float64) bool{
		`sluice_source_records_total{connector="my",topic="shopmy.shop.items"}`:             func(v float64) bool { return v == 4 },
		`sluice_source_status_events{connector="my",task="0"}`:                              func(v float64) bool { return v == 2 },
		`sluice_source_status_snapshot_rows{connector="my",task="0"}`:                       func(v float64) bool { return v == 2 },
		`sluice_source_status_seconds_behind_source{connector="my",task="0"}`:               func(v float64) bool { return v >= 0 },
		`sluice_source_status_schema_history_records{connector="my",task="0"}`:              func(v float64) bool { return v == 1 },
		`sluice_source_status_schema_history_bytes{connector="my",task="0"}`:                func(v float64) bool { return v > 100 },
		`sluice_source_status_schema_history_tables{connector="my",task="0"}`:               func(v float64) bool { return v == 1 },
		`sluice_source_status_events_per_table{connector="my",table="shop.items",task="0"}`: func(v float64) bool { return v == 2 },
	}
	var metrics string
	var bad []string
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		metrics = scrape(t, "http://"+admin[1]+"/metrics")
		bad = bad[:0]
		for series, ok := range want {
			v, found := metricValue(metrics, series)
			if !found || !ok(v) {
				bad = append(bad, fmt.Sprintf("%s = %v (found %v)", series, v, found))
			}
		}
		if len(bad) == 0 {
			break
		}
	}
	if len(bad) > 0 {
		t.Fatalf("/metrics:\n%s\nwrong series:\n%s", grepLines(metrics, "sluice_source"), strings.Join(bad, "\n"))
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("sluice run after SIGTERM: %v; stderr:\n%s", err, stderr)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metricValue returns the value of the series (name with its labels in
// the exposition's order) in a Prometheus text exposition.
func metricValue(exposition, series string) (float64, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(exposition)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// waitForRecords waits until topic has a record, read through the Kafka
// API at addr.
func waitForRecords(t *testing.T, ctx context.Context, addr, topic string, stderr *lineReader) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollFetches(pctx)
		cancel()
		if fetches.NumRecords() > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no record in %s; stderr:\n%s", topic, stderr)
		}
	}
}
