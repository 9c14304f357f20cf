package testdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds how long a server may take to accept connections.
	startTimeout = 30 * time.Second
	// stopTimeout bounds a clean shutdown; after it the server is killed.
	stopTimeout = 30 * time.Second
	// pollInterval is how often start-up and shutdown are checked.
	pollInterval = 10 * time.Millisecond
	// portAttempts is how many free ports a first start tries when another
	// process takes the chosen port between choosing and binding it.
	portAttempts = 5
	// logTailLines is how much of a server log goes into a failure message.
	logTailLines = 30
)

// errPortInUse marks a start that failed because the port was taken.
var errPortInUse = errors.New("port already in use")

// server is the process lifecycle PostgreSQL and MariaDB share. The
// database-specific parts are the command that runs the server, the check
// that it accepts connections, and the signal that shuts it down cleanly.
//
// Its methods may be called from several goroutines; mu serialises them.
type server struct {
	kind    string         // "PostgreSQL" or "MariaDB", for messages
	tb      testing.TB     // the test that started the server; Stop and Kill report to it
	logFile string         // the server's stdout and stderr, appended across starts
	stopSig syscall.Signal // clean shutdown
	// command returns the command that runs the server on port.
	command func(port int) *exec.Cmd
	// ready reports whether the server, running as pid and writing its log
	// from byte offset logStart on, accepts connections.
	ready func(pid int, logStart int64) bool

	mu struct {
		sync.Mutex
		proc *process // nil while stopped
		port int      // 0 until the first successful start
	}
}

// startOnFreePort starts the server for the first time, on a free port.
func (s *server) startOnFreePort() (port int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range portAttempts {
		port, err = freePort()
		if err != nil {
			return 0, err
		}
		err = s.startLocked(port)
		if !errors.Is(err, errPortInUse) {
			break
		}
	}
	if err != nil {
		return 0, err
	}
	s.mu.port = port
	return port, nil
}

// startLocked runs the server on port and waits until it accepts
// connections. On failure the server is not running and the error holds the
// end of the log.
func (s *server) startLocked(port int) error {
	logStart := fileSize(s.logFile)
	logf, err := os.OpenFile(s.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("testdb: open %s log: %w", s.kind, err)
	}
	cmd := s.command(port)
	cmd.Stdout = logf
	cmd.Stderr = logf
	proc, err := startProcess(cmd)
	logf.Close() // the server holds its own copy
	if err != nil {
		return fmt.Errorf("testdb: start %s: %w", s.kind, err)
	}

	deadline := time.Now().Add(startTimeout)
	for !s.ready(proc.pid(), logStart) {
		select {
		case <-proc.done:
			tail := logTail(s.logFile, logStart, logTailLines)
			if strings.Contains(tail, "Address already in use") {
				return fmt.Errorf("testdb: %s could not listen on 127.0.0.1:%d: %w", s.kind, port, errPortInUse)
			}
			return fmt.Errorf("testdb: %s exited during start-up (%v); last lines of %s:\n%s",
				s.kind, proc.err, s.logFile, tail)
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			proc.kill()
			return fmt.Errorf("testdb: %s did not accept connections on 127.0.0.1:%d within %v; last lines of %s:\n%s",
				s.kind, port, startTimeout, s.logFile, logTail(s.logFile, logStart, logTailLines))
		}
	}
	s.mu.proc = proc
	return nil
}

// restart stops the server if it runs and starts it on its port again.
func (s *server) restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(); err != nil {
		t.Fatal(err)
	}
	// A backend of the old server can still be exiting, holding
	// PostgreSQL's shared memory interlock for a moment; try again then.
	deadline := time.Now().Add(stopTimeout)
	for {
		err := s.startLocked(s.mu.port)
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "pre-existing shared memory block") || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(pollInterval)
	}
}

// stop shuts the server down cleanly, if it runs.
func (s *server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(); err != nil {
		s.tb.Error(err)
	}
}

func (s *server) stopLocked() error {
	proc := s.mu.proc
	if proc == nil {
		return nil
	}
	s.mu.proc = nil
	if proc.stop(s.stopSig, stopTimeout) {
		return nil
	}
	return fmt.Errorf("testdb: %s did not shut down within %v and was killed; last lines of %s:\n%s",
		s.kind, stopTimeout, s.logFile, logTail(s.logFile, 0, logTailLines))
}

// kill sends SIGKILL to the server's process group, if it runs, and waits
// until every process in the group has exited.
func (s *server) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.proc != nil {
		s.mu.proc.kill()
		s.mu.proc = nil
	}
}

// process is one running server in its own process group.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the server has exited
	err  error         // the result of cmd.Wait; read it after done is closed
}

func startProcess(cmd *exec.Cmd) (*process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	setServerAttrs(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop sends sig and waits up to timeout for the server to exit; then it
// kills the process group. It reports whether the server exited by itself.
func (p *process) stop(sig syscall.Signal, timeout time.Duration) bool {
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		waitGroupGone(p.pid())
		return true
	case <-time.After(timeout):
		p.kill()
		return false
	}
}

// kill sends SIGKILL to the whole process group and to the server's
// children (a PostgreSQL postmaster's backends each start a session of
// their own, so the group does not hold them), and waits until all of it
// is gone.
func (p *process) kill() {
	kids := children(p.pid())
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	for _, k := range kids {
		_ = syscall.Kill(k, syscall.SIGKILL)
	}
	<-p.done
	waitGroupGone(p.pid())
	deadline := time.Now().Add(stopTimeout)
	for _, k := range kids {
		for syscall.Kill(k, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(pollInterval)
		}
	}
}

// children returns the pids of the live processes whose parent is pid
// (from /proc; none where there is no /proc).
func children(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 2 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
		}
	}
	return out
}

// waitGroupGone waits, for a bounded time, until no live process is left in
// process group pgid, so that a restarted server finds no old process still
// holding its shared memory, files or port.
func waitGroupGone(pgid int) {
	deadline := time.Now().Add(stopTimeout)
	for groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(pollInterval)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testdb: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// makeTempDir creates the directory a server lives in. Unix socket paths
// are limited to about 100 bytes and, when a server runs as another OS user,
// every directory above it must be searchable by that user; when TMPDIR
// does not allow either, the directory is made in /tmp instead.
func makeTempDir(pattern string, otherUser bool) (string, error) {
	base := os.TempDir()
	if len(base) > 60 || (otherUser && !searchableByAll(base)) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, pattern)
	if err != nil {
		return "", fmt.Errorf("testdb: make temporary directory: %w", err)
	}
	return dir, nil
}

// searchableByAll reports whether every directory from dir up to / has the
// search (x) permission for other users.
func searchableByAll(dir string) bool {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for {
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return true
		}
		dir = parent
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logTail returns the last n lines of the file at path from byte offset
// from on, or a note saying why it cannot.
func logTail(path string, from int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// runClient runs a database client with sql on its standard input and
// returns its standard output; a failure ends the test with the client's
// error output.
func runClient(t testing.TB, kind string, cmd *exec.Cmd, sql string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdin = strings.NewReader(sql)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("testdb: %s client %s: %v\n%s\nSQL:\n%s", kind, filepath.Base(cmd.Path), err,
			strings.TrimSpace(stderr.String()), truncate(sql, 2000))
	}
	return strings.TrimRight(stdout.String(), "\n")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
