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
	ck := &checker{problems: configs.CheckKeys(c.Config, "config", keys)}
	es := entries(c.Config)

	if e, ok := es["path"]; !ok {
		ck.report(c.Config, "config.path", "missing", `give the file to write, e.g. "./out/orders.jsonl" (or a directory with per_topic: true)`)
	} else if ck.text(e.value, "config.path", &cfg.Path) {
		switch {
		case strings.TrimSpace(cfg.Path) == "":
			ck.report(e.value, "config.path", "empty", `give the file to write, e.g. "./out/orders.jsonl"`)
		case strings.ContainsRune(cfg.Path, 0):
			ck.report(e.value, "config.path", "a path cannot hold a NUL character", "")
		}
	}
	if e, ok := es["per_topic"]; ok {
		ck.boolean(e.value, "config.per_topic", &cfg.PerTopic)
	}
	if e, ok := es["fsync"]; ok {
		ck.boolean(e.value, "config.fsync", &cfg.Fsync)
	}
	if e, ok := es["rotate_bytes"]; ok {
		var v int64
		if ck.integer(e.value, "config.rotate_bytes", &v) {
			if v < 0 {
				ck.report(e.value, "config.rotate_bytes", fmt.Sprintf("must not be negative, not %d", v), "0 never rotates")
			} else {
				cfg.RotateBytes = v
			}
		}
	}
	return cfg, ck.problems
}
