package harness

// This file prepares the source the benchmarks deploy: a copy of a Go
// example whose handler prints a version constant, so the body of a
// response says which deployment answered, and a new version is a
// one-line change in one file.

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Example is a copy of a Go example, changed to print a version.
type Example struct {
	Dir    string // the copy
	mainGo []byte // its main.go, printing benchVersion, without the constant
}

// helloLine is the line of the example's handler the version is added to.
const helloLine = `fmt.Fprintln(w, "hello from go")`

// CopyExample copies the example at from (its regular files and
// directories, without .git) to dir, ready for SetVersion.
func CopyExample(from, dir string) (*Example, error) {
	if err := copyDir(from, dir); err != nil {
		return nil, fmt.Errorf("copying %s: %w", from, err)
	}
	orig, err := os.ReadFile(filepath.Join(dir, "main.go"))
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(orig, []byte(helloLine)) {
		return nil, fmt.Errorf("%s/main.go has no %s line to put the version in", from, helloLine)
	}
	return &Example{
		Dir:    dir,
		mainGo: bytes.Replace(orig, []byte(helloLine), []byte(`fmt.Fprintln(w, "hello from go", benchVersion)`), 1),
	}, nil
}

// SetVersion writes main.go so that the handler prints "hello from go v".
func (e *Example) SetVersion(v string) error {
	src := append(slices.Clone(e.mainGo), fmt.Sprintf("\n// benchVersion is set by the benchmark.\nconst benchVersion = %q\n", v)...)
	return os.WriteFile(filepath.Join(e.Dir, "main.go"), src, 0o644)
}

// copyDir copies the regular files and directories of src to dst.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o644)
		}
		return nil // no symlinks or devices in the examples
	})
}
