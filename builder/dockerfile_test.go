package builder

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func tarNames(t *testing.T, data []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" {
			t.Errorf("%s keeps its owner", hdr.Name)
		}
		names = append(names, hdr.Name)
	}
}

func TestWriteContextHonoursDockerignore(t *testing.T) {
	d := t.TempDir()
	for name, body := range map[string]string{
		"Dockerfile":         "FROM scratch\n",
		".dockerignore":      "# comment\n.git\n*.log\nnode_modules\nsecrets/*\n!secrets/public.pem\nDockerfile\n",
		"main.go":            "package main",
		"debug.log":          "noise",
		".git/HEAD":          "ref",
		"node_modules/x":     "dep",
		"secrets/key.pem":    "private",
		"secrets/public.pem": "public",
		"sub/keep.txt":       "kept",
	} {
		write(t, d, name, body)
	}
	must(t, os.Symlink("main.go", filepath.Join(d, "link")))
	var buf bytes.Buffer
	if err := writeContext(&buf, d, "Dockerfile"); err != nil {
		t.Fatal(err)
	}
	got := tarNames(t, buf.Bytes())
	want := []string{".dockerignore", "Dockerfile", "link", "main.go", "secrets/", "secrets/public.pem", "sub/", "sub/keep.txt"}
	if !slices.Equal(got, want) {
		t.Fatalf("context holds %q, want %q", got, want)
	}
	// The same tree gives the same bytes, so the daemon's cache hits.
	var again bytes.Buffer
	writeContext(&again, d, "Dockerfile")
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Fatal("two contexts of one tree differ")
	}
}

func TestReadBuildStream(t *testing.T) {
	ok := `{"stream":"Step 1/2 : FROM busybox\n"}
{"stream":" ---\u003e 1a2b\n"}
{"status":"Downloading","id":"abc"}
{"aux":{"ID":"sha256:feedface"}}
{"stream":"Successfully built feedface\n"}
`
	var log bytes.Buffer
	id, err := readBuildStream(strings.NewReader(ok), &log)
	if err != nil || id != "sha256:feedface" {
		t.Fatalf("got %q, %v", id, err)
	}
	if !strings.Contains(log.String(), "Step 1/2 : FROM busybox\n") || !strings.Contains(log.String(), "abc: Downloading\n") {
		t.Fatalf("log %q", log.String())
	}

	failed := `{"stream":"Step 2/2 : RUN exit 3\n"}
{"errorDetail":{"code":3,"message":"The command '/bin/sh -c exit 3' returned a non-zero code: 3"},"error":"The command '/bin/sh -c exit 3' returned a non-zero code: 3"}
`
	log.Reset()
	_, err = readBuildStream(strings.NewReader(failed), &log)
	if !errors.Is(err, ErrBuildFailed) || !strings.Contains(err.Error(), "non-zero code: 3") {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(log.String(), "returned a non-zero code: 3") {
		t.Fatalf("the failure is not in the log: %q", log.String())
	}

	if _, err := readBuildStream(strings.NewReader(`{"stream":"x\n"}`), io.Discard); !errors.Is(err, ErrBuildFailed) {
		t.Fatalf("a stream with no image: %v", err)
	}
}
