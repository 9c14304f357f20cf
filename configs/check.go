package configs

import (
	"slices"

	"gopkg.in/yaml.v3"
)

// CheckKeys reports what is wrong with the keys of mapping m, a node of a
// parsed config such as a connector's Config block: m not being a mapping,
// keys that are not strings or are given twice, and keys not in known, with
// a "did you mean" hint when one is close. path is m's path as the problems
// should show it; for Options.CheckConnector that is relative to the
// connector, e.g. "config". "<<" merge keys are followed.
func CheckKeys(m *yaml.Node, path string, known []string) []Problem {
	d := newDecoder()
	n := deref(m)
	if n == nil || n.Kind != yaml.MappingNode {
		if n == nil || isNull(n) {
			return nil
		}
		return []Problem{ProblemAt(m, path, "expected a mapping, got "+describe(n), "")}
	}
	d.eachEntry(n, path, func(key string, k, _ *yaml.Node) {
		if !slices.Contains(known, key) {
			d.report(k, join(path, key), "unknown key", unknownHint(key, known, "valid keys here"))
		}
	})
	return d.problems
}
