package bootstrap

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"strings"
)

// HashLabel is the label every image made here carries: the sha256 of the
// image's inputs. An image whose label matches the recipe is reused.
const HashLabel = "io.apprun.bootstrap.hash"

// recipeVersion is part of every hash. Bump it when a change to this package
// changes what an output contains without changing any other input, so that
// existing outputs are made again.
const recipeVersion = "1"

// hasher builds a digest from a sequence of strings. Each part is
// length-prefixed so that ("ab", "c") and ("a", "bc") differ.
type hasher struct{ h hash.Hash }

func newHasher(kind string) *hasher {
	h := &hasher{h: sha256.New()}
	h.add("apprun-bootstrap", recipeVersion, kind)
	return h
}

func (h *hasher) add(parts ...string) *hasher {
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.h.Write(n[:])
		io.WriteString(h.h, p)
	}
	return h
}

// field adds a named value, so that moving a value from one field to
// another changes the digest.
func (h *hasher) field(name string, values ...string) *hasher {
	h.add(name, fmt.Sprint(len(values)))
	return h.add(values...)
}

func (h *hasher) sum() string {
	return "sha256:" + hex.EncodeToString(h.h.Sum(nil))
}

// digestBytes is the sha256 of b, for inputs that are files.
func digestBytes(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// shortHash is the part of a hash that names a file.
func shortHash(h string) string {
	h = strings.TrimPrefix(h, "sha256:")
	if len(h) > 16 {
		h = h[:16]
	}
	return h
}

// sourceFiles lists the files of the buildpacks source that the compile
// needs, in lexical order: everything but tests and testdata, which the
// embed carries but the program does not use.
func sourceFiles(fsys fs.FS) ([]string, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), "_test.go") || !d.Type().IsRegular() {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing buildpack source: %w", err)
	}
	return files, nil
}

// sourceDigest is the sha256 of the buildpacks source: every file's path
// and content, in order.
func sourceDigest(fsys fs.FS) (string, error) {
	files, err := sourceFiles(fsys)
	if err != nil {
		return "", err
	}
	if !hasGoPackage(files, buildpacksMain) {
		return "", fmt.Errorf("buildpack source has no Go files in %s", buildpacksMain)
	}
	h := newHasher("source")
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return "", fmt.Errorf("reading buildpack source: %w", err)
		}
		h.add(f, string(b))
	}
	return h.sum(), nil
}

// hasGoPackage reports whether files holds a .go file directly in dir.
func hasGoPackage(files []string, dir string) bool {
	for _, f := range files {
		if path.Dir(f) == dir && strings.HasSuffix(f, ".go") {
			return true
		}
	}
	return false
}
