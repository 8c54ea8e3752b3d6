package source

import (
	"context"
	"encoding/base64"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/apprun/apprun/spec"
)

func TestDecidePoll(t *testing.T) {
	a, b := strings.Repeat("a", 40), strings.Repeat("b", 40)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	boom := errors.New("connection refused")
	for _, tc := range []struct {
		name   string
		st     PollState
		head   string
		err    error
		deploy string
		seen   string
		fails  int
		warn   bool
	}{
		{name: "never deployed: deploy the head", head: a, deploy: a, seen: a},
		{name: "head already deployed", st: PollState{Seen: a}, head: a, seen: a},
		{name: "new commit", st: PollState{Seen: a}, head: b, deploy: b, seen: b},
		{name: "back to an older commit (a revert by force push)", st: PollState{Seen: b}, head: a, deploy: a, seen: a},
		{name: "poll failed", st: PollState{Seen: a, Failures: 2}, err: boom, seen: a, fails: 3, warn: true},
		{name: "success after failures", st: PollState{Seen: a, Failures: 3}, head: a, seen: a},
		{name: "branch gone", st: PollState{Seen: a}, head: "", seen: a, warn: true},
		{name: "garbage head", st: PollState{Seen: a}, head: "--upload-pack=x", seen: a, fails: 1, warn: true},
		{name: "short head", st: PollState{Seen: a}, head: b[:12], seen: a, fails: 1, warn: true},
	} {
		d, next := DecidePoll(tc.st, tc.head, tc.err, now)
		if d.Deploy != tc.deploy || next.Seen != tc.seen || next.Failures != tc.fails || (d.Warn != "") != tc.warn || !next.Last.Equal(now) {
			t.Errorf("%s: got %+v %+v", tc.name, d, next)
		}
	}
}

func TestPollDue(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := time.Minute
	for _, tc := range []struct {
		name     string
		st       PollState
		interval time.Duration
		at       time.Duration // after t0
		due      bool
	}{
		{"never polled", PollState{}, m, 0, true},
		{"off", PollState{}, 0, 0, false},
		{"too soon", PollState{Last: t0}, m, 59 * time.Second, false},
		{"on time", PollState{Last: t0}, m, m, true},
		{"one failure doubles", PollState{Last: t0, Failures: 1}, m, 90 * time.Second, false},
		{"one failure, after 2m", PollState{Last: t0, Failures: 1}, m, 2 * m, true},
		{"many failures cap at 10 intervals", PollState{Last: t0, Failures: 50}, m, 10 * m, true},
		{"many failures, before the cap", PollState{Last: t0, Failures: 50}, m, 9 * m, false},
	} {
		if got := PollDue(tc.st, tc.interval, t0.Add(tc.at)); got != tc.due {
			t.Errorf("%s: due %v, want %v", tc.name, got, tc.due)
		}
	}
}

// TestPollerLoop steps the loop by hand: a service already at the head
// deploys nothing, a new commit deploys once, a service without polling
// is never asked.
func TestPollerLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := strings.Repeat("a", 40), strings.Repeat("b", 40)
		var mu sync.Mutex
		head := map[string]string{"https://git.example.com/web.git": a, "https://git.example.com/api.git": a}
		var deployed, asked []string
		svcs := []spec.Service{
			{ID: "svc_1", Name: "web", Source: spec.Source{Repo: "https://git.example.com/web.git", Branch: "main", AutoDeploy: true, Poll: "1m"}},
			{ID: "svc_2", Name: "api", Source: spec.Source{Repo: "https://git.example.com/api.git", Branch: "main", AutoDeploy: true}},
			{ID: "svc_3", Name: "off", Source: spec.Source{Repo: "https://git.example.com/web.git", Branch: "main", AutoDeploy: false, Poll: "1m"}},
		}
		p := NewPoller(PollerConfig{
			Services: func(context.Context) ([]spec.Service, error) { return svcs, nil },
			Deployed: func(_ context.Context, name string) (string, error) { return a, nil },
			Head: func(_ context.Context, o FetchOptions, branch string) (string, error) {
				mu.Lock()
				defer mu.Unlock()
				asked = append(asked, o.RepoURL)
				return head[o.RepoURL], nil
			},
			Deploy: func(_ context.Context, svc spec.Service, commit string) error {
				mu.Lock()
				defer mu.Unlock()
				deployed = append(deployed, svc.Name+"@"+commit[:1])
				return nil
			},
		})
		ticks := make(chan time.Time)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- p.run(ctx, ticks) }()
		t0 := time.Now()
		tick := func(at time.Duration) {
			ticks <- t0.Add(at)
			synctest.Wait()
		}
		tick(0) // web polled: already at a
		tick(30 * time.Second)
		mu.Lock()
		head["https://git.example.com/web.git"] = b
		mu.Unlock()
		tick(45 * time.Second) // not due yet
		tick(60 * time.Second) // due: b deploys
		tick(120 * time.Second)
		tick(180 * time.Second)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if strings.Join(deployed, ",") != "web@b" {
			t.Errorf("deployed %v, want web@b once", deployed)
		}
		if len(asked) != 4 {
			t.Errorf("asked %d times, want 4 (t=0,60,120,180): %v", len(asked), asked)
		}
		for _, u := range asked {
			if u != "https://git.example.com/web.git" {
				t.Errorf("asked %s", u)
			}
		}
	})
}

func TestLsRemote(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	repo, commit := gitRepo(t, map[string]string{"a.txt": "a"})
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))
	srv := serveGit(t, filepath.Dir(repo), auth)
	url := srv.URL + "/repo/.git"
	got, err := LsRemote(t.Context(), FetchOptions{RepoURL: url, Credentials: "u:p", AllowPrivate: true}, "main")
	if err != nil || got != commit {
		t.Fatalf("LsRemote main = %q, %v; want %s", got, err, commit)
	}
	if got, err := LsRemote(t.Context(), FetchOptions{RepoURL: url, Credentials: "u:p", AllowPrivate: true}, "nope"); err != nil || got != "" {
		t.Errorf("missing branch: %q %v", got, err)
	}
	if _, err := LsRemote(t.Context(), FetchOptions{RepoURL: url, Credentials: "u:x", AllowPrivate: true}, "main"); err == nil || !strings.Contains(err.Error(), "GIT_TOKEN") {
		t.Errorf("wrong credentials: %v", err)
	}
	if _, err := LsRemote(t.Context(), FetchOptions{RepoURL: url, Credentials: "u:p"}, "main"); !errors.Is(err, ErrFetchRefused) {
		t.Errorf("loopback: %v", err)
	}
	if _, err := LsRemote(t.Context(), FetchOptions{RepoURL: url, AllowPrivate: true}, "--upload-pack=touch /tmp/x"); err == nil {
		t.Error("an option as a branch was asked for")
	}
}

func TestParseLsRemote(t *testing.T) {
	a := strings.Repeat("a", 40)
	out := []byte(a + "\trefs/heads/main-2\n" + strings.Repeat("b", 40) + "\trefs/heads/main\n")
	if got, err := parseLsRemote(out, "refs/heads/main"); err != nil || got != strings.Repeat("b", 40) {
		t.Errorf("got %q %v", got, err)
	}
	if _, err := parseLsRemote([]byte("zz\trefs/heads/main\n"), "refs/heads/main"); err == nil {
		t.Error("garbage oid accepted")
	}
}

// FuzzParseLsRemote: the remote's answer never yields anything but a
// full commit name or "".
func FuzzParseLsRemote(f *testing.F) {
	f.Add([]byte(strings.Repeat("a", 40)+"\trefs/heads/main\n"), "main")
	f.Add([]byte("x\trefs/heads/main\n"), "main")
	f.Fuzz(func(t *testing.T, out []byte, branch string) {
		got, err := parseLsRemote(out, "refs/heads/"+branch)
		if err == nil && got != "" && !fetchCommitRE.MatchString(got) {
			t.Fatalf("parsed %q", got)
		}
	})
}
