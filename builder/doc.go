// Package builder turns source into an image on the local Docker engine,
// with no container registry: Cloud Native Buildpacks through pack's Go
// API and apprun's own offline builder (made by builder/bootstrap, with
// the buildpacks of builder/buildpacks), or a Dockerfile through the
// Engine API.
//
// Builder.Build takes a source directory and Options and returns the
// image's tag and ID. Along the way:
//
//   - The source is checked first (CheckTree): a symlink that leads out of
//     the tree, or a device file or FIFO, is refused, since pack and the
//     Dockerfile context read the tree on the host. Uploaded archives are
//     unpacked by ExtractArchive, which refuses traversal, links out and
//     special files, and leaves nothing behind when it refuses.
//   - The flow: the Dockerfile apprun.yaml names (build.dockerfile);
//     otherwise buildpacks, whose detection runs in process for apprun's
//     builder; when no buildpack detects, a Dockerfile at the root;
//     otherwise ErrNothingDetected, listing what each buildpack looked for.
//     Another CNB builder (Paketo, Heroku) can be configured; its own
//     lifecycle then detects, and the fallback follows what it printed.
//   - Untrusted source runs in pack's five-phase flow (Config.TrustBuilder
//     false, the default): the phases that run the app's build commands
//     have no Docker socket. Every container pack starts gets the build's
//     CPU, memory and pids limits and no-new-privileges (limitedDocker),
//     and the build network is "none" unless configured.
//   - The log goes to Options.Log one line per write, with every secret
//     masked (MaskWriter), and ends with a "-----> Built" or
//     "-----> Build failed" line. A failed build's error is a *BuildError
//     holding the log's last lines.
//   - Config.TimeLimit and the caller's context stop a build; its
//     containers are removed and no tag is left (a tag the build moved is
//     put back).
//   - Scheduling: builds of one service run one at a time, and a newer
//     source supersedes one still queued (ErrSuperseded); at most
//     Config.MaxConcurrent run at once; identical requests (same service,
//     options and source content) share one build and its log.
//
// Cache volumes are named per image repository, not per tag, so the
// revisions of a service (apprun/app-<id>:1, :2, ...) share a warm cache;
// RemoveCache drops them when a service goes.
//
// The Docker SDK is used here only as pack's client (moby/moby/client);
// the deployer owns all other Docker use.
package builder
