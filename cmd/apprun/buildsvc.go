package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/apprun/apprun"
	"github.com/apprun/apprun/builder"
	"github.com/apprun/apprun/builder/bootstrap"
	"github.com/apprun/apprun/internal/lines"
	"github.com/apprun/apprun/store"
	"github.com/apprun/apprun/web"
)

// buildService is what the API's build route calls: it waits for the
// builder to be ready, unpacks the upload safely into a directory derived
// from a fresh ID, and builds it. It lives in the composition root because
// it joins three planes (web, builder, store) that must not import each
// other.
type buildService struct {
	b       *builder.Builder
	st      store.Store
	dataDir string
	ready   *readiness
	log     *slog.Logger
}

func (s *buildService) BuildArchive(ctx context.Context, req web.BuildRequest, archive io.Reader, log io.Writer) (web.BuildResult, error) {
	if err := s.ready.wait(ctx, log); err != nil {
		return web.BuildResult{}, err
	}
	id, err := randomID()
	if err != nil {
		return web.BuildResult{}, err
	}
	dir := filepath.Join(s.dataDir, "builds", id)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return web.BuildResult{}, fmt.Errorf("preparing the build directory: %w", err)
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(log, "-----> Receiving source")
	if err := builder.ExtractArchive(archive, dir, builder.ArchiveLimits{}); err != nil {
		return web.BuildResult{}, err
	}
	opts := builder.Options{Log: log}
	if req.Service != nil {
		secrets, err := s.st.ServiceSecrets(ctx, req.Service.Name)
		if err != nil {
			return web.BuildResult{}, err
		}
		// Image names derive from the service's ID, never its name: a
		// service deleted and created again under the same name does not
		// inherit the old images.
		opts.Service = req.Service.ID
		opts.Image = "apprun/app-" + req.Service.ID + ":latest"
		opts.PreviousImage = opts.Image
		opts.Secrets = secrets
	} else {
		opts.Service = "build-" + req.Name
		opts.Image = "apprun/build-" + req.Name + ":latest"
		opts.PreviousImage = opts.Image
	}
	res, err := s.b.Build(ctx, builder.Source{Dir: dir}, opts)
	if err != nil {
		return web.BuildResult{}, err
	}
	return web.BuildResult{Image: res.Image, Digest: res.Digest, Kind: res.Kind, Seconds: res.Duration.Seconds()}, nil
}

func randomID() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making an id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// readiness says whether the builder's images exist. `apprun serve` makes
// them in the background on first start; builds wait for that instead of
// failing.
type readiness struct {
	mu    sync.Mutex
	done  chan struct{}
	err   error
	state string // what the bootstrap is doing, for the waiting builds
}

func newReadiness() *readiness {
	return &readiness{done: make(chan struct{}), state: "checking the builder images"}
}

func (r *readiness) set(state string) {
	r.mu.Lock()
	r.state = state
	r.mu.Unlock()
}

func (r *readiness) finish(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	close(r.done)
}

func (r *readiness) wait(ctx context.Context, log io.Writer) error {
	select {
	case <-r.done:
	default:
		r.mu.Lock()
		state := r.state
		r.mu.Unlock()
		fmt.Fprintf(log, "-----> Waiting for the builder bootstrap (%s)\n", state)
		select {
		case <-r.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return fmt.Errorf("the builder is not ready: %w (run `apprun builder bootstrap` to see why)", r.err)
	}
	return nil
}

// bootstrapConfig is the bootstrap of the server's data dir.
func bootstrapConfig(dataDir string, progress io.Writer, log *slog.Logger, force bool) (bootstrap.Config, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return bootstrap.Config{}, err
	}
	return bootstrap.Config{DataDir: abs, Source: apprun.BuildpackSource, Progress: progress, Log: log, Force: force}, nil
}

// ensureBuilder runs the bootstrap when the builder images are missing or
// stale, logging its steps; it never stops the server, whose API works
// without a builder.
func ensureBuilder(ctx context.Context, dataDir string, log *slog.Logger, r *readiness) {
	progress := logLines(log)
	cfg, err := bootstrapConfig(dataDir, progress, log, false)
	if err != nil {
		r.finish(err)
		return
	}
	st, err := bootstrap.Check(ctx, cfg)
	if err != nil {
		log.Warn("cannot check the builder images; builds will fail until this is fixed", "err", err)
		r.finish(err)
		return
	}
	if st.Ready() {
		r.finish(nil)
		return
	}
	log.Info("making the builder images in the background (a few minutes, once)", "missing", strings.Join(st.NotReady(), ", "))
	r.set("making " + strings.Join(st.NotReady(), ", "))
	start := time.Now()
	res, err := bootstrap.Run(ctx, cfg)
	if err != nil {
		log.Error("builder bootstrap failed; builds will fail until `apprun builder bootstrap` succeeds", "err", err)
		r.finish(err)
		return
	}
	log.Info("builder ready", "builder", res.BuilderImage, "elapsed", time.Since(start).Round(time.Second))
	r.finish(nil)
}

// logLines turns the bootstrap's progress lines into log records.
func logLines(log *slog.Logger) *lines.Writer {
	return lines.New(func(line string) {
		if line = strings.TrimSpace(strings.TrimPrefix(line, "----->")); line != "" {
			log.Info("bootstrap: " + line)
		}
	})
}
