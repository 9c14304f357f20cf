package configs

import (
	"testing"
)

func TestEnvSubstitution(t *testing.T) {
	vars := env(map[string]string{
		"DSN":   "postgres://u@db/shop",
		"EMPTY": "",
		"PARTS": "4",
		"WORD":  "abc",
	})
	tests := []struct {
		name, in, want string
	}{
		{"set", "${DSN}", "postgres://u@db/shop"},
		{"set in text", "x-${WORD}-y", "x-abc-y"},
		{"default when unset", "${NOPE:-fallback}", "fallback"},
		{"default when empty", "${EMPTY:-fallback}", "fallback"},
		{"value over default", "${WORD:-fallback}", "abc"},
		{"dash default only when unset", "[${EMPTY-fallback}]", "[]"},
		{"dash default when unset", "${NOPE-fallback}", "fallback"},
		{"empty default", "[${NOPE:-}]", "[]"},
		{"default with colon and slash", "${NOPE:-http://h:80/p}", "http://h:80/p"},
		{"dollar dollar", "pa$$word", "pa$word"},
		{"escaped reference", "$${NOPE}", "${NOPE}"},
		{"lone dollar", "cost $5 and $", "cost $5 and $"},
		{"two references", "${WORD}${WORD}", "abcabc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := substitute([]byte(tt.in), vars)
			if len(s.problems) > 0 {
				t.Fatalf("problems: %+v", s.problems)
			}
			if string(s.out) != tt.want {
				t.Errorf("substitute(%q) = %q, want %q", tt.in, s.out, tt.want)
			}
		})
	}
}

func TestEnvInConfig(t *testing.T) {
	src := `version: 1
topics:
  - name: ${TOPIC:-audit}
    partitions: ${PARTS}
connectors:
  - name: sink
    kind: file-sink
    topics: [${TOPIC:-audit}]
    config: {path: ${OUT}, note: "costs $$5"}
`
	cfg, err := Parse("sluice.yaml", []byte(src), Options{Getenv: env(map[string]string{"PARTS": "4", "OUT": "/tmp/o.jsonl"})})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Topics[0]; got.Name != "audit" || got.Partitions != 4 {
		t.Errorf("topic = %+v, want audit with 4 partitions", got)
	}
	var block struct{ Path, Note string }
	if err := cfg.Connectors[0].Decode(&block); err != nil {
		t.Fatal(err)
	}
	if block.Path != "/tmp/o.jsonl" || block.Note != "costs $5" {
		t.Errorf("config block = %+v", block)
	}
	// Positions are those of the file as written.
	if n := cfg.Connectors[0].Config; n.Line != 9 || n.Column != 13 {
		t.Errorf("config block at %d:%d, want 9:13", n.Line, n.Column)
	}
}

func TestEnvProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		env  map[string]string
		want []string
	}{
		{"unset", "version: 1\nnode:\n  data_dir: ${DATA_DIR}\n", nil,
			[]string{`3:13 node.data_dir: environment variable DATA_DIR is not set; set it, or give a default: ${DATA_DIR:-value}`}},
		{"unset in a connector's config", "version: 1\nconnectors:\n  - name: my\n    kind: mysql-source\n    config:\n      password: \"${MYSQL_PASSWORD}\"\n", nil,
			[]string{`6:18 connectors[0].config.password: environment variable MYSQL_PASSWORD is not set`}},
		{"unset where an integer goes: reported once", "version: 1\ntopics:\n  - name: a\n    partitions: ${PARTS}\n", nil,
			[]string{`4:17 topics[0].partitions: environment variable PARTS is not set`}},
		{"unset in a comment: ignored", "version: 1 # ${NOT_SET}\n# data_dir: ${ALSO_NOT_SET}\n", nil,
			nil},
		{"unterminated", "version: 1\nnode:\n  data_dir: ${DATA_DIR\n", nil,
			[]string{`3:13 node.data_dir: unterminated variable reference "${DATA_DIR"`}},
		{"invalid name", "version: 1\nnode:\n  data_dir: /x/${1DIR}\n", nil,
			[]string{`3:16 node.data_dir: invalid variable reference "${1DIR}"`}},
		{"invalid operator", "version: 1\nnode:\n  data_dir: ${DIR:?required}\n", nil,
			[]string{`3:13 node.data_dir: invalid variable reference "${DIR:?required}"`}},
		{"substituted value of the wrong type", "version: 1\ntopics:\n  - name: a\n    partitions: ${PARTS}\n", map[string]string{"PARTS": "many"},
			[]string{`4:17 topics[0].partitions: expected an integer, got string "many"`}},
		{"positions after a longer value on the same line", "version: 1\ntopics: [{name: ${N:-a-rather-long-default-topic-name}, partitions: 0}]\n", nil,
			[]string{`2:69 topics[0].partitions: must be at least 1, not 0`}},
		{"positions after a value of several lines", "version: 1\nnode:\n  data_dir: \"${DIR}\"\n  id: 0\n", map[string]string{"DIR": "a\n\n\nb"},
			[]string{`4:7 node.id: invalid node ID 0`}},
		{"positions after a shorter value, multi-byte text", "version: 1\nnode: {data_dir: \"ünïcödé/${LONG_VARIABLE_NAME:-x}\", id: 0}\n", nil,
			[]string{`2:58 node.id: invalid node ID 0`}},
		{"substituted value with a control character", "version: 1\nnode:\n  data_dir: x${DIR}\n", map[string]string{"DIR": "a\x01"},
			[]string{`3:14 : control character U+0001 is not allowed`}},
		{"problem inside a substituted value points at its $", "version: 1\nnode:\n  kafka_listen: \"${ADDR}\"\n", map[string]string{"ADDR": "localhost"},
			[]string{`3:17 node.kafka_listen: invalid address "localhost"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, problemsOf(t, tt.src, Options{Getenv: env(tt.env)}), tt.want)
		})
	}
}
