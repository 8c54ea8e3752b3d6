package docker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/spec"
)

func TestContainerRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	network := testNetwork(t, e, deployer.NetworkSpec{Isolated: true})
	s := appSpec(t, network, "web")
	s.Env = []string{"TESTAPP_VERSION=v1"}
	inst := start(t, e, s)

	if inst.State != "running" || inst.IP == "" || inst.Name != s.Name || inst.Image != s.Image {
		t.Fatalf("started instance = %+v", inst)
	}
	if inst.Labels[deployer.LabelManaged] != "true" || inst.Labels[deployer.LabelInstance] != s.Labels[deployer.LabelInstance] {
		t.Errorf("labels = %v", inst.Labels)
	}
	if inst.StartedAt.IsZero() || !inst.FinishedAt.IsZero() {
		t.Errorf("times: started %v, finished %v", inst.StartedAt, inst.FinishedAt)
	}
	waitReady(t, inst.IP)
	if code, body, err := get(inst.IP, "/"); err != nil || code != 200 || body != "hello from testapp v1" {
		t.Errorf("GET / = %d %q %v", code, body, err)
	}

	listed := findListed(t, e, inst.ID)
	if listed.State != "running" || listed.IP != inst.IP || listed.Name != s.Name || listed.Labels[deployer.LabelService] != s.Labels[deployer.LabelService] {
		t.Errorf("listed = %+v, want it running at %s", listed, inst.IP)
	}

	if err := e.Stop(ctx, inst.ID, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	stopped, err := e.Inspect(ctx, inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The app exits 0 on SIGTERM; a SIGKILL would have made it 137.
	if stopped.State != "exited" || stopped.ExitCode != 0 || stopped.IP != "" || stopped.FinishedAt.IsZero() {
		t.Errorf("stopped = %+v", stopped)
	}
	if listed := findListed(t, e, inst.ID); listed.State != "exited" || listed.ExitCode != 0 || listed.IP != "" {
		t.Errorf("listed after stop = %+v", listed)
	}
	var logs syncBuffer
	if err := e.Logs(ctx, inst.ID, deployer.LogOptions{}, &logs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "listening on :8080") || !strings.Contains(logs.String(), "bye") {
		t.Errorf("logs of the stopped container:\n%s", logs.String())
	}
	if err := e.Stop(ctx, inst.ID, time.Second); err != nil {
		t.Errorf("stopping a stopped container: %v", err)
	}

	if err := e.Remove(ctx, inst.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Inspect(ctx, inst.ID); !errors.Is(err, spec.ErrNotFound) {
		t.Errorf("Inspect after Remove: %v, want ErrNotFound", err)
	}
	if err := e.Remove(ctx, inst.ID); err != nil {
		t.Errorf("removing a missing container: %v", err)
	}
	if err := e.Stop(ctx, inst.ID, time.Second); err != nil {
		t.Errorf("stopping a missing container: %v", err)
	}
}

func findListed(t *testing.T, e *Engine, id string) deployer.Instance {
	t.Helper()
	all, err := e.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(all, func(i deployer.Instance) bool { return i.ID == id })
	if i < 0 {
		t.Fatalf("container %s is not listed", short(id))
	}
	return all[i]
}

func TestStopKillsAfterGrace(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	network := testNetwork(t, e, deployer.NetworkSpec{Isolated: true})
	s := appSpec(t, network, "deaf")
	s.Env = []string{"TESTAPP_IGNORE_TERM=1"}
	inst := start(t, e, s)
	waitReady(t, inst.IP)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	begin := time.Now()
	if err := e.Stop(ctx, inst.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	took := time.Since(begin)
	got, err := e.Inspect(ctx, inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "exited" || got.ExitCode != 137 || took < time.Second {
		t.Errorf("after Stop with 1s grace of an app ignoring SIGTERM: %s, exit %d, took %s; want exited, 137, >= 1s",
			got.State, got.ExitCode, took)
	}
}

func TestCrashReportsExitCode(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	network := testNetwork(t, e, deployer.NetworkSpec{Isolated: true})
	s := appSpec(t, network, "crash")
	s.Env = []string{"TESTAPP_CRASH=1"}
	inst := start(t, e, s)
	var got deployer.Instance
	eventually(t, 20*time.Second, "the crash", func() bool {
		var err error
		got, err = e.Inspect(t.Context(), inst.ID)
		return err == nil && got.State == "exited"
	})
	if got.ExitCode != 1 || got.OOMKilled {
		t.Errorf("crashed = %+v", got)
	}
	if listed := findListed(t, e, inst.ID); listed.ExitCode != 1 {
		t.Errorf("listed exit code = %d, want 1", listed.ExitCode)
	}
}

// TestFailedStartLeavesNothing starts containers that fail at each step
// and checks that no container of that name remains.
func TestFailedStartLeavesNothing(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	network := testNetwork(t, e, deployer.NetworkSpec{Isolated: true})
	for _, tc := range []struct {
		name     string
		change   func(*deployer.InstanceSpec)
		notFound bool
	}{
		{"missing image", func(s *deployer.InstanceSpec) { s.Image = "apprun-test/no-such-image:" + suffix() }, true},
		{"missing primary network", func(s *deployer.InstanceSpec) { s.Network = "apprun-test-missing-" + suffix() }, true},
		{"missing further network", func(s *deployer.InstanceSpec) { s.Networks = []string{"apprun-test-missing-" + suffix()} }, true},
		{"missing entrypoint", func(s *deployer.InstanceSpec) { s.Entrypoint = []string{"/no-such-binary"} }, false},
		{"host network", func(s *deployer.InstanceSpec) { s.Networks = []string{"host"} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := appSpec(t, network, "fail")
			tc.change(&s)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			inst, err := e.Start(ctx, s)
			if err == nil {
				e.Remove(ctx, inst.ID)
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), "starting container "+s.Name) {
				t.Errorf("error does not name the container: %v", err)
			}
			if tc.notFound && !errors.Is(err, spec.ErrNotFound) {
				t.Errorf("error does not wrap ErrNotFound: %v", err)
			}
			res, lerr := e.cli.ContainerList(ctx, client.ContainerListOptions{
				All:     true,
				Filters: make(client.Filters).Add("name", s.Name),
			})
			if lerr != nil {
				t.Fatal(lerr)
			}
			if len(res.Items) > 0 {
				t.Errorf("a failed Start left %d containers: %v", len(res.Items), err)
				for _, c := range res.Items {
					e.Remove(ctx, c.ID)
				}
			}
		})
	}
}

func TestStartNameConflict(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	network := testNetwork(t, e, deployer.NetworkSpec{Isolated: true})
	s := appSpec(t, network, "dup")
	first := start(t, e, s)
	_, err := e.Start(t.Context(), s)
	if !errors.Is(err, spec.ErrConflict) {
		t.Fatalf("second Start of %s: %v, want ErrConflict", s.Name, err)
	}
	// The failed Start must not have removed the first container.
	if got, err := e.Inspect(t.Context(), first.ID); err != nil || got.State != "running" {
		t.Errorf("the first container after a conflicting Start: %+v, %v", got, err)
	}
}

func TestImageUser(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	s := appSpec(t, "unused", "img")
	user, err := e.ImageUser(t.Context(), s.Image)
	if err != nil || user != "1000:1000" {
		t.Errorf("ImageUser(test image) = %q, %v", user, err)
	}
	if _, err := e.ImageUser(t.Context(), "apprun-test/no-such-image:"+suffix()); !errors.Is(err, spec.ErrNotFound) {
		t.Errorf("ImageUser(missing) = %v, want ErrNotFound", err)
	}
}

func TestInspectMissing(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	if _, err := e.Inspect(t.Context(), "apprun-test-missing-"+suffix()); !errors.Is(err, spec.ErrNotFound) {
		t.Errorf("Inspect(missing) = %v, want ErrNotFound", err)
	}
}

// TestCancelledStartLeavesNothing cancels Start at various points; a
// Start that fails, wherever the cancel struck, must leave no container.
func TestCancelledStartLeavesNothing(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	network := testNetwork(t, e, deployer.NetworkSpec{Isolated: true})
	for _, d := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond} {
		s := appSpec(t, network, "cancel")
		ctx, cancel := context.WithTimeout(t.Context(), d)
		inst, err := e.Start(ctx, s)
		cancel()
		if err == nil {
			e.Remove(t.Context(), inst.ID)
			continue
		}
		res, lerr := e.cli.ContainerList(t.Context(), client.ContainerListOptions{
			All: true, Filters: make(client.Filters).Add("name", s.Name),
		})
		if lerr != nil {
			t.Fatal(lerr)
		}
		for _, c := range res.Items {
			t.Errorf("Start cancelled after %s left %s (%v)", d, c.Names, err)
			e.Remove(t.Context(), c.ID)
		}
	}
}
