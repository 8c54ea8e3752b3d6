package main

// This file times one apprun deployment from the outside: the POST, each
// step line of its NDJSON stream as it arrives, and the first 200 from the
// new version through the router, which a poller watches from the moment
// the new instances start.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apprun/apprun/bench/internal/harness"
	"github.com/apprun/apprun/spec"
)

// timeline is one apprun deployment: when each step line of its stream
// arrived and when the new version first answered, as offsets from the POST.
type timeline struct {
	steps   map[string]time.Duration // by step key (see stepKeys)
	builder time.Duration            // the builder's own "Built ... (X s)"
	serving time.Duration            // first 200 from the new version through the router (the poller)
	end     time.Duration            // the stream's last event
	done    time.Duration            // end + one GET through the router answering 200 from the new version
	dep     spec.Deployment
	start   time.Time
	// lifecycle are the build's "===> PHASE" lines in the order they came;
	// their times are in steps as "lc:PHASE".
	lifecycle []string
}

// stepKeys name the deployer's step lines by their prefix.
var stepKeys = []struct{ key, prefix string }{
	{"receiving", "-----> Receiving source"},
	{"building", "-----> Building"},
	{"built", "-----> Built revision"},
	{"starting", "-----> Starting revision"},
	{"healthy", "-----> Healthy"},
	{"routing", "-----> Routing"},
	{"draining", "-----> Draining"},
	{"serves", "-----> Revision #"},
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-9;]*m`)

var builtRE = regexp.MustCompile(`^-----> Built \S+ \(\S+, ([0-9.]+)s\)`)

// stepEvent is one line of a deployment's NDJSON stream.
type stepEvent struct {
	Log        *string          `json:"log"`
	Deployment *spec.Deployment `json:"deployment"`
	Error      *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// deploy POSTs to path (a deployment with an archive body, or a rollback
// with a JSON body), reads the stream to its end, and times the first 200
// through the router whose body contains want.
func (b *bench) deploy(ctx context.Context, label, path, contentType string, body []byte, want string) (timeline, error) {
	t := timeline{steps: map[string]time.Duration{}}
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	served := make(chan time.Time, 1)
	polling := false

	start := time.Now()
	t.start = start
	resp, err := b.srv.Do(ctx, http.MethodPost, path, contentType, bytes.NewReader(body))
	if err != nil {
		return t, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return t, fmt.Errorf("POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(msg))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var last stepEvent
	for sc.Scan() {
		at := time.Since(start)
		var ev stepEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return t, fmt.Errorf("a stream line is not JSON: %q", harness.Clip(sc.Text()))
		}
		if ev.Log == nil {
			last = ev
			t.end = at
			break
		}
		line := ansiRE.ReplaceAllString(*ev.Log, "")
		for _, s := range stepKeys {
			if _, seen := t.steps[s.key]; !seen && strings.HasPrefix(line, s.prefix) {
				t.steps[s.key] = at
				if b.flags.Verbose {
					fmt.Fprintf(os.Stderr, "  %s %7.3fs %s\n", label, at.Seconds(), line)
				}
			}
		}
		if name, ok := strings.CutPrefix(line, "===> "); ok {
			if _, seen := t.steps["lc:"+name]; !seen {
				t.steps["lc:"+name] = at
				t.lifecycle = append(t.lifecycle, name)
				if b.flags.Verbose {
					fmt.Fprintf(os.Stderr, "  %s %7.3fs %s\n", label, at.Seconds(), line)
				}
			}
		}
		if m := builtRE.FindStringSubmatch(line); m != nil {
			if f, err := strconv.ParseFloat(m[1], 64); err == nil {
				t.builder = time.Duration(f * float64(time.Second))
			}
		}
		// The new instances start: from now on, watch the router.
		if !polling && strings.HasPrefix(line, "-----> Starting revision") {
			polling = true
			go func() {
				if at, err := b.poll(pollCtx, b.router, b.srv.Router+"/", service+".localhost", want); err == nil {
					served <- at
				}
			}()
		}
	}
	if err := sc.Err(); err != nil {
		return t, fmt.Errorf("reading the stream: %w", err)
	}
	if last.Error != nil {
		return t, fmt.Errorf("the deployment failed: %s: %s", last.Error.Code, last.Error.Message)
	}
	if last.Deployment == nil {
		return t, errors.New("the stream ended without its last event")
	}
	t.dep = *last.Deployment
	if t.dep.State != spec.StateSucceeded {
		return t, fmt.Errorf("deployment %s ended %s: %s", t.dep.ID, t.dep.State, t.dep.Reason)
	}
	code, got, err := get(ctx, b.router, b.srv.Router+"/", service+".localhost")
	t.done = time.Since(start)
	if err != nil {
		return t, fmt.Errorf("GET through the router after the deployment: %w", err)
	}
	if code != http.StatusOK || !strings.Contains(got, want) {
		return t, fmt.Errorf("GET through the router after the deployment answered %d %q, want 200 with %q", code, harness.Clip(got), want)
	}
	if !polling {
		return t, errors.New("the stream had no \"Starting revision\" step")
	}
	select {
	case at := <-served:
		t.serving = at.Sub(start)
	case <-time.After(5 * time.Second):
		return t, errors.New("the router poller never saw the new version")
	}
	if b.flags.Verbose {
		fmt.Fprintf(os.Stderr, "  %s %7.3fs first 200 from the new version through the router\n", label, t.serving.Seconds())
		fmt.Fprintf(os.Stderr, "  %s %7.3fs stream ended (%s); %7.3fs GET 200\n", label, t.end.Seconds(), t.dep.State, t.done.Seconds())
	}
	return t, nil
}

// poll GETs url with Host host every harness.PollEvery until it answers
// 200 with a body containing want, and returns when that answer arrived.
func (b *bench) poll(ctx context.Context, c *http.Client, url, host, want string) (time.Time, error) {
	for {
		code, body, err := get(ctx, c, url, host)
		if err == nil && code == http.StatusOK && strings.Contains(body, want) {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(harness.PollEvery):
		}
	}
}

func get(ctx context.Context, c *http.Client, url, host string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if host != "" {
		req.Host = host
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(body), err
}
