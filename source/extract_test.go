package source

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

type entry struct {
	name, link string
	typ        byte
	body       string
	mode       int64
}

func tarOf(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Size: int64(len(e.body))}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if e.typ == tar.TypeXGlobalHeader {
			h = &tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "0123abcd"}}
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func TestExtractWritesTheTree(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "out")
	data := tarOf(t,
		entry{name: "pax_global_header", typ: tar.TypeXGlobalHeader},
		entry{name: "dir/", typ: tar.TypeDir},
		entry{name: "dir/run.sh", typ: tar.TypeReg, body: "#!/bin/sh\n", mode: 0o775},
		entry{name: "main.go", typ: tar.TypeReg, body: "package main\n", mode: 0o664},
		entry{name: "deep/a/b.txt", typ: tar.TypeReg, body: "b"},
		entry{name: "link", typ: tar.TypeSymlink, link: "dir/run.sh"},
		entry{name: "dir/up", typ: tar.TypeSymlink, link: "../main.go"},
	)
	if err := Extract(bytes.NewReader(data), dst, Limits{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"dir/run.sh": "#!/bin/sh\n", "main.go": "package main\n", "deep/a/b.txt": "b", "link": "#!/bin/sh\n", "dir/up": "package main\n"} {
		if b, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q %v", name, b, err)
		}
	}
	if fi, _ := os.Stat(filepath.Join(dst, "dir/run.sh")); fi.Mode().Perm() != 0o755 {
		t.Errorf("executable mode %v", fi.Mode())
	}
	if fi, _ := os.Stat(filepath.Join(dst, "main.go")); fi.Mode().Perm() != 0o644 {
		t.Errorf("file mode %v", fi.Mode())
	}
}

func TestExtractRefuses(t *testing.T) {
	outside := t.TempDir()
	for name, entries := range map[string][]entry{
		"absolute":            {{name: "/etc/x", typ: tar.TypeReg, body: "x"}},
		"dotdot":              {{name: "../x", typ: tar.TypeReg, body: "x"}},
		"inner dotdot":        {{name: "a/../../x", typ: tar.TypeReg, body: "x"}},
		"newline":             {{name: "a\nb", typ: tar.TypeReg}},
		"absolute symlink":    {{name: "l", typ: tar.TypeSymlink, link: "/etc/passwd"}},
		"escaping symlink":    {{name: "a/l", typ: tar.TypeSymlink, link: "../../x"}},
		"hardlink":            {{name: "h", typ: tar.TypeLink, link: "x"}},
		"device":              {{name: "d", typ: tar.TypeChar}},
		"fifo":                {{name: "f", typ: tar.TypeFifo}},
		"duplicate":           {{name: "a", typ: tar.TypeReg, body: "1"}, {name: "a", typ: tar.TypeReg, body: "2"}},
		"through a symlink":   {{name: "l", typ: tar.TypeSymlink, link: "."}, {name: "d", typ: tar.TypeSymlink, link: "l/" + outside}, {name: "d/x", typ: tar.TypeReg, body: "x"}},
		"file over a symlink": {{name: "l", typ: tar.TypeSymlink, link: "a"}, {name: "l", typ: tar.TypeReg, body: "x"}},
	} {
		dst := filepath.Join(t.TempDir(), "out")
		err := Extract(bytes.NewReader(tarOf(t, entries...)), dst, Limits{})
		if err == nil {
			t.Errorf("%s: extracted", name)
		}
		if _, serr := os.Stat(dst); serr == nil {
			t.Errorf("%s: %s left behind", name, dst)
		}
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("wrote outside the tree: %v", ents)
	}
	big := tarOf(t, entry{name: "a", typ: tar.TypeReg, body: "0123456789"}, entry{name: "b", typ: tar.TypeReg, body: "0123456789"})
	if err := Extract(bytes.NewReader(big), filepath.Join(t.TempDir(), "o"), Limits{MaxBytes: 15}); !errors.Is(err, ErrUnsafeArchive) {
		t.Errorf("over MaxBytes: %v", err)
	}
	if err := Extract(bytes.NewReader(big), filepath.Join(t.TempDir(), "o"), Limits{MaxEntries: 1}); !errors.Is(err, ErrUnsafeArchive) {
		t.Errorf("over MaxEntries: %v", err)
	}
}
