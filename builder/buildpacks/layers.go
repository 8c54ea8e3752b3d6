package buildpacks

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// layerFormat is recorded in every layer's metadata; bump it when a layer's
// layout changes, so layers made by an older buildpack are rebuilt.
const layerFormat = "1"

// contribute makes the layer name in the buildpack's layers directory, or
// reuses the one the lifecycle restored when its metadata equals metadata.
//
// Reuse follows the Buildpack API: a cache layer comes back with its
// directory, and is kept as it is; a launch-only layer comes back as its
// TOML alone, and is kept by writing the TOML again without a directory, so
// the exporter takes the previous image's layer. Anything else is rebuilt:
// the directory is emptied and fill makes its content. A nil metadata never
// matches, for layers whose content cannot be told from their inputs.
//
// It returns the layer's directory, which does not exist when a launch-only
// layer was reused, and whether it was reused.
func (b *build) contribute(name string, types layerTypes, metadata map[string]string, fill func(dir string) error) (string, bool, error) {
	dir := filepath.Join(b.env.LayersDir, name)
	tomlPath := dir + ".toml"
	if metadata != nil {
		metadata = maps.Clone(metadata)
		metadata["format"] = layerFormat
	}
	for k := range metadata {
		// A dotted or quoted key would not read back (tomlStrings).
		if !isBareKey(k) {
			return "", false, fmt.Errorf("layer %s: metadata key %q is not a bare TOML key", name, k)
		}
	}
	old, hadTOML, err := readLayerMetadata(tomlPath)
	if err != nil {
		return "", false, err
	}
	_, statErr := os.Stat(dir)
	haveDir := statErr == nil
	if metadata != nil && hadTOML && maps.Equal(old, metadata) && (haveDir || types.launchOnly()) {
		if err := os.WriteFile(tomlPath, []byte(layerTOML(types, metadata)), 0o644); err != nil {
			return "", false, fmt.Errorf("writing layer %s: %w", name, err)
		}
		b.logf("       Reusing layer %s", name)
		return dir, true, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", false, fmt.Errorf("clearing layer %s: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", false, fmt.Errorf("making layer %s: %w", name, err)
	}
	// The old TOML goes first: should fill fail, no stale metadata may
	// claim the half-made layer.
	if err := os.Remove(tomlPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("clearing layer %s: %w", name, err)
	}
	if err := fill(dir); err != nil {
		return "", false, err
	}
	if err := os.WriteFile(tomlPath, []byte(layerTOML(types, metadata)), 0o644); err != nil {
		return "", false, fmt.Errorf("writing layer %s: %w", name, err)
	}
	return dir, false, nil
}

// readLayerMetadata reads the [metadata] strings of a layer's TOML, as
// written by this package and restored by the lifecycle.
func readLayerMetadata(path string) (map[string]string, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading layer metadata: %w", err)
	}
	return tomlStrings(string(data), "metadata"), true, nil
}

// envAction is how a layer's env file changes a variable (the file-name
// suffix of the Buildpack API).
type envAction string

const (
	envDefault envAction = "default"
	envPrepend envAction = "prepend"
)

// envVar is one variable a layer sets.
type envVar struct {
	Name   string
	Value  string
	Action envAction
}

// writeEnvDir writes vars into a layer's env directory (env, env.launch or
// env.build). A prepended variable gets a ".delim" of ":" so the lifecycle
// joins it as a path list.
func writeEnvDir(dir string, vars []envVar) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing env: %w", err)
	}
	for _, v := range vars {
		if err := os.WriteFile(filepath.Join(dir, v.Name+"."+string(v.Action)), []byte(v.Value), 0o644); err != nil {
			return fmt.Errorf("writing env %s: %w", v.Name, err)
		}
		if v.Action == envPrepend {
			if err := os.WriteFile(filepath.Join(dir, v.Name+".delim"), []byte(":"), 0o644); err != nil {
				return fmt.Errorf("writing env %s: %w", v.Name, err)
			}
		}
	}
	return nil
}

// envMetadata summarizes env vars as layer metadata, so an env layer whose
// variables did not change is reused.
func envMetadata(vars []envVar) map[string]string {
	lines := make([]string, len(vars))
	for i, v := range vars {
		lines[i] = v.Name + "." + string(v.Action) + "=" + v.Value
	}
	slices.Sort(lines)
	return map[string]string{"env": hashStrings(lines...)}
}

// sortedEnv returns the variables of m as default env vars, by name.
func sortedEnv(m map[string]string) []envVar {
	vars := make([]envVar, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		vars = append(vars, envVar{Name: k, Value: m[k], Action: envDefault})
	}
	return vars
}

// mergeEnv returns environ (KEY=VALUE strings) with the variables of each
// overlay set, later overlays winning.
func mergeEnv(environ []string, overlays ...map[string]string) []string {
	index := map[string]int{}
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			out[i] = kv
			continue
		}
		index[k] = len(out)
		out = append(out, kv)
	}
	for _, o := range overlays {
		for _, k := range slices.Sorted(maps.Keys(o)) {
			kv := k + "=" + o[k]
			if i, ok := index[k]; ok {
				out[i] = kv
				continue
			}
			index[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

// lookupEnv returns the value of name in environ (the last one wins, as
// for exec).
func lookupEnv(environ []string, name string) (string, bool) {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}
