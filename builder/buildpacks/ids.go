package buildpacks

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// The buildpack ids, as written in each buildpack.toml and in the builder's
// order.
const (
	IDGo       = "apprun/go"
	IDNode     = "apprun/node"
	IDPython   = "apprun/python"
	IDStatic   = "apprun/static"
	IDProcfile = "apprun/procfile"
)

// APIVersion is the Buildpack API the buildpacks implement.
const APIVersion = "0.10"

// Version is the buildpacks' version, for the bootstrap to pass to
// WriteBuildpack and to name in the builder's order.
const Version = "0.1.0"

// names are the human names written into buildpack.toml.
var names = map[string]string{
	IDGo:       "apprun Go",
	IDNode:     "apprun Node.js",
	IDPython:   "apprun Python",
	IDStatic:   "apprun static site",
	IDProcfile: "apprun Procfile",
}

// IDs returns the id of every buildpack, in the order of the builder's
// groups.
func IDs() []string {
	return []string{IDGo, IDNode, IDPython, IDStatic, IDProcfile}
}

// GroupEntry is one buildpack in a group of the builder's order.
type GroupEntry struct {
	ID       string
	Optional bool
}

// Order returns the builder's order: detection tries the groups in turn and
// takes the first whose non-optional buildpacks all pass. The procfile
// buildpack runs last in every language group, so its process types (and its
// web, which overrides the language's) are added, and alone when no language
// matches.
func Order() [][]GroupEntry {
	var order [][]GroupEntry
	for _, id := range []string{IDGo, IDNode, IDPython, IDStatic} {
		order = append(order, []GroupEntry{{ID: id}, {ID: IDProcfile, Optional: true}})
	}
	return append(order, []GroupEntry{{ID: IDProcfile}})
}

// Looked names, one line per buildpack, the files its detection looks for,
// so that a "no buildpack matched" message says what to add. It is made
// from the same tables detection uses.
func Looked() []string {
	lines := make([]string, 0, len(IDs()))
	for _, id := range IDs() {
		lines = append(lines, id+": "+describeMarkers(id))
	}
	return lines
}

func describeMarkers(id string) string {
	switch id {
	case IDStatic:
		dirs := make([]string, 0, len(staticRoots)-1)
		for _, d := range staticRoots[1:] {
			dirs = append(dirs, d+"/")
		}
		return "index.html (at the root or in " + orList(dirs) + ")"
	default:
		return orList(markers[id])
	}
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// WriteBuildpack writes the buildpack id into dir: buildpack.toml and
// bin/detect and bin/build, both copies of binary (the apprun-buildpack
// program), mode 0755.
func WriteBuildpack(dir, id, version, binary string) error {
	name, ok := names[id]
	if !ok {
		return fmt.Errorf("writing buildpack: unknown id %q", id)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return fmt.Errorf("writing buildpack %s: %w", id, err)
	}
	descriptor := fmt.Sprintf("api = %s\n\n[buildpack]\n  id = %s\n  version = %s\n  name = %s\n\n[[targets]]\n  os = \"linux\"\n",
		tomlQuote(APIVersion), tomlQuote(id), tomlQuote(version), tomlQuote(name))
	if err := os.WriteFile(filepath.Join(dir, "buildpack.toml"), []byte(descriptor), 0o644); err != nil {
		return fmt.Errorf("writing buildpack %s: %w", id, err)
	}
	for _, exe := range []string{"detect", "build"} {
		if err := copyFile(binary, filepath.Join(dir, "bin", exe), 0o755); err != nil {
			return fmt.Errorf("writing buildpack %s: %w", id, err)
		}
	}
	return nil
}

// copyFile copies src to dst with the given mode, replacing dst.
func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	// The umask may have narrowed the mode; executables must stay 0755.
	if err := os.Chmod(tmp, mode); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}
