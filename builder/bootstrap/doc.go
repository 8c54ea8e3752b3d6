// Package bootstrap makes everything a buildpack build needs on a Docker
// engine that has no images and cannot reach a container registry:
// `apprun builder bootstrap`.
//
// It owns six outputs, made in this order:
//
//  1. the run image (apprun/run:bookworm): a Debian bookworm rootfs made by
//     mmdebstrap from the host's own apt sources, with Debian's node and
//     python runtimes and a non-root user 1000 (cnb), imported through the
//     Engine API;
//  2. the build image (apprun/build:bookworm): the same with git, npm, pip and
//     the host's Go toolchain at /usr/local/go, and the env pack requires of a
//     build image (CNB_USER_ID, CNB_GROUP_ID);
//  3. the CNB lifecycle tarball, compiled from the Go module proxy and kept in
//     the data dir under a name that carries its input hash;
//  4. the lifecycle image (buildpacksio/lifecycle:0.21.0), which pack's
//     untrusted five-phase flow runs its daemon-facing phases in: the run
//     image plus the lifecycle binaries, built by the engine from a generated
//     Dockerfile (the legacy builder needs no registry when the base is
//     local);
//  5. apprun's buildpacks, compiled from the source the binary embeds (see
//     apprun.BuildpackSource), only when the builder must be made again;
//  6. the builder image (apprun/builder:bookworm), made by pack's Go API with
//     PullNever from the four above.
//
// # Idempotence
//
// Every output carries a sha256 of its inputs: images in the label
// io.apprun.bootstrap.hash, the lifecycle tarball in its file name. An input
// is everything that changes the bytes of the output: versions, the package
// lists, the content of the host's apt sources, the host's Go version, the
// digest of the embedded buildpack source, the engine's API version where it
// ends up in an image, and the hashes of the output's own inputs (the builder's
// hash covers the run, build, lifecycle and buildpacks hashes). An output whose
// label matches is reused; changing one input remakes only what depends on it.
// Intermediates (the lifecycle tarball, the buildpacks) are made only when an
// image that uses them must be made.
//
// The decisions are pure: recipes turns the inputs into steps with hashes,
// plan turns the steps and what exists into actions, and both are tested
// without Docker; Run and Check only gather the inputs, observe the engine and
// the data dir through a small interface, and carry the plan out.
//
// # Progress
//
// Run writes a "-----> " line per output when its step ends, with the time
// a build took, and a total line:
//
//	       building run image apprun/run:bookworm (missing)
//	-----> run image apprun/run:bookworm (built, 27.3s)
//	-----> lifecycle 0.21.0 (up to date)
//	-----> buildpacks 0.1.0 (not needed)
//	-----> bootstrap done in 3m16.9s (6 built, 0 up to date, 0 not needed)
//
// A failure names its step and, for a command, the end of its output:
// "step build image: mmdebstrap exited 1: ...". Commands and their output
// go to the logger at debug level.
//
// # The engine's API version
//
// The lifecycle's own Docker client will not negotiate below API 1.44, so when
// the engine is older (Debian's docker.io 20.10 speaks 1.41) the build and
// lifecycle images get DOCKER_API_VERSION set to the engine's version, read at
// run time. The value is part of those images' hashes, so upgrading the engine
// remakes them.
//
// # The data dir
//
//	<DataDir>/bootstrap/lifecycle-<version>-<hash>.tgz   the lifecycle tarball
//	<DataDir>/bootstrap/lock                            serialises runs
//	<DataDir>/bootstrap/tmp-*                           scratch of one run, removed after it
//	<DataDir>/pack                                      PACK_HOME: pack's volume keys and caches
//
// Rootfs tarballs are written to the scratch directory and removed when the
// run ends, whether it succeeded or not.
package bootstrap
