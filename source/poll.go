package source

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"strings"
	"time"

	"github.com/apprun/apprun/spec"
)

// PollState is what the poller remembers of one service between polls.
type PollState struct {
	// Seen is the branch head last acted on: deployed, or found deployed
	// when polling started. A commit is deployed at most once, so a build
	// that fails is not retried every interval.
	Seen string
	// Failures counts consecutive failed polls.
	Failures int
	// Last is when the service was last polled.
	Last time.Time
}

// PollDecision says what to do after a poll.
type PollDecision struct {
	// Deploy is the commit to deploy, "" for nothing.
	Deploy string
	// Warn is set when the poll failed (a reason to log).
	Warn string
}

// DecidePoll is the poller's decision, pure: given the state, the head the
// remote reports for the branch ("" when the branch does not exist) and
// the poll's error, what to do and the next state.
func DecidePoll(st PollState, head string, err error, now time.Time) (PollDecision, PollState) {
	st.Last = now
	switch {
	case err != nil:
		st.Failures++
		return PollDecision{Warn: err.Error()}, st
	case head == "":
		st.Failures = 0
		return PollDecision{Warn: "the branch does not exist on the remote"}, st
	case !fetchCommitRE.MatchString(head):
		st.Failures++
		return PollDecision{Warn: fmt.Sprintf("the remote reported %q, not a commit", clipFetch(head))}, st
	}
	st.Failures = 0
	if head == st.Seen {
		return PollDecision{}, st
	}
	st.Seen = head
	return PollDecision{Deploy: head}, st
}

// PollDue reports whether a service polled at last, every interval, is
// due at now. Failed polls back off, doubling up to ten intervals, so an
// unreachable remote is not hammered.
func PollDue(st PollState, interval time.Duration, now time.Time) bool {
	if interval <= 0 {
		return false
	}
	if st.Last.IsZero() {
		return true
	}
	wait := interval
	for i := 0; i < st.Failures && wait < 10*interval; i++ {
		wait *= 2
	}
	wait = min(wait, 10*interval)
	return !now.Before(st.Last.Add(wait))
}

// PollerConfig is what the poller needs from the rest of the platform.
type PollerConfig struct {
	// Services lists the services (the poller picks those with
	// source.poll, source.repo and autoDeploy set).
	Services func(ctx context.Context) ([]spec.Service, error)
	// Deployed returns the commit the service's newest git deployment
	// deployed ("" for none): the starting point, so a restart does not
	// deploy again what is already deployed.
	Deployed func(ctx context.Context, service string) (string, error)
	// Credentials returns the service's git credentials ("" for none).
	Credentials func(ctx context.Context, service string) (string, error)
	// Deploy deploys commit of the service's branch; it returns once the
	// deployment is recorded.
	Deploy func(ctx context.Context, svc spec.Service, commit string) error
	// Head returns the commit at the tip of branch on the remote; nil is
	// LsRemote.
	Head func(ctx context.Context, opts FetchOptions, branch string) (string, error)
	// AllowPrivate as in FetchOptions.
	AllowPrivate bool
	// Tick is how often the poller looks for due services (default 5s).
	Tick time.Duration
	Log  *slog.Logger
}

// Poller deploys new commits of the services that poll their repository.
type Poller struct {
	cfg   PollerConfig
	state map[string]PollState // by service ID
}

// NewPoller returns a poller; Run starts it.
func NewPoller(cfg PollerConfig) *Poller {
	if cfg.Tick <= 0 {
		cfg.Tick = 5 * time.Second
	}
	if cfg.Head == nil {
		cfg.Head = LsRemote
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Poller{cfg: cfg, state: map[string]PollState{}}
}

// Run polls until ctx ends, starting at once.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.cfg.Tick)
	defer t.Stop()
	p.pollDue(ctx, time.Now())
	return p.run(ctx, t.C)
}

func (p *Poller) run(ctx context.Context, ticks <-chan time.Time) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-ticks:
			p.pollDue(ctx, now)
		}
	}
}

// pollDue polls every service that is due, one after the other (a poll
// is one small request; services are few).
func (p *Poller) pollDue(ctx context.Context, now time.Time) {
	svcs, err := p.cfg.Services(ctx)
	if err != nil {
		p.cfg.Log.Warn("polling: listing services", "err", err)
		return
	}
	live := map[string]bool{}
	for _, svc := range svcs {
		interval := svc.Source.PollInterval()
		if interval == 0 || svc.Source.Repo == "" || !svc.Source.AutoDeploy {
			continue
		}
		live[svc.ID] = true
		st, known := p.state[svc.ID]
		if !known {
			seen, err := p.cfg.Deployed(ctx, svc.Name)
			if err != nil {
				p.cfg.Log.Warn("polling: reading the deployed commit", "service", svc.Name, "err", err)
				continue
			}
			st.Seen = seen
		}
		if !PollDue(st, interval, now) {
			p.state[svc.ID] = st
			continue
		}
		p.state[svc.ID] = p.poll(ctx, svc, st, now)
	}
	for id := range p.state {
		if !live[id] {
			delete(p.state, id)
		}
	}
}

func (p *Poller) poll(ctx context.Context, svc spec.Service, st PollState, now time.Time) PollState {
	log := p.cfg.Log.With("service", svc.Name)
	var creds string
	if p.cfg.Credentials != nil {
		c, err := p.cfg.Credentials(ctx, svc.Name)
		if err != nil {
			log.Warn("polling: reading credentials", "err", err)
			return st
		}
		creds = c
	}
	head, err := p.cfg.Head(ctx, FetchOptions{RepoURL: svc.Source.Repo, Credentials: creds, AllowPrivate: p.cfg.AllowPrivate}, svc.Source.Branch)
	d, next := DecidePoll(st, head, err, now)
	if d.Warn != "" {
		log.Warn("polling the repository", "reason", d.Warn, "failures", next.Failures)
	}
	if d.Deploy != "" {
		log.Info("polling found a new commit", "commit", d.Deploy, "branch", svc.Source.Branch)
		if err := p.cfg.Deploy(ctx, svc, d.Deploy); err != nil {
			log.Warn("polling: deploying", "commit", d.Deploy, "err", err)
		}
	}
	return next
}

// LsRemote returns the commit at the tip of branch in the repository
// opts.RepoURL names ("" when there is no such branch), asking with `git
// ls-remote` under the same rules as Fetch: http(s) only, the address
// checked and pinned, no prompts, credentials through the environment.
func LsRemote(ctx context.Context, opts FetchOptions, branch string) (string, error) {
	if err := spec.ValidateBranch(branch); err != nil {
		return "", fmt.Errorf("branch: %w", err)
	}
	res := opts.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	target, err := resolveFetchURL(ctx, res, opts.RepoURL, opts.AllowPrivate)
	if err != nil {
		return "", err
	}
	gitBin := opts.Git
	if gitBin == "" {
		if gitBin, err = exec.LookPath("git"); err != nil {
			return "", fmt.Errorf("git is not installed: %w", err)
		}
	}
	ref := "refs/heads/" + branch
	args := append(fetchConfig(target, opts.AllowPrivate), "ls-remote", "--end-of-options", target.url, ref)
	cmd := exec.CommandContext(ctx, gitBin, args...)
	cmd.Env = fetchEnv("/nonexistent", opts.Credentials)
	cmd.Dir = "/"
	var out bytes.Buffer
	var errb fetchTail
	cmd.Stdout = &fetchLimit{w: &out, n: 1 << 20}
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fetchError(fmt.Errorf("git ls-remote: %w: %s", err, errb.String()), "", target.display)
	}
	return parseLsRemote(out.Bytes(), ref)
}

// parseLsRemote finds ref's line in ls-remote output ("<oid>\t<ref>").
func parseLsRemote(out []byte, ref string) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		oid, name, ok := strings.Cut(sc.Text(), "\t")
		if !ok || name != ref {
			continue
		}
		if !fetchCommitRE.MatchString(oid) {
			return "", fmt.Errorf("git ls-remote reported %q for %s", clipFetch(oid), ref)
		}
		return oid, nil
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", nil
}

// fetchLimit fails a write past n bytes.
type fetchLimit struct {
	w interface{ Write([]byte) (int, error) }
	n int
}

func (l *fetchLimit) Write(p []byte) (int, error) {
	if len(p) > l.n {
		return 0, errors.New("output too large")
	}
	l.n -= len(p)
	return l.w.Write(p)
}
