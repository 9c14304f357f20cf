package testdb

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MariaDB is a running private MariaDB server. Its fields describe it;
// changing them changes nothing.
type MariaDB struct {
	Host     string // 127.0.0.1
	Port     int    // chosen at the first start, kept by Restart
	User     string // root, with all privileges, replication included
	Password string // User's password
	Dir      string // the temporary directory: my.cnf, data directory, log, unix socket
	DataDir  string // the data directory, with the binlog, inside Dir
	LogFile  string // the server's output, inside Dir

	client   string
	confFile string
	srv      *server
}

// MariaDBOption changes how StartMariaDB sets up the server.
type MariaDBOption func(*mariadbConfig)

type mariadbConfig struct {
	settings [][2]string
}

// MariaDBSetting adds "name=value" to the [mysqld] group of the server's
// my.cnf after the package's own settings, which it overrides. An empty
// value writes just the name, as for a flag such as skip-log-bin.
func MariaDBSetting(name, value string) MariaDBOption {
	return func(c *mariadbConfig) { c.settings = append(c.settings, [2]string{name, value}) }
}

// mariadbPassword is root's password in every server StartMariaDB makes.
const mariadbPassword = "sluice"

var (
	mariadbServerTool  = tool{names: []string{"mariadbd", "mysqld"}, dirs: []string{"/usr/sbin"}, pkg: "mariadb-server"}
	mariadbInstallTool = tool{names: []string{"mariadb-install-db", "mysql_install_db"}, dirs: []string{"/usr/bin"}, pkg: "mariadb-server"}
	mariadbClientTool  = tool{names: []string{"mariadb", "mysql"}, dirs: []string{"/usr/bin"}, pkg: "mariadb-client"}
)

// StartMariaDB creates a new MariaDB data directory in a temporary
// directory, starts the server on a free port on 127.0.0.1 and waits until
// it accepts connections. The server is stopped and its directory removed
// when t ends. When the binaries are missing the test is skipped, or fails
// if CI is true.
func StartMariaDB(t testing.TB, opts ...MariaDBOption) *MariaDB {
	t.Helper()
	began := time.Now()
	var cfg mariadbConfig
	for _, o := range opts {
		o(&cfg)
	}
	serverBin := mariadbServerTool.require(t)
	installBin := mariadbInstallTool.require(t)
	clientBin := mariadbClientTool.require(t)

	dir, err := makeTempDir("sluice-testdb-mariadb-", false)
	if err != nil {
		t.Fatal(err)
	}
	m := &MariaDB{
		Host:     "127.0.0.1",
		User:     "root",
		Password: mariadbPassword,
		Dir:      dir,
		DataDir:  filepath.Join(dir, "data"),
		LogFile:  filepath.Join(dir, "mariadbd.log"),
		client:   clientBin,
		confFile: filepath.Join(dir, "my.cnf"),
	}
	// mariadbd refuses to run as root unless told to.
	var asRoot []string
	if os.Geteuid() == 0 {
		asRoot = []string{"--user=root"}
	}
	m.srv = &server{
		kind:    "MariaDB",
		tb:      t,
		logFile: m.LogFile,
		stopSig: syscall.SIGTERM,
		command: func(port int) *exec.Cmd {
			// --defaults-file must come first.
			args := append([]string{"--defaults-file=" + m.confFile, "--port=" + strconv.Itoa(port)}, asRoot...)
			cmd := exec.Command(serverBin, args...)
			cmd.Dir = dir
			return cmd
		},
		ready: m.ready,
	}
	t.Cleanup(func() {
		m.srv.stop()
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("testdb: remove MariaDB directory: %v", err)
		}
	})

	if err := m.writeConfig(cfg); err != nil {
		t.Fatal(err)
	}
	// The accounts for the machine's host name are useless with
	// skip-name-resolve and only add warnings to the log. In bootstrap mode
	// the grant tables are not loaded; FLUSH PRIVILEGES loads them so that
	// ALTER USER works.
	initSQL := filepath.Join(dir, "init.sql")
	accounts := fmt.Sprintf(`SET @host = IF(@@hostname IN ('localhost', '127.0.0.1', '::1'), '', @@hostname);
DELETE FROM mysql.global_priv WHERE Host = @host;
DELETE FROM mysql.proxies_priv WHERE Host = @host OR Proxied_host = @host;
FLUSH PRIVILEGES;
ALTER USER 'root'@'localhost' IDENTIFIED BY '%[1]s';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '%[1]s';
`, mariadbPassword)
	if err := os.WriteFile(initSQL, []byte(accounts), 0o600); err != nil {
		t.Fatalf("testdb: write MariaDB init SQL: %v", err)
	}
	install := exec.Command(installBin, append([]string{
		"--defaults-file=" + m.confFile,
		"--auth-root-authentication-method=normal",
		"--skip-test-db",
		"--skip-name-resolve",
		"--extra-file=" + initSQL,
	}, asRoot...)...)
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		// Drop the generic advice that follows the server's own errors.
		msg, _, _ := strings.Cut(string(out), "\nThe problem could be conflicting")
		t.Fatalf("testdb: %s: %v\n%s", filepath.Base(installBin), err, strings.TrimSpace(msg))
	}

	if m.Port, err = m.srv.startOnFreePort(); err != nil {
		t.Fatal(err)
	}
	t.Logf("testdb: MariaDB on %s ready in %v (dir %s)", m.Addr(), time.Since(began).Round(time.Millisecond), dir)
	return m
}

// writeConfig writes my.cnf: the server reads [mysqld], the mariadb client
// [client]. The port is not in it; it is given on each command line.
func (m *MariaDB) writeConfig(cfg mariadbConfig) error {
	if err := os.MkdirAll(filepath.Join(m.Dir, "tmp"), 0o700); err != nil {
		return fmt.Errorf("testdb: make MariaDB tmpdir: %w", err)
	}
	settings := [][2]string{
		{"datadir", m.DataDir},
		{"socket", filepath.Join(m.Dir, "mariadbd.sock")},
		// A temporary directory of its own: two servers bootstrapping at
		// once in a shared /tmp can remove each other's temporary tables.
		{"tmpdir", filepath.Join(m.Dir, "tmp")},
		{"pid-file", filepath.Join(m.Dir, "mariadbd.pid")},
		{"bind-address", "127.0.0.1"},
		{"skip-name-resolve", ""},
		{"server_id", "1"},
		{"log_bin", "binlog"},
		{"binlog_format", "ROW"},
		{"binlog_row_image", "FULL"},
		{"log_slave_updates", "ON"},
		{"gtid_strict_mode", "ON"},
		{"sync_binlog", "0"},
		{"innodb_buffer_pool_size", "64M"},
		{"innodb_log_file_size", "8M"},
		{"innodb_flush_log_at_trx_commit", "2"},
		{"innodb_doublewrite", "OFF"},
		// io_uring and libaio are often unavailable in containers.
		{"innodb_use_native_aio", "OFF"},
		{"character-set-server", "utf8mb4"},
		{"collation-server", "utf8mb4_general_ci"},
		{"default-time-zone", "+00:00"},
		{"performance_schema", "OFF"},
	}
	settings = append(settings, cfg.settings...)
	var b strings.Builder
	b.WriteString("# Written by sluice internal/testdb.\n[mysqld]\n")
	for _, s := range settings {
		if s[1] == "" {
			fmt.Fprintf(&b, "%s\n", s[0])
		} else {
			fmt.Fprintf(&b, "%s=%s\n", s[0], s[1])
		}
	}
	fmt.Fprintf(&b, "\n[client]\nuser=root\npassword=%s\nhost=127.0.0.1\ndefault-character-set=utf8mb4\n", mariadbPassword)
	if err := os.WriteFile(m.confFile, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("testdb: write MariaDB my.cnf: %w", err)
	}
	return nil
}

// ready reports whether the server accepts connections: it says so in its
// log once it does, even with log_warnings=0. A TCP probe could not tell
// this server from another one that holds the same port.
func (m *MariaDB) ready(_ int, logStart int64) bool {
	f, err := os.Open(m.LogFile)
	if err != nil {
		return false
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, logStart, 1<<30))
	return err == nil && bytes.Contains(b, []byte(": ready for connections"))
}

// Addr returns host:port, for example 127.0.0.1:3306.
func (m *MariaDB) Addr() string {
	return net.JoinHostPort(m.Host, strconv.Itoa(m.Port))
}

// DSN returns a go-sql-driver/mysql data source name for User with no
// default database, for example root:sluice@tcp(127.0.0.1:3306)/.
func (m *MariaDB) DSN() string {
	return fmt.Sprintf("%s:%s@tcp(%s)/", m.User, m.Password, m.Addr())
}

// Exec runs sql, one or more statements separated by semicolons, with the
// mariadb client as User, stopping at the first error, which fails the
// test. There is no default database: qualify names or start with USE.
// Call it from the test's goroutine.
func (m *MariaDB) Exec(t testing.TB, sql string) {
	t.Helper()
	runClient(t, "MariaDB", m.clientCommand(), sql)
}

// Query runs sql like Exec and returns the rows the client prints in batch
// mode: one line per row, columns separated by tabs, no header, no trailing
// newline. Tabs, newlines and backslashes in values appear as \t, \n and \\.
func (m *MariaDB) Query(t testing.TB, sql string) string {
	t.Helper()
	return runClient(t, "MariaDB", m.clientCommand("--skip-column-names"), sql)
}

// Command returns the mariadb client command, connected as User in batch
// mode, with args added (such as "--quick", "-e", "SELECT ...").
func (m *MariaDB) Command(args ...string) *exec.Cmd { return m.clientCommand(args...) }

func (m *MariaDB) clientCommand(args ...string) *exec.Cmd {
	// --defaults-file must come first.
	args = append([]string{"--defaults-file=" + m.confFile, "--port=" + strconv.Itoa(m.Port),
		"--protocol=TCP", "--connect-timeout=10", "--batch"}, args...)
	cmd := exec.Command(m.client, args...)
	cmd.Dir = m.Dir
	return cmd
}

// CreateDatabase creates database name.
func (m *MariaDB) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	m.Exec(t, "CREATE DATABASE `"+strings.ReplaceAll(name, "`", "``")+"`")
}

// Restart stops the server cleanly if it runs and starts it again on the
// same port and data directory. After Kill it starts a server that first
// recovers from the crash.
func (m *MariaDB) Restart(t testing.TB) {
	t.Helper()
	m.srv.restart(t)
}

// Stop shuts the server down cleanly (SIGTERM) and waits until it has
// exited. Stopping a stopped server does nothing. The data directory stays
// until the test ends.
func (m *MariaDB) Stop() { m.srv.stop() }

// Kill sends SIGKILL to the server, as a crash would, and waits until it is
// gone. Committed transactions survive: their redo log and binlog events
// were written to the operating system before the commit returned.
func (m *MariaDB) Kill() { m.srv.kill() }
