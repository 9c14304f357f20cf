package file

import (
	"fmt"
	"strings"

	"github.com/sluice-cdc/sluice/configs"
)

// Config is a file-sink's config block, with every default filled. The
// keys and defaults are documented in the package doc.
type Config struct {
	// Path is the file written, or with PerTopic the directory holding
	// one file per topic. Key path; required.
	Path string
	// PerTopic writes each topic to "<path>/<topic>.jsonl". Key per_topic.
	// Default: false.
	PerTopic bool
	// RotateBytes rotates a file before a write would take it past this
	// size; 0 never rotates. Key rotate_bytes. Default: 0.
	RotateBytes int64
	// Fsync makes every Write fsync the files it wrote before returning.
	// Key fsync. Default: true.
	Fsync bool
}

var keys = []string{"path", "per_topic", "rotate_bytes", "fsync"}

// ParseConfig reads connector c's config block, fills the defaults and
// checks the result, returning every problem found.
func ParseConfig(c *configs.Connector) (Config, []configs.Problem) {
	cfg := Config{Fsync: true}
	ck := &checker{BlockChecker: configs.BlockChecker{Problems: configs.CheckKeys(c.Config, "config", keys)}}
	es := configs.Entries(c.Config)

	if e, ok := es["path"]; !ok {
		ck.Report(c.Config, "config.path", "missing", `give the file to write, e.g. "./out/orders.jsonl" (or a directory with per_topic: true)`)
	} else if ck.Text(e.Value, "config.path", &cfg.Path) {
		switch {
		case strings.TrimSpace(cfg.Path) == "":
			ck.Report(e.Value, "config.path", "empty", `give the file to write, e.g. "./out/orders.jsonl"`)
		case strings.ContainsRune(cfg.Path, 0):
			ck.Report(e.Value, "config.path", "a path cannot hold a NUL character", "")
		}
	}
	if e, ok := es["per_topic"]; ok {
		ck.Boolean(e.Value, "config.per_topic", &cfg.PerTopic)
	}
	if e, ok := es["fsync"]; ok {
		ck.Boolean(e.Value, "config.fsync", &cfg.Fsync)
	}
	if e, ok := es["rotate_bytes"]; ok {
		var v int64
		if ck.Integer(e.Value, "config.rotate_bytes", &v) {
			if v < 0 {
				ck.Report(e.Value, "config.rotate_bytes", fmt.Sprintf("must not be negative, not %d", v), "0 never rotates")
			} else {
				cfg.RotateBytes = v
			}
		}
	}
	return cfg, ck.Problems
}

// checker decodes the config block, collecting a problem for each value
// that does not fit.
type checker struct{ configs.BlockChecker }
