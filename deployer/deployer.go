package deployer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/store"
)

// Store is the part of the store the deployer uses.
type Store interface {
	GetService(ctx context.Context, name string) (spec.Service, error)
	ListServices(ctx context.Context) ([]spec.Service, error)
	UpdateService(ctx context.Context, name string, u store.ServiceUpdate) (spec.Service, error)
	ServiceSecrets(ctx context.Context, name string) (map[string]string, error)
	ListDomains(ctx context.Context, service string) ([]spec.Domain, error)
	GetNetwork(ctx context.Context, name string) (spec.Network, error)
	CreateDeployment(ctx context.Context, service string, src spec.DeploymentSource) (spec.Deployment, error)
	TransitionDeployment(ctx context.Context, id string, to spec.DeploymentState, reason string) (spec.Deployment, error)
	SetDeploymentRevision(ctx context.Context, deploymentID, revisionID string) error
	GetDeployment(ctx context.Context, service, id string) (spec.Deployment, error)
	ListDeployments(ctx context.Context, service string) ([]spec.Deployment, error)
	CreateRevision(ctx context.Context, rev spec.Revision) (spec.Revision, error)
	GetRevision(ctx context.Context, service, id string) (spec.Revision, error)
	ListRevisions(ctx context.Context, service string) ([]spec.Revision, error)
}

// Router is the data plane as the deployer drives it (router.Router
// implements it).
type Router interface {
	// Publish replaces the service's routes and returns once the new table
	// serves.
	Publish(spec.ServiceRoutes) error
	// Remove forgets a service.
	Remove(service string)
	// InFlight is the number of requests proxied to an instance now.
	InFlight(addr string) int
}

// Builder turns a source directory into an image (the composition root
// adapts package builder to it).
type Builder interface {
	Build(ctx context.Context, req BuildRequest, log io.Writer) (BuildResult, error)
}

// BuildRequest is one build for a service.
type BuildRequest struct {
	Service spec.Service
	// Deployment is the deployment the build is for (its number names
	// the image, so every revision keeps its own tag).
	Deployment spec.Deployment
	// Dir is the unpacked source.
	Dir string
	// PreviousImage is the serving revision's image, whose layers a
	// buildpacks build may reuse; "" for a first build.
	PreviousImage string
}

// BuildResult is what a build produced.
type BuildResult struct {
	Image  string
	Digest string
	// Kind is "buildpacks" or "dockerfile".
	Kind      string
	Processes []spec.Process
	// Config is the source's apprun.yaml, when it has one.
	Config *spec.AppConfig
}

// Config configures a Deployer. Store, Runtime and Router are required.
type Config struct {
	Store   Store
	Runtime Runtime
	Router  Router
	// Builder builds sources; without one only revisions can be deployed.
	Builder Builder
	// Installation identifies this installation on a shared engine: its
	// containers carry it, and it only ever acts on containers that do.
	Installation string
	// Network is the shared network the router reaches instances on
	// (container-to-container traffic is off on it).
	Network string
	// StartTimeout bounds how long a new instance may take to pass its
	// first health check.
	StartTimeout time.Duration
	// DrainTimeout bounds how long an unpublished instance keeps its
	// in-flight requests (and websockets) before SIGTERM.
	DrainTimeout time.Duration
	// StopGrace is the time between SIGTERM and SIGKILL.
	StopGrace time.Duration
	// ReconcileInterval is the period of the reconciler.
	ReconcileInterval time.Duration
	// ProbeInterval is how often a starting instance is probed until its
	// first success (the health check's own interval applies after).
	ProbeInterval time.Duration
	// PidsLimit bounds the processes of one instance.
	PidsLimit int64
	// LogMaxBytes and LogFiles bound the output the engine keeps per
	// instance.
	LogMaxBytes int64
	LogFiles    int
	// KeepRevisions is how many of a service's newest revisions keep their
	// image (for rollbacks); older revisions' images are removed after a
	// successful deployment, unless an instance still runs them.
	KeepRevisions int
	// LogDir, when set, keeps the output of removed instances (a failed
	// revision's, an old revision's), per service, within bounds.
	LogDir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SetDefaults fills every zero field with its default.
func (c *Config) SetDefaults() {
	if c.Network == "" {
		c.Network = "apprun"
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = 90 * time.Second
	}
	if c.DrainTimeout == 0 {
		// App Runner's request timeout: a request that started before the
		// switch may run this long.
		c.DrainTimeout = 120 * time.Second
	}
	if c.StopGrace == 0 {
		c.StopGrace = 10 * time.Second
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = 2 * time.Second
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = 10 * time.Millisecond
	}
	if c.KeepRevisions == 0 {
		c.KeepRevisions = 10
	}
	if c.PidsLimit == 0 {
		c.PidsLimit = 512
	}
	if c.LogMaxBytes == 0 {
		c.LogMaxBytes = 10 << 20
	}
	if c.LogFiles == 0 {
		c.LogFiles = 3
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Deployer rolls revisions out on a Runtime and keeps them running.
type Deployer struct {
	cfg Config
	log *slog.Logger

	// locks serialises the work on one service (a deploy, a scale, the
	// reconciler's pass), keyed by service ID.
	locksMu sync.Mutex
	locks   map[string]*sync.Mutex
	deploys map[string]chan struct{}

	// mu guards the in-memory state below.
	mu sync.Mutex
	// health is what the deployer knows of each instance's health, by
	// container ID. An instance is routed only once it is ready.
	health map[string]*instHealth
	// restarts counts the crashes of each (service, process) in a row,
	// for the back-off.
	restarts map[string]map[string]*backoff
	// stopping are instances being stopped in the background.
	stopping map[string]bool
	// warm is the number of web instances started because a request
	// arrived for a service scaled to zero (Poke), by service ID.
	warm map[string]int
	// published remembers the last routes published per service, so a
	// pass that changes nothing publishes nothing.
	published map[string]string
	// revs caches revisions by ID (they are immutable).
	revs map[string]spec.Revision
	// retired is when each instance was taken out of the routes.
	retired map[string]time.Time

	kick chan struct{}
}

// New returns a Deployer; call Run to start its reconciler.
func New(cfg Config, log *slog.Logger) (*Deployer, error) {
	cfg.SetDefaults()
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("deployer: Store is required"))
	}
	if cfg.Runtime == nil {
		errs = append(errs, errors.New("deployer: Runtime is required"))
	}
	if cfg.Router == nil {
		errs = append(errs, errors.New("deployer: Router is required"))
	}
	if cfg.Installation == "" {
		errs = append(errs, errors.New("deployer: Installation is required"))
	}
	if err := spec.ValidateName(cfg.Network); err != nil {
		errs = append(errs, fmt.Errorf("deployer: Network: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Deployer{
		cfg:       cfg,
		log:       log,
		locks:     map[string]*sync.Mutex{},
		deploys:   map[string]chan struct{}{},
		health:    map[string]*instHealth{},
		restarts:  map[string]map[string]*backoff{},
		stopping:  map[string]bool{},
		warm:      map[string]int{},
		published: map[string]string{},
		revs:      map[string]spec.Revision{},
		retired:   map[string]time.Time{},
		kick:      make(chan struct{}, 1),
	}, nil
}

// lock takes the service's lock and returns its unlock.
func (d *Deployer) lock(serviceID string) func() {
	d.locksMu.Lock()
	m := d.locks[serviceID]
	if m == nil {
		m = &sync.Mutex{}
		d.locks[serviceID] = m
	}
	d.locksMu.Unlock()
	m.Lock()
	return m.Unlock
}

// lockDeploys serialises the deployments of one service; a deployment
// waiting its turn gives up when ctx ends.
func (d *Deployer) lockDeploys(ctx context.Context, serviceID string) (func(), error) {
	d.locksMu.Lock()
	ch := d.deploys[serviceID]
	if ch == nil {
		ch = make(chan struct{}, 1)
		d.deploys[serviceID] = ch
	}
	d.locksMu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// tryLock is lock without waiting; ok is false when the service is busy.
func (d *Deployer) tryLock(serviceID string) (unlock func(), ok bool) {
	d.locksMu.Lock()
	m := d.locks[serviceID]
	if m == nil {
		m = &sync.Mutex{}
		d.locks[serviceID] = m
	}
	d.locksMu.Unlock()
	if !m.TryLock() {
		return nil, false
	}
	return m.Unlock, true
}

// Kick asks the reconciler for a pass now.
func (d *Deployer) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// list returns this installation's containers.
func (d *Deployer) list(ctx context.Context) ([]Instance, error) {
	all, err := d.cfg.Runtime.List(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, i := range all {
		if i.Labels[LabelInstallation] == d.cfg.Installation {
			out = append(out, i)
		}
	}
	return out, nil
}
