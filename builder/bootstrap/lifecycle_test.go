package bootstrap

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// apisGo is the shape of the lifecycle's api/apis.go.
const apisGo = `package api

var (
	// Platform is a pair of lists of Platform API versions.
	Platform = newApisMustParse([]string{"0.7", "0.8", "0.9", "0.10", "0.11", "0.12", "0.13", "0.14", "0.15"}, []string{})
	// Buildpack is a pair of lists of Buildpack API versions.
	Buildpack = newApisMustParse([]string{"0.7", "0.8", "0.9", "0.10", "0.11", "0.12"}, []string{"0.7"})
)

func newApisMustParse(supported []string, deprecated []string) APIs { return APIs{} }
`

func TestParseLifecycleAPIs(t *testing.T) {
	apis, err := parseLifecycleAPIs([]byte(apisGo))
	if err != nil {
		t.Fatal(err)
	}
	if got := apis.Platform.Supported; len(got) != 9 || got[0] != "0.7" || got[8] != "0.15" {
		t.Errorf("platform supported %q", got)
	}
	if got := apis.Buildpack.Supported; len(got) != 6 || got[5] != "0.12" {
		t.Errorf("buildpack supported %q", got)
	}
	if !slices.Equal(apis.Buildpack.Deprecated, []string{"0.7"}) || apis.Platform.Deprecated == nil || len(apis.Platform.Deprecated) != 0 {
		t.Errorf("deprecated %q %q", apis.Buildpack.Deprecated, apis.Platform.Deprecated)
	}
	if _, err := parseLifecycleAPIs([]byte("package api\nvar Platform = 1\n")); err == nil {
		t.Error("accepted a file without the APIs")
	}
}

// TestLifecycleTarballLayout checks the layout pack expects, and that the
// descriptor reads back.
func TestLifecycleTarballLayout(t *testing.T) {
	dir := t.TempDir()
	lc, la := filepath.Join(dir, "lifecycle"), filepath.Join(dir, "launcher")
	os.WriteFile(lc, []byte("LIFECYCLE"), 0o600)
	os.WriteFile(la, []byte("LAUNCHER"), 0o600)
	apis, err := parseLifecycleAPIs([]byte(apisGo))
	if err != nil {
		t.Fatal(err)
	}
	tgz := filepath.Join(dir, "lifecycle.tgz")
	err = writeFileAtomic(tgz, func(w io.Writer) error {
		return writeLifecycleTarball(w, lifecycleFiles{descriptor: lifecycleDescriptor("0.21.0", apis), lifecycle: lc, launcher: la})
	})
	if err != nil {
		t.Fatal(err)
	}

	entries := readTgz(t, tgz)
	want := []string{
		"lifecycle.toml", "lifecycle/", "lifecycle/lifecycle", "lifecycle/launcher",
		"lifecycle/detector", "lifecycle/analyzer", "lifecycle/restorer", "lifecycle/builder",
		"lifecycle/exporter", "lifecycle/rebaser", "lifecycle/creator", "lifecycle/extender",
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.hdr.Name)
	}
	if !slices.Equal(names, want) {
		t.Fatalf("entries %q, want %q", names, want)
	}
	for _, e := range entries {
		switch {
		case e.hdr.Name == "lifecycle/lifecycle" || e.hdr.Name == "lifecycle/launcher":
			if e.hdr.Mode != 0o755 || e.hdr.Typeflag != tar.TypeReg {
				t.Errorf("%s: mode %o type %c", e.hdr.Name, e.hdr.Mode, e.hdr.Typeflag)
			}
		case slices.Contains(lifecyclePhases, strings.TrimPrefix(e.hdr.Name, "lifecycle/")):
			if e.hdr.Typeflag != tar.TypeSymlink || e.hdr.Linkname != "lifecycle" {
				t.Errorf("%s: not a symlink to lifecycle", e.hdr.Name)
			}
		}
		if !e.hdr.ModTime.Equal(epoch) || e.hdr.Uid != 0 {
			t.Errorf("%s: not normalised: %v uid %d", e.hdr.Name, e.hdr.ModTime, e.hdr.Uid)
		}
	}
	if got := string(entries[2].data); got != "LIFECYCLE" {
		t.Errorf("lifecycle binary content %q", got)
	}

	d, err := readDescriptor(tgz)
	if err != nil {
		t.Fatal(err)
	}
	if d.Lifecycle.Version != "0.21.0" || !slices.Equal(d.APIs.Platform.Supported, apis.Platform.Supported) {
		t.Errorf("descriptor read back as %+v", d)
	}
	toml := string(entries[0].data)
	for _, line := range []string{"[api]\n  platform = \"0.7\"\n  buildpack = \"0.7\"", "[lifecycle]\n  version = \"0.21.0\""} {
		if !strings.Contains(toml, line) {
			t.Errorf("lifecycle.toml lacks %q:\n%s", line, toml)
		}
	}

	labels, err := lifecycleImageLabels(d)
	if err != nil {
		t.Fatal(err)
	}
	var got lifecycleAPIs
	if err := json.Unmarshal([]byte(labels["io.buildpacks.lifecycle.apis"]), &got); err != nil || !slices.Equal(got.Platform.Supported, apis.Platform.Supported) {
		t.Errorf("apis label %s: %v", labels["io.buildpacks.lifecycle.apis"], err)
	}
	if want := `{"api":{"buildpack":"0.7","platform":"0.7"},"lifecycle":{"version":"0.21.0"}}`; labels["io.buildpacks.builder.metadata"] != want {
		t.Errorf("metadata label %s, want %s", labels["io.buildpacks.builder.metadata"], want)
	}
	if labels["io.buildpacks.lifecycle.version"] != "0.21.0" {
		t.Error("version label")
	}

	// The lifecycle image's build context puts the tarball under cnb/.
	f, _ := os.Open(tgz)
	defer f.Close()
	bc, err := lifecycleBuildContext(lifecycleDockerfile("apprun/run:bookworm", "1.41"), f)
	if err != nil {
		t.Fatal(err)
	}
	var ctxNames []string
	var dockerfile string
	tr := tar.NewReader(bc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ctxNames = append(ctxNames, hdr.Name)
		if hdr.Name == "Dockerfile" {
			b, _ := io.ReadAll(tr)
			dockerfile = string(b)
		}
	}
	for _, want := range []string{"Dockerfile", "cnb/", "cnb/lifecycle.toml", "cnb/lifecycle/", "cnb/lifecycle/launcher", "cnb/lifecycle/creator"} {
		if !slices.Contains(ctxNames, want) {
			t.Errorf("build context lacks %s: %q", want, ctxNames)
		}
	}
	if want := "FROM apprun/run:bookworm\nCOPY cnb /cnb\nWORKDIR /layers\nENV DOCKER_API_VERSION=1.41\n"; dockerfile != want {
		t.Errorf("Dockerfile\n%s\nwant\n%s", dockerfile, want)
	}
	if strings.Contains(lifecycleDockerfile("r:t", ""), "DOCKER_API_VERSION") {
		t.Error("DOCKER_API_VERSION set for an engine that negotiates")
	}
}

type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

func readTgz(t *testing.T, name string) []tarEntry {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return readTar(t, zr)
}

func readTar(t *testing.T, r io.Reader) []tarEntry {
	t.Helper()
	var out []tarEntry
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{hdr: hdr, data: data})
	}
}
