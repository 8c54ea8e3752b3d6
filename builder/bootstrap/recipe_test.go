package bootstrap

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func testInputs() inputs {
	return inputs{
		RunImage:         DefaultRunImage,
		BuildImage:       DefaultBuildImage,
		BuilderImage:     DefaultBuilderImage,
		LifecycleImage:   LifecycleImageRepo + ":" + DefaultLifecycleVersion,
		LifecycleVersion: DefaultLifecycleVersion,
		WorkDir:          "/data/bootstrap",
		AptSourcesDigest: "sha256:apt",
		GoVersion:        "go1.26.8",
		DockerAPIVersion: "1.41",
		SourceDigest:     "sha256:src",
		PackVersion:      "v0.40.2",
	}
}

func hashesOf(steps []step) map[stepID]string {
	m := map[stepID]string{}
	for _, s := range steps {
		m[s.id] = s.hash
	}
	return m
}

// TestRecipesChangeOnlyDependents checks, input by input, that changing it
// changes the hash of exactly the outputs made from it.
func TestRecipesChangeOnlyDependents(t *testing.T) {
	base := hashesOf(recipes(testInputs()))
	if again := hashesOf(recipes(testInputs())); !maps.Equal(base, again) {
		t.Fatal("recipes is not deterministic")
	}
	all := []stepID{stepRun, stepBuild, stepLifecycle, stepLifecycleImage, stepBuildpacks, stepBuilder}
	tests := []struct {
		name    string
		change  func(*inputs)
		changed []stepID
	}{
		{"apt sources", func(in *inputs) { in.AptSourcesDigest = "sha256:other" },
			[]stepID{stepRun, stepBuild, stepLifecycleImage, stepBuilder}},
		{"go version", func(in *inputs) { in.GoVersion = "go1.26.9" },
			[]stepID{stepBuild, stepLifecycle, stepLifecycleImage, stepBuildpacks, stepBuilder}},
		{"engine API", func(in *inputs) { in.DockerAPIVersion = "" },
			[]stepID{stepBuild, stepLifecycleImage, stepBuilder}},
		{"buildpack source", func(in *inputs) { in.SourceDigest = "sha256:edited" },
			[]stepID{stepBuildpacks, stepBuilder}},
		{"lifecycle version", func(in *inputs) { in.LifecycleVersion = "0.21.1" },
			[]stepID{stepLifecycle, stepLifecycleImage, stepBuilder}},
		{"pack version", func(in *inputs) { in.PackVersion = "v0.41.0" },
			[]stepID{stepBuilder}},
		{"run image name", func(in *inputs) { in.RunImage = "apprun/run:other" },
			[]stepID{stepBuilder}},
		{"builder image name", func(in *inputs) { in.BuilderImage = "apprun/builder:other" },
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := testInputs()
			tt.change(&in)
			got := hashesOf(recipes(in))
			for _, id := range all {
				want := slices.Contains(tt.changed, id)
				if changed := got[id] != base[id]; changed != want {
					t.Errorf("%s: hash changed = %v, want %v", id, changed, want)
				}
			}
		})
	}
}

func TestRecipesOrderAndNames(t *testing.T) {
	steps := recipes(testInputs())
	pos := map[stepID]int{}
	for i, s := range steps {
		pos[s.id] = i
		if !strings.HasPrefix(s.hash, "sha256:") || len(s.hash) != len("sha256:")+64 {
			t.Errorf("%s: hash %q is not a sha256", s.id, s.hash)
		}
	}
	for _, s := range steps {
		for _, d := range s.deps {
			if pos[d] >= pos[s.id] {
				t.Errorf("%s comes before its dependency %s", s.id, d)
			}
		}
	}
	lc := steps[pos[stepLifecycle]]
	if want := "/data/bootstrap/lifecycle-0.21.0-" + shortHash(lc.hash) + ".tgz"; lc.name != want {
		t.Errorf("lifecycle tarball %q, want %q", lc.name, want)
	}
	if !isLifecycleFile("lifecycle-0.21.0-0123456789abcdef.tgz", "0.21.0") || isLifecycleFile("lifecycle-0.21.0-x.tar", "0.21.0") {
		t.Error("isLifecycleFile")
	}
}

func TestImageChanges(t *testing.T) {
	in := testInputs()
	run := strings.Join(imageChanges(runRootfs, in), "\n")
	build := strings.Join(imageChanges(buildRootfs, in), "\n")
	for _, want := range []string{"USER 1000:1000", "LABEL io.buildpacks.base.distro.name=debian", "LABEL io.buildpacks.base.distro.version=12", "ENV HOME=/home/cnb"} {
		if !strings.Contains(run, want) || !strings.Contains(build, want) {
			t.Errorf("both images need %q", want)
		}
	}
	for _, want := range []string{"ENV CNB_USER_ID=1000", "ENV CNB_GROUP_ID=1000", "ENV DOCKER_API_VERSION=1.41", "ENV PATH=/usr/local/go/bin:"} {
		if !strings.Contains(build, want) {
			t.Errorf("build image needs %q", want)
		}
		if strings.Contains(run, want) {
			t.Errorf("run image must not have %q", want)
		}
	}
	in.DockerAPIVersion = ""
	if strings.Contains(strings.Join(imageChanges(buildRootfs, in), "\n"), "DOCKER_API_VERSION") {
		t.Error("DOCKER_API_VERSION set for an engine that negotiates")
	}
}

func TestSourceDigest(t *testing.T) {
	fsys := fstest.MapFS{
		"spec/service.go":                                 {Data: []byte("package spec")},
		"spec/service_test.go":                            {Data: []byte("package spec // test")},
		"builder/buildpacks/ids.go":                       {Data: []byte("package buildpacks")},
		"builder/buildpacks/testdata/app/main.go":         {Data: []byte("package main")},
		"builder/buildpacks/cmd/apprun-buildpack/main.go": {Data: []byte("package main")},
	}
	files, err := sourceFiles(fsys)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"builder/buildpacks/cmd/apprun-buildpack/main.go", "builder/buildpacks/ids.go", "spec/service.go"}
	if !slices.Equal(files, want) {
		t.Errorf("sourceFiles = %q, want %q", files, want)
	}
	d1, err := sourceDigest(fsys)
	if err != nil {
		t.Fatal(err)
	}
	fsys["spec/service_test.go"] = &fstest.MapFile{Data: []byte("package spec // edited test")}
	fsys["builder/buildpacks/testdata/x"] = &fstest.MapFile{Data: []byte("x")}
	if d2, _ := sourceDigest(fsys); d2 != d1 {
		t.Error("editing a test or testdata changed the digest")
	}
	fsys["spec/service.go"] = &fstest.MapFile{Data: []byte("package spec // edited")}
	if d3, _ := sourceDigest(fsys); d3 == d1 {
		t.Error("editing the source did not change the digest")
	}
	delete(fsys, "builder/buildpacks/cmd/apprun-buildpack/main.go")
	if _, err := sourceDigest(fsys); err == nil {
		t.Error("a source without the program was accepted")
	}
}

func TestHasherSeparatesParts(t *testing.T) {
	a := newHasher("k").add("ab", "c").sum()
	b := newHasher("k").add("a", "bc").sum()
	c := newHasher("k").field("x", "1").field("y").sum()
	d := newHasher("k").field("x").field("y", "1").sum()
	if a == b || c == d {
		t.Error("hasher lets parts run into each other")
	}
}
