package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readiness is what /readyz reports. The engine moves it forward as Run
// progresses: "starting" → "opening log" → "creating topics" → ready →
// "draining". It is safe for concurrent use.
type readiness struct {
	mu     sync.Mutex
	ready  bool
	reason string
}

func (r *readiness) set(ready bool, reason string) {
	r.mu.Lock()
	r.ready, r.reason = ready, reason
	r.mu.Unlock()
}

func (r *readiness) get() (bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ready, r.reason
}

// adminServer serves /healthz, /readyz and /metrics on node.admin_listen.
// and the Kafka-Connect-shaped REST API of the connectors.
type adminServer struct {
	// connect is the connectors' REST handler once the runtime runs.
	connect atomic.Pointer[http.Handler]
	addr    string // as configured
	logger  *slog.Logger
	bound   atomic.Pointer[string] // the listener's address once bound
	srv     *http.Server
	done    chan error // Serve's result, once
}

func newAdminServer(addr string, reg *prometheus.Registry, ready *readiness, logger *slog.Logger) *adminServer {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, reason := ready.get()
		body := struct {
			Ready  bool   `json:"ready"`
			Reason string `json:"reason,omitempty"`
		}{ok, reason}
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(body)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	a := &adminServer{}
	connectAPI := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := a.connect.Load()
		if h == nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error_code":503,"message":"the connect runtime is not running (starting or draining); try again shortly"}` + "\n"))
			return
		}
		(*h).ServeHTTP(w, r)
	})
	mux.Handle("/connectors", connectAPI)
	mux.Handle("/connectors/", connectAPI)
	mux.Handle("GET /{$}", connectAPI)
	a.addr, a.logger, a.done = addr, logger, make(chan error, 1)
	a.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return a
}

// setConnect mounts (or, with nil, unmounts) the connectors' REST API.
func (a *adminServer) setConnect(h http.Handler) {
	if h == nil {
		a.connect.Store(nil)
		return
	}
	a.connect.Store(&h)
}

func (a *adminServer) name() string { return "admin HTTP" }

// start binds the listener and serves in the background. A listen error
// (port in use, bad address) names the address and the config key.
func (a *adminServer) start(context.Context) error {
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		return fmt.Errorf("admin HTTP: cannot listen on %q (node.admin_listen): %w; stop the process using that address or set node.admin_listen to another one", a.addr, err)
	}
	bound := ln.Addr().String()
	a.bound.Store(&bound)
	a.logger.Info("admin HTTP listening", "addr", bound)
	go func() {
		err := a.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		a.done <- err
	}()
	return nil
}

// failed delivers an error if the server stops serving on its own.
func (a *adminServer) failed() <-chan error { return a.done }

// stop lets in-flight requests finish until ctx ends, then closes the rest.
func (a *adminServer) stop(ctx context.Context) error {
	err := a.srv.Shutdown(ctx)
	if err != nil {
		_ = a.srv.Close()
		return fmt.Errorf("admin HTTP: shutdown: %w", err)
	}
	return nil
}

// boundAddr returns the address the listener is bound to (useful when the
// configured port is 0), or "" before start.
func (a *adminServer) boundAddr() string {
	if p := a.bound.Load(); p != nil {
		return *p
	}
	return ""
}
