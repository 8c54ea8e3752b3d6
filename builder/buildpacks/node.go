package buildpacks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
)

// nodeLang runs a Node.js app with the run image's node. Dependencies come
// from a committed node_modules, or, when the build may reach a registry,
// from npm ci into a layer cached by the lockfile's hash.
type nodeLang struct {
	pkg     packageJSON
	version string
}

// lockfiles are npm's lockfiles, either of which npm ci installs from.
var lockfiles = []string{"package-lock.json", "npm-shrinkwrap.json"}

func (n *nodeLang) prepare(ctx context.Context, b *build) error {
	pkg, _, err := readPackageJSON(b.app)
	if err != nil {
		return err
	}
	n.pkg = pkg
	b.toolEnv["npm_config_update_notifier"] = "false"
	b.toolEnv["npm_config_fund"] = "false"
	b.toolEnv["npm_config_audit"] = "false"
	if !b.network {
		// npm then fails at once, naming the package it lacks, instead of
		// retrying a registry it cannot reach.
		b.toolEnv["npm_config_offline"] = "true"
	}
	if n.version, err = b.output(ctx, "node", "--version"); err != nil {
		return fmt.Errorf("finding node: %w", err)
	}
	b.logf("       Using node %s", n.version)
	cache, _, err := b.contribute("npm-cache", layerTypes{Cache: true}, map[string]string{"node": n.version}, func(string) error { return nil })
	if err != nil {
		return err
	}
	b.toolEnv["npm_config_cache"] = cache
	b.launchEnv["NODE_ENV"] = "production"
	// What npm start would put on PATH, for start scripts that name a
	// package's binary.
	b.launchPrepend["PATH"] = append(b.launchPrepend["PATH"], filepath.Join(b.env.AppDir, "node_modules", ".bin"))
	return nil
}

func (n *nodeLang) build(ctx context.Context, b *build) error {
	lock := ""
	for _, l := range lockfiles {
		if isFile(b.app, l) {
			lock = l
			break
		}
	}
	_, hasBuild := n.pkg.Scripts["build"]
	declared := len(n.pkg.Dependencies) > 0 || (hasBuild && len(n.pkg.DevDependencies) > 0)
	switch {
	case exists(b.app, "node_modules"):
		b.logf("       Using the committed node_modules")
	case b.network && (lock != "" || declared):
		if err := n.install(ctx, b, lock, hasBuild); err != nil {
			return err
		}
	case declared:
		online := fmt.Sprintf("ask the operator to allow builds a network (%s=1)", NetworkEnv)
		if lock == "" {
			online += " and commit a package-lock.json"
		}
		return fmt.Errorf("package.json declares dependencies and the build has no network: commit node_modules, or %s", online)
	}
	if hasBuild {
		b.logf("-----> npm run build")
		if err := b.exec(ctx, b.env.AppDir, "npm", "run", "build"); err != nil {
			return fmt.Errorf("npm run build: %w", err)
		}
	}
	return nil
}

// install installs the dependencies into the node-modules layer (npm ci
// from the lockfile, or npm install without one) and links the app's
// node_modules to it. The layer is reused while the lockfile and the
// declared dependencies stay the same.
func (n *nodeLang) install(ctx context.Context, b *build, lock string, dev bool) error {
	lockHash := ""
	if lock != "" {
		var err error
		if lockHash, err = hashFile(filepath.Join(b.env.AppDir, lock)); err != nil {
			return err
		}
	}
	deps := depsKey(n.pkg.Dependencies) + "|" + depsKey(n.pkg.DevDependencies)
	meta := map[string]string{"node": n.version, "lock": lockHash, "deps": hashStrings(deps), "dev": fmt.Sprint(dev)}
	dir, _, err := b.contribute("node-modules", layerTypes{Launch: true, Cache: true}, meta, func(dir string) error {
		// npm works on a project directory: give it one holding only what
		// the install reads, so the layer holds only node_modules.
		for _, f := range []string{"package.json", lock, ".npmrc"} {
			if f == "" || !isFile(b.app, f) {
				continue
			}
			if err := copyFile(filepath.Join(b.env.AppDir, f), filepath.Join(dir, f), 0o644); err != nil {
				return fmt.Errorf("preparing npm: %w", err)
			}
		}
		args := []string{"ci"}
		if lock == "" {
			args = []string{"install"}
		}
		if !dev {
			args = append(args, "--omit=dev")
		}
		b.logf("-----> npm %s", args[0])
		if err := b.exec(ctx, dir, "npm", args...); err != nil {
			return fmt.Errorf("npm %s: %w", args[0], err)
		}
		return os.MkdirAll(filepath.Join(dir, "node_modules"), 0o755)
	})
	if err != nil {
		return err
	}
	link := filepath.Join(b.env.AppDir, "node_modules")
	if err := os.Symlink(filepath.Join(dir, "node_modules"), link); err != nil {
		return fmt.Errorf("linking node_modules: %w", err)
	}
	return nil
}

func depsKey(m map[string]json.RawMessage) string {
	var s string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s += k + "=" + string(m[k]) + ";"
	}
	return s
}

func (n *nodeLang) processes(_ context.Context, b *build) ([]process, string, error) {
	if start, ok := n.pkg.Scripts["start"]; ok && start != "" {
		return []process{{Type: "web", Command: commandArgv(start)}}, "", nil
	}
	candidates := []string{"server.js", "index.js"}
	if n.pkg.Main != "" {
		candidates = append([]string{n.pkg.Main}, candidates...)
	}
	for _, c := range candidates {
		c = path.Clean(c)
		if fs.ValidPath(c) && isFile(b.app, c) {
			return []process{{Type: "web", Command: []string{"node", c}}}, "", nil
		}
	}
	return nil, "package.json has no start script, and there is no main file, server.js or index.js", nil
}

// MaxPackageJSON bounds the package.json a build reads.
const MaxPackageJSON = 4 << 20

// packageJSON is what the node buildpack reads of package.json.
type packageJSON struct {
	Main            string
	Scripts         map[string]string
	Dependencies    map[string]json.RawMessage
	DevDependencies map[string]json.RawMessage
}

// readPackageJSON reads package.json from the app, if there is one.
func readPackageJSON(app fs.FS) (packageJSON, bool, error) {
	data, err := fs.ReadFile(app, "package.json")
	if errors.Is(err, fs.ErrNotExist) {
		return packageJSON{}, false, nil
	}
	if err != nil {
		return packageJSON{}, false, fmt.Errorf("reading package.json: %w", err)
	}
	pkg, err := parsePackageJSON(data)
	if err != nil {
		return packageJSON{}, false, err
	}
	return pkg, true, nil
}

// parsePackageJSON parses package.json as npm does where it matters here,
// and leniently elsewhere: it must be a JSON object, but a field of an
// unexpected type (a numeric "main", a script that is not a string) is
// ignored rather than refused, since npm itself ignores it.
func parsePackageJSON(data []byte) (packageJSON, error) {
	if len(data) > MaxPackageJSON {
		return packageJSON{}, fmt.Errorf("package.json is %d bytes; the limit is %d", len(data), MaxPackageJSON)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return packageJSON{}, fmt.Errorf("parsing package.json: %w", err)
	}
	var pkg packageJSON
	_ = json.Unmarshal(top["main"], &pkg.Main)
	var scripts map[string]json.RawMessage
	_ = json.Unmarshal(top["scripts"], &scripts)
	for k, raw := range scripts {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if pkg.Scripts == nil {
				pkg.Scripts = map[string]string{}
			}
			pkg.Scripts[k] = s
		}
	}
	_ = json.Unmarshal(top["dependencies"], &pkg.Dependencies)
	_ = json.Unmarshal(top["devDependencies"], &pkg.DevDependencies)
	return pkg, nil
}
