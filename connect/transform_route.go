package connect

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// route renames topics: the first match of regex in the topic is replaced
// by replacement, in which $1, ${1} and ${name} stand for the match's
// groups (regexp.Expand). The regex is not anchored for you: write ^ and $
// to match the whole topic, as Kafka Connect's RegexRouter does. A topic
// that does not match is left as it is.
type route struct {
	re          *regexp.Regexp
	replacement string

	// cache maps topics to their routes (a topic, or the error), up to
	// routeCacheMax topics: a connector writes to a few topics, over
	// and over.
	cache  sync.Map // string → routed
	cached atomic.Int64
}

type routed struct {
	topic string
	err   error
}

const routeCacheMax = 4096

func (r *route) Name() string { return "route" }

func (r *route) Apply(m *Message) (*Message, error) {
	var to routed
	if v, ok := r.cache.Load(m.Topic); ok {
		to = v.(routed)
	} else {
		to = r.route(m.Topic)
		if r.cached.Load() < routeCacheMax {
			if _, loaded := r.cache.LoadOrStore(m.Topic, to); !loaded {
				r.cached.Add(1)
			}
		}
	}
	if to.err != nil {
		return nil, to.err
	}
	if to.topic == m.Topic {
		return m, nil
	}
	c := *m
	c.Topic = to.topic
	return &c, nil
}

func (r *route) route(topic string) routed {
	loc := r.re.FindStringSubmatchIndex(topic)
	if loc == nil {
		return routed{topic: topic}
	}
	b := make([]byte, 0, len(topic)+len(r.replacement))
	b = append(b, topic[:loc[0]]...)
	b = r.re.ExpandString(b, r.replacement, topic, loc)
	b = append(b, topic[loc[1]:]...)
	to := string(b)
	if to == topic {
		return routed{topic: topic}
	}
	if msg := checkTopicName(to); msg != "" {
		return routed{err: fmt.Errorf("route %q → %q: %s", topic, to, msg)}
	}
	return routed{topic: to}
}

// checkTopicName says what is wrong with a Kafka topic name, or "".
func checkTopicName(t string) string {
	switch {
	case t == "":
		return "the new topic name is empty"
	case len(t) > 249:
		return "the new topic name is longer than 249 characters"
	case t == "." || t == "..":
		return "a topic may not be named . or .."
	}
	for _, c := range []byte(t) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Sprintf("the new topic name has %q; topic names hold only letters, digits, '.', '_' and '-'", c)
		}
	}
	return ""
}

func buildRoute(o *options) Transform {
	src, okRe := o.required("regex", `'^shop\.public\.(.*)$'`)
	repl, okRepl := o.required("replacement", `'pg.$1'`)
	if !okRe {
		return nil
	}
	re, err := regexp.Compile(src)
	if err != nil {
		msg := err.Error()
		var se *syntax.Error
		if errors.As(err, &se) {
			msg = fmt.Sprintf("%s in `%s`", se.Code, se.Expr)
		}
		o.report(o.values["regex"], "regex", "bad regular expression: "+msg, `Go RE2 syntax; escape a literal dot as \.`)
		return nil
	}
	if !okRepl {
		return nil
	}
	for _, bad := range checkTemplate(re, repl) {
		o.report(o.values["replacement"], "replacement", bad[0], bad[1])
	}
	return &route{re: re, replacement: repl}
}

// checkTemplate finds the group references in an Expand template that
// name no group of re, as [msg, hint] pairs. Expand would replace them by
// nothing.
func checkTemplate(re *regexp.Regexp, t string) [][2]string {
	var out [][2]string
	for {
		_, rest, ok := strings.Cut(t, "$")
		if !ok {
			return out
		}
		t = rest
		if strings.HasPrefix(t, "$") {
			t = t[1:]
			continue
		}
		brace := strings.HasPrefix(t, "{")
		s := t
		if brace {
			s = t[1:]
		}
		i := 0
		for i < len(s) && (s[i] == '_' || s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
			i++
		}
		name := s[:i]
		if name == "" || brace && (i >= len(s) || s[i] != '}') {
			continue // not a reference: Expand keeps the $ as text
		}
		if brace {
			i++
			t = s[i:]
		} else {
			t = s[i:]
		}
		if n, err := strconv.Atoi(name); err == nil {
			if n > re.NumSubexp() {
				out = append(out, [2]string{
					fmt.Sprintf("replacement refers to group $%d, but the regex has %d", n, re.NumSubexp()),
					"groups are the regex's parenthesized parts, counted from 1; $0 is the whole match"})
			}
			continue
		}
		if re.SubexpIndex(name) >= 0 {
			continue
		}
		hint := "named groups are written (?P<name>...) in the regex"
		if name[0] >= '0' && name[0] <= '9' {
			j := 0
			for j < len(name) && name[j] >= '0' && name[j] <= '9' {
				j++
			}
			hint = fmt.Sprintf("$%s is read as a group named %q; write ${%s}%s for group %s followed by %q", name, name, name[:j], name[j:], name[:j], name[j:])
		}
		out = append(out, [2]string{fmt.Sprintf("replacement refers to group %q, which the regex does not have", name), hint})
	}
}
