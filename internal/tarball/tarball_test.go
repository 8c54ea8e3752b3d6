package tarball

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPack(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"main.go": "package main\n", "sub/a.txt": "a", ".git/HEAD": "ref"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	os.Symlink("main.go", filepath.Join(dir, "link"))
	data, err := Pack(dir)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Uname != "" {
			t.Errorf("%s keeps its owner %d %q", h.Name, h.Uid, h.Uname)
		}
		if h.Name == "link" && (h.Typeflag != tar.TypeSymlink || h.Linkname != "main.go") {
			t.Errorf("link: %+v", h)
		}
	}
	slices.Sort(names)
	if want := []string{"link", "main.go", "sub", "sub/a.txt"}; !slices.Equal(names, want) {
		t.Errorf("entries %q, want %q (no .git)", names, want)
	}
}
