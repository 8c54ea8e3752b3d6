package router

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the router's Prometheus metrics. Per-revision children are
// resolved once per revision (see revMetrics) so the hot path does no label
// hashing.
type metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	concurrency  *prometheus.GaugeVec
	queued       *prometheus.GaugeVec
	rejected     *prometheus.CounterVec
	retries      *prometheus.CounterVec
	tableUpdates prometheus.Counter
	tableBuild   prometheus.Histogram
	services     prometheus.Gauge
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	rl := []string{"service", "revision"}
	secs := make([]float64, len(latencyBounds))
	for i, b := range latencyBounds {
		secs[i] = b.Seconds()
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apprun_router_requests_total", Help: "Requests answered, by service, revision and status class.",
		}, []string{"service", "revision", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "apprun_router_request_duration_seconds", Help: "Time from a request's arrival (holds included) to the end of its response.",
			Buckets: secs,
		}, rl),
		concurrency: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apprun_router_concurrency", Help: "Requests in the router for a revision now, waiting or served.",
		}, rl),
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "apprun_router_queued", Help: "Requests waiting for an instance of a revision now.",
		}, rl),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apprun_router_rejected_total", Help: "Requests answered 503 without reaching an instance, by reason (queue_full, hold_timeout).",
		}, []string{"service", "revision", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apprun_router_retries_total", Help: "Requests retried on another instance after a connection failed before anything was sent.",
		}, rl),
		tableUpdates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apprun_router_table_updates_total", Help: "Routing tables built and swapped in.",
		}),
		tableBuild: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "apprun_router_table_build_seconds", Help: "Time to build and swap in a routing table.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8),
		}),
		services: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apprun_router_services", Help: "Services in the routing table.",
		}),
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.concurrency, m.queued, m.rejected, m.retries, m.tableUpdates, m.tableBuild, m.services} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("registering router metrics: %w", err)
	}
	return m, nil
}

// revMetrics are one revision's metric children.
type revMetrics struct {
	codes       [6]prometheus.Counter // index = status/100; 0 for anything else
	duration    prometheus.Observer
	concurrency prometheus.Gauge
	queued      prometheus.Gauge
	retries     prometheus.Counter
}

func (m *metrics) forRevision(service, revision string) revMetrics {
	rm := revMetrics{
		duration:    m.duration.WithLabelValues(service, revision),
		concurrency: m.concurrency.WithLabelValues(service, revision),
		queued:      m.queued.WithLabelValues(service, revision),
		retries:     m.retries.WithLabelValues(service, revision),
	}
	for i, c := range []string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"} {
		rm.codes[i] = m.requests.WithLabelValues(service, revision, c)
	}
	return rm
}

// forget drops a revision's series once it is gone, so a long-lived router
// does not export every revision it ever saw.
func (m *metrics) forget(service, revision string) {
	l := prometheus.Labels{"service": service, "revision": revision}
	m.requests.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.concurrency.DeletePartialMatch(l)
	m.queued.DeletePartialMatch(l)
	m.rejected.DeletePartialMatch(l)
	m.retries.DeletePartialMatch(l)
}

func (rm *revMetrics) observe(code int, d time.Duration) {
	i := code / 100
	if i < 1 || i > 5 {
		i = 0
	}
	rm.codes[i].Inc()
	rm.duration.Observe(d.Seconds())
}
