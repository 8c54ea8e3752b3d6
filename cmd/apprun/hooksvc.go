package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/internal/lines"
	"github.com/apprun/apprun/source"
	"github.com/apprun/apprun/source/webhook"
	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
	"github.com/apprun/apprun/web"
)

// gitTokenSecret is the service secret whose value, when set, is sent as
// the credentials of the fetch from source.repo.
const gitTokenSecret = "GIT_TOKEN"

// hooksAPI is the API's Hooks: source/webhook checks the deliveries, and
// the deployer deploys the pushed commit, which source.Fetch fetches from
// the service's source.repo in the deployment's building step.
type hooksAPI struct {
	deploy       func(ctx context.Context, req deployer.DeployRequest, log io.Writer) (spec.Deployment, error)
	secrets      func(ctx context.Context, service string) (map[string]string, error)
	dataDir      string
	allowPrivate bool
	log          *slog.Logger
}

func newHooksAPI(d *deployer.Deployer, st store.Store, cfg serverConfig, log *slog.Logger) hooksAPI {
	return hooksAPI{deploy: d.Deploy, secrets: st.ServiceSecrets, dataDir: cfg.DataDir,
		allowPrivate: cfg.Git.AllowPrivateFetch, log: log.With("component", "hooks")}
}

func (h hooksAPI) Verify(provider string, hd http.Header, body []byte, secret string) error {
	return webhook.Verify(provider, hd, body, secret)
}

func (h hooksAPI) Parse(provider string, hd http.Header, body []byte) (web.HookEvent, error) {
	ev, err := webhook.Parse(provider, hd, body)
	return web.HookEvent(ev), err
}

// DeployCommit starts the deployment in its own goroutine, on a context of
// its own (the webhook's request ends long before the rollout), and
// returns once the deployment is recorded or failed before that.
func (h hooksAPI) DeployCommit(ctx context.Context, svc spec.Service, ev web.HookEvent, recorded func(spec.Deployment)) error {
	fired := make(chan struct{})
	var once sync.Once
	log := h.log.With("service", svc.Name, "commit", ev.Commit, "delivery", ev.DeliveryID)
	req := deployer.DeployRequest{
		Service: svc.Name,
		Source:  spec.DeploymentSource{Kind: "git", Ref: ev.Ref, Commit: ev.Commit},
		Fetch: func(ctx context.Context, w io.Writer) (string, func(), error) {
			return h.fetch(ctx, svc, ev.Commit, w)
		},
		Recorded: func(d spec.Deployment) {
			recorded(d)
			once.Do(func() { close(fired) })
		},
	}
	done := make(chan error, 1)
	go func() {
		dep, err := h.deploy(context.Background(), req, hookLog(log))
		if err != nil {
			log.Warn("webhook deployment failed", "deployment", dep.ID, "err", err)
		} else {
			log.Info("webhook deployment succeeded", "deployment", dep.ID)
		}
		done <- err
	}()
	select {
	case <-fired:
		return nil
	case err := <-done:
		select {
		case <-fired:
			return nil
		default:
		}
		if err == nil {
			err = errors.New("the deployment ended without being recorded")
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fetch writes the commit's tree into a checkout directory named by a
// fresh ID under the data directory; cleanup removes it after the build.
func (h hooksAPI) fetch(ctx context.Context, svc spec.Service, commit string, log io.Writer) (string, func(), error) {
	if svc.Source.Repo == "" {
		return "", nil, fmt.Errorf("service %s has no source.repo", svc.Name)
	}
	id, err := randomID()
	if err != nil {
		return "", nil, err
	}
	parent := filepath.Join(h.dataDir, "checkouts")
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, fmt.Errorf("preparing the checkout directory: %w", err)
	}
	secrets, err := h.secrets(ctx, svc.Name)
	if err != nil {
		return "", nil, err
	}
	dir := filepath.Join(parent, id)
	err = source.Fetch(ctx, source.FetchOptions{
		RepoURL: svc.Source.Repo, Commit: commit, Dir: dir,
		Credentials: secrets[gitTokenSecret], AllowPrivate: h.allowPrivate, Log: log,
	})
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// hookLog writes a deployment's progress, line by line, to the server
// log at debug level: a webhook has no one reading its output.
func hookLog(log *slog.Logger) *lines.Writer {
	return lines.New(func(line string) {
		if line = strings.TrimSpace(line); line != "" {
			log.Debug("deploy", "line", line)
		}
	})
}

// newPoller polls the repositories of the services with source.poll set
// and deploys each new head of their branch the way a webhook does.
func newPoller(h hooksAPI, st store.Store, log *slog.Logger) *source.Poller {
	return source.NewPoller(source.PollerConfig{
		Services: st.ListServices,
		Deployed: func(ctx context.Context, name string) (string, error) {
			ds, err := st.ListDeployments(ctx, name)
			for _, d := range ds { // newest first
				if d.Source.Kind == "git" && d.Source.Commit != "" {
					return d.Source.Commit, nil
				}
			}
			return "", err
		},
		Credentials: func(ctx context.Context, name string) (string, error) {
			secrets, err := st.ServiceSecrets(ctx, name)
			return secrets[gitTokenSecret], err
		},
		Deploy: func(ctx context.Context, svc spec.Service, commit string) error {
			ev := web.HookEvent{Provider: "poll", EventType: "push", Ref: "refs/heads/" + svc.Source.Branch,
				Branch: svc.Source.Branch, Commit: commit, RepoURL: svc.Source.Repo}
			return h.DeployCommit(ctx, svc, ev, func(spec.Deployment) {})
		},
		AllowPrivate: h.allowPrivate,
		Log:          log.With("component", "poller"),
	})
}
