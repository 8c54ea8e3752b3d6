package buildpacks

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	t.Parallel()
	goTOML := []byte("api = \"0.10\"\n\n[buildpack]\n  id = \"apprun/go\"\n  version = \"0.1.0\"\n")
	for _, tc := range []struct {
		name    string
		args    []string
		toml    []byte
		want    Invocation
		wantErr string
	}{
		{name: "bin/detect", args: []string{"/cnb/buildpacks/apprun_go/0.1.0/bin/detect"}, toml: goTOML, want: Invocation{Mode: ModeDetect, Buildpack: IDGo, Args: []string{}}},
		{name: "bin/build", args: []string{"/cnb/buildpacks/apprun_go/0.1.0/bin/build"}, toml: goTOML, want: Invocation{Mode: ModeBuild, Buildpack: IDGo, Args: []string{}}},
		{
			name: "static-server in a launch layer",
			args: []string{"/layers/apprun_static/static-server/bin/static-server", "--root", "public"},
			want: Invocation{Mode: ModeStaticServer, Args: []string{"--root", "public"}},
		},
		{name: "mode as the first argument", args: []string{"apprun-buildpack", "detect"}, toml: goTOML, want: Invocation{Mode: ModeDetect, Buildpack: IDGo, Args: []string{}}},
		{
			name: "static-server as the first argument",
			args: []string{"./apprun-buildpack", "static-server", "--port", "9000"},
			want: Invocation{Mode: ModeStaticServer, Args: []string{"--port", "9000"}},
		},
		{name: "no arguments", args: nil, wantErr: "no program name"},
		{name: "no mode", args: []string{"apprun-buildpack"}, wantErr: "usage"},
		{name: "unknown mode", args: []string{"apprun-buildpack", "export"}, wantErr: `unknown mode "export"`},
		{name: "detect without buildpack.toml", args: []string{"/bp/bin/detect"}, wantErr: "no buildpack.toml"},
		{name: "a foreign buildpack id", args: []string{"/bp/bin/build"}, toml: []byte("[buildpack]\nid = \"paketo/go\"\n"), wantErr: `"paketo/go"`},
		{name: "no id", args: []string{"/bp/bin/build"}, toml: []byte("api = \"0.10\"\n"), wantErr: "no [buildpack] id"},
		{name: "an id outside [buildpack]", args: []string{"/bp/bin/build"}, toml: []byte("id = \"apprun/go\"\n[buildpack]\n"), wantErr: "no [buildpack] id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Dispatch(tc.args, tc.toml)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Mode != tc.want.Mode || got.Buildpack != tc.want.Buildpack || !slices.Equal(got.Args, tc.want.Args) {
				t.Errorf("Dispatch = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestOrder(t *testing.T) {
	t.Parallel()
	order := Order()
	if len(order) != 5 {
		t.Fatalf("order has %d groups, want 5", len(order))
	}
	for i, g := range order[:4] {
		if len(g) != 2 || g[0].ID != IDs()[i] || g[0].Optional || g[1] != (GroupEntry{ID: IDProcfile, Optional: true}) {
			t.Errorf("group %d = %+v, want [%s, procfile (optional)]", i, g, IDs()[i])
		}
	}
	if last := order[4]; len(last) != 1 || last[0] != (GroupEntry{ID: IDProcfile}) {
		t.Errorf("last group = %+v, want [procfile]", last)
	}
}

func TestWriteBuildpack(t *testing.T) {
	t.Parallel()
	binary := filepath.Join(t.TempDir(), "apprun-buildpack")
	if err := os.WriteFile(binary, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, id := range IDs() {
		dir := filepath.Join(t.TempDir(), strings.ReplaceAll(id, "/", "_"))
		if err := WriteBuildpack(dir, id, "1.2.3", binary); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, "buildpack.toml"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := BuildpackID(data); err != nil || got != id {
			t.Errorf("%s: BuildpackID = %q, %v", id, got, err)
		}
		top, bp := tomlStrings(string(data), ""), tomlStrings(string(data), "buildpack")
		if top["api"] != "0.10" || bp["version"] != "1.2.3" || bp["name"] == "" {
			t.Errorf("%s: buildpack.toml:\n%s", id, data)
		}
		if !strings.Contains(string(data), "[[targets]]\n  os = \"linux\"") {
			t.Errorf("%s: buildpack.toml has no linux target:\n%s", id, data)
		}
		for _, exe := range []string{"detect", "build"} {
			fi, err := os.Stat(filepath.Join(dir, "bin", exe))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o755 {
				t.Errorf("%s: bin/%s mode = %v, want 0755", id, exe, fi.Mode().Perm())
			}
		}
	}
	if err := WriteBuildpack(t.TempDir(), "apprun/ruby", "1", binary); err == nil {
		t.Error("WriteBuildpack accepted an unknown id")
	}
}
