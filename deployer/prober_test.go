package deployer_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// prober sends requests at a steady rate, each on its own goroutine so a
// slow answer never slows the rate, and counts every response, as
// Knative's prober does.
type prober struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string
	versions   map[string]int
	stop       chan struct{}
	done       sync.WaitGroup
}

func (h *harness) startProber(svc string, rps int) *prober {
	p := &prober{stop: make(chan struct{}), versions: map[string]int{}}
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, Proxy: nil},
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(time.Second / time.Duration(rps))
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
			p.done.Add(1)
			go func() {
				defer p.done.Done()
				code, body, err := h.get(client, svc, "/")
				if err == nil && code == 200 && strings.HasPrefix(body, "hello from testapp") {
					p.ok.Add(1)
					p.mu.Lock()
					p.versions[strings.TrimSpace(strings.TrimPrefix(body, "hello from testapp"))]++
					p.mu.Unlock()
					return
				}
				p.failed.Add(1)
				p.mu.Lock()
				if len(p.failures) < 20 {
					p.failures = append(p.failures, fmt.Sprintf("%s: %d %q %v", time.Now().Format("15:04:05.000"), code, body, err))
				}
				p.mu.Unlock()
			}()
		}
	}()
	return p
}

// finish stops the prober and waits for the requests in flight.
func (p *prober) finish() {
	close(p.stop)
	p.done.Wait()
}

func (p *prober) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return fmt.Sprintf("%d ok, %d failed, versions %v; first failures:\n%s", p.ok.Load(), p.failed.Load(), p.versions, strings.Join(p.failures, "\n"))
}
