package buildpacks

import (
	"context"
	_ "embed"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// pythonLang runs a Python app with the run image's python3. Packages are
// pip-installed (--target) into a layer on PYTHONPATH: from the index when
// the build may reach it, else from a committed wheelhouse/.
type pythonLang struct {
	version  string
	packages string // the packages layer
	reqs     []string
}

//go:embed wsgi_serve.py
var wsgiServe []byte

// pythonVendor is the directory of packages committed with the app; with
// it, requirements.txt is not installed.
const pythonVendor = "vendor"

// wheelhouse is the directory of wheels an offline build installs from
// (made with pip download -d wheelhouse -r requirements.txt).
const wheelhouse = "wheelhouse"

func (p *pythonLang) prepare(ctx context.Context, b *build) error {
	b.toolEnv["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
	// Debian's python3 is "externally managed" (PEP 668); installs go to
	// the layer with --target, which this only allows.
	b.toolEnv["PIP_BREAK_SYSTEM_PACKAGES"] = "1"
	if !b.network {
		b.toolEnv["PIP_NO_INDEX"] = "1"
	}
	if isDir(b.app, wheelhouse) {
		b.toolEnv["PIP_FIND_LINKS"] = filepath.Join(b.env.AppDir, wheelhouse)
	}
	version, err := b.output(ctx, "python3", "-c", "import platform; print(platform.python_version())")
	if err != nil {
		return fmt.Errorf("finding python3: %w", err)
	}
	p.version = version
	b.logf("       Using Python %s", version)
	cache, _, err := b.contribute("pip-cache", layerTypes{Cache: true}, map[string]string{"python": version}, func(string) error { return nil })
	if err != nil {
		return err
	}
	b.toolEnv["PIP_CACHE_DIR"] = cache
	p.packages = filepath.Join(b.env.LayersDir, "python-packages")
	site := filepath.Join(p.packages, "site-packages")
	vendor := ""
	if isDir(b.app, pythonVendor) {
		// Packages committed in vendor/ are importable, at build and at
		// launch, without any install.
		vendor = filepath.Join(b.env.AppDir, pythonVendor)
		b.launchPrepend["PYTHONPATH"] = append(b.launchPrepend["PYTHONPATH"], vendor)
	}
	b.toolEnv["PYTHONPATH"] = joinPathList(site, vendor, envValue(b, "PYTHONPATH"))
	b.launchEnv["PYTHONUNBUFFERED"] = "1"
	if p.reqs, err = pythonRequirements(b.app); err != nil {
		return err
	}
	if b.owner && len(b.cfg.Build.Commands.Build) > 0 {
		// The user's build commands replace pip install; App Runner's
		// "pip install -r requirements.txt" lands in the layer through
		// PIP_TARGET. What they install cannot be known in advance, so
		// the layer is never reused.
		b.toolEnv["PIP_TARGET"] = site
		_, _, err := b.contribute("python-packages", layerTypes{Launch: true, Build: true, Cache: true}, nil, p.fillEnv)
		return err
	}
	return nil
}

// fillEnv writes the packages layer's env: its site-packages on PYTHONPATH,
// for later buildpacks and at launch.
func (p *pythonLang) fillEnv(dir string) error {
	return writeEnvDir(filepath.Join(dir, "env"), []envVar{{Name: "PYTHONPATH", Value: filepath.Join(dir, "site-packages"), Action: envPrepend}})
}

func (p *pythonLang) build(ctx context.Context, b *build) error {
	if len(p.reqs) == 0 {
		b.logf("       No Python packages to install")
		return nil
	}
	if isDir(b.app, pythonVendor) {
		b.logf("       Using the packages committed in %s/", pythonVendor)
		return nil
	}
	offlineWheels := !b.network && isDir(b.app, wheelhouse)
	if !b.network && !offlineWheels {
		return fmt.Errorf("the app requires %d Python packages and the build has no network: commit them in %s/ (pip install --target %s -r requirements.txt) or as wheels in %s/ (pip download -d %s -r requirements.txt), or ask the operator to allow builds a network (%s=1)",
			len(p.reqs), pythonVendor, pythonVendor, wheelhouse, wheelhouse, NetworkEnv)
	}
	if _, err := b.output(ctx, "python3", "-m", "pip", "--version"); err != nil {
		return fmt.Errorf("installing Python packages needs pip, which the build image lacks: %w", err)
	}
	meta := map[string]string{"python": p.version}
	for key, f := range map[string]string{"requirements": "requirements.txt", "pyproject": "pyproject.toml"} {
		h, err := hashFile(filepath.Join(b.env.AppDir, f))
		if err != nil {
			return err
		}
		meta[key] = h
	}
	if isDir(b.app, wheelhouse) {
		h, err := hashTree(filepath.Join(b.env.AppDir, wheelhouse))
		if err != nil {
			return err
		}
		meta["wheelhouse"] = h
	}
	_, _, err := b.contribute("python-packages", layerTypes{Launch: true, Build: true, Cache: true}, meta, func(dir string) error {
		args := []string{"-m", "pip", "install", "--target", filepath.Join(dir, "site-packages")}
		if isFile(b.app, "requirements.txt") {
			args = append(args, "-r", "requirements.txt")
		} else {
			args = append(args, ".")
		}
		b.logf("-----> pip install (%d requirements)", len(p.reqs))
		if err := b.exec(ctx, b.env.AppDir, "python3", args...); err != nil {
			return fmt.Errorf("pip install: %w", err)
		}
		return p.fillEnv(dir)
	})
	return err
}

// pythonServers are the app servers the python buildpack knows how to
// start, by requirement name, with the command line for MODULE:ATTR.
var pythonServers = []struct {
	name, kind, line string
}{
	{"gunicorn", "wsgi", `exec python3 -m gunicorn --bind "0.0.0.0:${PORT:-8080}" %s`},
	{"uvicorn", "asgi", `exec python3 -m uvicorn %s --host 0.0.0.0 --port "${PORT:-8080}"`},
	{"hypercorn", "asgi", `exec python3 -m hypercorn %s --bind "0.0.0.0:${PORT:-8080}"`},
}

func (p *pythonLang) processes(_ context.Context, b *build) ([]process, string, error) {
	names := requirementNames(p.reqs)
	for _, file := range []string{"wsgi.py", "asgi.py", "app.py", "main.py"} {
		src, err := fs.ReadFile(b.app, file)
		if err != nil {
			continue
		}
		attr, kind := pythonApp(file, string(src))
		if attr == "" {
			continue
		}
		target := strings.TrimSuffix(file, ".py") + ":" + attr
		for _, s := range pythonServers {
			if s.kind == kind && slices.Contains(names, s.name) {
				return []process{{Type: "web", Command: []string{"sh", "-c", fmt.Sprintf(s.line, target)}}}, "", nil
			}
		}
		if kind == "asgi" {
			return nil, fmt.Sprintf("%s is an ASGI app, and requirements.txt has no uvicorn or hypercorn to serve it", target), nil
		}
		dir, _, err := b.contribute("wsgi-server", layerTypes{Launch: true}, map[string]string{"script": hashStrings(string(wsgiServe))}, func(dir string) error {
			return writeFile(filepath.Join(dir, "wsgi_serve.py"), wsgiServe, 0o644)
		})
		if err != nil {
			return nil, "", err
		}
		return []process{{Type: "web", Command: []string{"python3", filepath.Join(dir, "wsgi_serve.py"), target}}}, "", nil
	}
	for _, file := range []string{"app.py", "main.py"} {
		if isFile(b.app, file) {
			return []process{{Type: "web", Command: []string{"python3", file}}}, "", nil
		}
	}
	return nil, "no WSGI or ASGI app (application or app in wsgi.py, asgi.py, app.py or main.py) and no app.py or main.py", nil
}

var (
	// pythonCallableRE finds a module-level WSGI/ASGI callable: a def,
	// or an assignment such as app = Flask(__name__).
	pythonCallableRE = regexp.MustCompile(`(?m)^(?:async\s+)?def\s+(application|app)\s*\(|^(application|app)\s*(?::[^=\n]*)?=(?:[^=]|$)`)
	// asgiRE marks a module as ASGI: an ASGI framework, or a callable
	// taking scope.
	asgiRE = regexp.MustCompile(`\b(FastAPI|Starlette|Quart|Litestar)\s*\(|async\s+def\s+(application|app)\s*\(\s*scope\b`)
)

// pythonApp finds the WSGI or ASGI callable a module defines, preferring
// "application", and says which kind it is.
func pythonApp(file, src string) (attr, kind string) {
	for _, m := range pythonCallableRE.FindAllStringSubmatch(src, -1) {
		name := m[1] + m[2]
		if attr == "" || name == "application" {
			attr = name
		}
	}
	if attr == "" {
		return "", ""
	}
	if file == "asgi.py" || asgiRE.MatchString(src) {
		return attr, "asgi"
	}
	return attr, "wsgi"
}

func isDir(app fs.FS, name string) bool {
	fi, err := fs.Stat(app, name)
	return err == nil && fi.IsDir()
}

// envValue is a variable's value in the build's environment before the
// language's settings: the platform env, then the process's.
func envValue(b *build, name string) string {
	if v, ok := b.platformEnv[name]; ok {
		return v
	}
	v, _ := lookupEnv(b.env.Environ, name)
	return v
}

// joinPathList joins the non-empty parts with ':'.
func joinPathList(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ":")
}
