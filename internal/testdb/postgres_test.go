package testdb

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestPostgresSettings(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t)
	for _, tc := range []struct{ setting, want string }{
		{"wal_level", "logical"},
		{"max_replication_slots", "10"},
		{"max_wal_senders", "10"},
		{"listen_addresses", "127.0.0.1"},
		{"server_encoding", "UTF8"},
		{"TimeZone", "UTC"},
	} {
		if got := pg.Query(t, "", "SHOW "+tc.setting); got != tc.want {
			t.Errorf("SHOW %s = %q, want %q", tc.setting, got, tc.want)
		}
	}
	if got := pg.Query(t, "postgres", "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"); got != "postgres\tt" {
		t.Errorf("current user = %q, want superuser postgres", got)
	}
}

// TestPostgresReplicationConnections checks that pg_hba.conf lets both kinds
// of replication connection in from 127.0.0.1 without a password, and that
// a logical slot can be made.
func TestPostgresReplicationConnections(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t)
	pg.CreateDatabase(t, "shop")
	for _, mode := range []string{"database", "true"} {
		out, err := exec.Command(pg.psql, "-X", "-A", "-t", "-d", pg.DSN("shop")+"&replication="+mode,
			"-c", "IDENTIFY_SYSTEM").CombinedOutput()
		if err != nil {
			t.Errorf("IDENTIFY_SYSTEM with replication=%s: %v\n%s", mode, err, out)
		}
	}
	if got := pg.Query(t, "shop", "SELECT slot_name FROM pg_create_logical_replication_slot('s', 'pgoutput')"); got != "s" {
		t.Errorf("create logical slot = %q, want s", got)
	}
}

func TestPostgresRestartKeepsData(t *testing.T) {
	t.Parallel()
	pg := StartPostgres(t)
	port := pg.Port
	pg.CreateDatabase(t, "shop")
	pg.Exec(t, "shop", `
		CREATE TABLE customers (id int PRIMARY KEY, name text);
		INSERT INTO customers VALUES (1, 'ada');
		SELECT pg_create_logical_replication_slot('s', 'pgoutput');
	`)

	pg.Restart(t)
	pg.Exec(t, "shop", "INSERT INTO customers VALUES (2, 'grace')")

	pg.Kill()
	pg.Restart(t)
	if got, want := pg.Query(t, "shop", "SELECT id, name FROM customers ORDER BY id"), "1\tada\n2\tgrace"; got != want {
		t.Errorf("rows after restart and kill = %q, want %q", got, want)
	}
	if got := pg.Query(t, "shop", "SELECT slot_name FROM pg_replication_slots"); got != "s" {
		t.Errorf("slots after restart and kill = %q, want s", got)
	}
	if pg.Port != port {
		t.Errorf("port changed from %d to %d", port, pg.Port)
	}

	pg.Stop()
	pg.Stop() // stopping twice is harmless
	pg.Restart(t)
	if got := pg.Query(t, "shop", "SELECT count(*) FROM customers"); got != "2" {
		t.Errorf("rows after stop and restart = %q, want 2", got)
	}
}

func TestPostgresTwoServers(t *testing.T) {
	t.Parallel()
	a := StartPostgres(t)
	b := StartPostgres(t, PostgresSetting("max_replication_slots", "20"))
	if a.Port == b.Port || a.Dir == b.Dir {
		t.Fatalf("two servers share port %d or directory %s", a.Port, a.Dir)
	}
	a.Exec(t, "", "CREATE TABLE only_in_a (id int)")
	if got := b.Query(t, "", "SELECT to_regclass('only_in_a') IS NULL"); got != "t" {
		t.Errorf("table made in server a visible in server b")
	}
	if got := b.Query(t, "", "SHOW max_replication_slots"); got != "20" {
		t.Errorf("PostgresSetting: max_replication_slots = %q, want 20", got)
	}
	if got := a.Query(t, "", "SHOW max_replication_slots"); got != "10" {
		t.Errorf("default max_replication_slots = %q, want 10", got)
	}

	// A port another server holds is reported as such, so that the first
	// start can try another one.
	b.Stop()
	b.srv.mu.Lock()
	err := b.srv.startLocked(a.Port)
	b.srv.mu.Unlock()
	if !errors.Is(err, errPortInUse) {
		t.Errorf("start on a port in use: %v, want %v", err, errPortInUse)
	}
}

func TestPostgresStartFailureShowsLog(t *testing.T) {
	t.Parallel()
	failed, _ := capture(t, func(tb testing.TB) { StartPostgres(tb, PostgresSetting("wal_level", "bogus")) })
	for _, want := range []string{"PostgreSQL exited during start-up", `invalid value for parameter "wal_level": "bogus"`} {
		if !strings.Contains(failed, want) {
			t.Errorf("failure %q does not contain %q", failed, want)
		}
	}
}

func TestPostgresDSN(t *testing.T) {
	p := &Postgres{Host: "127.0.0.1", Port: 5433, User: "postgres"}
	for db, want := range map[string]string{
		"shop":  "postgres://postgres@127.0.0.1:5433/shop?sslmode=disable",
		"a b/c": "postgres://postgres@127.0.0.1:5433/a%20b%2Fc?sslmode=disable",
		"":      "postgres://postgres@127.0.0.1:5433/?sslmode=disable",
	} {
		if got := p.DSN(db); got != want {
			t.Errorf("DSN(%q) = %q, want %q", db, got, want)
		}
	}
	if s := p.DSN("shop"); !strings.HasPrefix(s, "postgres://") {
		t.Errorf("DSN = %q", s)
	}
}
