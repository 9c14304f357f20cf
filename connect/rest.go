package connect

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The admin REST API, shaped like Kafka Connect's so that its tools and
// habits carry over. Every route, its answer and its status code:
//
//	GET    /                                      200 {"version","commit","kafka_cluster_id"}
//	GET    /connectors                            200 ["a","b"]
//	GET    /connectors?expand=status&expand=info  200 {"a":{"status":{…},"info":{…}}}
//	GET    /connectors/{name}                     200 ConnectorInfo
//	GET    /connectors/{name}/config              200 the connector's config
//	GET    /connectors/{name}/status              200 ConnectorStatus
//	GET    /connectors/{name}/tasks               200 [{"id":{"connector","task"},"config":{}}]
//	GET    /connectors/{name}/tasks/{id}/status   200 TaskStatus
//	PUT    /connectors/{name}/pause               202, no body
//	PUT    /connectors/{name}/resume              202, no body
//	PUT    /connectors/{name}/stop                204
//	POST   /connectors/{name}/restart             204; 202 and ConnectorStatus with ?includeTasks=true or ?onlyFailed=true
//	POST   /connectors/{name}/tasks/{id}/restart  204
//	GET    /connectors/{name}/offsets             200 Offsets
//	PATCH  /connectors/{name}/offsets             200 {"message":…} (body: Offsets; connector STOPPED)
//	DELETE /connectors/{name}/offsets             200 {"message":…} (connector STOPPED)
//	POST   /connectors/{name}/snapshot            202 {"connector","tables"} (body: {"tables":[…]}; connector RUNNING)
//
// Errors are Kafka Connect's body, {"error_code":404,"message":"Connector x
// not found"}: 404 for an unknown connector, task or path, 405 for a method
// a path does not take, 409 when the connector's state forbids the request
// (ErrConflict), 400 for a bad request body or query, 500 for anything else.
// POST /connectors/{name}/snapshot (sluice's own, Debezium's
// execute-snapshot signal as a request) adds: 400 when the connector's
// kind cannot take ad-hoc snapshots (ErrUnsupported) or the source refuses
// the request as fatal (an unknown table), and 503 when the source could
// not take it for now (a retriable error, or a task that is reconnecting).
// Connectors are declared in the config file, so the routes that create,
// reconfigure or delete one in Kafka Connect answer 405.

// RESTOptions configures NewRESTHandler. The zero value is the default.
type RESTOptions struct {
	// Version is the "version" GET / reports. Default: "dev".
	Version string
}

// maxRESTBody bounds a request body (PATCH /connectors/{name}/offsets,
// POST /connectors/{name}/snapshot).
const maxRESTBody = 1 << 20

// Kafka Connect's answers to KIP-875 offset requests.
const (
	msgOffsetsAltered = "The offsets for this connector have been altered successfully"
	msgOffsetsReset   = "The offsets for this connector have been reset successfully"
)

// NewRESTHandler returns the admin REST API over c. logger receives
// state-changing requests at info level and 5xx answers at error level;
// nil discards. opts, when given, is one RESTOptions. The handler answers
// every path: one it does not know gets a JSON 404, so it can be mounted
// at "/" beside other handlers with more specific patterns.
func NewRESTHandler(c Controller, logger *slog.Logger, opts ...RESTOptions) http.Handler {
	var o RESTOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &restHandler{c: c, logger: logger, opts: o, mux: http.NewServeMux()}
	m := h.mux
	m.HandleFunc("GET /{$}", h.serverInfo)
	m.HandleFunc("GET /connectors", h.list)
	m.HandleFunc("GET /connectors/{$}", h.list)
	m.HandleFunc("GET /connectors/{name}", h.info)
	m.HandleFunc("GET /connectors/{name}/config", h.config)
	m.HandleFunc("GET /connectors/{name}/status", h.status)
	m.HandleFunc("GET /connectors/{name}/tasks", h.tasks)
	m.HandleFunc("GET /connectors/{name}/tasks/{task}/status", h.taskStatus)
	m.HandleFunc("PUT /connectors/{name}/pause", h.pause)
	m.HandleFunc("PUT /connectors/{name}/resume", h.resume)
	m.HandleFunc("PUT /connectors/{name}/stop", h.stop)
	m.HandleFunc("POST /connectors/{name}/restart", h.restart)
	m.HandleFunc("POST /connectors/{name}/tasks/{task}/restart", h.restartTask)
	m.HandleFunc("GET /connectors/{name}/offsets", h.offsets)
	m.HandleFunc("PATCH /connectors/{name}/offsets", h.alterOffsets)
	m.HandleFunc("DELETE /connectors/{name}/offsets", h.resetOffsets)
	m.HandleFunc("POST /connectors/{name}/snapshot", h.snapshot)
	return h
}

type restHandler struct {
	c      Controller
	logger *slog.Logger
	opts   RESTOptions
	mux    *http.ServeMux
}

func (h *restHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern == "" {
		// No route: the mux answers 404, 405 (with Allow) or a
		// redirect to the clean path. The first two get Kafka's JSON
		// error body instead of the mux's plain text.
		w = &routeErrorWriter{ResponseWriter: w, r: r}
	}
	h.mux.ServeHTTP(w, r)
}

// routeErrorWriter turns the mux's plain-text 404 and 405 into JSON.
type routeErrorWriter struct {
	http.ResponseWriter
	r        *http.Request
	replaced bool
}

func (e *routeErrorWriter) WriteHeader(code int) {
	switch code {
	case http.StatusNotFound:
		e.replaced = true
		writeRESTError(e.ResponseWriter, code, "HTTP 404 Not Found")
	case http.StatusMethodNotAllowed:
		e.replaced = true
		msg := "HTTP 405 Method Not Allowed"
		if declaredOnly(e.r) {
			msg += ": connectors are declared in the config file (connectors:); edit it and restart sluice to add, change or remove one"
		}
		writeRESTError(e.ResponseWriter, code, msg)
	default:
		e.ResponseWriter.WriteHeader(code)
	}
}

func (e *routeErrorWriter) Write(p []byte) (int, error) {
	if e.replaced {
		return len(p), nil
	}
	return e.ResponseWriter.Write(p)
}

// declaredOnly reports whether r is one of Kafka Connect's requests that
// create, reconfigure or delete a connector (POST /connectors, PUT
// /connectors/{name}/config, DELETE /connectors/{name}).
func declaredOnly(r *http.Request) bool {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if parts[0] != "connectors" {
		return false
	}
	return len(parts) <= 2 || (len(parts) == 3 && parts[2] == "config")
}

// restErrorBody is Kafka Connect's error answer.
type restErrorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// restMessageBody is Kafka Connect's answer to the offset requests.
type restMessageBody struct {
	Message string `json:"message"`
}

func writeRESTJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeRESTError(w http.ResponseWriter, code int, msg string) {
	writeRESTJSON(w, code, restErrorBody{ErrorCode: code, Message: msg})
}

// fail answers a Controller error about connector name: 404 for an
// unknown connector, 409 for a conflicting state, 400 for offsets of the
// wrong shape, 500 (logged) otherwise.
func (h *restHandler) fail(w http.ResponseWriter, r *http.Request, name string, err error) {
	switch {
	case errors.Is(err, ErrUnknownConnector):
		writeRESTError(w, http.StatusNotFound, fmt.Sprintf("Connector %s not found", name))
	case errors.Is(err, ErrConflict):
		msg := err.Error()
		if err == ErrConflict && strings.HasSuffix(r.URL.Path, "/offsets") {
			// A bare sentinel says nothing useful: say what Kafka says.
			msg = fmt.Sprintf("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
		}
		writeRESTError(w, http.StatusConflict, msg)
	case errors.Is(err, ErrBadOffsets):
		writeRESTError(w, http.StatusBadRequest, err.Error())
	default:
		h.logger.Error("admin REST request failed", "method", r.Method, "path", r.URL.Path, "connector", name, "err", err)
		writeRESTError(w, http.StatusInternalServerError, err.Error())
	}
}

// changed logs a state-changing request that succeeded.
func (h *restHandler) changed(r *http.Request, what, name string, attrs ...any) {
	h.logger.Info("connector "+what, append([]any{"connector", name, "remote", r.RemoteAddr}, attrs...)...)
}

func (h *restHandler) serverInfo(w http.ResponseWriter, _ *http.Request) {
	writeRESTJSON(w, http.StatusOK, struct {
		Version        string `json:"version"`
		Commit         string `json:"commit"`
		KafkaClusterID string `json:"kafka_cluster_id"`
	}{h.opts.Version, "", ""})
}

// list answers GET /connectors: the names, or with ?expand=status and/or
// ?expand=info a map from name to those. As in Kafka Connect, an unknown
// expansion is ignored and a connector that disappears meanwhile is left
// out.
func (h *restHandler) list(w http.ResponseWriter, r *http.Request) {
	names := h.c.Connectors()
	if names == nil {
		names = []string{}
	}
	expand, ok := r.URL.Query()["expand"]
	if !ok {
		writeRESTJSON(w, http.StatusOK, names)
		return
	}
	out := make(map[string]map[string]any, len(names))
	for _, name := range names {
		m, err := h.expand(name, expand)
		if errors.Is(err, ErrUnknownConnector) {
			continue
		}
		if err != nil {
			h.fail(w, r, name, err)
			return
		}
		out[name] = m
	}
	writeRESTJSON(w, http.StatusOK, out)
}

func (h *restHandler) expand(name string, expand []string) (map[string]any, error) {
	m := map[string]any{}
	if slices.Contains(expand, "status") {
		st, err := h.c.Status(name)
		if err != nil {
			return nil, err
		}
		m["status"] = normalStatus(st)
	}
	if slices.Contains(expand, "info") {
		info, err := h.c.Connector(name)
		if err != nil {
			return nil, err
		}
		m["info"] = normalInfo(info)
	}
	return m, nil
}

// normalInfo and normalStatus turn nil maps and slices into empty ones, so
// that clients always see {} and [], as from Kafka Connect, never null.
func normalInfo(i ConnectorInfo) ConnectorInfo {
	if i.Config == nil {
		i.Config = map[string]string{}
	}
	if i.Tasks == nil {
		i.Tasks = []TaskID{}
	}
	return i
}

func normalStatus(s ConnectorStatus) ConnectorStatus {
	if s.Tasks == nil {
		s.Tasks = []TaskStatus{}
	}
	return s
}

func (h *restHandler) info(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	info, err := h.c.Connector(name)
	if err != nil {
		h.fail(w, r, name, err)
		return
	}
	writeRESTJSON(w, http.StatusOK, normalInfo(info))
}

func (h *restHandler) config(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	info, err := h.c.Connector(name)
	if err != nil {
		h.fail(w, r, name, err)
		return
	}
	writeRESTJSON(w, http.StatusOK, normalInfo(info).Config)
}

func (h *restHandler) status(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	st, err := h.c.Status(name)
	if err != nil {
		h.fail(w, r, name, err)
		return
	}
	writeRESTJSON(w, http.StatusOK, normalStatus(st))
}

// restTaskInfo is one element of GET /connectors/{name}/tasks. sluice's tasks
// have no config of their own, so Config is empty.
type restTaskInfo struct {
	ID     TaskID            `json:"id"`
	Config map[string]string `json:"config"`
}

func (h *restHandler) tasks(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	info, err := h.c.Connector(name)
	if err != nil {
		h.fail(w, r, name, err)
		return
	}
	out := make([]restTaskInfo, 0, len(info.Tasks))
	for _, id := range info.Tasks {
		out = append(out, restTaskInfo{ID: id, Config: map[string]string{}})
	}
	writeRESTJSON(w, http.StatusOK, out)
}

// task finds the task {task} of connector {name} in its status. It has
// answered the request when ok is false.
func (h *restHandler) task(w http.ResponseWriter, r *http.Request, notFound string) (name string, t TaskStatus, ok bool) {
	name = r.PathValue("name")
	raw := r.PathValue("task")
	id, convErr := strconv.Atoi(raw)
	st, err := h.c.Status(name)
	if err != nil {
		h.fail(w, r, name, err)
		return name, t, false
	}
	if convErr == nil {
		for _, ts := range st.Tasks {
			if ts.ID == id {
				return name, ts, true
			}
		}
	}
	writeRESTError(w, http.StatusNotFound, fmt.Sprintf("%s%s-%s", notFound, name, raw))
	return name, t, false
}

func (h *restHandler) taskStatus(w http.ResponseWriter, r *http.Request) {
	if _, t, ok := h.task(w, r, "No status found for task "); ok {
		writeRESTJSON(w, http.StatusOK, t)
	}
}

func (h *restHandler) pause(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := h.c.Pause(name); err != nil {
		h.fail(w, r, name, err)
		return
	}
	h.changed(r, "pause requested", name)
	w.WriteHeader(http.StatusAccepted)
}

func (h *restHandler) resume(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := h.c.Resume(name); err != nil {
		h.fail(w, r, name, err)
		return
	}
	h.changed(r, "resume requested", name)
	w.WriteHeader(http.StatusAccepted)
}

func (h *restHandler) stop(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := h.c.Stop(name); err != nil {
		h.fail(w, r, name, err)
		return
	}
	h.changed(r, "stop requested", name)
	w.WriteHeader(http.StatusNoContent)
}

// restart answers POST /connectors/{name}/restart. Without includeTasks
// and onlyFailed it restarts the connector alone and answers 204; with
// either, as Kafka Connect does, 202 and the connector's status.
func (h *restHandler) restart(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	includeTasks, err := restQueryBool(q.Get("includeTasks"))
	if err != nil {
		writeRESTError(w, http.StatusBadRequest, "includeTasks: "+err.Error())
		return
	}
	onlyFailed, err := restQueryBool(q.Get("onlyFailed"))
	if err != nil {
		writeRESTError(w, http.StatusBadRequest, "onlyFailed: "+err.Error())
		return
	}
	if err := h.c.Restart(name, includeTasks, onlyFailed); err != nil {
		h.fail(w, r, name, err)
		return
	}
	h.changed(r, "restart requested", name, "include_tasks", includeTasks, "only_failed", onlyFailed)
	if !includeTasks && !onlyFailed {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	st, err := h.c.Status(name)
	if err != nil {
		h.fail(w, r, name, err)
		return
	}
	writeRESTJSON(w, http.StatusAccepted, normalStatus(st))
}

// restQueryBool parses a boolean query parameter; absent or empty is false.
func restQueryBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, fmt.Errorf("%q is not a boolean; write true or false", s)
}

func (h *restHandler) restartTask(w http.ResponseWriter, r *http.Request) {
	name, t, ok := h.task(w, r, "Unknown task: ")
	if !ok {
		return
	}
	if err := h.c.RestartTask(name, t.ID); err != nil {
		h.fail(w, r, name, err)
		return
	}
	h.changed(r, "task restart requested", name, "task", t.ID)
	w.WriteHeader(http.StatusNoContent)
}

func (h *restHandler) offsets(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	o, err := h.c.Offsets(name)
	if err != nil {
		h.fail(w, r, name, err)
		return
	}
	if o.Offsets == nil {
		o.Offsets = []OffsetEntry{}
	}
	writeRESTJSON(w, http.StatusOK, o)
}

// decodeBody decodes r's body, one JSON object of at most maxRESTBody
// bytes without unknown fields, into v. On failure it answers 400, ending
// the message with what to send, and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, send string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRESTBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("data after the JSON object")
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = fmt.Errorf("the body exceeds %d bytes", maxRESTBody)
		}
		writeRESTError(w, http.StatusBadRequest, fmt.Sprintf("Invalid request body: %v; send %s", err, send))
		return false
	}
	return true
}

// alterOffsets answers PATCH /connectors/{name}/offsets (KIP-875). The
// body is Offsets, with at least one entry and a partition in each.
func (h *restHandler) alterOffsets(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var o Offsets
	if !decodeBody(w, r, &o, `{"offsets":[{"partition":{...},"offset":{...}}]}`) {
		return
	}
	if len(o.Offsets) == 0 {
		writeRESTError(w, http.StatusBadRequest, "Partitions / offsets need to be provided for an alter offsets request")
		return
	}
	for i, e := range o.Offsets {
		if e.Partition == nil {
			writeRESTError(w, http.StatusBadRequest, fmt.Sprintf("Invalid request body: offsets[%d] has no partition", i))
			return
		}
	}
	if err := h.c.AlterOffsets(name, o); err != nil {
		h.fail(w, r, name, err)
		return
	}
	h.changed(r, "offsets altered", name, "partitions", len(o.Offsets))
	writeRESTJSON(w, http.StatusOK, restMessageBody{msgOffsetsAltered})
}

func (h *restHandler) resetOffsets(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := h.c.ResetOffsets(name); err != nil {
		h.fail(w, r, name, err)
		return
	}
	h.changed(r, "offsets reset", name)
	writeRESTJSON(w, http.StatusOK, restMessageBody{msgOffsetsReset})
}

// snapshotRequest is the body of POST /connectors/{name}/snapshot. The
// tables come under "tables" or, as in the data of Debezium's
// execute-snapshot signal, under "data-collections". Of the signal's other
// fields, "type" may say "incremental" (its default, and the only kind
// sluice takes); "additional-conditions" and "surrogate-key" are refused
// by name rather than ignored, since they would change what is read.
type snapshotRequest struct {
	Tables               []string        `json:"tables"`
	DataCollections      []string        `json:"data-collections"`
	Type                 string          `json:"type"`
	AdditionalConditions json.RawMessage `json:"additional-conditions"`
	SurrogateKey         json.RawMessage `json:"surrogate-key"`
}

// snapshotAnswer is the 202 answer of POST /connectors/{name}/snapshot.
type snapshotAnswer struct {
	Connector string   `json:"connector"`
	Tables    []string `json:"tables"`
}

const sendSnapshot = `{"tables":["schema.table", ...]}`

// tables checks the request and returns its tables, without repeats, or
// the reason it is refused.
func (q *snapshotRequest) tables() ([]string, string) {
	field, tables := "tables", q.Tables
	switch {
	case len(q.Tables) > 0 && len(q.DataCollections) > 0:
		return nil, "Invalid request body: it has both tables and data-collections; send one of them"
	case len(q.DataCollections) > 0:
		field, tables = "data-collections", q.DataCollections
	}
	if len(tables) == 0 {
		return nil, "Invalid request body: no tables; send " + sendSnapshot
	}
	if t := strings.ToLower(q.Type); t != "" && t != "incremental" {
		return nil, fmt.Sprintf("Invalid request body: type %q is not supported: sluice takes incremental snapshots only (they interleave with the stream, which goes on); leave type out", q.Type)
	}
	if isJSONValue(q.AdditionalConditions) {
		return nil, "Invalid request body: additional-conditions is not supported: an ad-hoc snapshot reads whole tables; leave it out"
	}
	if isJSONValue(q.SurrogateKey) {
		return nil, "Invalid request body: surrogate-key is not supported: an ad-hoc snapshot reads tables in primary-key order; leave it out"
	}
	out := make([]string, 0, len(tables))
	for i, t := range tables {
		if strings.TrimSpace(t) == "" {
			return nil, fmt.Sprintf("Invalid request body: %s[%d] is empty; name each table as schema.table", field, i)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, ""
}

// isJSONValue reports whether raw holds a value other than null.
func isJSONValue(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// snapshot answers POST /connectors/{name}/snapshot: it asks the running
// source for an ad-hoc snapshot of the tables, and answers 202 once the
// request is durable. The rows follow in the connector's topics.
func (h *restHandler) snapshot(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var q snapshotRequest
	if !decodeBody(w, r, &q, sendSnapshot) {
		return
	}
	tables, problem := q.tables()
	if problem != "" {
		writeRESTError(w, http.StatusBadRequest, problem)
		return
	}
	err := h.c.RequestSnapshot(r.Context(), name, tables)
	switch {
	case err == nil:
		h.changed(r, "snapshot requested", name, "tables", tables)
		writeRESTJSON(w, http.StatusAccepted, snapshotAnswer{Connector: name, Tables: tables})
	case errors.Is(err, ErrUnknownConnector), errors.Is(err, ErrConflict):
		h.fail(w, r, name, err)
	case errors.Is(err, ErrUnsupported):
		// 400, not 501: the server implements the request, and this
		// connector never will; a 5xx would count as an outage in
		// monitoring and make clients retry.
		writeRESTError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrRetriable), IsRetriable(err):
		h.logger.Warn("admin REST: snapshot request not taken for now", "connector", name, "tables", tables, "err", err)
		writeRESTError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, ErrFatal):
		writeRESTError(w, http.StatusBadRequest, err.Error())
	default:
		h.fail(w, r, name, err)
	}
}
