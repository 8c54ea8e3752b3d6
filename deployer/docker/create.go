package docker

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/apprun/apprun/deployer"
)

// Defaults for an InstanceSpec's zero fields. A container never runs
// without limits: a zero size gets App Runner's default instance
// (1 vCPU, 2 GB).
const (
	DefaultCPUs        = 1.0
	DefaultMemoryMB    = 2048
	DefaultPidsLimit   = 512
	DefaultLogMaxBytes = 10 << 20
	DefaultLogFiles    = 3
)

// labelPrimary records the primary network on the container, so List and
// Inspect report the address on it even when a container is on several.
const labelPrimary = "io.apprun.network"

// createOptions turns an InstanceSpec into the engine's create request,
// hardened: every container gets it whatever the spec says, and
// CheckHardened asserts the result. ncpu, when > 0, caps the CPU limit
// (the engine refuses more CPUs than it has). It is pure, so the
// hardening is tested without an engine.
func createOptions(s deployer.InstanceSpec, ncpu int) (client.ContainerCreateOptions, error) {
	if err := checkSpec(s); err != nil {
		return client.ContainerCreateOptions{}, err
	}
	labels := maps.Clone(s.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[deployer.LabelManaged] = "true"
	labels[labelPrimary] = s.Network

	cfg := &container.Config{
		Image:      s.Image,
		Entrypoint: s.Entrypoint,
		Cmd:        s.Cmd,
		Env:        s.Env,
		Labels:     labels,
		// "" keeps the image's user; the deployer refuses root images
		// before it gets here (ImageUser).
		User: s.User,
	}
	if s.StopGrace > 0 {
		secs := int(math.Ceil(s.StopGrace.Seconds()))
		cfg.StopTimeout = &secs
	}

	memory := int64(orDefault(s.MemoryMB, DefaultMemoryMB)) << 20
	pids := s.PidsLimit
	if pids <= 0 {
		pids = DefaultPidsLimit
	}
	logBytes, logFiles := s.LogMaxBytes, s.LogFiles
	if logBytes <= 0 {
		logBytes = DefaultLogMaxBytes
	}
	if logFiles <= 0 {
		logFiles = DefaultLogFiles
	}
	host := &container.HostConfig{
		NetworkMode: container.NetworkMode(s.Network),
		// The reconciler restarts crashed instances with back-off; an
		// engine restart policy would fight it.
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyDisabled},
		LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{
			"max-size": strconv.FormatInt(logBytes, 10),
			"max-file": strconv.Itoa(logFiles),
		}},
		CapDrop:     []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges:true"},
		// A private IPC namespace nobody else may join, and a private
		// cgroup namespace (on cgroup v1 engines the default is the
		// host's); PID and UTS namespaces are private by default.
		IpcMode:      container.IPCModePrivate,
		CgroupnsMode: container.CgroupnsModePrivate,
		Resources: container.Resources{
			Memory:     memory,
			MemorySwap: memory, // equal to Memory: no swap
			NanoCPUs:   nanoCPUs(s.CPUs, ncpu),
			PidsLimit:  &pids,
		},
		// Privileged, ReadonlyRootfs (apps write /tmp), Binds, Mounts,
		// PortBindings and PublishAllPorts stay at their zero values: the
		// router reaches the container on its network address, and nothing
		// of the host (least of all the Docker socket) is mounted.
	}
	// The 1.41 API takes one network at create; Start connects the others
	// before it starts the container. Aliases go on those others only: on
	// the primary (the shared network, isolated) an alias would make the
	// service's name resolve, for a container on both, to an address it
	// cannot reach.
	netCfg := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		s.Network: {},
	}}
	return client.ContainerCreateOptions{
		Name:             s.Name,
		Config:           cfg,
		HostConfig:       host,
		NetworkingConfig: netCfg,
	}, nil
}

// nanoCPUs converts a CPU count, defaulted and capped at the engine's.
func nanoCPUs(cpus float64, ncpu int) int64 {
	if cpus <= 0 {
		cpus = DefaultCPUs
	}
	if ncpu > 0 && cpus > float64(ncpu) {
		cpus = float64(ncpu)
	}
	return int64(cpus * 1e9)
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// checkSpec refuses what would weaken the isolation or make an ambiguous
// container: network modes that share the host's or another container's
// stack, and missing names.
func checkSpec(s deployer.InstanceSpec) error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if s.Image == "" {
		errs = append(errs, errors.New("image is required"))
	}
	if s.Network == "" {
		errs = append(errs, errors.New("a primary network is required"))
	}
	seen := map[string]bool{}
	for _, n := range append([]string{s.Network}, s.Networks...) {
		if n == "host" || n == "none" || strings.HasPrefix(n, "container:") {
			errs = append(errs, fmt.Errorf("network %q is not allowed", n))
		}
		if seen[n] && n != "" {
			errs = append(errs, fmt.Errorf("network %q is given twice", n))
		}
		seen[n] = true
	}
	if s.StopGrace < 0 || s.StopGrace > 24*time.Hour {
		errs = append(errs, fmt.Errorf("stop grace %s is out of range", s.StopGrace))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("instance spec %s: %w", s.Name, err)
	}
	return nil
}
