package testdb

import (
	"errors"
	"strings"
	"testing"
)

func TestMariaDBSettings(t *testing.T) {
	t.Parallel()
	m := StartMariaDB(t)
	if got, want := m.Query(t, "SHOW VARIABLES LIKE 'binlog_format'"), "binlog_format\tROW"; got != want {
		t.Errorf("SHOW VARIABLES LIKE 'binlog_format' = %q, want %q", got, want)
	}
	for _, tc := range []struct{ variable, want string }{
		{"log_bin", "1"},
		{"binlog_row_image", "FULL"},
		{"server_id", "1"},
		{"gtid_strict_mode", "1"},
		{"log_slave_updates", "1"},
		{"bind_address", "127.0.0.1"},
		{"character_set_server", "utf8mb4"},
		{"time_zone", "+00:00"},
	} {
		if got := m.Query(t, "SELECT @@"+tc.variable); got != tc.want {
			t.Errorf("@@%s = %q, want %q", tc.variable, got, tc.want)
		}
	}
	grants := m.Query(t, "SHOW GRANTS FOR CURRENT_USER")
	if !strings.Contains(grants, "GRANT ALL PRIVILEGES ON *.* TO `root`@`127.0.0.1`") {
		t.Errorf("root's grants = %q, want all privileges", grants)
	}
}

func TestMariaDBRestartKeepsData(t *testing.T) {
	t.Parallel()
	m := StartMariaDB(t)
	port := m.Port
	m.CreateDatabase(t, "shop")
	m.Exec(t, `
		CREATE TABLE shop.customers (id int PRIMARY KEY, name text);
		INSERT INTO shop.customers VALUES (1, 'ada');
	`)
	gtid := m.Query(t, "SELECT @@gtid_binlog_pos")
	if !strings.HasPrefix(gtid, "0-1-") {
		t.Fatalf("gtid_binlog_pos after writes = %q, want 0-1-N", gtid)
	}

	m.Restart(t)
	if got := m.Query(t, "SELECT @@gtid_binlog_pos"); got != gtid {
		t.Errorf("gtid_binlog_pos after restart = %q, want %q", got, gtid)
	}
	m.Exec(t, "INSERT INTO shop.customers VALUES (2, 'grace')")
	gtid = m.Query(t, "SELECT @@gtid_binlog_pos")

	m.Kill()
	m.Restart(t)
	if got, want := m.Query(t, "SELECT id, name FROM shop.customers ORDER BY id"), "1\tada\n2\tgrace"; got != want {
		t.Errorf("rows after restart and kill = %q, want %q", got, want)
	}
	if got := m.Query(t, "SELECT @@gtid_binlog_pos"); got != gtid {
		t.Errorf("gtid_binlog_pos after kill = %q, want %q", got, gtid)
	}
	if m.Port != port {
		t.Errorf("port changed from %d to %d", port, m.Port)
	}

	m.Stop()
	m.Stop() // stopping twice is harmless
	m.Restart(t)
	if got := m.Query(t, "SELECT count(*) FROM shop.customers"); got != "2" {
		t.Errorf("rows after stop and restart = %q, want 2", got)
	}
}

func TestMariaDBTwoServers(t *testing.T) {
	t.Parallel()
	a := StartMariaDB(t)
	b := StartMariaDB(t, MariaDBSetting("server_id", "7"))
	if a.Port == b.Port || a.Dir == b.Dir {
		t.Fatalf("two servers share port %d or directory %s", a.Port, a.Dir)
	}
	a.CreateDatabase(t, "only_in_a")
	if got := b.Query(t, "SHOW DATABASES LIKE 'only_in_a'"); got != "" {
		t.Errorf("database made in server a visible in server b")
	}
	if got := b.Query(t, "SELECT @@server_id"); got != "7" {
		t.Errorf("MariaDBSetting: server_id = %q, want 7", got)
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

func TestMariaDBDSN(t *testing.T) {
	m := &MariaDB{Host: "127.0.0.1", Port: 3307, User: "root", Password: "pw"}
	if got, want := m.DSN(), "root:pw@tcp(127.0.0.1:3307)/"; got != want {
		t.Errorf("DSN() = %q, want %q", got, want)
	}
	if got, want := m.Addr(), "127.0.0.1:3307"; got != want {
		t.Errorf("Addr() = %q, want %q", got, want)
	}
}
