// Package testdb starts private, throw-away database servers for tests:
// PostgreSQL configured for logical replication and MariaDB configured for
// row-based binlog replication with GTIDs. Each server lives in its own
// temporary directory, listens only on 127.0.0.1 on a free port, and is
// stopped and deleted by t.Cleanup when the test that started it ends, even
// if the test panics. On a 2-core machine PostgreSQL starts in about 0.5 s
// and MariaDB in about 0.8 s, data directory creation included; a Restart
// takes some 30 ms and 100 ms. (go test -bench Start -benchtime=5x measures
// them.)
//
// The servers are the ones from the Debian packages; nothing is downloaded
// and the package uses only the Go standard library (it talks to the servers
// through their own command-line clients, psql and mariadb).
//
// # PostgreSQL
//
// [StartPostgres] runs initdb and postgres from the first directory that has
// both: PATH, /usr/lib/postgresql/15/bin, then any other
// /usr/lib/postgresql/*/bin, newest first (Debian package postgresql-15).
// The cluster has superuser postgres, encoding UTF8, locale C, time zone UTC,
// and these settings in postgresql.conf:
//
//	listen_addresses = '127.0.0.1'      port on the command line, free port
//	unix_socket_directories = Dir
//	wal_level = logical
//	max_replication_slots = 10
//	max_wal_senders = 10
//	fsync = off, full_page_writes = off (committed data survives Kill, not an OS crash)
//	shared_buffers = 32MB
//
// pg_hba.conf trusts every local connection and every host connection from
// 127.0.0.1, including replication connections, so no password is needed.
// PostgreSQL refuses to run as root: when the tests run as root, initdb and
// postgres run as the OS user postgres (which the Debian package creates)
// and the temporary directory is owned by that user.
//
// # MariaDB
//
// [StartMariaDB] runs mariadb-install-db and mariadbd (or mysqld) from PATH
// or /usr/sbin and /usr/bin (Debian package mariadb-server), and talks to the
// server with the mariadb client (package mariadb-client). The server reads
// only the my.cnf in its temporary directory, which sets:
//
//	bind-address = 127.0.0.1, skip-name-resolve   port on the command line, free port
//	server_id = 1
//	log_bin, binlog_format = ROW, binlog_row_image = FULL
//	log_slave_updates = ON, gtid_strict_mode = ON
//	sync_binlog = 0, innodb_flush_log_at_trx_commit = 2 (committed data survives Kill, not an OS crash)
//	innodb_buffer_pool_size = 64M, innodb_log_file_size = 8M,
//	innodb_doublewrite = OFF, innodb_use_native_aio = OFF (io_uring is often blocked in containers)
//	character-set-server = utf8mb4, default-time-zone = +00:00, performance_schema = OFF
//
// The grant tables are real (skip-grant-tables is never used): the user root
// logs in from 127.0.0.1 with the password in MariaDB.Password and holds all
// privileges, replication included. When the tests run as root, mariadbd
// runs with --user=root.
//
// Both servers take extra settings through [PostgresSetting] and
// [MariaDBSetting], which override the defaults above.
//
// # Talking to the servers
//
// DSN and Addr give what a Go driver needs. Exec and Query run SQL through
// the servers' own clients (psql, mariadb), so tests can set up tables and
// check results without a Go driver; Query returns rows as tab-separated
// lines.
//
// # Missing binaries and CI
//
// When a server binary or client is not installed, the test is skipped with
// a message that names the Debian package to install, for example
//
//	testdb: mariadbd or mysqld not found on PATH or in /usr/sbin; install the Debian package mariadb-server (apt-get install -y mariadb-server)
//
// When the environment variable CI is true (CI=true, as GitHub Actions and
// most CI systems set it), the same message fails the test instead, so a CI
// image that lacks the packages cannot silently skip the integration tests.
//
// # Processes
//
// Each server runs as a direct child of the test process, in its own process
// group, with the parent-death signal set to SIGKILL, so a `go test` that is
// itself killed does not leave servers behind. Stop shuts a server down
// cleanly (PostgreSQL fast shutdown, MariaDB SIGTERM); Kill sends SIGKILL to
// the whole process group to simulate a crash; Restart starts the server
// again on the same port and data directory after either. The server's
// output goes to LogFile, and the last lines of it are part of every
// start-up failure; a server that does not accept connections within 30 s
// fails the test.
//
// A test process killed outright (SIGKILL, or the panic of go test's
// -timeout) runs no cleanup: its servers die with it, but their temporary
// directories, named sluice-testdb-*, stay in TMPDIR.
//
// # Files
//
//	binaries.go        finding binaries; skip or fail when they are missing
//	server.go          the process lifecycle both servers share: start, wait until ready, stop, kill
//	postgres.go        PostgreSQL: initdb, configuration, psql
//	mariadb.go         MariaDB: mariadb-install-db, my.cnf, mariadb client
//	proc_linux.go      SysProcAttr and process-group checks for Linux
//	proc_other.go      the same for other Unix systems, without the parent-death signal
package testdb
