package builder

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entry is one tar entry for a test archive.
type entry struct {
	name string
	typ  byte
	body string
	link string
	mode int64
}

func file(name, body string) entry  { return entry{name: name, typ: tar.TypeReg, body: body} }
func dir(name string) entry         { return entry{name: name, typ: tar.TypeDir} }
func symlink(name, to string) entry { return entry{name: name, typ: tar.TypeSymlink, link: to} }
func hardlink(name, to string) entry {
	return entry{name: name, typ: tar.TypeLink, link: to}
}

// makeTar writes entries as a tar (gzip-compressed if gz). Names the tar
// writer would refuse (a NUL) are written in GNU format, which passes
// them through, as a hostile client's archive would.
func makeTar(t testing.TB, gz bool, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: mode, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			hdr.Format = tar.FormatGNU
			if err := tw.WriteHeader(hdr); err != nil {
				t.Fatalf("writing %q: %v", e.name, err)
			}
		}
		if hdr.Size > 0 {
			tw.Write([]byte(e.body))
		}
	}
	tw.Close()
	if !gz {
		return buf.Bytes()
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(buf.Bytes())
	zw.Close()
	return z.Bytes()
}

// The traversal corpus: every archive must be refused, naming the entry,
// with nothing left behind.
func TestExtractArchiveRefuses(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		naming  string // the entry the error must name
	}{
		{"dot dot", []entry{dir("../")}, `".."`},
		{"dot dot file", []entry{file("../x", "x")}, `"../x"`},
		{"dot dot inside", []entry{file("a/../../x", "x")}, `"a/../../x"`},
		{"dot dot that stays inside", []entry{dir("a/"), file("a/../b", "x")}, `"a/../b"`},
		{"absolute", []entry{file("/etc/passwd", "root::0:0")}, `"/etc/passwd"`},
		{"newline in name", []entry{file("a\nb", "x")}, `"a\nb"`},
		{"escape sequence in name", []entry{file("a\x1b[2Jb", "x")}, `"a\x1b[2Jb"`},
		{"invalid UTF-8", []entry{file("a\xffb", "x")}, `"a\xffb"`},
		{"symlink to root", []entry{symlink("l", "/")}, `"l"`},
		{"symlink absolute", []entry{symlink("l", "/etc/passwd")}, `"l"`},
		{"symlink up", []entry{symlink("l", "../..")}, `"l"`},
		{"symlink up from a subdir", []entry{dir("a/"), symlink("a/l", "../../x")}, `"a/l"`},
		{"symlink through symlink", []entry{dir("sub/"), symlink("sub/s", ".."), symlink("a", "sub/s/..")}, `"a"`},
		{"hardlink out", []entry{hardlink("h", "../../etc/passwd")}, `"h"`},
		{"hardlink absolute", []entry{hardlink("h", "/etc/passwd")}, `"h"`},
		{"hardlink to nothing", []entry{hardlink("h", "missing")}, `"h"`},
		{"file through an inside symlink", []entry{dir("d/"), symlink("l", "d"), file("l/f", "x")}, `"l/f"`},
		{"file through an escaping symlink", []entry{symlink("l", "/tmp"), file("l/f", "x")}, `"l"`},
		{"file replacing a symlink", []entry{file("t", "x"), symlink("l", "t"), file("l", "y")}, `"l"`},
		{"file under a file", []entry{file("f", "x"), file("f/g", "y")}, `"f/g"`},
		{"character device", []entry{{name: "dev", typ: tar.TypeChar}}, `"dev"`},
		{"block device", []entry{{name: "dev", typ: tar.TypeBlock}}, `"dev"`},
		{"fifo", []entry{{name: "p", typ: tar.TypeFifo}}, `"p"`},
		{"duplicate file", []entry{file("f", "x"), file("f", "y")}, `"f"`},
	}
	for _, tt := range tests {
		for _, gz := range []bool{false, true} {
			name := tt.name
			if gz {
				name += " gzip"
			}
			t.Run(name, func(t *testing.T) {
				parent := t.TempDir()
				dst := filepath.Join(parent, "src")
				err := ExtractArchive(bytes.NewReader(makeTar(t, gz, tt.entries...)), dst, ArchiveLimits{})
				if err == nil {
					t.Fatal("archive accepted")
				}
				if !errors.Is(err, ErrUnsafeSource) {
					t.Errorf("error %v does not wrap ErrUnsafeSource", err)
				}
				if !strings.Contains(err.Error(), tt.naming) {
					t.Errorf("error %q does not name %s", err, tt.naming)
				}
				assertOnlyEntries(t, parent)
			})
		}
	}
}

// A NUL cannot reach a name through Go's tar reader (USTAR fields end at
// NUL, and PAX records holding one are invalid); a crafted PAX record with
// one must still be refused, and entryName refuses it should a reader ever
// pass it on.
func TestExtractArchiveRefusesNUL(t *testing.T) {
	archive := makeTar(t, false, file("a\u00e9b", "x"))
	i := bytes.Index(archive, []byte("path=a\u00e9b"))
	if i < 0 {
		t.Fatal("no PAX path record in the test archive")
	}
	copy(archive[i:], "path=a\x00\x00b")
	parent := t.TempDir()
	if err := ExtractArchive(bytes.NewReader(archive), filepath.Join(parent, "src"), ArchiveLimits{}); err == nil {
		t.Fatal("archive with a NUL in a name accepted")
	}
	assertOnlyEntries(t, parent)
	if _, err := entryName("a\x00b"); !errors.Is(err, ErrUnsafeSource) || !strings.Contains(err.Error(), `"a\x00b"`) {
		t.Fatalf("entryName with NUL: %v", err)
	}
}

// assertOnlyEntries fails unless dir holds exactly the names given.
func assertOnlyEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("%s holds %q, want %q", dir, got, names)
	}
}

func TestExtractArchiveAccepts(t *testing.T) {
	archive := makeTar(t, true,
		dir("./"),
		dir("./app/"),
		file("./app/main.go", "package main"),
		entry{name: "app/run.sh", typ: tar.TypeReg, body: "#!/bin/sh", mode: 0o4777},
		file("%2e%2e", "just a name"),
		file("..foo", "also a name"),
		symlink("app/link", "main.go"),
		symlink("up", "app/../app/main.go"),
		hardlink("app/hard", "app/main.go"),
		file("deep/er/file.txt", "parents made on the way"),
		dir("app/"), // a directory listed twice
	)
	dst := filepath.Join(t.TempDir(), "src")
	if err := ExtractArchive(bytes.NewReader(archive), dst, ArchiveLimits{}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"app/main.go": "package main", "%2e%2e": "just a name", "..foo": "also a name",
		"app/link": "package main", "up": "package main", "app/hard": "package main",
		"deep/er/file.txt": "parents made on the way",
	} {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	fi, err := os.Stat(filepath.Join(dst, "app/run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o755 {
		t.Errorf("run.sh mode %v, want 0755 (no setuid, not world-writable)", fi.Mode())
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o755 {
		t.Errorf("dst mode %v, want 0755", fi.Mode().Perm())
	}
}

func TestExtractArchiveLimits(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		parent := t.TempDir()
		archive := makeTar(t, true, file("a", strings.Repeat("x", 600)), file("b", strings.Repeat("y", 600)))
		err := ExtractArchive(bytes.NewReader(archive), filepath.Join(parent, "src"), ArchiveLimits{MaxBytes: 1000})
		if !errors.Is(err, ErrUnsafeSource) || !strings.Contains(err.Error(), `"b"`) {
			t.Fatalf("got %v, want a refusal naming b", err)
		}
		assertOnlyEntries(t, parent)
	})
	t.Run("entries", func(t *testing.T) {
		parent := t.TempDir()
		archive := makeTar(t, false, file("a", ""), file("b", ""), file("c", ""))
		err := ExtractArchive(bytes.NewReader(archive), filepath.Join(parent, "src"), ArchiveLimits{MaxEntries: 2})
		if !errors.Is(err, ErrUnsafeSource) {
			t.Fatalf("got %v, want a refusal", err)
		}
		assertOnlyEntries(t, parent)
	})
	t.Run("not empty", func(t *testing.T) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "src")
		os.Mkdir(dst, 0o755)
		os.WriteFile(filepath.Join(dst, "keep"), nil, 0o644)
		if err := ExtractArchive(bytes.NewReader(makeTar(t, false, file("a", ""))), dst, ArchiveLimits{}); err == nil {
			t.Fatal("extracted over a non-empty directory")
		}
		assertOnlyEntries(t, dst, "keep")
	})
	t.Run("empty dir is fine", func(t *testing.T) {
		dst := filepath.Join(t.TempDir(), "src")
		os.Mkdir(dst, 0o755)
		if err := ExtractArchive(bytes.NewReader(makeTar(t, false, file("a", "x"))), dst, ArchiveLimits{}); err != nil {
			t.Fatal(err)
		}
		assertOnlyEntries(t, dst, "a")
	})
	t.Run("not a tar", func(t *testing.T) {
		parent := t.TempDir()
		if err := ExtractArchive(strings.NewReader("PK\x03\x04 a zip file"), filepath.Join(parent, "src"), ArchiveLimits{}); err == nil {
			t.Fatal("accepted garbage")
		}
		assertOnlyEntries(t, parent)
	})
}

func FuzzExtractArchive(f *testing.F) {
	f.Add(makeTar(f, false, file("a", "x"), symlink("l", "a")))
	f.Add(makeTar(f, true, dir("d/"), file("d/f", "x"), hardlink("h", "d/f")))
	f.Add(makeTar(f, false, symlink("l", "../..")))
	f.Add(makeTar(f, false, dir("sub/"), symlink("sub/s", ".."), symlink("a", "sub/s/.."), file("a/x", "x")))
	f.Add(makeTar(f, false, symlink("l", "d"), dir("d/"), file("l/f", "x")))
	f.Add(makeTar(f, false, file("../x", "x")))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dst := filepath.Join(parent, "src")
		err := ExtractArchive(bytes.NewReader(data), dst, ArchiveLimits{MaxBytes: 1 << 20, MaxEntries: 1000})
		// Whatever the archive, nothing but dst may appear beside it.
		entries, rerr := os.ReadDir(parent)
		if rerr != nil {
			t.Fatal(rerr)
		}
		for _, e := range entries {
			if e.Name() != "src" || err != nil {
				t.Fatalf("found %q beside dst (extract error: %v)", e.Name(), err)
			}
		}
		if err != nil {
			return
		}
		// What was extracted stays inside: every symlink resolves in
		// the tree, and nothing is special.
		if err := CheckTree(dst); err != nil {
			t.Fatalf("extracted tree fails CheckTree: %v", err)
		}
		filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if fi, _ := d.Info(); fi.Mode().Perm()&^0o755 != 0 {
					t.Fatalf("%s has mode %v", p, fi.Mode())
				}
			}
			return nil
		})
	})
}
