// Package docker implements deployer.Runtime on the Docker Engine API. It
// is the only package of the deployer that imports the Docker SDK
// (github.com/moby/moby/client); the deployer sees containers, networks,
// logs and events only through deployer.Runtime.
//
// What it owns:
//
//   - Hardening by default. Start gives every container the same
//     restrictions whatever the InstanceSpec says: all capabilities
//     dropped, no-new-privileges, memory (without swap), CPU and pids
//     limits, never privileged, no host namespace, nothing of the host
//     mounted (so never the Docker socket), no published ports, the
//     json-file log driver with rotation, and no engine restart policy
//     (the deployer's reconciler restarts with back-off).
//     CheckHardenedInspect states those rules as a test; the deployer's
//     tests run it on every container they start.
//   - Leaving nothing behind: a Start that fails after the create removes
//     the container, even when the caller's context ended.
//   - Labels: every container carries io.apprun.managed=true and the
//     primary network's name, and List and Events see only labelled
//     containers, so containers of other users of the engine are never
//     touched.
//   - Networks: bridge networks, Isolated ones without container-to-
//     container traffic (the host still reaches each container).
//     EnsureNetwork settles concurrent creations of one name, which old
//     engines allow, on a single network.
//
// The engine may be older than the SDK (Debian's Docker 20.10 speaks API
// 1.41): the client negotiates the version on its first call, and the
// code sticks to what 1.41 accepts (one network per create request, so
// further networks are connected before the start).
package docker
