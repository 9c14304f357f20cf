package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-cdc/sluice/connect"
)

// defaultAdmin is where the connectors commands look for a node when
// neither --admin nor a config file says otherwise: node.admin_listen's
// default.
const defaultAdmin = "127.0.0.1:8083"

// adminFlags are the flags of the commands that talk to a node through its
// admin REST API (connectors).
type adminFlags struct {
	admin      string
	configPath string
	timeout    time.Duration
}

func connectorsCmd(g *globals) *cobra.Command {
	f := &adminFlags{}
	cmd := &cobra.Command{
		Use:   "connectors",
		Short: "List, inspect, pause, resume, stop, restart, reset and snapshot connectors through the admin API",
		Long: `The connectors commands talk to a running node through its admin REST API
(Kafka Connect's shape): --admin HOST:PORT, or by default the node of the
config file (node.admin_listen of --config, default sluice.yaml, when it
exists), else ` + defaultAdmin + `.

Connectors are declared in the config file; these commands steer the ones a
node runs. "reset" makes a connector start over: a sink replays its topics
from the earliest offset, a source takes a new snapshot. "snapshot" makes a
running source read some tables again while it goes on streaming.`,
		Args: cobra.NoArgs,
	}
	fl := cmd.PersistentFlags()
	fl.StringVar(&f.admin, "admin", "", "HOST:PORT of the node's admin API; default: node.admin_listen of --config, else "+defaultAdmin)
	fl.StringVarP(&f.configPath, "config", "c", defaultConfigPath, "config file whose node.admin_listen is the default --admin (used only when it exists)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long to wait for each answer of the node")
	cmd.AddCommand(
		connectorsListCmd(g, f),
		connectorsStatusCmd(g, f),
		connectorsStateCmd(g, f, "pause", "Pause a connector's tasks; they continue where they were on resume", "pause requested"),
		connectorsStateCmd(g, f, "resume", "Resume a paused or stopped connector", "resume requested"),
		connectorsStateCmd(g, f, "stop", "Stop a connector's tasks and keep it stopped (its offsets can then be reset)", "stopped"),
		connectorsRestartCmd(g, f),
		connectorsRestartTaskCmd(g, f),
		connectorsOffsetsCmd(g, f),
		connectorsResetCmd(g, f),
		connectorsSnapshotCmd(g, f),
	)
	return cmd
}

// resolveAdmin returns the admin API's base URL and where it came from,
// for messages: --admin when given (HOST:PORT, or an http:// or https://
// URL); else the node of the config file (node.admin_listen, with
// 127.0.0.1 for an unspecified host) when the file exists or was named
// explicitly; else 127.0.0.1:8083.
func resolveAdmin(f *adminFlags, configSet bool) (base, source string, err error) {
	if f.admin != "" {
		a := strings.TrimRight(f.admin, "/")
		hostport, scheme := a, "http"
		if u, err := url.Parse(a); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			hostport, scheme = u.Host, u.Scheme
		}
		if _, _, err := net.SplitHostPort(hostport); err != nil {
			return "", "", usageError("--admin %q: not HOST:PORT", f.admin)
		}
		return scheme + "://" + hostport, "--admin", nil
	}
	if _, err := os.Stat(f.configPath); errors.Is(err, fs.ErrNotExist) && !configSet {
		return "http://" + defaultAdmin, "the default; there is no " + f.configPath + " here", nil
	}
	cfg, err := loadConfig(f.configPath)
	if err != nil {
		return "", "", fmt.Errorf("cannot find the node's admin address in %s: %w; fix the file, or pass --admin HOST:PORT", f.configPath, err)
	}
	host, port, err := net.SplitHostPort(cfg.Node.AdminListen)
	if err != nil {
		return "", "", fmt.Errorf("node.admin_listen %q in %s: %w; pass --admin HOST:PORT", cfg.Node.AdminListen, f.configPath, err)
	}
	if port == "0" {
		return "", "", fmt.Errorf("node.admin_listen in %s has port 0, so the node picks a free port when it starts; pass --admin with the address \"sluice run\" logged (\"admin HTTP listening\")", f.configPath)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), "node.admin_listen in " + f.configPath, nil
}

// adminClient calls a node's admin REST API.
type adminClient struct {
	base    string // "http://HOST:PORT"
	source  string // where base came from, for messages
	timeout time.Duration
	hc      *http.Client
}

func newAdminClient(cmd *cobra.Command, f *adminFlags) (*adminClient, error) {
	if f.timeout <= 0 {
		return nil, usageError("--timeout %s: must be positive", f.timeout)
	}
	base, source, err := resolveAdmin(f, cmd.Flags().Changed("config"))
	if err != nil {
		return nil, err
	}
	return &adminClient{base: base, source: source, timeout: f.timeout, hc: &http.Client{Timeout: f.timeout}}, nil
}

// addr is the node's address as the messages name it.
func (a *adminClient) addr() string {
	return strings.TrimPrefix(a.base, "http://")
}

// adminAPIError is an answer of the admin API outside 2xx.
type adminAPIError struct {
	code int
	msg  string // the server's message (Kafka Connect's error body), or its text
	text string // what the user reads
}

func (e *adminAPIError) Error() string { return e.text }

// connectorPath is /connectors/NAME followed by rest.
func connectorPath(name, rest string) string {
	return "/connectors/" + url.PathEscape(name) + rest
}

// call sends method path and returns the status code and body of a 2xx
// answer. name is the connector the request is about ("" for none), for
// messages. Any other answer is an *adminAPIError whose text says what to
// do; an unreachable or silent node is an error naming its address.
func (a *adminClient) call(ctx context.Context, method, path, name string) (int, []byte, error) {
	return a.send(ctx, method, path, name, nil)
}

// send is call with a JSON request body (none when nil).
func (a *adminClient) send(ctx context.Context, method, path, name string, reqBody []byte) (int, []byte, error) {
	rctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	var rb io.Reader
	if reqBody != nil {
		rb = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequestWithContext(rctx, method, a.base+path, rb)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := a.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		var ue *url.Error
		switch {
		case rctx.Err() != nil || (errors.As(err, &ue) && ue.Timeout()):
			err = fmt.Errorf("no answer within %s (--timeout)", a.timeout)
		case errors.As(err, &ue):
			err = ue.Err
		}
		return 0, nil, fmt.Errorf("cannot reach the admin API at %s (%s): %w; start the node with \"sluice run\", or point --admin at a running one", a.addr(), a.source, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, ctx.Err()
		}
		return 0, nil, fmt.Errorf("admin API at %s: reading the answer to %s %s: %w; try again, or raise --timeout", a.addr(), method, path, err)
	}
	if res.StatusCode/100 == 2 {
		return res.StatusCode, body, nil
	}
	return res.StatusCode, body, a.answerError(method, path, name, res.StatusCode, body)
}

// answerError explains an answer outside 2xx.
func (a *adminClient) answerError(method, path, name string, code int, body []byte) error {
	var eb struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}
	e := &adminAPIError{code: code}
	if json.Unmarshal(body, &eb) != nil || eb.ErrorCode == 0 {
		// Not Kafka Connect's error body: not sluice's admin API.
		e.msg = clipText(strings.TrimSpace(string(body)), 200)
		e.text = fmt.Sprintf("%s %s at %s (%s) answered HTTP %d %q: this is not the admin API of a sluice node that runs connectors; point --admin at node.admin_listen of one", method, path, a.addr(), a.source, code, e.msg)
		return e
	}
	e.msg = eb.Message
	switch {
	case code == http.StatusNotFound && name != "" && eb.Message == "Connector "+name+" not found":
		e.text = fmt.Sprintf("connector %q not found; \"sluice connectors list\" shows the connectors", name)
	case code == http.StatusConflict && strings.Contains(eb.Message, name):
		e.text = eb.Message
	case code == http.StatusConflict:
		e.text = fmt.Sprintf("connector %q: %s", name, eb.Message)
	case (code == http.StatusBadRequest || code == http.StatusServiceUnavailable) && name != "" && strings.Contains(eb.Message, strconv.Quote(name)):
		// The node's message names the connector and says what to do.
		e.text = eb.Message
	case code >= 500:
		e.text = fmt.Sprintf("%s %s at %s failed: %s; the node's log has the details", method, path, a.addr(), eb.Message)
	default:
		e.text = fmt.Sprintf("%s %s at %s: HTTP %d: %s", method, path, a.addr(), code, eb.Message)
	}
	return e
}

// clipText shortens s to at most n bytes for a message.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// decodeAnswer decodes a JSON answer into v, keeping numbers as written.
func (a *adminClient) decodeAnswer(method, path string, body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s %s at %s (%s): the answer is not what sluice's admin API sends: %w; point --admin at node.admin_listen of a sluice node", method, path, a.addr(), a.source, err)
	}
	return nil
}

// get fetches path and decodes its JSON answer into v, or copies the
// answer to w as it came when raw.
func (a *adminClient) get(ctx context.Context, path, name string, v any, w io.Writer, raw bool) error {
	_, body, err := a.call(ctx, "GET", path, name)
	if err != nil {
		return err
	}
	if raw {
		return writeRaw(w, body)
	}
	return a.decodeAnswer("GET", path, body, v)
}

// writeRaw writes a JSON answer as it came, ending in one newline.
func writeRaw(w io.Writer, body []byte) error {
	_, err := fmt.Fprintf(w, "%s\n", bytes.TrimRight(body, "\n"))
	return err
}

func connectorsListCmd(g *globals, f *adminFlags) *cobra.Command {
	var withStatus, asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--status] [--json]",
		Short: "List the connectors, one name per line, or with --status their states",
		Long: `List prints the names of the connectors the node runs, one per line. With
--status it prints a table instead:

  NAME     TYPE    STATE    TASKS
  shop-pg  source  RUNNING  1 RUNNING

With --json it prints the admin API's answer as it came: the array of names,
or with --status the object GET /connectors?expand=status returns.`,
		Args: cobra.NoArgs,
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			a, err := newAdminClient(cmd, f)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if !withStatus {
				var names []string
				if err := a.get(ctx, "/connectors", "", &names, g.stdout, asJSON); err != nil || asJSON {
					return err
				}
				if len(names) == 0 {
					fmt.Fprintln(g.stderr, "no connectors; they are declared under connectors: in the node's config file")
				}
				for _, n := range names {
					fmt.Fprintln(g.stdout, n)
				}
				return nil
			}
			var expanded map[string]struct {
				Status connect.ConnectorStatus `json:"status"`
			}
			if err := a.get(ctx, "/connectors?expand=status", "", &expanded, g.stdout, asJSON); err != nil || asJSON {
				return err
			}
			rows := [][]string{{"NAME", "TYPE", "STATE", "TASKS"}}
			for _, name := range slices.Sorted(maps.Keys(expanded)) {
				st := expanded[name].Status
				rows = append(rows, []string{name, orDash(st.Type), orDash(st.Connector.State), taskSummary(st.Tasks)})
			}
			return writeTable(g.stdout, rows, nil)
		}),
	}
	cmd.Flags().BoolVar(&withStatus, "status", false, "print each connector's type, state and task states")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the admin API's JSON answer")
	return cmd
}

// stateOrder is the order task states are counted in by taskSummary.
var stateOrder = []string{connect.StateRunning, connect.StatePaused, connect.StateStopped, connect.StateRestarting, connect.StateUnassigned, connect.StateFailed}

// taskSummary counts tasks by state: "2 RUNNING, 1 FAILED", or "-".
func taskSummary(ts []connect.TaskStatus) string {
	counts := map[string]int{}
	for _, t := range ts {
		counts[t.State]++
	}
	var parts []string
	for _, s := range stateOrder {
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
			delete(counts, s)
		}
	}
	for _, s := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeTable writes rows as aligned columns, without trailing spaces. The
// text traces[i], when not empty, follows row i, indented by four spaces.
func writeTable(w io.Writer, rows [][]string, traces []string) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		out.WriteString(strings.TrimRight(line, " "))
		out.WriteByte('\n')
		if i < len(traces) && strings.TrimSpace(traces[i]) != "" {
			for _, tl := range strings.Split(strings.TrimRight(traces[i], "\n"), "\n") {
				out.WriteString(strings.TrimRight("    "+tl, " \t"))
				out.WriteByte('\n')
			}
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

func connectorsStatusCmd(g *globals, f *adminFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status NAME [--json]",
		Short: "Show a connector's state, each task's state and progress, and why any failed",
		Long: `Status prints the connector's state and one line per task, with the task's
progress details (snapshot rows, lag) as KEY=VALUE. Below a failed connector
or task it prints the failure, indented:

  CONNECTOR       TYPE  STATE    WORKER
  customers-file  sink  RUNNING  127.0.0.1:8083

  TASK  STATE    WORKER          DETAILS
  0     RUNNING  127.0.0.1:8083  lag=0
  1     FAILED   127.0.0.1:8083
      open ./out/customers.jsonl: permission denied

With --json it prints GET /connectors/NAME/status as it came.`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			a, err := newAdminClient(cmd, f)
			if err != nil {
				return err
			}
			var st connect.ConnectorStatus
			if err := a.get(cmd.Context(), connectorPath(args[0], "/status"), args[0], &st, g.stdout, asJSON); err != nil || asJSON {
				return err
			}
			return printStatus(g.stdout, st)
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the admin API's JSON answer")
	return cmd
}

// printStatus prints a connector status as two tables, connector and
// tasks, with failure traces indented below their rows.
func printStatus(w io.Writer, st connect.ConnectorStatus) error {
	c := st.Connector
	err := writeTable(w, [][]string{
		{"CONNECTOR", "TYPE", "STATE", "WORKER"},
		{st.Name, orDash(st.Type), orDash(c.State), orDash(c.WorkerID)},
	}, []string{"", c.Trace})
	if err != nil {
		return err
	}
	if len(st.Tasks) == 0 {
		_, err := fmt.Fprintln(w, "\nno tasks")
		return err
	}
	tasks := slices.Clone(st.Tasks)
	slices.SortFunc(tasks, func(a, b connect.TaskStatus) int { return cmp.Compare(a.ID, b.ID) })
	rows := [][]string{{"TASK", "STATE", "WORKER", "DETAILS"}}
	traces := []string{""}
	for _, t := range tasks {
		rows = append(rows, []string{strconv.Itoa(t.ID), orDash(t.State), orDash(t.WorkerID), keyValues(t.Details)})
		traces = append(traces, t.Trace)
	}
	fmt.Fprintln(w)
	return writeTable(w, rows, traces)
}

// keyValues renders a map as KEY=VALUE pairs sorted by key; strings with
// spaces are quoted, objects and arrays are compact JSON.
func keyValues(m map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+valueText(m[k]))
	}
	return strings.Join(parts, " ")
}

func valueText(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if v == "" || strings.ContainsAny(v, " \t\n\"=") {
			return strconv.Quote(v)
		}
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
}

// connectorsStateCmd builds pause, resume and stop: one PUT, one line.
func connectorsStateCmd(g *globals, f *adminFlags, verb, short, done string) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			a, err := newAdminClient(cmd, f)
			if err != nil {
				return err
			}
			if _, _, err := a.call(cmd.Context(), "PUT", connectorPath(args[0], "/"+verb), args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "%s: %s\n", args[0], done)
			return err
		}),
	}
}

func connectorsRestartCmd(g *globals, f *adminFlags) *cobra.Command {
	var includeTasks, onlyFailed bool
	cmd := &cobra.Command{
		Use:   "restart NAME [--include-tasks] [--only-failed]",
		Short: "Restart a connector, and with --include-tasks its tasks (only the failed ones with --only-failed)",
		Long: `Restart restarts the connector. With --include-tasks it restarts its tasks
too; with --only-failed only the connector and tasks that failed. With either
flag it then prints the connector's status, as "sluice connectors status"
does, with the restarting parts RESTARTING.`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			a, err := newAdminClient(cmd, f)
			if err != nil {
				return err
			}
			name := args[0]
			q := url.Values{}
			q.Set("includeTasks", strconv.FormatBool(includeTasks))
			q.Set("onlyFailed", strconv.FormatBool(onlyFailed))
			path := connectorPath(name, "/restart?"+q.Encode())
			code, body, err := a.call(cmd.Context(), "POST", path, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s: restart requested\n", name)
			if code != http.StatusAccepted || len(bytes.TrimSpace(body)) == 0 {
				return nil
			}
			var st connect.ConnectorStatus
			if err := a.decodeAnswer("POST", path, body, &st); err != nil {
				return err
			}
			fmt.Fprintln(g.stdout)
			return printStatus(g.stdout, st)
		}),
	}
	cmd.Flags().BoolVar(&includeTasks, "include-tasks", false, "restart the connector's tasks too")
	cmd.Flags().BoolVar(&onlyFailed, "only-failed", false, "restart only what failed")
	return cmd
}

func connectorsRestartTaskCmd(g *globals, f *adminFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "restart-task NAME TASK",
		Short: "Restart one task of a connector",
		Args:  cobra.ExactArgs(2),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			name := args[0]
			task, err := strconv.Atoi(args[1])
			if err != nil || task < 0 {
				return usageError("task %q: must be a task number (0, 1, ...); \"sluice connectors status %s\" shows the tasks", args[1], name)
			}
			a, err := newAdminClient(cmd, f)
			if err != nil {
				return err
			}
			_, _, err = a.call(cmd.Context(), "POST", connectorPath(name, fmt.Sprintf("/tasks/%d/restart", task)), name)
			var ae *adminAPIError
			if errors.As(err, &ae) && ae.code == http.StatusNotFound && strings.HasPrefix(ae.msg, "Unknown task") {
				return fmt.Errorf("connector %q has no task %d; \"sluice connectors status %s\" shows its tasks", name, task, name)
			}
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(g.stdout, "%s: restart of task %d requested\n", name, task)
			return err
		}),
	}
}

func connectorsOffsetsCmd(g *globals, f *adminFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "offsets NAME [--json]",
		Short: "Show a connector's stored offsets: a source's position, a sink's committed offsets",
		Long: `Offsets prints what the connector continues from after a restart (Kafka's
KIP-875). For a sink, one line per topic partition with its committed offset:

  TOPIC                  PARTITION  OFFSET
  shop.public.customers  0          1042

For a source, its stored position:

  PARTITION       OFFSET
  server=shop-pg  position=0/16B3748

With --json it prints GET /connectors/NAME/offsets as it came. "sluice
connectors reset NAME" deletes them.`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			a, err := newAdminClient(cmd, f)
			if err != nil {
				return err
			}
			var o connect.Offsets
			if err := a.get(cmd.Context(), connectorPath(args[0], "/offsets"), args[0], &o, g.stdout, asJSON); err != nil || asJSON {
				return err
			}
			return printOffsets(g.stdout, args[0], o)
		}),
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the admin API's JSON answer")
	return cmd
}

// printOffsets prints a sink's offsets as TOPIC PARTITION OFFSET sorted by
// topic and partition, anything else as PARTITION OFFSET in KEY=VALUE form.
func printOffsets(w io.Writer, name string, o connect.Offsets) error {
	if len(o.Offsets) == 0 {
		_, err := fmt.Fprintf(w, "%s: no offsets stored; it starts afresh: a source with its snapshot, a sink from the earliest offset\n", name)
		return err
	}
	sink := true
	for _, e := range o.Offsets {
		_, t := e.Partition["kafka_topic"].(string)
		_, p := e.Partition["kafka_partition"]
		_, off := e.Offset["kafka_offset"]
		sink = sink && t && p && len(e.Partition) == 2 && (off || e.Offset == nil)
	}
	if !sink {
		rows := [][]string{{"PARTITION", "OFFSET"}}
		for _, e := range o.Offsets {
			rows = append(rows, []string{keyValues(e.Partition), orDash(keyValues(e.Offset))})
		}
		return writeTable(w, rows, nil)
	}
	entries := slices.Clone(o.Offsets)
	slices.SortFunc(entries, func(a, b connect.OffsetEntry) int {
		if c := cmp.Compare(a.Partition["kafka_topic"].(string), b.Partition["kafka_topic"].(string)); c != 0 {
			return c
		}
		pa, _ := strconv.ParseInt(valueText(a.Partition["kafka_partition"]), 10, 64)
		pb, _ := strconv.ParseInt(valueText(b.Partition["kafka_partition"]), 10, 64)
		return cmp.Compare(pa, pb)
	})
	rows := [][]string{{"TOPIC", "PARTITION", "OFFSET"}}
	for _, e := range entries {
		off := "-"
		if e.Offset != nil {
			off = valueText(e.Offset["kafka_offset"])
		}
		rows = append(rows, []string{e.Partition["kafka_topic"].(string), valueText(e.Partition["kafka_partition"]), off})
	}
	return writeTable(w, rows, nil)
}

func connectorsResetCmd(g *globals, f *adminFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "reset NAME",
		Short: "Start a connector over: stop it, delete its offsets, resume it",
		Long: `Reset stops the connector, deletes its stored offsets and resumes it, printing
each step. A sink then replays its topics from the earliest retained offset;
a source takes a new snapshot (as its snapshot setting says) and streams from
there.

If deleting the offsets fails, the connector stays stopped with its offsets
unchanged: run reset again, or "sluice connectors resume NAME" to continue
where it was.`,
		Args: cobra.ExactArgs(1),
		RunE: action(func(cmd *cobra.Command, args []string) error {
			a, err := newAdminClient(cmd, f)
			if err != nil {
				return err
			}
			return resetConnector(cmd.Context(), a, g.stdout, args[0])
		}),
	}
}

// resetConnector stops name, deletes its offsets and resumes it. A stop
// may take effect after its answer, so while the node answers 409 (not
// stopped yet) the delete is retried, for --timeout at most.
func resetConnector(ctx context.Context, a *adminClient, w io.Writer, name string) error {
	if _, _, err := a.call(ctx, "PUT", connectorPath(name, "/stop"), name); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: stopped\n", name)
	deadline := time.Now().Add(a.timeout)
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		_, _, err := a.call(ctx, "DELETE", connectorPath(name, "/offsets"), name)
		if err == nil {
			break
		}
		var ae *adminAPIError
		if !errors.As(err, &ae) || ae.code != http.StatusConflict || time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("%w; the connector is stopped with its offsets unchanged: run \"sluice connectors reset %s\" again, or \"sluice connectors resume %s\" to continue where it was", err, name, name)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	fmt.Fprintf(w, "%s: offsets deleted\n", name)
	if _, _, err := a.call(ctx, "PUT", connectorPath(name, "/resume"), name); err != nil {
		return fmt.Errorf("%w; its offsets are deleted and it is stopped: run \"sluice connectors resume %s\"", err, name)
	}
	_, err := fmt.Fprintf(w, "%s: resumed; a source takes a new snapshot, a sink replays its topics from the earliest offset\n", name)
	return err
}
