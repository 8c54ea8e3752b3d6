package deployer

import (
	"context"
	"io"
	"time"
)

// Runtime is what the deployer needs from a container engine. deployer/docker
// implements it on the Docker Engine API; a second backend (an orchestrator
// across hosts) would implement the same few calls. Every container it
// starts carries the labels of InstanceSpec.Labels, and List returns only
// containers with apprun's labels, so the reconciler can tell its own
// containers from anything else on the engine.
type Runtime interface {
	// EnsureNetwork creates the network if it does not exist (a network with
	// the name and the same options is success) and returns its ID. One of
	// that name with other options is an error wrapping spec.ErrConflict.
	// Refer to networks by name: concurrent callers in several processes
	// may briefly see duplicates, and only the name is sure to lead to the
	// one that is kept.
	EnsureNetwork(ctx context.Context, n NetworkSpec) (string, error)
	// RemoveNetwork removes a network; a missing one is success. While
	// containers are attached (running or stopped) it refuses with an
	// error wrapping spec.ErrConflict; it never disconnects them.
	RemoveNetwork(ctx context.Context, name string) error
	// Start creates and starts a container. When it fails after the create,
	// it removes what it created: a failed Start leaves nothing behind.
	Start(ctx context.Context, s InstanceSpec) (Instance, error)
	// Stop sends SIGTERM, waits up to grace, then SIGKILL. The container
	// is kept (its logs stay readable) until Remove. A missing container
	// is success.
	Stop(ctx context.Context, id string, grace time.Duration) error
	// Remove removes a container, stopping it first if needed. A missing
	// container is success.
	Remove(ctx context.Context, id string) error
	// List returns every container that carries apprun's labels, running
	// or not. It fills ExitCode, and StartedAt with the creation time
	// (second precision); OOMKilled, the real StartedAt and FinishedAt only
	// Inspect reports.
	List(ctx context.Context) ([]Instance, error)
	// Inspect returns one container; a missing one is an error wrapping
	// spec.ErrNotFound.
	Inspect(ctx context.Context, id string) (Instance, error)
	// Logs writes the container's output to w, stdout and stderr
	// demultiplexed, each line prefixed by nothing (the caller adds
	// prefixes). With Follow it returns nil when the container stops, or
	// an error wrapping ctx.Err() when ctx ends first. A missing container
	// is an error wrapping spec.ErrNotFound.
	Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error
	// Events reports containers with apprun's labels that started or died,
	// until ctx ends. The channel is closed when the stream breaks (the
	// engine restarted, say); the caller subscribes again.
	Events(ctx context.Context) (<-chan Event, error)
	// RemoveImage removes an image reference (an old revision's tag); an
	// image in use is refused (spec.ErrConflict), a missing one is success.
	RemoveImage(ctx context.Context, ref string) error
	// ImageUser returns the user an image runs as ("" or "root" or "0"
	// mean root), so the deployer can refuse to run a root image as root.
	ImageUser(ctx context.Context, image string) (string, error)
}

// Labels apprun puts on every container it starts.
const (
	LabelManaged    = "io.apprun.managed" // "true"
	LabelService    = "io.apprun.service" // the service's ID
	LabelName       = "io.apprun.service-name"
	LabelRevision   = "io.apprun.revision"   // the revision's ID
	LabelDeployment = "io.apprun.deployment" // the deployment that started it
	LabelProcess    = "io.apprun.process"    // the process type ("web", "worker")
	LabelInstance   = "io.apprun.instance"   // a fresh ID per instance
	// LabelInstallation names the apprun installation (its data
	// directory) that owns a container, so two installations sharing an
	// engine (a developer's and a test's) never touch each other's.
	LabelInstallation = "io.apprun.installation"
)

// NetworkSpec is a network the deployer wants on the engine.
type NetworkSpec struct {
	// Name is the engine's name for the network ("apprun" for the shared
	// network the router reaches instances on, "apprun-net-<ID>" for a
	// private network).
	Name string
	// Internal networks have no route out of the host.
	Internal bool
	// Isolated networks forbid container-to-container traffic (the shared
	// network: apps reach each other only through private networks they
	// both joined). The host still reaches every container.
	Isolated bool
	Labels   map[string]string
}

// InstanceSpec is one container to start.
type InstanceSpec struct {
	// Name is the container's name: "apprun-<service>-<process>-<instance>".
	Name string
	// Image is an image ID ("sha256:…") or a reference present on the engine.
	Image string
	// Entrypoint and Cmd override the image's when set.
	Entrypoint []string
	Cmd        []string
	Env        []string // KEY=VALUE
	Labels     map[string]string
	// User overrides the image's user ("1000:1000"); "" keeps the image's.
	User string
	// Port is the port the app listens on inside the container; it is
	// never published on the host: the router reaches the container's
	// address on the primary network.
	Port int
	// Resources, from the service's instance size.
	CPUs      float64
	MemoryMB  int
	PidsLimit int64
	// Network is the primary network (the one whose address Instance.IP
	// reports); Networks are further networks to join, each with Aliases
	// (the service's name, so a database on a private network is reached
	// by its name). Aliases apply on Networks only, not on the primary: on
	// the shared, isolated network a name would resolve, for a container
	// on both, to an address it cannot reach.
	Network  string
	Networks []string
	Aliases  []string
	// LogMaxBytes and LogFiles bound the kept output (rotation).
	LogMaxBytes int64
	LogFiles    int
	// StopGrace is the time between SIGTERM and SIGKILL when the engine
	// itself stops the container.
	StopGrace time.Duration
}

// Instance is a container as the engine reports it.
type Instance struct {
	ID     string
	Name   string
	Image  string
	Labels map[string]string
	// State is the engine's: "created", "running", "paused", "restarting",
	// "exited", "dead".
	State     string
	ExitCode  int
	OOMKilled bool
	// IP is the container's address on its primary network ("" when it
	// is not running).
	IP         string
	StartedAt  time.Time
	FinishedAt time.Time
}

// Running reports whether the container is running (paused counts: it is
// there and will resume).
func (i Instance) Running() bool { return i.State == "running" || i.State == "paused" }

// LogOptions select a container's output.
type LogOptions struct {
	Follow bool
	// Since, when set, skips output older than it.
	Since time.Time
	// Tail, when > 0, starts with the last Tail lines.
	Tail int
	// Timestamps prefixes each line with its RFC 3339 time.
	Timestamps bool
}

// Event is a container with apprun's labels that changed state.
type Event struct {
	// Action is "start", "die", "stop", "oom" or "destroy".
	Action string
	ID     string
	// Labels are the container's labels, plus what the engine adds to an
	// event ("name", "image", and "exitCode" on "die").
	Labels map[string]string
	Time   time.Time
}
