// Package buildpacks is apprun's own Cloud Native Buildpacks, written in Go
// against Buildpack API 0.10: go, node, python, static and procfile.
//
// The five buildpacks are one multi-call program (cmd/apprun-buildpack),
// copied as bin/detect and bin/build into each buildpack directory by
// WriteBuildpack. The program decides what to do from the name it was
// started under (detect, build or static-server) and, for detect and build,
// from the id in $CNB_BUILDPACK_DIR/buildpack.toml (see Dispatch). This
// package holds all the logic, so it is tested without Docker: the tests
// give it a fake lifecycle (layers, platform and app directories) and start
// the processes it writes into launch.toml.
//
// Builds are offline unless the operator allowed a network for builds, which
// the platform says with APPRUN_BUILD_NETWORK=1 in the platform env. Caches
// (GOCACHE, installed packages) live in cache layers, and every layer records
// in its metadata what it was made from, so a rebuild with no change reuses
// every layer and compiles nothing.
//
// # The buildpacks
//
// Detection (Looked lists the files) takes the first group of Order that
// passes: go (go.mod), node (package.json), python (requirements.txt,
// pyproject.toml, app.py, main.py, wsgi.py or asgi.py), static (index.html
// at the root or in public/, dist/, build/ or site/, and none of the other
// languages' files), each followed by procfile when there is a Procfile,
// and procfile alone. apprun.yaml's runtime picks the language instead
// (runtime: static serves a site that also has a package.json), and its
// build.dockerfile makes every buildpack fail, since the builder then
// builds with the Dockerfile.
//
//   - go builds the root main package and each cmd/<name> main package with
//     CGO_ENABLED=0 and -trimpath into the launch layer go-bin (bin/ is on
//     PATH, so a Procfile runs them by name); vendor/modules.txt means
//     -mod=vendor; offline, GOPROXY=off and GOTOOLCHAIN=local. The web
//     process is the root binary, the only binary, or cmd/web or cmd/server.
//     The layer records a hash of the source, the Go version and the GO*
//     settings, and is not rebuilt while they stay the same.
//   - node uses a committed node_modules, or (with a network) runs npm ci
//     into the cached layer node-modules keyed by the lockfile; offline,
//     declared dependencies without node_modules fail the build with what
//     to do. It runs npm run build when there is a build script. The web
//     process is the start script (exec'd directly when it is plain words,
//     as "node server.js" is: the run image has node but not npm), else node
//     with package.json's main, server.js or index.js.
//   - python installs the requirements with pip --target into the cached
//     layer python-packages (on PYTHONPATH): from the index with a network,
//     from a committed wheelhouse/ without; packages committed in vendor/
//     are used as they are. The web process serves a WSGI or ASGI callable
//     (application or app in wsgi.py, asgi.py, app.py or main.py) with
//     gunicorn, uvicorn or hypercorn when the requirements name one, a WSGI
//     app without one with a standard-library server this package ships,
//     or else runs app.py or main.py.
//   - static serves the site with this program's static server.
//   - procfile adds the Procfile's process types.
//
// Every command line (Procfile, run.command, the start script) runs
// without a shell when it is plain words, as sh -c "exec LINE" when it is
// one command that needs the shell, and as sh -c "LINE" otherwise; "npm
// start" and "npm run NAME" run the script itself.
//
// # apprun.yaml and the Procfile
//
// apprun.yaml (or App Runner's apprunner.yaml) at the source root applies in
// whichever language buildpack runs, with App Runner's meaning:
// build.env is in the environment of the build commands; the
// build.commands pre-build, build and post-build steps run in that order with
// sh -c in the app directory, and build replaces the buildpack's own build
// step (go build, npm ci, pip install) when given; run.pre-run runs after
// post-build (in the build container: a CNB build cannot run commands in the
// run image); run.network.port (default 8080) becomes the launch default of
// PORT, and of the variable run.network.env names; run.env become launch
// defaults. run.secrets are resolved by the platform at deploy time.
// When only the procfile buildpack runs (no language matched), it applies
// apprun.yaml itself.
//
// The web process is chosen in this order, first match wins:
//
//  1. run.command in apprun.yaml;
//  2. the web line of the Procfile;
//  3. the language's default (the Go root binary, package.json's start
//     script, the Python WSGI/ASGI app or main module, the static server).
//
// The Procfile's other process types are always added. Environment for the
// build commands, from weakest to strongest: the lifecycle's environment, the
// buildpack's tool settings (GOCACHE, GOPROXY=off offline, PIP_TARGET, ...),
// the platform env (the service's build env), then apprun.yaml's build.env.
// At launch every value this package writes is a default, so the service's
// env set through the API always wins. The image's label io.apprun.port
// (PortLabel) records the port.
package buildpacks
