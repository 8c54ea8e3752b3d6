package buildpacks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/apprun/apprun/spec"
)

// markers are the files whose presence at the source root makes a
// buildpack pass detection. The static buildpack looks for index.html in
// staticRoots instead. Looked describes both to users.
var markers = map[string][]string{
	IDGo:       {"go.mod"},
	IDNode:     {"package.json"},
	IDPython:   {"requirements.txt", "pyproject.toml", "app.py", "main.py", "wsgi.py", "asgi.py"},
	IDProcfile: {"Procfile"},
}

// staticRoots are where a static site's index.html may be, in the order
// the static buildpack prefers them.
var staticRoots = []string{".", "public", "dist", "build", "site"}

// languageIDs are the buildpacks that own a build (and apprun.yaml).
var languageIDs = []string{IDGo, IDNode, IDPython, IDStatic}

// Detect runs the detection of buildpack id over the app in env.AppDir,
// writing why it passed or failed to env.Stdout (if set). It returns an error only
// when detection cannot decide, such as an apprun.yaml or Procfile that
// does not parse.
func Detect(id string, env Env) (bool, error) {
	d, err := detect(id, os.DirFS(env.AppDir))
	if err != nil {
		return false, err
	}
	if env.Stdout != nil {
		fmt.Fprintf(env.Stdout, "%s: %s\n", id, d.reason)
	}
	return d.pass, nil
}

// detection is the outcome of one buildpack's detection.
type detection struct {
	pass   bool
	reason string
}

// detect decides whether buildpack id applies to the app in app. It is a
// pure function of the files, so the procfile buildpack can ask at build
// time which language buildpack ran before it.
func detect(id string, app fs.FS) (detection, error) {
	cfg, cfgName, err := loadConfig(app)
	if err != nil {
		return detection{}, err
	}
	if cfg.Build.Dockerfile != "" {
		return detection{reason: fmt.Sprintf("%s builds with the Dockerfile %s, not with buildpacks", cfgName, cfg.Build.Dockerfile)}, nil
	}
	if id == IDProcfile {
		if !exists(app, "Procfile") {
			return detection{reason: "no Procfile"}, nil
		}
		if _, err := loadProcfile(app); err != nil {
			return detection{}, err
		}
		return detection{pass: true, reason: "found Procfile"}, nil
	}
	if cfg.Runtime != "" {
		want, ok := runtimeBuildpack(cfg.Runtime)
		switch {
		case !ok:
			return detection{reason: fmt.Sprintf("%s asks for runtime %q; apprun builds go, nodejs, python and static", cfgName, cfg.Runtime)}, nil
		case want != id:
			return detection{reason: fmt.Sprintf("%s asks for runtime %q", cfgName, cfg.Runtime)}, nil
		}
		return detection{pass: true, reason: fmt.Sprintf("%s asks for runtime %q", cfgName, cfg.Runtime)}, nil
	}
	switch id {
	case IDGo, IDNode, IDPython:
		for _, m := range markers[id] {
			if exists(app, m) {
				return detection{pass: true, reason: "found " + m}, nil
			}
		}
		return detection{reason: "no " + orList(markers[id])}, nil
	case IDStatic:
		root, ok := staticRoot(app)
		if !ok {
			return detection{reason: "no " + describeMarkers(IDStatic)}, nil
		}
		for _, other := range []string{IDGo, IDNode, IDPython} {
			for _, m := range markers[other] {
				if exists(app, m) {
					return detection{reason: fmt.Sprintf("found %s, but also %s: the %s buildpack builds it (set runtime: static in apprun.yaml to serve it as a static site)", path.Join(root, "index.html"), m, other)}, nil
				}
			}
		}
		return detection{pass: true, reason: "found " + path.Join(root, "index.html")}, nil
	}
	return detection{}, fmt.Errorf("unknown buildpack %q", id)
}

// staticRoot returns the first of staticRoots that holds an index.html.
func staticRoot(app fs.FS) (string, bool) {
	for _, r := range staticRoots {
		if isFile(app, path.Join(r, "index.html")) {
			return r, true
		}
	}
	return "", false
}

// languageDetected reports whether one of the language buildpacks passes
// detection. The builder's order puts the procfile buildpack after the
// language in every group, so this tells the procfile buildpack whether a
// language buildpack has already applied apprun.yaml.
func languageDetected(app fs.FS) (bool, error) {
	for _, id := range languageIDs {
		d, err := detect(id, app)
		if err != nil {
			return false, err
		}
		if d.pass {
			return true, nil
		}
	}
	return false, nil
}

// runtimeBuildpack maps apprun.yaml's runtime (App Runner's names, such as
// python3, python311, nodejs18, go1, plus apprun's static) to a buildpack.
func runtimeBuildpack(runtime string) (string, bool) {
	r := strings.ToLower(strings.TrimSpace(runtime))
	switch {
	case strings.HasPrefix(r, "go"):
		return IDGo, true
	case strings.HasPrefix(r, "node"):
		return IDNode, true
	case strings.HasPrefix(r, "python"):
		return IDPython, true
	case r == "static":
		return IDStatic, true
	}
	return "", false
}

// configNames are the names apprun.yaml is read under, in order of
// preference.
var configNames = []string{"apprun.yaml", "apprunner.yaml"}

// loadConfig reads and parses apprun.yaml (or apprunner.yaml). An app with
// neither has the zero config and name "".
func loadConfig(app fs.FS) (spec.AppConfig, string, error) {
	for _, name := range configNames {
		data, err := fs.ReadFile(app, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return spec.AppConfig{}, "", fmt.Errorf("reading %s: %w", name, err)
		}
		cfg, err := spec.ParseAppConfig(data)
		if err != nil {
			return spec.AppConfig{}, "", fmt.Errorf("%s: %w", name, err)
		}
		return cfg, name, nil
	}
	return spec.AppConfig{}, "", nil
}

// loadProcfile reads and parses the Procfile; an app without one has no
// processes.
func loadProcfile(app fs.FS) ([]spec.Process, error) {
	data, err := fs.ReadFile(app, "Procfile")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Procfile: %w", err)
	}
	procs, err := spec.ParseProcfile(data)
	if err != nil {
		return nil, fmt.Errorf("parsing Procfile: %w", err)
	}
	return procs, nil
}

func exists(app fs.FS, name string) bool {
	_, err := fs.Stat(app, name)
	return err == nil
}

func isFile(app fs.FS, name string) bool {
	fi, err := fs.Stat(app, name)
	return err == nil && fi.Mode().IsRegular()
}
