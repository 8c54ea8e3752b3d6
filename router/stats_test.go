package router

import (
	"io"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestConcurrencyWindows(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var c concurrency
	c.change(at(0), 1)     // 1 request for the whole first second
	c.change(at(500), 1)   // a second one for its second half
	c.change(at(1250), -1) // back to 1 at 1.25 s
	c.change(at(1500), -1) // 0 from 1.5 s
	cur, ws := c.snapshot(at(3000))
	if cur != 0 {
		t.Errorf("current = %d, want 0", cur)
	}
	want := []Window{
		{Start: at(0), AverageConcurrency: 1.5, MaxConcurrency: 2, Requests: 2},
		{Start: at(1000), AverageConcurrency: 0.25*2 + 0.25*1, MaxConcurrency: 2, Requests: 0},
		{Start: at(2000), AverageConcurrency: 0, MaxConcurrency: 0, Requests: 0},
	}
	if len(ws) != len(want) {
		t.Fatalf("%d windows, want %d: %+v", len(ws), len(want), ws)
	}
	for i := range want {
		w, g := want[i], ws[i]
		if !g.Start.Equal(w.Start) || math.Abs(g.AverageConcurrency-w.AverageConcurrency) > 1e-9 || g.MaxConcurrency != w.MaxConcurrency || g.Requests != w.Requests {
			t.Errorf("window %d = %+v, want %+v", i, g, w)
		}
	}
	// A long quiet spell with a request held open keeps only the last 60
	// windows, each at the constant count.
	c.change(at(3000), 1)
	_, ws = c.snapshot(at(3000 + 3600*1000))
	if len(ws) != windowCount {
		t.Fatalf("%d windows, want %d", len(ws), windowCount)
	}
	last := ws[len(ws)-1]
	if !last.Start.Equal(at(3000+3599*1000)) || last.AverageConcurrency != 1 {
		t.Errorf("last window = %+v", last)
	}
	// A clock stepping back is treated as standing still.
	c.change(at(0), -1)
	if cur, _ := c.snapshot(at(3000 + 3600*1000)); cur != 0 {
		t.Errorf("current = %d after the clock stepped back", cur)
	}
}

func TestSamplesAndMetrics(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	step := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	reg := prometheus.NewRegistry()
	inApp := make(chan struct{})
	finish := make(chan struct{})
	r := newTestRouter(t, Config{Now: clock, Registry: reg})
	publish(t, r, oneRevision("web", startBackend(t, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/slow" {
			inApp <- struct{}{}
			<-finish
		}
		io.WriteString(w, "ok")
	}))))
	done := make(chan struct{})
	go func() {
		defer close(done)
		do(t, r, "GET", "web.localhost", "/slow", nil, nil)
	}()
	<-inApp
	step(2 * time.Second)
	close(finish)
	<-done
	do(t, r, "GET", "web.localhost", "/", nil, nil)
	ss := r.Samples(clock().Add(time.Second))
	if len(ss) != 1 {
		t.Fatalf("%d samples, want 1", len(ss))
	}
	s := ss[0]
	if s.Service != "web" || s.Revision != "web-r1" || s.Instances != 1 || s.Concurrency != 0 || s.Requests != 2 {
		t.Errorf("sample = %+v", s)
	}
	if len(s.Windows) != 3 || s.Windows[0].AverageConcurrency != 1 || s.Windows[1].AverageConcurrency != 1 || s.Windows[2].Requests != 1 {
		t.Errorf("windows = %+v", s.Windows)
	}
	if b := s.Latency[len(s.Latency)-1]; b.Count != 2 {
		t.Errorf("latency buckets = %+v", s.Latency)
	}
	if got := counterValue(t, reg, "apprun_router_requests_total", "web", "2xx"); got != 2 {
		t.Errorf("requests_total{2xx} = %v, want 2", got)
	}
	if got := counterValue(t, reg, "apprun_router_table_updates_total", "", ""); got != 1 {
		t.Errorf("table_updates_total = %v, want 1", got)
	}
	// A removed revision's series go once it is idle.
	r.Remove("web")
	r.Publish(oneRevision("other"))
	if got := counterValue(t, reg, "apprun_router_requests_total", "web", "2xx"); got != -1 {
		t.Errorf("removed revision still exported: requests_total{2xx} = %v", got)
	}
}

// counterValue returns the value of the named counter (with labels service
// and code, if not empty) in reg, or -1 when there is no such series.
func counterValue(t *testing.T, reg *prometheus.Registry, name, service, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			svcOK, codeOK := service == "", code == ""
			for _, lp := range m.GetLabel() {
				svcOK = svcOK || (lp.GetName() == "service" && lp.GetValue() == service)
				codeOK = codeOK || (lp.GetName() == "code" && lp.GetValue() == code)
			}
			if svcOK && codeOK {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}
