package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
)

// CheckHardened inspects the container and returns what, if anything,
// breaks apprun's hardening (see CheckHardenedInspect). Tests of the
// deployer call it on every container they start.
func (e *Engine) CheckHardened(ctx context.Context, id string) error {
	res, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspecting container %s: %w", id, err)
	}
	return CheckHardenedInspect(res.Container)
}

// CheckHardenedInspect returns every way the inspected container falls
// short of what Start promises, joined in one error, or nil:
//
//   - all capabilities dropped, none added, not privileged,
//     no-new-privileges;
//   - memory, swap (equal to memory), CPU and pids limits;
//   - a user other than root;
//   - nothing of the host: no binds, no bind or named-volume mounts (so
//     never the Docker socket), no devices, no published ports, no host
//     network, PID, IPC, UTS or user namespace, nor another container's;
//   - the json-file log driver with rotation, and no restart policy.
func CheckHardenedInspect(c container.InspectResponse) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	h, cfg := c.HostConfig, c.Config
	if h == nil || cfg == nil {
		return errors.New("inspect result has no host config or config")
	}

	if h.Privileged {
		bad("privileged")
	}
	if !slices.Contains(h.CapDrop, "ALL") {
		bad("capabilities not all dropped (CapDrop %v)", h.CapDrop)
	}
	if len(h.CapAdd) > 0 {
		bad("capabilities added: %v", h.CapAdd)
	}
	if !slices.ContainsFunc(h.SecurityOpt, func(o string) bool {
		return o == "no-new-privileges" || o == "no-new-privileges:true" || o == "no-new-privileges=true"
	}) {
		bad("no-new-privileges not set (SecurityOpt %v)", h.SecurityOpt)
	}
	for _, o := range h.SecurityOpt {
		if strings.HasSuffix(o, "=unconfined") || strings.HasSuffix(o, ":unconfined") {
			bad("security option %q", o)
		}
	}

	if h.Memory <= 0 {
		bad("no memory limit")
	} else if h.MemorySwap != h.Memory {
		bad("swap allowed (MemorySwap %d, Memory %d)", h.MemorySwap, h.Memory)
	}
	if h.NanoCPUs <= 0 && h.CPUQuota <= 0 {
		bad("no CPU limit")
	}
	if h.PidsLimit == nil || *h.PidsLimit <= 0 {
		bad("no pids limit")
	}

	if isRoot(cfg.User) {
		bad("runs as root (user %q)", cfg.User)
	}

	if len(h.Binds) > 0 {
		bad("binds: %v", h.Binds)
	}
	if len(h.Mounts) > 0 {
		bad("mounts requested: %d", len(h.Mounts))
	}
	if len(h.VolumesFrom) > 0 {
		bad("volumes from: %v", h.VolumesFrom)
	}
	// An image's VOLUME lines give the container anonymous volumes; those
	// hold nothing of the host. Anything else mounted does.
	for _, m := range c.Mounts {
		if m.Type != mount.TypeVolume || len(m.Name) != 64 {
			bad("mount %s at %s (%s)", m.Type, m.Destination, m.Source)
		}
	}
	if len(h.Devices) > 0 || len(h.DeviceRequests) > 0 {
		bad("devices")
	}
	if len(h.PortBindings) > 0 || h.PublishAllPorts {
		bad("ports published on the host")
	}

	if n := h.NetworkMode; n == "host" || n.IsContainer() {
		bad("network mode %q", n)
	}
	if h.PidMode != "" {
		bad("PID mode %q", h.PidMode)
	}
	if m := h.IpcMode; m.IsHost() || m.IsContainer() || m.IsShareable() {
		bad("IPC mode %q", m)
	}
	if h.UTSMode != "" {
		bad("UTS mode %q", h.UTSMode)
	}
	if h.UsernsMode.IsHost() {
		bad("user namespace mode %q", h.UsernsMode)
	}
	if h.CgroupnsMode.IsHost() {
		bad("cgroup namespace mode %q", h.CgroupnsMode)
	}

	if h.LogConfig.Type != "json-file" || h.LogConfig.Config["max-size"] == "" || h.LogConfig.Config["max-file"] == "" {
		bad("log without rotation (%s %v)", h.LogConfig.Type, h.LogConfig.Config)
	}
	if !h.RestartPolicy.IsNone() {
		bad("restart policy %q", h.RestartPolicy.Name)
	}

	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("container %s is not hardened: %w", strings.TrimPrefix(c.Name, "/"), err)
	}
	return nil
}

// isRoot reports whether a container user ("name", "uid", "uid:gid") is
// root; the empty user is root too.
func isRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u == "" || u == "root" || u == "0"
}
