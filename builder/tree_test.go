package builder

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCheckTree(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		bad   string // the entry the error names; "" if the tree is fine
	}{
		{"plain files and an inside symlink", func(t *testing.T, d string) {
			write(t, d, "main.go", "package main")
			must(t, os.Symlink("main.go", filepath.Join(d, "link")))
			must(t, os.MkdirAll(filepath.Join(d, "a/b"), 0o755))
			must(t, os.Symlink("../../main.go", filepath.Join(d, "a/b/up")))
		}, ""},
		{"dangling symlink inside", func(t *testing.T, d string) {
			must(t, os.Symlink("not-yet", filepath.Join(d, "later")))
		}, ""},
		{"symlink to root", func(t *testing.T, d string) {
			must(t, os.Symlink("/", filepath.Join(d, "root")))
		}, `"root"`},
		{"absolute symlink", func(t *testing.T, d string) {
			must(t, os.Symlink("/etc/passwd", filepath.Join(d, "pw")))
		}, `"pw"`},
		{"symlink up", func(t *testing.T, d string) {
			must(t, os.Symlink("../..", filepath.Join(d, "up")))
		}, `"up"`},
		{"symlink up from a subdir", func(t *testing.T, d string) {
			must(t, os.Mkdir(filepath.Join(d, "sub"), 0o755))
			must(t, os.Symlink("../../x", filepath.Join(d, "sub/l")))
		}, `"sub/l"`},
		{"escape through another symlink", func(t *testing.T, d string) {
			must(t, os.Mkdir(filepath.Join(d, "sub"), 0o755))
			must(t, os.Symlink("..", filepath.Join(d, "sub/s")))
			must(t, os.Symlink("sub/s/..", filepath.Join(d, "a")))
		}, `"a"`},
		{"symlink loop", func(t *testing.T, d string) {
			must(t, os.Symlink("b", filepath.Join(d, "a")))
			must(t, os.Symlink("a", filepath.Join(d, "b")))
		}, `"a"`},
		{"fifo", func(t *testing.T, d string) {
			must(t, syscall.Mkfifo(filepath.Join(d, "pipe"), 0o644))
		}, `"pipe"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := t.TempDir()
			tt.setup(t, d)
			err := CheckTree(d)
			switch {
			case tt.bad == "" && err != nil:
				t.Fatalf("refused a fine tree: %v", err)
			case tt.bad != "" && err == nil:
				t.Fatal("accepted")
			case tt.bad != "" && (!errors.Is(err, ErrUnsafeSource) || !strings.Contains(err.Error(), tt.bad)):
				t.Fatalf("error %q does not name %s or wrap ErrUnsafeSource", err, tt.bad)
			}
		})
	}
}

func TestCheckTreeNotADirectory(t *testing.T) {
	d := t.TempDir()
	write(t, d, "f", "x")
	if err := CheckTree(filepath.Join(d, "f")); err == nil {
		t.Fatal("accepted a file as a source tree")
	}
	if err := CheckTree(filepath.Join(d, "missing")); err == nil {
		t.Fatal("accepted a missing directory")
	}
}

func write(t *testing.T, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(body), 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
