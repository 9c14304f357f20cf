// Package configs is sluice's configuration: the versioned YAML model
// ("version: 1", see DESIGN.md), its defaults, its validation with
// file:line:col, ${ENV} substitution, and the example files in
// configs/examples/.
//
// # What it owns, and what it does not
//
// configs owns the shape of the file: every key outside a connector's
// "config:" block, their types, defaults and checks, and Kafka's topic config
// keys (cleanup.policy, retention.ms, ...) with their value syntax. It does
// not own connector kinds: which kinds exist and what each kind's config
// block holds belong to the connector registry, which the caller passes in
// through Options.Kinds and Options.CheckConnector. A connector's config block
// stays a *yaml.Node with the file's positions, so that the connector can
// report problems at the right place (ProblemAt, CheckKeys) and decode the
// block into its own struct (Connector.Decode). The package imports only the
// standard library and gopkg.in/yaml.v3.
//
// Top-level keys starting with "x-" are ignored, as in Compose files, so
// that YAML anchors have a place to live:
//
//	x-sink: &sink {kind: file-sink, converter: raw}
//	connectors:
//	  - <<: *sink
//	    name: orders-file
//
// # Load order
//
// Parse (and Load, which reads a file and calls Parse) runs four steps:
//
//  1. Substitute: ${VAR}, ${VAR:-default}, ${VAR-default} and $$ are
//     expanded in the text (env.go). A map from the substituted text back to
//     the original keeps every later position pointing at the file as
//     written; a problem inside a substituted value points at its "$". A
//     reference that cannot be resolved is reported only if it lands in the
//     YAML's data, so one inside a comment is harmless.
//  2. Parse: yaml.v3 parses the text into a yaml.Node tree (parse.go); a
//     syntax error is reported at its line. The positions of every node are
//     rewritten to the original file's (position.go).
//  3. Defaults: the tree is walked along the config's shape (decode.go),
//     reporting unknown keys (with "did you mean" hints), duplicate keys and
//     wrongly typed values at their positions; then every value the file did
//     not give gets its default (defaults.go, documented on the fields in
//     config.go). A value written explicitly, even 0, is kept and checked.
//  4. Validate: the filled config is checked as a whole (validate.go,
//     topicconfig.go): ranges, enumerations, addresses, names, duplicates,
//     cross-references, then Options.CheckConnector for each connector.
//
// Every step records problems and goes on; Parse returns all of them at
// once, so that "sluice validate" shows everything wrong with a file in one
// run.
//
// # Errors
//
// Problems come back as *Error, whose Problems are sorted by position and
// whose Error method prints one line per problem:
//
//	FILE:LINE:COL: PATH: MESSAGE[; HINT]
//
// for example
//
//	sluice.yaml:4:3: node.data-dir: unknown key; did you mean "data_dir"?
//	sluice.yaml:25:11: connectors[1].name: duplicate connector name "shop-pg" (first defined at line 21)
//	sluice.yaml:24:12: connectors[0].config.dsn: environment variable PG_DSN is not set; set it, or give a default: ${PG_DSN:-value}
//
// LINE and COL are 1-based, COL counted in characters; a YAML syntax error
// has a line but no column. PATH names the value in the config's own
// notation (keys joined by ".", list items as [i]).
//
// # Files
//
//	config.go       the model: Config and its parts, with keys and defaults
//	parse.go        Options, Load, Parse; YAML syntax errors
//	env.go          ${VAR} substitution
//	position.go     line/column bookkeeping across substitution
//	decode.go       the walk from yaml.Node to Config
//	defaults.go     defaults
//	validate.go     whole-config checks
//	topicconfig.go  Kafka topic config keys and their values
//	problem.go      Problem, Error, ProblemAt, DidYouMean
//	check.go        CheckKeys, for connector packages
package configs
