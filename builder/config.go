package builder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/buildpacks/pack/pkg/image"

	"github.com/apprun/apprun/builder/bootstrap"
)

// The images apprun's bootstrap (builder/bootstrap) makes on the host; a
// fresh engine has none of them, and none can be pulled. They are the
// bootstrap's names, so the two can never disagree.
const (
	DefaultBuilderImage   = bootstrap.DefaultBuilderImage
	DefaultLifecycleImage = bootstrap.LifecycleImageRepo + ":" + bootstrap.DefaultLifecycleVersion
)

// Defaults for the zero fields of Config.
const (
	DefaultNetwork   = "none"
	DefaultTimeLimit = 15 * time.Minute
	DefaultCPUs      = 1.5
	DefaultMemoryMB  = 2048
	DefaultPidsLimit = 4096
	DefaultPull      = "never"
)

// Config is the builder's part of the server config. The zero value, after
// SetDefaults, builds with apprun's own offline builder on the local Docker
// engine.
type Config struct {
	// BuilderImage is the CNB builder. apprun's own is made by
	// `apprun builder bootstrap`; any other CNB builder (a Paketo or
	// Heroku one) works on a host that can pull it, with Pull set to
	// "if-not-present" or "always".
	BuilderImage string
	// LifecycleImage runs the analyze, restore and export phases of the
	// untrusted (five-phase) flow, the ones that need the Docker socket.
	// Empty means pack's choice, buildpacksio/lifecycle:<the builder's
	// lifecycle version>; with apprun's builder it is
	// DefaultLifecycleImage, which the bootstrap makes.
	LifecycleImage string
	// TrustBuilder runs all phases in one container that has the Docker
	// socket. It saves a few container starts (about 1.5s of a 4.5s
	// no-change rebuild on two cores), and is safe only when every
	// app's source is trusted: a build command could then drive the
	// engine. The default (false) is pack's five-phase flow, in which no
	// step that runs app code sees the socket; it needs LifecycleImage.
	TrustBuilder bool
	// Pull is pack's pull policy for the builder, run and lifecycle
	// images: "never" (the default: nothing can be pulled here),
	// "if-not-present" or "always".
	Pull string
	// PackHome holds pack's download cache and apprun's cache-volume key
	// (the server sets <data dir>/pack; the default is ~/.pack, pack's
	// own). Keep it stable: the key names the cache volumes, so a new
	// PackHome starts every app's cache afresh.
	PackHome string
	// DockerHost is the engine's address; empty means the environment's
	// DOCKER_HOST, or the local socket.
	DockerHost string
	// Network is the Docker network build steps run in. The default,
	// "none", keeps builds offline: nothing in a build can reach the
	// host, other containers or the internet. "bridge" (or a network's
	// name) lets builds download dependencies.
	Network string
	// MaxConcurrent is how many builds run at once across all services
	// (default: one per two cores, at least one). Builds of one service
	// always run one at a time.
	MaxConcurrent int
	// TimeLimit stops a build that runs longer (default 15m); nothing it
	// made is left tagged.
	TimeLimit time.Duration
	// CPUs, MemoryMB and PidsLimit bound every container of a build
	// (default 1.5 CPUs or the host's count if lower, 2048 MB with no
	// swap, 4096 processes).
	CPUs      float64
	MemoryMB  int64
	PidsLimit int64
}

// SetDefaults fills the zero fields.
func (c *Config) SetDefaults() {
	if c.BuilderImage == "" {
		c.BuilderImage = DefaultBuilderImage
	}
	if c.LifecycleImage == "" && c.BuilderImage == DefaultBuilderImage {
		c.LifecycleImage = DefaultLifecycleImage
	}
	if c.Pull == "" {
		c.Pull = DefaultPull
	}
	if c.PackHome == "" {
		if home, err := os.UserHomeDir(); err == nil {
			c.PackHome = filepath.Join(home, ".pack")
		}
	}
	if c.Network == "" {
		c.Network = DefaultNetwork
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = max(1, runtime.NumCPU()/2)
	}
	if c.TimeLimit == 0 {
		c.TimeLimit = DefaultTimeLimit
	}
	if c.CPUs == 0 {
		c.CPUs = min(DefaultCPUs, float64(runtime.NumCPU()))
	}
	if c.MemoryMB == 0 {
		c.MemoryMB = DefaultMemoryMB
	}
	if c.PidsLimit == 0 {
		c.PidsLimit = DefaultPidsLimit
	}
}

// Validate reports every field that is wrong, after SetDefaults.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("builder.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(c.BuilderImage) == "" {
		bad("builderImage", "is required")
	}
	if _, err := c.pullPolicy(); err != nil {
		bad("pull", "%q is not one of never, if-not-present, always", c.Pull)
	}
	if c.PackHome == "" || !filepath.IsAbs(c.PackHome) {
		bad("packHome", "must be an absolute path, got %q", c.PackHome)
	}
	if c.Network == "" || c.Network == "host" || strings.HasPrefix(c.Network, "container:") {
		// A build sharing the host's or another container's network
		// namespace could reach what the platform keeps private.
		bad("network", "%q is not allowed: use none, bridge or a network's name", c.Network)
	}
	if c.MaxConcurrent < 1 {
		bad("maxConcurrent", "must be at least 1, got %d", c.MaxConcurrent)
	}
	if c.TimeLimit < time.Second {
		bad("timeLimit", "must be at least 1s, got %s", c.TimeLimit)
	}
	if c.CPUs < 0.01 {
		bad("cpus", "must be at least 0.01, got %g", c.CPUs)
	}
	if c.MemoryMB < 64 {
		bad("memoryMB", "must be at least 64, got %d", c.MemoryMB)
	}
	if c.PidsLimit < 16 {
		bad("pidsLimit", "must be at least 16, got %d", c.PidsLimit)
	}
	return errors.Join(errs...)
}

func (c *Config) pullPolicy() (image.PullPolicy, error) {
	if c.Pull == "" {
		// pack reads "" as "always"; apprun's zero value means never.
		return image.PullNever, nil
	}
	return image.ParsePullPolicy(c.Pull)
}

// limits are the resource limits of one build's containers.
type limits struct {
	nanoCPUs    int64
	memoryBytes int64
	pids        int64
}

func (c *Config) limits() limits {
	return limits{
		nanoCPUs:    int64(c.CPUs * 1e9),
		memoryBytes: c.MemoryMB << 20,
		pids:        c.PidsLimit,
	}
}
