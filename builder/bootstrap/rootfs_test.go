package bootstrap

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mmdebstrapTar is a small rootfs shaped like mmdebstrap's output.
func mmdebstrapTar(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name, content string) {
		typ := byte(tar.TypeReg)
		if strings.HasSuffix(name, "/") {
			typ = tar.TypeDir
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: typ, Name: name, Mode: 0o644, Size: int64(len(content))}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	add("./", "")
	add("./etc/", "")
	add("./etc/passwd", "root:x:0:0:root:/root:/bin/bash\nnobody:*:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
	add("./etc/group", "root:*:0:\nnogroup:*:65534:")
	add("./etc/hostname", "vm\n")
	add("./etc/resolv.conf", "nameserver 10.0.0.1\n")
	add("./etc/apt/", "")
	add("./etc/apt/sources.list.d/", "")
	add("./etc/apt/sources.list.d/0000debian.sources", "Types: deb\nURIs: http://mirror.invalid/debian\n")
	add("./usr/", "")
	add("./usr/local/", "")
	add("./usr/bin/", "")
	add("./usr/bin/sh", "#!")
	tw.Close()
	return &buf
}

func TestRewriteRootfs(t *testing.T) {
	goRoot := t.TempDir()
	os.MkdirAll(filepath.Join(goRoot, "bin"), 0o755)
	os.MkdirAll(filepath.Join(goRoot, "test", "fixedbugs"), 0o755)
	os.MkdirAll(filepath.Join(goRoot, "src", "test"), 0o755)
	os.WriteFile(filepath.Join(goRoot, "bin", "go"), []byte("GO"), 0o755)
	os.WriteFile(filepath.Join(goRoot, "test", "fixedbugs", "x.go"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(goRoot, "src", "test", "keep.go"), []byte("k"), 0o644)
	os.WriteFile(filepath.Join(goRoot, "VERSION"), []byte("go1.26.8"), 0o644)

	var out bytes.Buffer
	if err := rewriteRootfs(&out, mmdebstrapTar(t), rewriteOptions{goRoot: goRoot}); err != nil {
		t.Fatal(err)
	}
	entries := map[string]tarEntry{}
	for _, e := range readTar(t, &out) {
		entries[e.hdr.Name] = e
	}
	for _, gone := range []string{"./etc/hostname", "./etc/resolv.conf", "./etc/apt/sources.list.d/0000debian.sources", "./usr/local/go/test/", "./usr/local/go/test/fixedbugs/x.go"} {
		if _, ok := entries[gone]; ok {
			t.Errorf("%s reached the image", gone)
		}
	}
	for _, kept := range []string{"./etc/apt/sources.list.d/", "./usr/bin/sh", "./usr/local/go/", "./usr/local/go/VERSION", "./usr/local/go/src/test/keep.go"} {
		if _, ok := entries[kept]; !ok {
			t.Errorf("%s is missing", kept)
		}
	}
	if got := string(entries["./etc/passwd"].data); !strings.HasSuffix(got, "nologin\ncnb:x:1000:1000:cnb:/home/cnb:/bin/sh\n") {
		t.Errorf("passwd:\n%s", got)
	}
	if got := string(entries["./etc/group"].data); got != "root:*:0:\nnogroup:*:65534:\ncnb:x:1000:\n" {
		t.Errorf("group:\n%q", got)
	}
	home := entries["./home/cnb/"]
	if home.hdr == nil || home.hdr.Uid != 1000 || home.hdr.Gid != 1000 || home.hdr.Typeflag != tar.TypeDir {
		t.Errorf("home %+v", home.hdr)
	}
	gobin := entries["./usr/local/go/bin/go"]
	if gobin.hdr == nil || gobin.hdr.Mode&0o111 == 0 || gobin.hdr.Uid != 0 || string(gobin.data) != "GO" {
		t.Errorf("go binary %+v", gobin.hdr)
	}

	// Without a Go root nothing is added under /usr/local.
	out.Reset()
	if err := rewriteRootfs(&out, mmdebstrapTar(t), rewriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, e := range readTar(t, &out) {
		if strings.HasPrefix(e.hdr.Name, "./usr/local/go") {
			t.Errorf("%s added without a Go root", e.hdr.Name)
		}
	}
}

func TestRewriteRootfsNeedsPasswd(t *testing.T) {
	var in, out bytes.Buffer
	tw := tar.NewWriter(&in)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./etc/", Mode: 0o755})
	tw.Close()
	if err := rewriteRootfs(&out, &in, rewriteOptions{}); err == nil {
		t.Error("a rootfs without /etc/passwd was accepted")
	}
}

func TestMmdebstrapArgs(t *testing.T) {
	got := mmdebstrapArgs(runRootfs, "/etc/apt/sources.list.d/debian.sources", "/data/bootstrap/tmp-1/run-image.tar")
	want := []string{
		"mmdebstrap", "--variant=essential", "--include=ca-certificates,nodejs,python3",
		"--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
		"--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
		"--dpkgopt=path-include=/usr/share/doc/*/copyright", "--dpkgopt=path-exclude=/usr/share/locale/*",
		"--dpkgopt=path-exclude=/usr/share/info/*",
		"--format=tar", "bookworm", "/data/bootstrap/tmp-1/run-image.tar", "/etc/apt/sources.list.d/debian.sources",
	}
	if !slices.Equal(got, want) {
		t.Errorf("argv\n%q\nwant\n%q", got, want)
	}
}
