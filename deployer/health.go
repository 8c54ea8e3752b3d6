package deployer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/apprun/apprun/spec"
)

// instHealth is what the deployer knows of one instance's health.
type instHealth struct {
	// ready instances are routed.
	ready bool
	// failures counts the failed checks in a row of a ready instance; at
	// the health check's unhealthy threshold it is unpublished and
	// replaced.
	failures  int
	lastCheck time.Time
	// probing is set while a goroutine waits for the instance's first
	// success, so the reconciler starts one such goroutine per instance.
	probing bool
}

// healthClient checks HTTP health: no keep-alive (a check must open a
// connection as a new client would), no redirects followed (a 3xx answers,
// so the app is up), no proxy from the environment.
var healthClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// probe runs one health check of the instance at addr with App Runner's
// meaning: TCP succeeds when a connection opens; HTTP when a GET of the
// path answers 2xx or 3xx, within the check's timeout.
func probe(ctx context.Context, hc spec.HealthCheck, addr string) error {
	timeout := time.Duration(hc.Timeout) * time.Second
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if hc.Protocol != spec.ProtocolHTTP {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	path := hc.Path
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "apprun-health-check")
	resp, err := healthClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("GET %s answered %d", path, resp.StatusCode)
	}
	return nil
}

// errExited is an instance that stopped while the deployer waited for it.
var errExited = errors.New("the instance exited")

// waitReady waits until a new instance passes its health check the
// threshold's number of times in a row, probing every ProbeInterval until
// the first success (so a fast app is routed within milliseconds of
// listening) and at the check's interval after. It fails when the
// instance exits or StartTimeout passes.
func (d *Deployer) waitReady(ctx context.Context, inst Instance, rev spec.Revision) error {
	hc := rev.Service.HealthCheck
	if hc.HealthyThreshold < 1 {
		hc.HealthyThreshold = 1
	}
	interval := time.Duration(hc.Interval) * time.Second
	ctx, cancel := context.WithTimeout(ctx, d.cfg.StartTimeout)
	defer cancel()
	addr := address(inst, rev)
	var lastErr error
	var lastInspect time.Time
	successes := 0
	for {
		if err := probe(ctx, hc, addr); err == nil {
			successes++
			if successes >= hc.HealthyThreshold {
				return nil
			}
		} else {
			successes = 0
			lastErr = err
		}
		// A crashed instance never gets healthy: look at it now and then
		// rather than wait for the timeout.
		if now := time.Now(); successes == 0 && now.Sub(lastInspect) >= 250*time.Millisecond {
			lastInspect = now
			cur, err := d.cfg.Runtime.Inspect(ctx, inst.ID)
			if err == nil && !cur.Running() {
				return fmt.Errorf("%w with code %d%s", errExited, cur.ExitCode, oomNote(cur))
			}
			if errors.Is(err, spec.ErrNotFound) {
				return fmt.Errorf("%w: the container is gone", errExited)
			}
		}
		wait := d.cfg.ProbeInterval
		if successes > 0 {
			wait = interval
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
				return fmt.Errorf("not healthy within %s (last check: %v)", d.cfg.StartTimeout, lastErr)
			}
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func oomNote(i Instance) string {
	if i.OOMKilled {
		return " (out of memory: raise the instance's memory)"
	}
	return ""
}

// logTail is the last lines an instance printed, for a failure's reason.
func (d *Deployer) logTail(ctx context.Context, id string, lines int) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var buf bytes.Buffer
	if err := d.cfg.Runtime.Logs(ctx, id, LogOptions{Tail: lines}, &limitedWriter{w: &buf, n: 16 << 10}); err != nil {
		return ""
	}
	return strings.TrimRight(buf.String(), "\n")
}

// limitedWriter keeps the first n bytes and drops the rest without failing
// the writer (which would stop a log stream).
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	q := p
	if len(q) > l.n {
		q = q[:l.n]
	}
	l.n -= len(q)
	if _, err := l.w.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}
