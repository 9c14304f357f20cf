package configs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

func TestDefaults(t *testing.T) {
	src := `version: 1
topics:
  - name: audit
connectors:
  - name: out
    kind: file-sink
    topics: [audit]
`
	cfg, err := Parse("sluice.yaml", []byte(src), Options{Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Version: 1,
		Node:    Node{ID: 1, DataDir: "./data", KafkaListen: "127.0.0.1:9092", AdminListen: "127.0.0.1:8083"},
		Log: Log{
			Fsync:                    "always",
			FsyncInterval:            time.Second,
			AutoCreateTopics:         true,
			DefaultPartitions:        1,
			DefaultReplicationFactor: 1,
			CleanerInterval:          30 * time.Second,
			TopicDefaults:            map[string]string{},
		},
		Topics: []Topic{{Name: "audit", Partitions: 1, ReplicationFactor: 1, Config: map[string]string{}}},
	}
	got := *cfg
	cn := got.Connectors[0]
	got.Connectors = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config =\n%+v\nwant\n%+v", got, want)
	}
	if cn.Converter != "json" || cn.TasksMax != 1 || cn.Errors != (ErrorPolicy{Tolerance: "none", Retries: -1}) || cn.Transforms != nil {
		t.Errorf("connector defaults = %+v", cn)
	}
	if cn.Config == nil || cn.Config.Kind != yaml.MappingNode || len(cn.Config.Content) != 0 || cn.Config.Line != 5 {
		t.Errorf("absent config block = %+v, want an empty mapping at the connector", cn.Config)
	}
}

func TestDefaultsFollowLog(t *testing.T) {
	src := `version: 1
cluster:
  peers: [1@a:1, 2@b:1, 3@c:1]
log:
  default_partitions: 6
  default_replication_factor: 3
  auto_create_topics: false
topics:
  - name: inherits
  - name: own
    partitions: 2
    replication_factor: 1
`
	cfg, err := Parse("sluice.yaml", []byte(src), Options{Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.AutoCreateTopics {
		t.Error("auto_create_topics: false was not kept")
	}
	if got := cfg.Topics[0]; got.Partitions != 6 || got.ReplicationFactor != 3 {
		t.Errorf("topic without settings = %+v, want log's defaults", got)
	}
	if got := cfg.Topics[1]; got.Partitions != 2 || got.ReplicationFactor != 1 {
		t.Errorf("topic with settings = %+v", got)
	}
	wantPeers := []Peer{{1, "a:1"}, {2, "b:1"}, {3, "c:1"}}
	if !reflect.DeepEqual(cfg.Cluster.Peers, wantPeers) {
		t.Errorf("peers = %v, want %v", cfg.Cluster.Peers, wantPeers)
	}
}

func TestNullMeansDefault(t *testing.T) {
	cfg, err := Parse("sluice.yaml", []byte("version: 1\nnode:\nlog:\n  fsync: ~\ntopics:\n"), Options{Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Node.DataDir != "./data" || cfg.Log.Fsync != "always" || cfg.Topics != nil {
		t.Errorf("config = %+v", cfg)
	}
}

// TestExamples loads every file in examples/ as a build with the connectors
// DESIGN.md names would, with no environment variables set.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("examples", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := Load(f, Options{Getenv: noEnv, Kinds: testKinds})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Version != 1 {
				t.Errorf("version %d", cfg.Version)
			}
		})
	}
}

// TestFullExample checks that the DESIGN.md example reads as DESIGN.md means it.
func TestFullExample(t *testing.T) {
	cfg, err := Load(filepath.Join("examples", "full.yaml"), Options{Getenv: noEnv, Kinds: testKinds})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Cluster.Peers) != 3 || cfg.Cluster.Peers[2] != (Peer{3, "127.0.0.3:9192"}) {
		t.Errorf("peers = %v", cfg.Cluster.Peers)
	}
	if got := cfg.Log.TopicDefaults["retention.ms"]; got != "-1" {
		t.Errorf("topic_defaults retention.ms = %q", got)
	}
	if got := cfg.Topics[0].Config["cleanup.policy"]; got != "compact" {
		t.Errorf("audit cleanup.policy = %q", got)
	}
	var names []string
	for _, c := range cfg.Connectors {
		names = append(names, c.Name+"="+c.Kind)
	}
	if got := strings.Join(names, " "); got != "shop-pg=postgres-source shop-mysql=mysql-source customers-copy=postgres-sink customers-file=file-sink" {
		t.Errorf("connectors: %s", got)
	}
	var my struct {
		Password string   `yaml:"password"`
		ServerID int      `yaml:"server_id"`
		Tables   []string `yaml:"tables"`
	}
	if err := cfg.Connectors[1].Decode(&my); err != nil {
		t.Fatal(err)
	}
	if my.Password != "secret" || my.ServerID != 5401 || len(my.Tables) != 1 {
		t.Errorf("mysql config = %+v", my)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), Options{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(path, []byte("version: 1\nnode: {id: 0}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), path+":2:12: node.id: ") {
		t.Errorf("err = %v", err)
	}
}

// pgSource is what a connector registry might check for postgres-source.
func checkPG(c *Connector) []Problem {
	if c.Kind != "postgres-source" {
		return nil
	}
	ps := CheckKeys(c.Config, "config", []string{"dsn", "slot", "publication", "tables", "snapshot"})
	var cfg struct {
		DSN      string `yaml:"dsn"`
		Snapshot string `yaml:"snapshot"`
	}
	if err := c.Decode(&cfg); err != nil {
		return append(ps, Problem{Path: "config", Msg: err.Error()})
	}
	if cfg.DSN == "" {
		ps = append(ps, Problem{Path: "config.dsn", Msg: "missing"})
	}
	modes := []string{"initial", "never", "when_needed", "initial_only"}
	if cfg.Snapshot != "" && !strings.Contains(strings.Join(modes, " "), cfg.Snapshot) {
		// A problem without a position: Parse finds the node by its path.
		ps = append(ps, Problem{Path: "config.snapshot", Msg: "invalid snapshot mode " + cfg.Snapshot, Hint: DidYouMean(cfg.Snapshot, modes)})
	}
	return ps
}

func TestCheckConnector(t *testing.T) {
	src := `version: 1
connectors:
  - name: pg
    kind: postgres-source
    config:
      slott: x
      snapshot: inital
  - name: unknown
    kind: nope-source
    config: {dsn: 1}
`
	got := problemsOf(t, src, Options{Kinds: testKinds, CheckConnector: checkPG})
	checkProblems(t, got, []string{
		`6:7 connectors[0].config.slott: unknown key; did you mean "slot"?`,
		`6:7 connectors[0].config.dsn: missing`,
		`7:17 connectors[0].config.snapshot: invalid snapshot mode inital; did you mean "initial"?`,
		`9:11 connectors[1].kind: unknown connector kind "nope-source"`,
	})
}

func TestCheckKeys(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: 1\nb: 2\na: 3\n[x]: 4\n"), &doc); err != nil {
		t.Fatal(err)
	}
	got := CheckKeys(doc.Content[0], "config", []string{"a", "c"})
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	want := []string{
		`2:1: config.b: unknown key; valid keys here: a, c`,
		`3:1: config.a: key "a" is already defined at line 1; remove one of them`,
		`4:1: config: expected a string key, got a list`,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("CheckKeys =\n%s\nwant\n%s", strings.Join(s, "\n"), strings.Join(want, "\n"))
	}
}

func TestDecodeError(t *testing.T) {
	src := "version: 1\nconnectors:\n  - name: pg\n    kind: postgres-source\n    config:\n      port: high\n"
	cfg, err := Parse("sluice.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Port int }
	err = cfg.Connectors[0].Decode(&v)
	if err == nil || !strings.Contains(err.Error(), `sluice.yaml: connector "pg": config: `) || !strings.Contains(err.Error(), "line 6") {
		t.Errorf("Decode error = %v", err)
	}
}

func TestAnchorsAndMerges(t *testing.T) {
	src := `version: 1
x-sink: &sink
  kind: file-sink
  converter: raw
connectors:
  - <<: *sink
    name: one
    config: &cfg {path: ./one}
  - <<: *sink
    name: two
    converter: json
    config: *cfg
`
	// Top-level keys starting with "x-" are ignored: a place for anchors.
	cfg, err := Parse("sluice.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := cfg.Connectors[0], cfg.Connectors[1]; a.Kind != "file-sink" || a.Converter != "raw" || b.Converter != "json" || b.Config != a.Config {
		t.Errorf("merged connectors = %+v, %+v", a, b)
	}

	src = `version: 1
connectors:
  - &one
    name: one
    kind: file-sink
    converter: raw
    config: &cfg {path: ./one}
  - <<: *one
    name: two
    converter: json
`
	cfg, err = Parse("sluice.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Connectors[0], cfg.Connectors[1]
	if a.Converter != "raw" || b.Name != "two" || b.Kind != "file-sink" || b.Converter != "json" || b.Config != a.Config {
		t.Errorf("merged connectors = %+v, %+v", a, b)
	}

	checkProblems(t, problemsOf(t, "version: 1\nnode: &n\n  <<: *n\n", Options{}), []string{`2:7 node: << merges a mapping into itself`})
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "s.yaml", Line: 3, Col: 5, Path: "node.id", Msg: "bad", Hint: "fix it"}, "s.yaml:3:5: node.id: bad; fix it"},
		{Problem{File: "s.yaml", Line: 3, Msg: "invalid YAML"}, "s.yaml:3: invalid YAML"},
		{Problem{File: "s.yaml", Msg: "the file is empty"}, "s.yaml: the file is empty"},
		{Problem{Path: "a", Msg: "bad"}, "a: bad"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	keys := []string{"id", "data_dir", "kafka_listen", "admin_listen"}
	tests := []struct {
		word string
		cand []string
		want string
	}{
		{"data-dir", keys, `did you mean "data_dir"?`},
		{"DataDir", keys, `did you mean "data_dir"?`},
		{"kafka_lsiten", keys, `did you mean "kafka_listen"?`},
		{"ID", keys, `did you mean "id"?`},
		{"port", keys, ""},
		{"listen", keys, ""},
		{"mysql", testKinds, `did you mean "mysql-source" or "mysql-sink"?`},
		{"file-snk", testKinds, `did you mean "file-sink"?`},
	}
	for _, tt := range tests {
		if got := DidYouMean(tt.word, tt.cand); got != tt.want {
			t.Errorf("DidYouMean(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "abc", 3}, {"abc", "abc", 0}, {"abc", "acb", 1},
		{"kitten", "sitting", 3}, {"fsync_intreval", "fsync_interval", 1}, {"ünï", "uni", 2},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestLineIndex checks offsets and positions against a slow reference that
// walks the text character by character, for every kind of line break.
func TestLineIndex(t *testing.T) {
	text := []byte("ab\r\ncd\ré\nü€x\u2028y\u0085z\n\nlast")
	x := newLineIndex(text)
	line, col := 1, 1
	for off := 0; off <= len(text); {
		if l, c := x.position(off); l != line || c != col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", off, l, c, line, col)
		}
		if got := x.offset(line, col); got != off {
			t.Errorf("offset(%d:%d) = %d, want %d", line, col, got, off)
		}
		if off == len(text) {
			break
		}
		if n := breakLen(text[off:]); n > 0 {
			off += n
			line, col = line+1, 1
			continue
		}
		_, size := utf8.DecodeRune(text[off:])
		off += size
		col++
	}
}
