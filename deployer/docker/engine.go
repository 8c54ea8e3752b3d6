package docker

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/spec"
)

var _ deployer.Runtime = (*Engine)(nil)

// Config says which engine to talk to.
type Config struct {
	// Host is the engine's address ("unix:///var/run/docker.sock",
	// "tcp://10.0.0.2:2376"). "" means $DOCKER_HOST, else the local
	// socket. TLS settings come from $DOCKER_TLS_VERIFY and
	// $DOCKER_CERT_PATH, as for the docker CLI.
	Host string
}

// SetDefaults fills Host from the environment.
func (c *Config) SetDefaults() {
	if c.Host == "" {
		c.Host = os.Getenv("DOCKER_HOST")
	}
	if c.Host == "" {
		c.Host = client.DefaultDockerHost
	}
}

// Validate checks that Host is an address the client understands.
func (c *Config) Validate() error {
	if _, err := client.ParseHostURL(c.Host); err != nil {
		return fmt.Errorf("docker host %q: %w", c.Host, err)
	}
	return nil
}

// Engine is deployer.Runtime on one Docker engine. It is safe for
// concurrent use.
type Engine struct {
	cli *client.Client
	log *slog.Logger

	// netMu serialises EnsureNetwork and RemoveNetwork within this
	// process; dedupeNetwork settles races with other processes.
	netMu sync.Mutex

	// ncpu is the engine's CPU count, read once: the engine refuses a
	// NanoCPUs above it, so Start caps the request (see cpuLimit).
	ncpuMu sync.Mutex
	ncpu   int

	// bg counts the cleanups of abandoned creates (see create).
	bg sync.WaitGroup
}

// New returns an Engine for cfg. It does not contact the engine (Ping
// does); the API version is negotiated on the first call, so an older
// engine (Debian's 20.10 speaks API 1.41) is spoken to in its version.
func New(cfg Config, log *slog.Logger) (*Engine, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cli, err := client.New(client.FromEnv, client.WithHost(cfg.Host))
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", cfg.Host, err)
	}
	return &Engine{cli: cli, log: log.With("runtime", "docker")}, nil
}

// Close waits for the cleanups of abandoned starts, then releases the
// engine connection.
func (e *Engine) Close() error {
	e.bg.Wait()
	return e.cli.Close()
}

// Ping checks that the engine answers, and negotiates the API version.
func (e *Engine) Ping(ctx context.Context) error {
	if _, err := e.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fmt.Errorf("pinging the docker engine: %w", err)
	}
	return nil
}

// cpus returns the engine's CPU count, or 0 when it cannot tell; a
// failure is retried on the next call.
func (e *Engine) cpus(ctx context.Context) int {
	e.ncpuMu.Lock()
	defer e.ncpuMu.Unlock()
	if e.ncpu == 0 {
		info, err := e.cli.Info(ctx, client.InfoOptions{})
		if err != nil {
			e.log.Warn("reading the engine's CPU count", "err", err)
			return 0
		}
		e.ncpu = info.Info.NCPU
	}
	return e.ncpu
}

// notFound marks the engine's "no such ..." error as spec.ErrNotFound, so
// callers outside this package need not know the SDK's error types; its
// message stays the engine's.
func notFound(err error) error { return notFoundError{err} }

type notFoundError struct{ err error }

func (e notFoundError) Error() string   { return e.err.Error() }
func (e notFoundError) Unwrap() []error { return []error{e.err, spec.ErrNotFound} }

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
