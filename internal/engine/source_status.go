package engine

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-cdc/sluice/connect"
)

// statusPrefix begins the name of every gauge made from a source's status.
const statusPrefix = "sluice_source_status_"

// sourceStatusCollector exports, at scrape time, what each open source
// task reports about itself through connect.Status (the "details" of GET
// /connectors/{name}/status) as gauges, one metric per field:
//
//	{"slot_lag_bytes": 4096}  →  sluice_source_status_slot_lag_bytes{connector,task} 4096
//
// A field holding a map is read as a map of named things, whose name
// becomes a label named after the field (its last word, singular): each
// thing is a number, or a map of fields, each a metric of its own:
//
//	{"snapshot_tables": {"public.t": {"rows_done": 10}}}
//	    →  sluice_source_status_snapshot_tables_rows_done{connector,task,table="public.t"} 10
//
// Numbers of any Go type, json.Number, booleans (1 or 0) and durations
// (in seconds) are exported; strings, slices and the rest are not. The
// fields are the sources' own, so the collector is unchecked: it
// describes no metric up front. Before the connector runtime runs (and
// after it stops) it reports nothing.
type sourceStatusCollector struct {
	progress atomic.Pointer[func() []connect.SourceProgress]
}

// set makes the collector report what f returns; nil stops reporting.
func (c *sourceStatusCollector) set(f func() []connect.SourceProgress) {
	if f == nil {
		c.progress.Store(nil)
		return
	}
	c.progress.Store(&f)
}

// Describe implements prometheus.Collector. It sends nothing: the metric
// names come from the sources, at scrape time.
func (c *sourceStatusCollector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c *sourceStatusCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.progress.Load()
	if f == nil {
		return
	}
	// A registry refuses a scrape's metric family whose series differ in
	// their labels, or repeat one; two sources naming a field
	// differently would make that happen. The first to come wins.
	type family struct {
		desc  *prometheus.Desc
		label string
	}
	families := map[string]family{}
	seen := map[string]bool{}
	for _, p := range (*f)() {
		task := strconv.Itoa(p.Task)
		for _, s := range flattenStatus(p.Status) {
			name := statusPrefix + s.name
			fam, ok := families[name]
			if !ok {
				labels := []string{"connector", "task"}
				if s.label != "" {
					labels = append(labels, s.label)
				}
				fam = family{label: s.label, desc: prometheus.NewDesc(name,
					fmt.Sprintf("The sources' status field %s (connect.Status; the details of GET /connectors/{name}/status), by connector and task.", s.path),
					labels, nil)}
				families[name] = fam
			}
			values := []string{p.Connector, task}
			if s.label != "" {
				values = append(values, s.value)
			}
			key := name + "\xff" + strings.Join(values, "\xff")
			if fam.label != s.label || seen[key] {
				continue
			}
			m, err := prometheus.NewConstMetric(fam.desc, prometheus.GaugeValue, s.v, values...)
			if err != nil {
				continue // a name or label value Prometheus cannot carry
			}
			seen[key] = true
			ch <- m
		}
	}
}

// statusSample is one gauge made from a status: name (without
// statusPrefix), and for a field of a named thing the label's name and
// value. path is the field as the status has it, for the help text.
type statusSample struct {
	name, path   string
	label, value string
	v            float64
}

// flattenStatus turns a status into samples, sorted by name and label
// value. See sourceStatusCollector for the shape.
func flattenStatus(st map[string]any) []statusSample {
	var out []statusSample
	for _, k := range slices.Sorted(maps.Keys(st)) {
		v := st[k]
		if f, ok := statusNumber(v); ok {
			out = append(out, statusSample{name: metricName(k), path: k, v: f})
			continue
		}
		things, ok := stringMap(v)
		if !ok {
			continue
		}
		label := thingLabel(k)
		for _, thing := range slices.Sorted(maps.Keys(things)) {
			if f, ok := statusNumber(things[thing]); ok {
				out = append(out, statusSample{name: metricName(k), path: k + ".*", label: label, value: thing, v: f})
				continue
			}
			fields, ok := stringMap(things[thing])
			if !ok {
				continue
			}
			for _, fs := range flattenFields(fields, k+".*.", metricName(k)+"_") {
				fs.label, fs.value = label, thing
				out = append(out, fs)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b statusSample) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.value, b.value))
	})
	return out
}

// flattenFields turns a map of fields, maps of fields nested in it
// included, into samples named prefix + the fields' path joined by "_".
func flattenFields(fields map[string]any, path, prefix string) []statusSample {
	var out []statusSample
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if f, ok := statusNumber(fields[k]); ok {
			out = append(out, statusSample{name: prefix + metricName(k), path: path + k, v: f})
		} else if m, ok := stringMap(fields[k]); ok {
			out = append(out, flattenFields(m, path+k+".", prefix+metricName(k)+"_")...)
		}
	}
	return out
}

// statusNumber returns v as a gauge's value: numbers of any type,
// json.Number, booleans as 1 or 0, durations in seconds.
func statusNumber(v any) (float64, bool) {
	switch v := v.(type) {
	case nil:
		return 0, false
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	case time.Duration:
		return v.Seconds(), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}

// stringMap returns v as a map[string]any when it is a map with string
// keys of any value type.
func stringMap(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	m := make(map[string]any, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		m[it.Key().String()] = it.Value().Interface()
	}
	return m, true
}

// metricName makes a field name fit a Prometheus metric name: every
// character other than a letter, digit or "_" becomes "_".
func metricName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return '_'
	}, s)
}

// thingLabel names the label of the things in the map field k: the last
// word of k, singular ("snapshot_tables" → "table"), or "key" when that
// is no good label name.
func thingLabel(k string) string {
	word := metricName(k)
	if i := strings.LastIndexByte(word, '_'); i >= 0 {
		word = word[i+1:]
	}
	word = strings.ToLower(word)
	switch {
	case strings.HasSuffix(word, "ies") && len(word) > 3:
		word = word[:len(word)-3] + "y"
	case strings.HasSuffix(word, "s") && !strings.HasSuffix(word, "ss"):
		word = word[:len(word)-1]
	}
	if word == "" || word == "connector" || word == "task" || word[0] >= '0' && word[0] <= '9' {
		return "key"
	}
	return word
}
