package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	sluicelog "github.com/sluice-cdc/sluice/log"
)

// crashProc is a "sluice run" process of a crash test: the test writes its
// config file, kills it with SIGKILL and starts it again, and at the end
// stops it and reads its log.
type crashProc struct {
	t         *testing.T
	bin       string
	connector string // whose stored position kill returns
	dataDir   string
	config    string
	cmd       *exec.Cmd
	addr      string        // Kafka API
	runs      []*lineReader // every run's stderr
	kills     int
}

// newCrashProc prepares a process in a new directory; the stderr of every
// run is logged if the test fails.
func newCrashProc(t *testing.T, connector string) *crashProc {
	dir := t.TempDir()
	c := &crashProc{t: t, bin: sluiceBinary(t), connector: connector,
		dataDir: filepath.Join(dir, "data"), config: filepath.Join(dir, "sluice.yaml")}
	t.Cleanup(func() {
		if t.Failed() {
			for i, r := range c.runs {
				t.Logf("stderr of run %d:\n%s", i, r)
			}
		}
	})
	return c
}

// writeConfig writes the config file: a node on free ports with
// partitions of 2 and the one connector c.connector of kind, whose config
// block is lines (each indented by six spaces); the next start reads it.
func (c *crashProc) writeConfig(kind, lines string) {
	c.t.Helper()
	text := fmt.Sprintf(`version: 1
node:
  data_dir: %s
  kafka_listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
log:
  default_partitions: 2
connectors:
  - name: %s
    kind: %s
    config:
%s`, c.dataDir, c.connector, kind, lines)
	if err := os.WriteFile(c.config, []byte(text), 0o644); err != nil {
		c.t.Fatal(err)
	}
}

func (c *crashProc) start() {
	var stderr *lineReader
	c.cmd, c.addr, stderr = startSluiceRun(c.t, c.bin, c.config)
	c.runs = append(c.runs, stderr)
}

// openLog opens the log of the stopped process.
func (c *crashProc) openLog() *sluicelog.Log {
	c.t.Helper()
	l, err := sluicelog.Open(filepath.Join(c.dataDir, "log"), sluicelog.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		c.t.Fatal(err)
	}
	return l
}

// kill sends SIGKILL to sluice and starts it again; it returns the
// connector's position stored at the kill.
func (c *crashProc) kill() string {
	c.t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	c.cmd.Wait()
	c.kills++
	l := c.openLog()
	pos, _, err := l.Meta("connect/source/" + c.connector + "/position")
	l.Close()
	if err != nil {
		c.t.Fatal(err)
	}
	c.start()
	return string(pos)
}

// stop stops sluice with SIGTERM and opens its log, which the caller
// closes.
func (c *crashProc) stop() *sluicelog.Log {
	c.t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.t.Fatal(err)
	}
	c.cmd.Wait()
	return c.openLog()
}

// waitPosition polls the connector's stored position through the admin
// API, every 2 ms for up to 2 minutes, until cond holds for it, and
// returns it.
func (c *crashProc) waitPosition(what string, cond func(pos string) bool) string {
	c.t.Helper()
	m := listeningRE.FindStringSubmatch(c.runs[len(c.runs)-1].String())
	if m == nil {
		c.t.Fatal("no admin address logged")
	}
	var pos string
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		resp, err := http.Get("http://" + m[1] + "/connectors/" + c.connector + "/offsets")
		if err != nil {
			c.t.Fatal(err)
		}
		var o struct {
			Offsets []struct {
				Offset struct {
					Position string `json:"position"`
				} `json:"offset"`
			} `json:"offsets"`
		}
		err = json.NewDecoder(resp.Body).Decode(&o)
		resp.Body.Close()
		if err != nil || len(o.Offsets) > 1 {
			c.t.Fatalf("GET offsets: %v %+v", err, o)
		}
		pos = ""
		if len(o.Offsets) == 1 {
			pos = o.Offsets[0].Offset.Position
		}
		if cond(pos) {
			return pos
		}
	}
	c.t.Fatalf("waiting for %s; stored position %q", what, pos)
	return ""
}
