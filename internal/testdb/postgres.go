package testdb

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Postgres is a running private PostgreSQL server. Its fields describe it;
// changing them changes nothing.
type Postgres struct {
	Host    string // 127.0.0.1
	Port    int    // chosen at the first start, kept by Restart
	User    string // the superuser, postgres; no password
	Dir     string // the temporary directory: data directory, log, unix socket
	DataDir string // the cluster's data directory, inside Dir
	LogFile string // the server's output, inside Dir

	psql string
	srv  *server
}

// PostgresOption changes how StartPostgres sets up the server.
type PostgresOption func(*postgresConfig)

type postgresConfig struct {
	settings [][2]string
}

// PostgresSetting adds "name = 'value'" to postgresql.conf after the
// package's own settings, which it overrides.
func PostgresSetting(name, value string) PostgresOption {
	return func(c *postgresConfig) { c.settings = append(c.settings, [2]string{name, value}) }
}

const pgDebianDir = "/usr/lib/postgresql/15/bin"

// StartPostgres initialises a new PostgreSQL cluster in a temporary
// directory, starts it on a free port on 127.0.0.1 and waits until it
// accepts connections. The server is stopped and its directory removed when
// t ends. When the binaries are missing the test is skipped, or fails if CI
// is true.
func StartPostgres(t testing.TB, opts ...PostgresOption) *Postgres {
	t.Helper()
	began := time.Now()
	var cfg postgresConfig
	for _, o := range opts {
		o(&cfg)
	}

	binDir, err := findPostgresBinDir()
	if err != nil {
		unavailable(t, err.Error())
	}
	psql := filepath.Join(binDir, "psql")
	if !isExecutable(psql) {
		psql = tool{names: []string{"psql"}, pkg: "postgresql-client-15"}.require(t)
	}

	// PostgreSQL refuses to run as root; run it as the postgres OS user.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			unavailable(t, "testdb: the tests run as root, and PostgreSQL refuses to run as root, but there is no OS user postgres to run it as; "+
				"install the Debian package postgresql-15 (apt-get install -y postgresql-15), which creates that user, or run the tests as another user")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}

	dir, err := makeTempDir("sluice-testdb-pg-", cred != nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &Postgres{
		Host:    "127.0.0.1",
		User:    "postgres",
		Dir:     dir,
		DataDir: filepath.Join(dir, "data"),
		LogFile: filepath.Join(dir, "postgres.log"),
		psql:    psql,
	}
	p.srv = &server{
		kind:    "PostgreSQL",
		tb:      t,
		logFile: p.LogFile,
		stopSig: syscall.SIGINT, // fast shutdown
		command: func(port int) *exec.Cmd {
			cmd := exec.Command(filepath.Join(binDir, "postgres"), "-D", p.DataDir, "-p", strconv.Itoa(port))
			cmd.Dir = dir
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
			return cmd
		},
		ready: p.ready,
	}
	t.Cleanup(func() {
		p.srv.stop()
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("testdb: remove PostgreSQL directory: %v", err)
		}
	})
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatalf("testdb: give %s to the postgres OS user: %v", dir, err)
		}
	}

	initdb := exec.Command(filepath.Join(binDir, "initdb"),
		"-D", p.DataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
		"--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("testdb: initdb: %v\n%s", err, out)
	}
	if err := p.configure(cfg); err != nil {
		t.Fatal(err)
	}

	if p.Port, err = p.srv.startOnFreePort(); err != nil {
		t.Fatal(err)
	}
	t.Logf("testdb: PostgreSQL on %s:%d ready in %v (dir %s)", p.Host, p.Port, time.Since(began).Round(time.Millisecond), dir)
	return p
}

// findPostgresBinDir returns the first directory that holds both initdb and
// postgres: the one of initdb on PATH, the Debian PostgreSQL 15 directory,
// then other Debian versions, newest first.
func findPostgresBinDir() (string, error) {
	var dirs []string
	if path, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(path))
	}
	dirs = append(dirs, pgDebianDir)
	others, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(others, func(a, b string) int { return pgVersion(b) - pgVersion(a) })
	dirs = append(dirs, others...)
	for _, dir := range dirs {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("testdb: PostgreSQL server binaries initdb and postgres not found on PATH or in %s; "+
		"install the Debian package postgresql-15 (apt-get install -y postgresql-15)", pgDebianDir)
}

// pgVersion returns the major version in /usr/lib/postgresql/VERSION/bin.
func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// configure writes the package's settings into the new cluster. It only
// rewrites files initdb made, so their owner stays the postgres OS user.
func (p *Postgres) configure(cfg postgresConfig) error {
	settings := [][2]string{
		{"listen_addresses", "127.0.0.1"},
		{"unix_socket_directories", p.Dir},
		{"wal_level", "logical"},
		{"max_replication_slots", "10"},
		{"max_wal_senders", "10"},
		{"fsync", "off"},
		{"full_page_writes", "off"},
		{"shared_buffers", "32MB"},
		{"timezone", "UTC"},
		{"log_timezone", "UTC"},
		{"lc_messages", "C"},
	}
	settings = append(settings, cfg.settings...)
	var conf strings.Builder
	conf.WriteString("\n# Added by sluice internal/testdb.\n")
	for _, s := range settings {
		fmt.Fprintf(&conf, "%s = '%s'\n", s[0], strings.ReplaceAll(s[1], "'", "''"))
	}
	f, err := os.OpenFile(filepath.Join(p.DataDir, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("testdb: configure PostgreSQL: %w", err)
	}
	_, err = f.WriteString(conf.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("testdb: configure PostgreSQL: %w", err)
	}

	const hba = `# Written by sluice internal/testdb: trust everything local.
local all         all                trust
local replication all                trust
host  all         all   127.0.0.1/32 trust
host  replication all   127.0.0.1/32 trust
`
	if err := os.WriteFile(filepath.Join(p.DataDir, "pg_hba.conf"), []byte(hba), 0); err != nil {
		return fmt.Errorf("testdb: configure PostgreSQL: %w", err)
	}
	return nil
}

// ready reports whether the postmaster running as pid accepts connections:
// it writes "ready" into line 8 of postmaster.pid once it does. The pid
// check keeps a file left behind by a killed server from counting.
func (p *Postgres) ready(pid int, _ int64) bool {
	b, err := os.ReadFile(filepath.Join(p.DataDir, "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(string(b), "\n")
	return len(lines) >= 8 && lines[0] == strconv.Itoa(pid) && strings.TrimSpace(lines[7]) == "ready"
}

// DSN returns a libpq URL for database db as the superuser, for example
// postgres://postgres@127.0.0.1:5432/db?sslmode=disable.
func (p *Postgres) DSN(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(p.User),
		Host:     fmt.Sprintf("%s:%d", p.Host, p.Port),
		Path:     "/" + db,
		RawPath:  "/" + url.PathEscape(db),
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Exec runs sql, one or more statements, in database db ("" means
// postgres) with psql, stopping at the first error, which fails the test.
// Statements run one by one, not in one transaction, so CREATE DATABASE and
// the like are allowed. Call it from the test's goroutine.
func (p *Postgres) Exec(t testing.TB, db, sql string) {
	t.Helper()
	runClient(t, "PostgreSQL", p.psqlCommand(db, "-q"), sql)
}

// Query runs sql in database db ("" means postgres) like Exec and returns
// the rows psql prints: one line per row, columns separated by tabs, no
// header, no trailing newline.
func (p *Postgres) Query(t testing.TB, db, sql string) string {
	t.Helper()
	return runClient(t, "PostgreSQL", p.psqlCommand(db, "-q", "-A", "-t", "-F", "\t"), sql)
}

func (p *Postgres) psqlCommand(db string, args ...string) *exec.Cmd {
	if db == "" {
		db = "postgres"
	}
	args = append([]string{"-X", "-v", "ON_ERROR_STOP=1", "-d", p.DSN(db) + "&connect_timeout=10", "-f", "-"}, args...)
	cmd := exec.Command(p.psql, args...)
	cmd.Dir = p.Dir
	return cmd
}

// CreateDatabase creates database name.
func (p *Postgres) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	p.Exec(t, "postgres", `CREATE DATABASE "`+strings.ReplaceAll(name, `"`, `""`)+`"`)
}

// Restart stops the server, with a fast shutdown, if it runs, and starts it
// again on the same port and data directory. After Kill it starts a server
// that first recovers from the crash.
func (p *Postgres) Restart(t testing.TB) {
	t.Helper()
	p.srv.restart(t)
}

// Stop shuts the server down with a fast shutdown (open sessions are ended,
// their transactions rolled back) and waits until it has exited. Stopping a
// stopped server does nothing. The data directory stays until the test ends.
func (p *Postgres) Stop() { p.srv.stop() }

// Kill sends SIGKILL to the postmaster and all its backends, as a crash
// would, and waits until they are gone. Committed transactions survive: their
// WAL was written to the operating system before the commit returned.
func (p *Postgres) Kill() { p.srv.kill() }
