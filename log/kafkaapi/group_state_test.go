package kafkaapi

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

var groupRewrite = flag.Bool("group-rewrite", false, "rewrite testdata/group_*.txt with the actual output")

// TestGroupStateScripts runs the state-machine scripts in testdata/group_*.txt.
//
// A script is a sequence of blocks: a command line, a "----" line, and the
// expected output up to a blank line; lines starting with # before a command
// are comments. Times are given as t=<duration> after an arbitrary origin and
// printed the same way. Commands:
//
//	new [delay=D]                    a fresh group (initial rebalance delay D)
//	join t= [id=] [new=] [inst=] [v=5] [session=10s] [rebalance=30s]
//	     [ptype=consumer] [protos=name:meta,...] [client=]
//	sync t= id= gen= [inst=] [assign=member:bytes,...] [ptype=] [proto=]
//	heartbeat t= id= gen= [inst=]
//	leave t= members=id|id/inst|/inst,...
//	commit t= id= gen= [inst=]
//	expire t=
//	state                            the whole group, and its next deadline
//	describe
//
// A call that must wait prints "wait #N"; replies to waiting calls print as
// "#N join: ..." or "#N sync: ...". Rewrite the expected output with
// go test -run TestGroupStateScripts -group-rewrite.
func TestGroupStateScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/group_*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/group_*.txt scripts")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runGroupScript(t, f) })
	}
}

type scriptBlock struct {
	pre      []string // comments and blank lines before the command
	cmd      string
	line     int
	expected string
}

func parseGroupScript(t *testing.T, path string) []scriptBlock {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var blocks []scriptBlock
	var pre []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			continue
		}
		b := scriptBlock{pre: pre, cmd: l, line: i + 1}
		pre = nil
		if i+1 >= len(lines) || lines[i+1] != "----" {
			t.Fatalf("%s:%d: command without a ---- line", path, i+1)
		}
		i += 2
		var out []string
		for ; i < len(lines) && lines[i] != ""; i++ {
			out = append(out, lines[i])
		}
		b.expected = strings.Join(out, "\n")
		blocks = append(blocks, b)
	}
	return blocks
}

func runGroupScript(t *testing.T, path string) {
	blocks := parseGroupScript(t, path)
	r := &groupScript{t: t, base: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), kinds: map[ticket]string{}}
	var rewritten strings.Builder
	for _, b := range blocks {
		got := strings.TrimRight(r.run(b.cmd), "\n")
		if got != b.expected && !*groupRewrite {
			t.Errorf("%s:%d: %s\n got:\n%s\nwant:\n%s", path, b.line, b.cmd, got, b.expected)
		}
		for _, p := range b.pre {
			rewritten.WriteString(p + "\n")
		}
		rewritten.WriteString(b.cmd + "\n----\n")
		if got != "" {
			rewritten.WriteString(got + "\n")
		}
		rewritten.WriteString("\n")
	}
	if *groupRewrite {
		if err := os.WriteFile(path, []byte(strings.TrimRight(rewritten.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type groupScript struct {
	t     *testing.T
	base  time.Time
	g     *groupState
	kinds map[ticket]string
}

func groupCodeName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return e.Message
	}
	return fmt.Sprint(code)
}

func (r *groupScript) at(d time.Duration) time.Time { return r.base.Add(d) }

func (r *groupScript) since(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Sub(r.base).String()
}

func (r *groupScript) run(cmd string) string {
	fields := strings.Fields(cmd)
	args := map[string]string{}
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			r.t.Fatalf("%q: argument %q is not key=value", cmd, f)
		}
		args[k] = v
	}
	arg := func(k, def string) string {
		if v, ok := args[k]; ok {
			return v
		}
		return def
	}
	dur := func(k, def string) time.Duration {
		d, err := time.ParseDuration(arg(k, def))
		if err != nil {
			r.t.Fatalf("%q: %s: %v", cmd, k, err)
		}
		return d
	}
	num := func(k string) int32 {
		var n int32
		if _, err := fmt.Sscan(arg(k, "0"), &n); err != nil {
			r.t.Fatalf("%q: %s: %v", cmd, k, err)
		}
		return n
	}
	now := r.at(dur("t", "0s"))
	if fields[0] != "new" && r.g == nil {
		r.t.Fatalf("%q before new", cmd)
	}
	var b strings.Builder
	switch fields[0] {
	case "new":
		r.g = newGroupState("g", dur("delay", "0s"))
		b.WriteString("ok\n")
	case "join":
		jr := joinRequest{
			memberID:       arg("id", ""),
			instanceID:     arg("inst", ""),
			newMemberID:    arg("new", ""),
			requireKnownID: num("v") >= 4 || arg("v", "") == "",
			clientID:       arg("client", "c"),
			clientHost:     "/127.0.0.1",
			protocolType:   arg("ptype", "consumer"),
			session:        dur("session", "10s"),
			rebalance:      dur("rebalance", "30s"),
		}
		for _, p := range strings.Split(arg("protos", "range:m"), ",") {
			if p == "" {
				continue
			}
			name, md, _ := strings.Cut(p, ":")
			jr.protocols = append(jr.protocols, protocol{name: name, metadata: []byte(md)})
		}
		res, tk, out := r.g.join(now, jr)
		if tk != 0 {
			r.kinds[tk] = "join"
			fmt.Fprintf(&b, "wait #%d\n", tk)
		} else {
			b.WriteString("join: " + formatJoin(res) + "\n")
		}
		r.replies(&b, out)
	case "sync":
		sr := syncRequest{memberID: arg("id", ""), instanceID: arg("inst", ""), generation: num("gen")}
		if v, ok := args["ptype"]; ok {
			sr.protocolType = &v
		}
		if v, ok := args["proto"]; ok {
			sr.protocol = &v
		}
		if a, ok := args["assign"]; ok {
			sr.assignments = map[string][]byte{}
			for _, p := range strings.Split(a, ",") {
				id, as, _ := strings.Cut(p, ":")
				sr.assignments[id] = []byte(as)
			}
		}
		res, tk, out := r.g.sync(now, sr)
		if tk != 0 {
			r.kinds[tk] = "sync"
			fmt.Fprintf(&b, "wait #%d\n", tk)
		} else {
			b.WriteString("sync: " + formatSync(res) + "\n")
		}
		r.replies(&b, out)
	case "heartbeat":
		code := r.g.heartbeat(now, arg("id", ""), arg("inst", ""), num("gen"))
		b.WriteString("heartbeat: " + groupCodeName(code) + "\n")
	case "commit":
		code := r.g.commitAllowed(now, arg("id", ""), arg("inst", ""), num("gen"))
		b.WriteString("commit: " + groupCodeName(code) + "\n")
	case "leave":
		var ls []leaveMember
		for _, m := range strings.Split(arg("members", ""), ",") {
			id, inst, _ := strings.Cut(m, "/")
			ls = append(ls, leaveMember{memberID: id, instanceID: inst})
		}
		codes, out := r.g.leave(now, ls)
		b.WriteString("leave:")
		for i, l := range ls {
			fmt.Fprintf(&b, " %s/%s=%s", l.memberID, l.instanceID, groupCodeName(codes[i]))
		}
		b.WriteString("\n")
		r.replies(&b, out)
	case "expire":
		r.replies(&b, r.g.expire(now))
	case "state":
		r.dumpState(&b)
	case "describe":
		s := r.g.describe()
		fmt.Fprintf(&b, "state=%s type=%s protocol=%s\n", s.state, s.protocolType, s.protocol)
		for _, m := range s.members {
			fmt.Fprintf(&b, "member %s inst=%s client=%s host=%s metadata=%q assignment=%q\n", m.id, m.instanceID, m.clientID, m.clientHost, m.metadata, m.assignment)
		}
	default:
		r.t.Fatalf("unknown command %q", cmd)
	}
	return b.String()
}

func (r *groupScript) replies(b *strings.Builder, out []reply) {
	for _, rp := range out {
		switch r.kinds[rp.to] {
		case "join":
			fmt.Fprintf(b, "#%d join: %s\n", rp.to, formatJoin(rp.join))
		case "sync":
			fmt.Fprintf(b, "#%d sync: %s\n", rp.to, formatSync(rp.sync))
		default:
			r.t.Fatalf("reply to unknown ticket #%d", rp.to)
		}
		delete(r.kinds, rp.to)
	}
}

func formatJoin(res joinResult) string {
	if res.err != 0 {
		return fmt.Sprintf("%s member=%s", groupCodeName(res.err), res.memberID)
	}
	s := fmt.Sprintf("member=%s gen=%d leader=%s type=%s protocol=%s", res.memberID, res.generation, res.leader, res.protocolType, res.protocol)
	if res.members != nil {
		var ms []string
		for _, m := range res.members {
			x := m.id + ":" + string(m.metadata)
			if m.instanceID != "" {
				x = m.id + "/" + m.instanceID + ":" + string(m.metadata)
			}
			ms = append(ms, x)
		}
		s += " members=[" + strings.Join(ms, " ") + "]"
	}
	return s
}

func formatSync(res syncResult) string {
	if res.err != 0 {
		return groupCodeName(res.err)
	}
	return fmt.Sprintf("assignment=%q", res.assignment)
}

func (r *groupScript) dumpState(b *strings.Builder) {
	g := r.g
	fmt.Fprintf(b, "%s gen=%d type=%s protocol=%s leader=%s\n", g.phase, g.generation, g.protocolType, g.protocol, g.leader)
	for _, m := range g.sortedMembers() {
		var protos []string
		for _, p := range m.protocols {
			protos = append(protos, p.name+":"+string(p.metadata))
		}
		waits := ""
		if m.joinWait != 0 {
			waits += fmt.Sprintf(" joining=#%d", m.joinWait)
		}
		if m.syncWait != 0 {
			waits += fmt.Sprintf(" syncing=#%d", m.syncWait)
		}
		inst := ""
		if m.instanceID != "" {
			inst = " inst=" + m.instanceID
		}
		fmt.Fprintf(b, "  member %s%s protos=%s session-ends=%s%s assignment=%q\n", m.id, inst, strings.Join(protos, ","), r.since(m.expires), waits, m.assignment)
	}
	var pending []string
	for id, until := range g.pending {
		pending = append(pending, id+"@"+r.since(until))
	}
	slices.Sort(pending)
	if len(pending) > 0 {
		fmt.Fprintf(b, "  pending %s\n", strings.Join(pending, " "))
	}
	if g.phase == phasePreparingRebalance {
		if g.delaying {
			fmt.Fprintf(b, "  join phase: delayed until %s, ends by %s\n", r.since(g.delayUntil), r.since(g.joinDeadline))
		} else {
			fmt.Fprintf(b, "  join phase ends by %s\n", r.since(g.joinDeadline))
		}
	}
	if len(g.pendingSync) > 0 {
		var ids []string
		for id := range g.pendingSync {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		fmt.Fprintf(b, "  awaiting SyncGroup from %s by %s\n", strings.Join(ids, ","), r.since(g.syncDeadline))
	}
	fmt.Fprintf(b, "  next deadline %s\n", r.since(g.deadline()))
}
