package docker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/spec"
)

func TestLogsFollow(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	network := testNetwork(t, e, deployer.NetworkSpec{Isolated: true})
	inst := start(t, e, appSpec(t, network, "logs"))
	waitReady(t, inst.IP)

	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- e.Logs(t.Context(), inst.ID, deployer.LogOptions{Follow: true}, &out) }()
	get(inst.IP, "/follow-me")
	eventually(t, 10*time.Second, "the request's log line", func() bool {
		return strings.Contains(out.String(), "GET /follow-me")
	})
	if !strings.HasPrefix(out.String(), "listening on :8080\n") {
		t.Errorf("followed logs start with %q", out.String())
	}

	// Stopping the container ends a follow.
	if err := e.Stop(t.Context(), inst.ID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Logs after the container stopped: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Logs with Follow did not return when the container stopped")
	}
	if !strings.Contains(out.String(), "bye") {
		t.Errorf("followed logs miss the last line:\n%s", out.String())
	}

	var tail syncBuffer
	if err := e.Logs(t.Context(), inst.ID, deployer.LogOptions{Tail: 1, Timestamps: true}, &tail); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(tail.String())
	ts, rest, _ := strings.Cut(line, " ")
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || rest != "bye" || strings.Contains(line, "\n") {
		t.Errorf("Tail 1 with timestamps = %q", tail.String())
	}
	var none syncBuffer
	if err := e.Logs(t.Context(), inst.ID, deployer.LogOptions{Since: time.Now().Add(time.Hour)}, &none); err != nil || none.String() != "" {
		t.Errorf("Since in the future = %q, %v", none.String(), err)
	}
}

func TestLogsFollowEndsWithContext(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	network := testNetwork(t, e, deployer.NetworkSpec{Isolated: true})
	inst := start(t, e, appSpec(t, network, "logs-ctx"))
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	var out syncBuffer
	err := e.Logs(ctx, inst.ID, deployer.LogOptions{Follow: true}, &out)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Logs when ctx ends: %v, want the context's error", err)
	}
	if err := e.Logs(t.Context(), "apprun-test-missing-"+suffix(), deployer.LogOptions{}, &out); !errors.Is(err, spec.ErrNotFound) {
		t.Errorf("Logs of a missing container: %v, want ErrNotFound", err)
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	network := testNetwork(t, e, deployer.NetworkSpec{Isolated: true})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events, err := e.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := appSpec(t, network, "events")
	s.Env = []string{"TESTAPP_CRASH=1"}
	inst := start(t, e, s)

	// Other users of the engine may run apprun containers too: look only
	// at this one.
	want := []string{"start", "die"}
	timeout := time.After(30 * time.Second)
	for len(want) > 0 {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the event channel closed")
			}
			if ev.ID != inst.ID {
				continue
			}
			if ev.Action != want[0] {
				t.Fatalf("event %s, want %s", ev.Action, want[0])
			}
			if ev.Labels[deployer.LabelInstance] != s.Labels[deployer.LabelInstance] || ev.Time.IsZero() {
				t.Errorf("event %+v", ev)
			}
			want = want[1:]
		case <-timeout:
			t.Fatalf("no %v event for %s", want, short(inst.ID))
		}
	}

	cancel()
	for range events {
		// Drain: the channel must close once ctx ends.
	}
}
