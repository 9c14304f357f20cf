package configs

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks the parsed tree along the config's shape, filling a Config
// and reporting every unknown key and wrongly typed value where it stands.
// It remembers the node of every value it decoded, by path, so that defaults
// can tell what was written and validation can place its problems.
type decoder struct {
	problems []Problem
	values   map[string]*yaml.Node // path → value node, for every non-null value decoded
	keys     map[string]*yaml.Node // path → key node, for every key decoded
	bad      map[string]bool       // list items that are not mappings; validation skips them
	invalid  map[string]bool       // values that failed to decode; validation skips them

	merging map[*yaml.Node]bool    // mappings whose << merges are being expanded
	merged  map[*yaml.Node][]entry // expanded entries of mappings used as merge sources
}

func newDecoder() *decoder {
	return &decoder{
		values:  map[string]*yaml.Node{},
		keys:    map[string]*yaml.Node{},
		bad:     map[string]bool{},
		invalid: map[string]bool{},
		merging: map[*yaml.Node]bool{},
		merged:  map[*yaml.Node][]entry{},
	}
}

func (d *decoder) report(n *yaml.Node, path, msg, hint string) {
	d.problems = append(d.problems, ProblemAt(n, path, msg, hint))
}

// fail reports a value that cannot be decoded, and marks it so that
// validation does not report it again.
func (d *decoder) fail(n *yaml.Node, path, msg, hint string) {
	d.invalid[path] = true
	d.report(n, path, msg, hint)
}

// set reports whether the file gave a (non-null) value at path.
func (d *decoder) set(path string) bool { return d.values[path] != nil }

// at returns the node at path, or the nearest enclosing node the decoder
// knows, descending into raw blocks (such as connector config) by key.
func (d *decoder) at(path string) *yaml.Node {
	for p := path; ; p = parentPath(p) {
		if n := d.values[p]; n != nil {
			return descend(n, strings.TrimPrefix(strings.TrimPrefix(path, p), "."))
		}
		if p == "" {
			return nil
		}
	}
}

// parentPath strips the last element of a path: "a.b[2]" → "a.b" → "a" → "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// descend follows rest ("slot", "tables[1]") down from n as far as it can.
func descend(n *yaml.Node, rest string) *yaml.Node {
	for rest != "" {
		m := deref(n)
		switch {
		case rest[0] == '[' && m.Kind == yaml.SequenceNode:
			end := strings.IndexByte(rest, ']')
			i, err := strconv.Atoi(rest[1:max(end, 1)])
			if end < 0 || err != nil || i < 0 || i >= len(m.Content) {
				return n
			}
			n, rest = m.Content[i], strings.TrimPrefix(rest[end+1:], ".")
		case m.Kind == yaml.MappingNode:
			best := -1
			for i := 0; i+1 < len(m.Content); i += 2 {
				k := m.Content[i].Value
				if strings.HasPrefix(rest, k) && (len(rest) == len(k) || rest[len(k)] == '.' || rest[len(k)] == '[') &&
					(best < 0 || len(k) > len(m.Content[best].Value)) {
					best = i
				}
			}
			if best < 0 {
				return n
			}
			n, rest = m.Content[best+1], strings.TrimPrefix(rest[len(m.Content[best].Value):], ".")
		default:
			return n
		}
	}
	return n
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's type and value for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("string %q", clip(n.Value))
		case "!!int":
			return "integer " + clip(n.Value)
		case "!!float":
			return "number " + clip(n.Value)
		case "!!bool":
			return "boolean " + n.Value
		case "!!null":
			return "nothing"
		}
		return fmt.Sprintf("%s %q", n.ShortTag(), clip(n.Value))
	}
	return "an unexpected YAML node"
}

// entry is one key: value pair of a mapping, after << merges.
type entry struct{ key, value *yaml.Node }

// entries returns the pairs of mapping n: its own, then those merged in with
// "<<" whose keys it does not set itself (YAML's merge key). Problems with
// the merges are reported at path.
func (d *decoder) entries(n *yaml.Node, path string) []entry {
	var own, merged []entry
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			src := deref(v)
			var sources []*yaml.Node
			switch src.Kind {
			case yaml.MappingNode:
				sources = []*yaml.Node{src}
			case yaml.SequenceNode:
				for _, s := range src.Content {
					sources = append(sources, deref(s))
				}
			}
			for _, s := range sources {
				if s.Kind != yaml.MappingNode {
					d.report(v, path, "<< must merge a mapping or a list of mappings, got "+describe(s), "")
					continue
				}
				merged = append(merged, d.mergeSource(s, path)...)
			}
			if len(sources) == 0 {
				d.report(v, path, "<< must merge a mapping or a list of mappings, got "+describe(src), "")
			}
			continue
		}
		own = append(own, entry{k, v})
	}
	if len(merged) == 0 {
		return own
	}
	have := map[string]bool{}
	for _, e := range own {
		have[e.key.Value] = true
	}
	for _, e := range merged {
		if !have[e.key.Value] {
			have[e.key.Value] = true
			own = append(own, e)
		}
	}
	return own
}

// mergeSource returns the entries of a mapping merged into another, once per
// mapping however often it is merged, and refuses a mapping merged into itself.
func (d *decoder) mergeSource(s *yaml.Node, path string) []entry {
	if es, ok := d.merged[s]; ok {
		return es
	}
	if d.merging[s] {
		d.report(s, path, "<< merges a mapping into itself", "")
		return nil
	}
	d.merging[s] = true
	es := d.entries(s, path)
	// Keep the first entry of each key only, so that merge chains stay small.
	seen := map[string]bool{}
	kept := es[:0:0]
	for _, e := range es {
		if !seen[e.key.Value] {
			seen[e.key.Value] = true
			kept = append(kept, e)
		}
	}
	d.merged[s] = kept
	delete(d.merging, s)
	return kept
}

// fields maps the keys a mapping may hold to what decodes their values.
type fields map[string]func(v *yaml.Node, path string)

func (fs fields) keys() []string {
	ks := make([]string, 0, len(fs))
	for k := range fs {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// mapping decodes mapping n at path with fs, reporting keys that are not
// strings, are given twice, or are not in fs. A null value counts as absent.
func (d *decoder) mapping(n *yaml.Node, path string, fs fields) {
	d.mappingHint(n, path, fs, "")
}

// mappingHint is mapping with a hint for unknown keys that are not close to
// a known one.
func (d *decoder) mappingHint(n *yaml.Node, path string, fs fields, otherHint string) {
	m := deref(n)
	if m.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got "+describe(m), "")
		return
	}
	d.eachEntry(m, path, func(key string, k, v *yaml.Node) {
		p := join(path, key)
		f := fs[key]
		if f == nil && path == "" && strings.HasPrefix(key, "x-") {
			return // an extension key, a place for anchors (as in Compose files)
		}
		if f == nil {
			hint := DidYouMean(key, fs.keys())
			if hint == "" {
				hint = otherHint
			}
			if hint == "" {
				hint = unknownHint(key, fs.keys(), "valid keys here")
			}
			d.report(k, p, "unknown key", hint)
			return
		}
		if isNull(v) {
			return
		}
		d.keys[p], d.values[p] = k, v
		f(v, p)
	})
}

// eachEntry calls f for every entry of mapping m whose key is a string given
// once, reporting the others.
func (d *decoder) eachEntry(m *yaml.Node, path string, f func(key string, k, v *yaml.Node)) {
	first := map[string]*yaml.Node{}
	for _, e := range d.entries(m, path) {
		k := deref(e.key)
		if k.Kind != yaml.ScalarNode {
			d.report(e.key, path, "expected a string key, got "+describe(k), "")
			continue
		}
		if prev := first[k.Value]; prev != nil {
			d.report(e.key, join(path, k.Value), fmt.Sprintf("key %q is already defined at line %d", k.Value, prev.Line), "remove one of them")
			continue
		}
		first[k.Value] = e.key
		f(k.Value, e.key, e.value)
	}
}

// list decodes sequence n at path, calling f for each item with its path.
func (d *decoder) list(n *yaml.Node, path string, f func(item *yaml.Node, path string)) {
	s := deref(n)
	if s.Kind != yaml.SequenceNode {
		hint := ""
		if s.Kind == yaml.ScalarNode {
			hint = fmt.Sprintf("write a list: [%s]", clip(s.Value))
		}
		d.fail(n, path, "expected a list, got "+describe(s), hint)
		return
	}
	for i, item := range s.Content {
		p := index(path, i)
		d.values[p] = item
		f(item, p)
	}
}

// object decodes a list item that must be a mapping, marking it bad if not.
func (d *decoder) object(item *yaml.Node, path string, fs fields) {
	if deref(item).Kind != yaml.MappingNode {
		d.bad[path] = true
	}
	d.mapping(item, path, fs)
}

func (d *decoder) text(n *yaml.Node, path string, out *string) {
	s := deref(n)
	if s.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a string, got "+describe(s), "")
		return
	}
	*out = s.Value
}

func (d *decoder) integer(n *yaml.Node, path string, out *int) {
	s := deref(n)
	if s.Kind != yaml.ScalarNode || s.ShortTag() != "!!int" {
		hint := ""
		if s.Kind == yaml.ScalarNode && s.ShortTag() == "!!str" {
			if _, err := strconv.Atoi(strings.TrimSpace(s.Value)); err == nil {
				hint = "remove the quotes"
			}
		}
		d.fail(n, path, "expected an integer, got "+describe(s), hint)
		return
	}
	var v int
	if err := s.Decode(&v); err != nil {
		d.fail(n, path, fmt.Sprintf("integer %s is out of range", clip(s.Value)), "")
		return
	}
	*out = v
}

func (d *decoder) boolean(n *yaml.Node, path string, out *bool) {
	s := deref(n)
	if s.Kind != yaml.ScalarNode || s.ShortTag() != "!!bool" {
		d.fail(n, path, "expected true or false, got "+describe(s), "")
		return
	}
	var v bool
	if err := s.Decode(&v); err != nil {
		d.fail(n, path, "expected true or false, got "+describe(s), "")
		return
	}
	*out = v
}

const durationHint = `use a Go duration such as "30s" or "5m"`

func (d *decoder) duration(n *yaml.Node, path string, out *time.Duration) {
	s := deref(n)
	if s.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a duration, got "+describe(s), durationHint)
		return
	}
	v, err := time.ParseDuration(strings.TrimSpace(s.Value))
	if err != nil {
		hint := durationHint
		if strings.HasSuffix(strings.TrimSpace(s.Value), "d") {
			hint += `; there is no day unit: one day is "24h"`
		} else if s.ShortTag() == "!!int" || s.ShortTag() == "!!float" {
			hint += "; a number needs a unit"
		}
		d.fail(n, path, fmt.Sprintf("invalid duration %q", clip(s.Value)), hint)
		return
	}
	*out = v
}

// textList decodes a list of strings.
func (d *decoder) textList(n *yaml.Node, path string, out *[]string) {
	var vs []string
	d.list(n, path, func(item *yaml.Node, p string) {
		var v string
		if isNull(item) {
			d.report(item, p, "empty list item", "")
		} else {
			d.text(item, p, &v)
		}
		vs = append(vs, v)
	})
	*out = vs
}

// stringMap decodes a mapping of strings to scalars, keeping each value's
// text: 604800000 and "604800000" are the same value.
func (d *decoder) stringMap(n *yaml.Node, path string, out *map[string]string) {
	m := deref(n)
	if m.Kind != yaml.MappingNode {
		d.report(n, path, "expected a mapping, got "+describe(m), "")
		return
	}
	vs := map[string]string{}
	d.eachEntry(m, path, func(key string, k, v *yaml.Node) {
		p := join(path, key)
		d.keys[p] = k
		s := deref(v)
		switch {
		case isNull(v):
			d.report(k, p, "missing value", "")
		case s.Kind != yaml.ScalarNode:
			hint := ""
			if key == "cleanup.policy" && s.Kind == yaml.SequenceNode {
				hint = `write a comma-separated string: "compact,delete"`
			}
			d.report(v, p, "expected a single value, got "+describe(s), hint)
		default:
			d.values[p] = v
			vs[key] = s.Value
		}
	})
	*out = vs
}

// config decodes the document root into c.
func (d *decoder) config(root *yaml.Node, c *Config) {
	d.values[""] = root
	d.mapping(root, "", fields{
		"version": func(v *yaml.Node, p string) { d.integer(v, p, &c.Version) },
		"node":    func(v *yaml.Node, p string) { d.node(v, p, &c.Node) },
		"cluster": func(v *yaml.Node, p string) {
			c.Cluster = &Cluster{}
			d.cluster(v, p, c.Cluster)
		},
		"log": func(v *yaml.Node, p string) { d.log(v, p, &c.Log) },
		"topics": func(v *yaml.Node, p string) {
			d.list(v, p, func(item *yaml.Node, p string) {
				var t Topic
				d.topic(item, p, &t)
				c.Topics = append(c.Topics, t)
			})
		},
		"connectors": func(v *yaml.Node, p string) {
			d.list(v, p, func(item *yaml.Node, p string) {
				var cn Connector
				d.connector(item, p, &cn)
				c.Connectors = append(c.Connectors, cn)
			})
		},
	})
}

func (d *decoder) node(n *yaml.Node, path string, out *Node) {
	d.mapping(n, path, fields{
		"id":              func(v *yaml.Node, p string) { d.integer(v, p, &out.ID) },
		"data_dir":        func(v *yaml.Node, p string) { d.text(v, p, &out.DataDir) },
		"kafka_listen":    func(v *yaml.Node, p string) { d.text(v, p, &out.KafkaListen) },
		"admin_listen":    func(v *yaml.Node, p string) { d.text(v, p, &out.AdminListen) },
		"kafka_advertise": func(v *yaml.Node, p string) { d.text(v, p, &out.KafkaAdvertise) },
	})
}

func (d *decoder) cluster(n *yaml.Node, path string, out *Cluster) {
	d.mapping(n, path, fields{
		"peers": func(v *yaml.Node, p string) {
			var peers []string
			d.textList(v, p, &peers)
			for i, s := range peers {
				ip := index(p, i)
				if s == "" {
					continue
				}
				peer, msg := parsePeer(s)
				if msg != "" {
					d.report(d.values[ip], ip, fmt.Sprintf("invalid peer %q: %s", clip(s), msg), `write ID@HOST:PORT, e.g. "2@10.0.0.2:9192"`)
				}
				out.Peers = append(out.Peers, peer)
			}
		},
	})
}

func (d *decoder) log(n *yaml.Node, path string, out *Log) {
	d.mapping(n, path, fields{
		"fsync":                      func(v *yaml.Node, p string) { d.text(v, p, &out.Fsync) },
		"fsync_interval":             func(v *yaml.Node, p string) { d.duration(v, p, &out.FsyncInterval) },
		"auto_create_topics":         func(v *yaml.Node, p string) { d.boolean(v, p, &out.AutoCreateTopics) },
		"default_partitions":         func(v *yaml.Node, p string) { d.integer(v, p, &out.DefaultPartitions) },
		"default_replication_factor": func(v *yaml.Node, p string) { d.integer(v, p, &out.DefaultReplicationFactor) },
		"cleaner_interval":           func(v *yaml.Node, p string) { d.duration(v, p, &out.CleanerInterval) },
		"topic_defaults":             func(v *yaml.Node, p string) { d.stringMap(v, p, &out.TopicDefaults) },
	})
}

func (d *decoder) topic(n *yaml.Node, path string, out *Topic) {
	d.object(n, path, fields{
		"name":               func(v *yaml.Node, p string) { d.text(v, p, &out.Name) },
		"partitions":         func(v *yaml.Node, p string) { d.integer(v, p, &out.Partitions) },
		"replication_factor": func(v *yaml.Node, p string) { d.integer(v, p, &out.ReplicationFactor) },
		"config":             func(v *yaml.Node, p string) { d.stringMap(v, p, &out.Config) },
	})
}

func (d *decoder) connector(n *yaml.Node, path string, out *Connector) {
	if deref(n).Kind != yaml.MappingNode {
		d.bad[path] = true
	}
	d.mappingHint(n, path, fields{
		"name":         func(v *yaml.Node, p string) { d.text(v, p, &out.Name) },
		"kind":         func(v *yaml.Node, p string) { d.text(v, p, &out.Kind) },
		"topics":       func(v *yaml.Node, p string) { d.textList(v, p, &out.Topics) },
		"topics_regex": func(v *yaml.Node, p string) { d.text(v, p, &out.TopicsRegex) },
		"converter":    func(v *yaml.Node, p string) { d.text(v, p, &out.Converter) },
		"tasks_max":    func(v *yaml.Node, p string) { d.integer(v, p, &out.TasksMax) },
		"start_from":   func(v *yaml.Node, p string) { d.text(v, p, &out.StartFrom) },
		"tombstones_on_delete": func(v *yaml.Node, p string) {
			b := true
			d.boolean(v, p, &b)
			out.TombstonesOnDelete = &b
		},
		"transforms": func(v *yaml.Node, p string) {
			d.list(v, p, func(item *yaml.Node, p string) {
				m := deref(item)
				if m.Kind != yaml.MappingNode {
					d.report(item, p, "expected a mapping, got "+describe(m), `a transform is a mapping such as {type: ..., ...}`)
					return
				}
				out.Transforms = append(out.Transforms, m)
			})
		},
		"errors": func(v *yaml.Node, p string) {
			d.mapping(v, p, fields{
				"tolerance":         func(v *yaml.Node, p string) { d.text(v, p, &out.Errors.Tolerance) },
				"retries":           func(v *yaml.Node, p string) { d.integer(v, p, &out.Errors.Retries) },
				"dead_letter_topic": func(v *yaml.Node, p string) { d.text(v, p, &out.Errors.DeadLetterTopic) },
			})
		},
		"config": func(v *yaml.Node, p string) {
			m := deref(v)
			if m.Kind != yaml.MappingNode {
				d.report(v, p, "expected a mapping, got "+describe(m), "")
				return
			}
			out.Config = m
		},
	}, `settings of the connector's kind go under "config:"`)
}

// parsePeer parses "ID@HOST:PORT", returning a message when it is malformed.
func parsePeer(s string) (Peer, string) {
	id, addr, ok := strings.Cut(s, "@")
	if !ok {
		return Peer{}, "no \"@\" between ID and address"
	}
	n, err := strconv.Atoi(id)
	if err != nil {
		return Peer{}, fmt.Sprintf("ID %q is not an integer", clip(id))
	}
	if n < 1 {
		return Peer{}, fmt.Sprintf("ID %d is not ≥ 1", n)
	}
	if msg := checkHostPort(addr, false); msg != "" {
		return Peer{}, msg
	}
	return Peer{ID: n, Addr: addr}, ""
}
