package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// unmatchedRoute is the route label of requests that matched no route. Using
// the raw URL path instead would let any client create unbounded label
// values.
const unmatchedRoute = "unmatched"

// httpMetrics are the request metrics, labelled by method, route template
// and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	handler  http.Handler
}

func newHTTPMetrics(reg *prometheus.Registry) (*httpMetrics, error) {
	labels := []string{"method", "route", "status"}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "apprun",
		Subsystem: "http",
		Name:      "requests_total",
		Help:      "HTTP API requests, by method, route template and status code.",
	}, labels)
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "apprun",
		Subsystem: "http",
		Name:      "request_duration_seconds",
		Help:      "HTTP API request latency, by method, route template and status code.",
		Buckets:   prometheus.DefBuckets,
	}, labels)
	m := &httpMetrics{}
	var err error
	if m.requests, err = register(reg, requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, duration); err != nil {
		return nil, err
	}
	// The Go and process collectors may already be registered by whoever
	// owns the registry (cmd/apprun shares one across packages); that is
	// fine, they describe the same process.
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if _, err := register(reg, c); err != nil {
			return nil, err
		}
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m, nil
}

// register registers c, or returns the collector already registered under
// the same description, so two servers on one registry share their metrics
// instead of failing.
func register[C prometheus.Collector](reg *prometheus.Registry, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("web: registering metrics: %w", err)
	}
	return c, nil
}

// observe counts and times every request and writes the access log. It
// handles the error itself (c.Error) so that the status it records is the
// one the client got.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		elapsed := time.Since(start)
		req, res := c.Request(), c.Response()
		route := c.Path()
		if !s.paths[route] {
			route = unmatchedRoute
		}
		status := strconv.Itoa(res.Status)
		s.metrics.requests.WithLabelValues(req.Method, route, status).Inc()
		s.metrics.duration.WithLabelValues(req.Method, route, status).Observe(elapsed.Seconds())

		// Probes and scrapes arrive every few seconds; keep them out of the
		// info log. The Authorization header and bodies are never logged:
		// they carry tokens and secret values. The remote address is the
		// connection's, not RealIP's: forwarding headers are whatever the
		// client chose to send.
		level := slog.LevelInfo
		if s.public[req.Method+" "+route] && res.Status < 400 {
			level = slog.LevelDebug
		}
		s.log.LogAttrs(req.Context(), level, "http request",
			slog.String("method", req.Method),
			slog.String("route", route),
			slog.String("path", req.URL.Path),
			slog.Int("status", res.Status),
			slog.Int64("bytes", res.Size),
			slog.Duration("duration", elapsed),
			slog.String("remote", req.RemoteAddr),
		)
		return nil
	}
}

// recoverPanic turns a panicking handler into a 500 and logs the stack, so
// one bad request cannot take the control plane down.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("handler panicked", "method", c.Request().Method, "route", c.Path(), "panic", r, "stack", string(debug.Stack()))
				err = fmt.Errorf("handler panicked: %v", r)
			}
		}()
		return next(c)
	}
}
