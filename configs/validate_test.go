package configs

import (
	"strings"
	"testing"
)

// TestProblems covers each class of problem: the position, path and message
// of every problem the file has, and no others.
func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		opts Options
		want []string
	}{
		// version
		{"version missing", "node:\n  id: 1\n",
			Options{}, []string{`1:1 version: missing; add "version: 1"`}},
		{"version unsupported", "version: 2\n",
			Options{}, []string{`1:10 version: unsupported version 2`}},
		{"version quoted", "version: \"1\"\n",
			Options{}, []string{`1:10 version: expected an integer, got string "1"; remove the quotes`}},

		// unknown keys, at every level
		{"unknown top-level key, close", "version: 1\nconector: []\n",
			Options{}, []string{`2:1 conector: unknown key; did you mean "connectors"?`}},
		{"unknown top-level key, far", "version: 1\nwhatever: 1\n",
			Options{}, []string{`2:1 whatever: unknown key; valid keys here: cluster, connectors, log, node, topics, version`}},
		{"unknown node key", "version: 1\nnode:\n  data-dir: ./x\n",
			Options{}, []string{`3:3 node.data-dir: unknown key; did you mean "data_dir"?`}},
		{"unknown cluster key", "version: 1\ncluster:\n  peer: [1@a:1]\n",
			Options{}, []string{`3:3 cluster.peer: unknown key; did you mean "peers"?`, `3:3 cluster.peers: a cluster needs its peers`}},
		{"unknown log key, transposed", "version: 1\nlog:\n  fsync_intreval: 2s\n",
			Options{}, []string{`3:3 log.fsync_intreval: unknown key; did you mean "fsync_interval"?`}},
		{"unknown topic key", "version: 1\ntopics:\n  - name: a\n    partition: 2\n",
			Options{}, []string{`4:5 topics[0].partition: unknown key; did you mean "partitions"?`}},
		{"unknown connector key, close", "version: 1\nconnectors:\n  - name: a\n    kind: file-sink\n    task_max: 2\n",
			Options{}, []string{`5:5 connectors[0].task_max: unknown key; did you mean "tasks_max"?`}},
		{"unknown connector key, far", "version: 1\nconnectors:\n  - name: a\n    kind: file-sink\n    path: ./x\n",
			Options{}, []string{`5:5 connectors[0].path: unknown key; settings of the connector's kind go under "config:"`}},
		{"unknown errors key", "version: 1\nconnectors:\n  - name: a\n    kind: file-sink\n    errors: {tolerence: all}\n",
			Options{}, []string{`5:14 connectors[0].errors.tolerence: unknown key; did you mean "tolerance"?`}},
		{"duplicate key", "version: 1\nnode:\n  id: 1\n  id: 2\n",
			Options{}, []string{`4:3 node.id: key "id" is already defined at line 3`}},

		// wrong types
		{"string for int", "version: 1\ntopics:\n  - name: a\n    partitions: three\n",
			Options{}, []string{`4:17 topics[0].partitions: expected an integer, got string "three"`}},
		{"float for int", "version: 1\nlog:\n  default_partitions: 1.5\n",
			Options{}, []string{`3:23 log.default_partitions: expected an integer, got number 1.5`}},
		{"list for mapping", "version: 1\nnode: [1]\n",
			Options{}, []string{`2:7 node: expected a mapping, got a list`}},
		{"string for bool", "version: 1\nlog:\n  auto_create_topics: yes\n",
			Options{}, []string{`3:23 log.auto_create_topics: expected true or false, got string "yes"`}},
		{"string for list", "version: 1\nconnectors:\n  - name: a\n    kind: file-sink\n    topics: shop.orders\n",
			Options{}, []string{`5:13 connectors[0].topics: expected a list, got string "shop.orders"; write a list: [shop.orders]`}},
		{"mapping for string", "version: 1\nnode:\n  data_dir: {a: b}\n",
			Options{}, []string{`3:13 node.data_dir: expected a string, got a mapping`}},
		{"topic item not a mapping", "version: 1\ntopics: [audit]\n",
			Options{}, []string{`2:10 topics[0]: expected a mapping, got string "audit"`}},
		{"config block not a mapping", "version: 1\nconnectors:\n  - name: a\n    kind: file-sink\n    config: [x]\n",
			Options{}, []string{`5:13 connectors[0].config: expected a mapping, got a list`}},
		{"transform not a mapping", "version: 1\nconnectors:\n  - name: a\n    kind: file-sink\n    transforms: [unwrap]\n",
			Options{}, []string{`5:18 connectors[0].transforms[0]: expected a mapping, got string "unwrap"`}},

		// names and kinds
		{"duplicate connector name", "version: 1\nconnectors:\n  - name: shop-pg\n    kind: postgres-source\n  - name: shop-pg\n    kind: mysql-source\n",
			Options{}, []string{`5:11 connectors[1].name: duplicate connector name "shop-pg" (first defined at line 3)`}},
		{"duplicate topic name", "version: 1\ntopics:\n  - name: audit\n  - name: other\n  - name: audit\n",
			Options{}, []string{`5:11 topics[2].name: duplicate topic name "audit" (first defined at line 3)`}},
		{"connector without name and kind", "version: 1\nconnectors:\n  - converter: json\n",
			Options{}, []string{`3:5 connectors[0].name: missing`, `3:5 connectors[0].kind: missing; e.g. postgres-source`}},
		{"connector without kind, kinds known", "version: 1\nconnectors:\n  - name: a\n",
			Options{Kinds: []string{"file-sink", "http-sink"}}, []string{`3:5 connectors[0].kind: missing; known kinds: file-sink, http-sink`}},
		{"unknown kind, close", "version: 1\nconnectors:\n  - name: a\n    kind: postgres-sorce\n",
			Options{Kinds: testKinds}, []string{`4:11 connectors[0].kind: unknown connector kind "postgres-sorce"; did you mean "postgres-source"?`}},
		{"unknown kind, far", "version: 1\nconnectors:\n  - name: a\n    kind: s3-sink\n",
			Options{Kinds: []string{"file-sink", "http-sink"}}, []string{`4:11 connectors[0].kind: unknown connector kind "s3-sink"; known kinds: file-sink, http-sink`}},
		{"kinds not checked without Kinds", "version: 1\nconnectors:\n  - name: a\n    kind: s3-sink\n",
			Options{}, nil},
		{"connector name with a slash", "version: 1\nconnectors:\n  - name: shop/pg\n    kind: file-sink\n",
			Options{}, []string{`3:11 connectors[0].name: invalid connector name "shop/pg"; a connector name is used in URLs and file names`}},
		{"topic name with a space", "version: 1\ntopics:\n  - name: my topic\n",
			Options{}, []string{`3:11 topics[0].name: invalid topic name "my topic"`}},
		{"topic without name", "version: 1\ntopics:\n  - partitions: 2\n",
			Options{}, []string{`3:5 topics[0].name: missing`}},

		// enumerations and numbers
		{"bad durations", "version: 1\nlog:\n  fsync_interval: 1d\n  cleaner_interval: 30\n",
			Options{}, []string{
				`3:19 log.fsync_interval: invalid duration "1d"; use a Go duration such as "30s" or "5m"; there is no day unit`,
				`4:21 log.cleaner_interval: invalid duration "30"; use a Go duration such as "30s" or "5m"`}},
		{"zero duration", "version: 1\nlog:\n  cleaner_interval: 0s\n",
			Options{}, []string{`3:21 log.cleaner_interval: must be positive, not 0s`}},
		{"fsync", "version: 1\nlog:\n  fsync: never\n",
			Options{}, []string{`3:10 log.fsync: invalid value "never"; use one of: always, interval`}},
		{"fsync close", "version: 1\nlog:\n  fsync: alway\n",
			Options{}, []string{`3:10 log.fsync: invalid value "alway"; did you mean "always"?`}},
		{"converter", "version: 1\nconnectors:\n  - name: a\n    kind: file-sink\n    converter: avro\n",
			Options{}, []string{`5:16 connectors[0].converter: invalid value "avro"; use one of: json, json-schema, raw`}},
		{"node id", "version: 1\nnode:\n  id: 0\n",
			Options{}, []string{`3:7 node.id: invalid node ID 0`}},
		{"tasks_max", "version: 1\nconnectors:\n  - name: a\n    kind: file-sink\n    tasks_max: 0\n",
			Options{}, []string{`5:16 connectors[0].tasks_max: must be at least 1, not 0`}},
		{"partitions", "version: 1\ntopics:\n  - name: a\n    partitions: 0\n",
			Options{}, []string{`4:17 topics[0].partitions: must be at least 1, not 0`}},
		{"replication factor on a single node", "version: 1\ntopics:\n  - name: a\n    replication_factor: 3\n",
			Options{}, []string{`4:25 topics[0].replication_factor: replication factor 3 needs 3 nodes; this is a single node`}},
		{"default partitions", "version: 1\nlog:\n  default_partitions: 0\n",
			Options{}, []string{`3:23 log.default_partitions: must be at least 1, not 0`}},

		// addresses and peers
		{"listen without port", "version: 1\nnode:\n  kafka_listen: localhost\n",
			Options{}, []string{`3:17 node.kafka_listen: invalid address "localhost": missing port in address; write HOST:PORT`}},
		{"listen with bad port", "version: 1\nnode:\n  admin_listen: 127.0.0.1:99999\n",
			Options{}, []string{`3:17 node.admin_listen: invalid address "127.0.0.1:99999": invalid port "99999"`}},
		{"listeners collide", "version: 1\nnode:\n  kafka_listen: :9000\n  admin_listen: 127.0.0.1:9000\n",
			Options{}, []string{`4:17 node.admin_listen: 127.0.0.1:9000 is the address of kafka_listen too`}},
		{"peer syntax", "version: 1\ncluster:\n  peers: [1@127.0.0.1:9192, 127.0.0.2:9192, x@h:1, 4@h]\n",
			Options{}, []string{
				`3:29 cluster.peers[1]: invalid peer "127.0.0.2:9192": no "@" between ID and address; write ID@HOST:PORT`,
				`3:45 cluster.peers[2]: invalid peer "x@h:1": ID "x" is not an integer`,
				`3:52 cluster.peers[3]: invalid peer "4@h": missing port in address`}},
		{"peer duplicates and node not a peer", "version: 1\nnode:\n  id: 5\ncluster:\n  peers:\n    - 1@a:1\n    - 1@b:1\n    - 2@a:1\n",
			Options{}, []string{
				`7:7 cluster.peers[1]: duplicate peer ID 1 (first at line 6)`,
				`8:7 cluster.peers[2]: duplicate peer address a:1 (first at line 6)`,
				`3:7 node.id: node 5 is not one of cluster.peers`}},
		{"replication factor above cluster size", "version: 1\ncluster:\n  peers: [1@a:1, 2@b:1]\nlog:\n  default_replication_factor: 3\n",
			Options{}, []string{`5:31 log.default_replication_factor: replication factor 3 is more than the 2 nodes in cluster.peers`}},

		// topic configs
		{"topic config key, close", "version: 1\ntopics:\n  - name: a\n    config:\n      retention_ms: 1000\n",
			Options{}, []string{`5:7 topics[0].config.retention_ms: unknown topic config key; did you mean "retention.ms"?`}},
		{"topic config key, far", "version: 1\ntopics:\n  - name: a\n    config: {color: blue}\n",
			Options{}, []string{`4:14 topics[0].config.color: unknown topic config key; topic configs use Kafka's keys`}},
		{"topic config values", "version: 1\ntopics:\n  - name: a\n    config:\n      cleanup.policy: compacted\n      retention.ms: 7d\n      segment.bytes: 1GB\n      min.cleanable.dirty.ratio: 2\n      retention.bytes: -5\n      compression.type: zsdt\n",
			Options{}, []string{
				`5:23 topics[0].config.cleanup.policy: invalid value "compacted"; did you mean "compact"?`,
				`6:21 topics[0].config.retention.ms: invalid value "7d": expected an integer; write milliseconds: 7d is 604800000`,
				`7:22 topics[0].config.segment.bytes: invalid value "1GB": expected an integer; write bytes as an integer`,
				`8:34 topics[0].config.min.cleanable.dirty.ratio: invalid value "2": expected a number from 0 to 1`,
				`9:24 topics[0].config.retention.bytes: invalid value "-5": the smallest allowed value is -1; -1 means no limit`,
				`10:25 topics[0].config.compression.type: invalid value "zsdt"; did you mean "zstd"?`}},
		{"topic config accepts numbers and strings", "version: 1\ntopics:\n  - name: a\n    config:\n      cleanup.policy: delete, compact\n      retention.ms: 604800000\n      segment.ms: \"3600000\"\n      min.cleanable.dirty.ratio: 0.5\n      preallocate: true\n",
			Options{}, nil},
		{"cleanup.policy as a list", "version: 1\nlog:\n  topic_defaults:\n    cleanup.policy: [compact, delete]\n",
			Options{}, []string{`4:21 log.topic_defaults.cleanup.policy: expected a single value, got a list; write a comma-separated string: "compact,delete"`}},
		{"topic config without value", "version: 1\nlog:\n  topic_defaults:\n    retention.ms:\n",
			Options{}, []string{`4:5 log.topic_defaults.retention.ms: missing value`}},
		{"min.insync.replicas above replication factor", "version: 1\ntopics:\n  - name: a\n    config: {min.insync.replicas: 2}\n",
			Options{}, []string{`4:35 topics[0].config.min.insync.replicas: min.insync.replicas 2 is more than the replication factor 1`}},

		// sink topics and error handling
		{"topics and topics_regex", "version: 1\nconnectors:\n  - name: a\n    kind: file-sink\n    topics: [x]\n    topics_regex: 'shop\\..*'\n",
			Options{}, []string{`6:19 connectors[0].topics_regex: topics and topics_regex are both set`}},
		{"bad topics_regex", "version: 1\nconnectors:\n  - name: a\n    kind: file-sink\n    topics_regex: 'shop.(*'\n",
			Options{}, []string{`5:19 connectors[0].topics_regex: invalid regular expression`}},
		{"bad sink topic", "version: 1\nconnectors:\n  - name: a\n    kind: file-sink\n    topics: [ok, not ok]\n",
			Options{}, []string{`5:18 connectors[0].topics[1]: invalid topic name "not ok"`}},
		{"errors policy", "version: 1\nconnectors:\n  - name: a\n    kind: file-sink\n    topics: [t]\n    errors:\n      tolerance: some\n      retries: -2\n      dead_letter_topic: t\n",
			Options{}, []string{
				`7:18 connectors[0].errors.tolerance: invalid value "some"; use one of: all, none`,
				`8:16 connectors[0].errors.retries: must be -1 (retry forever) or more, not -2`,
				`9:26 connectors[0].errors.dead_letter_topic: dead-letter topic "t" is also one of the connector's topics`}},
		{"dead-letter topic without tolerance", "version: 1\nconnectors:\n  - name: a\n    kind: file-sink\n    errors: {dead_letter_topic: a.dlq}\n",
			Options{}, []string{`5:33 connectors[0].errors.dead_letter_topic: a dead-letter topic receives records only when errors.tolerance is all`}},

		// files that are not configs
		{"empty file", "",
			Options{}, []string{`0:0 : the file is empty; a config starts with "version: 1"`}},
		{"comments only", "# nothing here\n\n",
			Options{}, []string{`0:0 : the file is empty`}},
		{"null document", "---\n",
			Options{}, []string{`2:1 : the file holds no settings`}},
		{"not a mapping", "- version: 1\n",
			Options{}, []string{`1:1 : expected a mapping, got a list`}},
		{"two documents", "version: 1\n---\nversion: 1\n",
			Options{}, []string{`2:1 : a second YAML document`}},

		// YAML syntax errors, at the line yaml.v3 names
		{"bad indentation", "version: 1\nnode:\n  id: 1\n   data_dir: x\n",
			Options{}, []string{`4:0 : invalid YAML: mapping values are not allowed in this context`}},
		{"tab indentation", "version: 1\nnode:\n\tid: 1\n",
			Options{}, []string{`3:0 : invalid YAML: found character that cannot start any token; indent with spaces`}},
		{"unclosed flow list", "version: 1\ncluster:\n  peers: [1@a:1, 2@b:1\nlog: {}\n",
			Options{}, []string{`3:0 : invalid YAML: did not find expected ',' or ']'; a [ list ] is not closed`}},
		{"list item in a mapping", "version: 1\nnode:\n  id: 1\n- x\n",
			Options{}, []string{`4:0 : invalid YAML: did not find expected key`}},
		{"unknown anchor", "version: 1\nnode: *defaults\n",
			Options{}, []string{`2:7 : invalid YAML: unknown anchor 'defaults' referenced; define the anchor first with &defaults`}},
		{"control character", "version: 1\nnode:\n  data_dir: a\x01b\n",
			Options{}, []string{`3:14 : control character U+0001 is not allowed`}},
		{"not UTF-8", "version: 1\n# caf\xe9\n",
			Options{}, []string{`2:6 : the file is not valid UTF-8`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, problemsOf(t, tt.src, tt.opts), tt.want)
		})
	}
}

// TestAllProblemsAtOnce checks that one file with a problem in every section
// gets all of them reported, in file order.
func TestAllProblemsAtOnce(t *testing.T) {
	src := `version: 2
node:
  id: 0
  data-dir: ./x
  kafka_listen: 9092
log:
  fsync: sometimes
  cleaner_interval: 30
  topic_defaults:
    retention_ms: 5
topics:
  - name: audit
    partitions: three
    config: {cleanup.policy: compacted}
  - name: audit
connectors:
  - name: shop-pg
    kind: postgres-src
    config:
      dsn: ${PG_DSN}
  - name: shop-pg
    kind: file-sink
    converter: jsonschema
    tasks: 2
  - kind: mysql-source
`
	got := problemsOf(t, src, Options{Kinds: testKinds})
	want := []string{
		`1:10 version: unsupported version 2`,
		`3:7 node.id: invalid node ID 0`,
		`4:3 node.data-dir: unknown key; did you mean "data_dir"?`,
		`5:17 node.kafka_listen: invalid address "9092"`,
		`7:10 log.fsync: invalid value "sometimes"`,
		`8:21 log.cleaner_interval: invalid duration "30"`,
		`10:5 log.topic_defaults.retention_ms: unknown topic config key; did you mean "retention.ms"?`,
		`13:17 topics[0].partitions: expected an integer, got string "three"`,
		`14:30 topics[0].config.cleanup.policy: invalid value "compacted"`,
		`15:11 topics[1].name: duplicate topic name "audit" (first defined at line 12)`,
		`18:11 connectors[0].kind: unknown connector kind "postgres-src"; did you mean "postgres-source" or "postgres-sink"?`,
		`20:12 connectors[0].config.dsn: environment variable PG_DSN is not set`,
		`21:11 connectors[1].name: duplicate connector name "shop-pg" (first defined at line 17)`,
		`23:16 connectors[1].converter: invalid value "jsonschema"; did you mean "json-schema"?`,
		`24:5 connectors[1].tasks: unknown key; did you mean "tasks_max"?`,
		`25:5 connectors[2].name: missing`,
	}
	checkProblems(t, got, want)
	for i := 1; i < len(got); i++ {
		if got[i].Line < got[i-1].Line || got[i].Line == got[i-1].Line && got[i].Col < got[i-1].Col {
			t.Errorf("problems out of order: %s before %s", got[i-1], got[i])
		}
	}
	var e *Error
	_, err := Parse("sluice.yaml", []byte(src), Options{Kinds: testKinds, Getenv: noEnv})
	e, _ = err.(*Error)
	if lines := strings.Split(e.Error(), "\n"); len(lines) != len(want) {
		t.Errorf("Error() has %d lines, want %d:\n%s", len(lines), len(want), e.Error())
	}
	t.Logf("Error():\n%s", e.Error())
}
