package source

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"unicode/utf8"
)

// ErrUnsafeArchive is an export that holds an entry apprun will not write.
var ErrUnsafeArchive = errors.New("unsafe entry in the commit's tree")

// Limits bound what an export may unpack to.
type Limits struct {
	// MaxBytes is the total size of the files (default 1 GiB).
	MaxBytes int64
	// MaxEntries is the number of entries (default 100,000).
	MaxEntries int
}

// Extract unpacks a tar stream (git archive's) into dst, which it makes
// and which must not exist. It writes regular files (0644 or 0755),
// directories and symlinks whose target stays inside the tree, and refuses
// everything else: absolute names, ".." components, control characters,
// invalid UTF-8, hardlinks and special files, and trees past the limits.
// Every write goes through an os.Root at dst, so no entry is written
// through a symlink to outside it. On error dst is removed.
func Extract(r io.Reader, dst string, limits Limits) (err error) {
	if limits.MaxBytes <= 0 {
		limits.MaxBytes = 1 << 30
	}
	if limits.MaxEntries <= 0 {
		limits.MaxEntries = 100_000
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		return fmt.Errorf("making the checkout: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dst)
		}
	}()
	root, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer root.Close()
	tr := tar.NewReader(r)
	var total int64
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the export: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // git archive's commit ID, for the whole archive
		}
		if n >= limits.MaxEntries {
			return fmt.Errorf("more than %d entries: %w", limits.MaxEntries, ErrUnsafeArchive)
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return fmt.Errorf("entry %q: %w", name, err)
			}
		case tar.TypeReg:
			if hdr.Size < 0 || total+hdr.Size > limits.MaxBytes {
				return fmt.Errorf("entry %q: the tree is larger than %d bytes: %w", name, limits.MaxBytes, ErrUnsafeArchive)
			}
			total += hdr.Size
			if err := writeFile(root, name, hdr, tr); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := checkLink(name, hdr.Linkname); err != nil {
				return err
			}
			if err := mkParent(root, name); err != nil {
				return err
			}
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return fmt.Errorf("entry %q: %w", name, err)
			}
		default:
			return fmt.Errorf("entry %q: type %q is not a file, directory or symlink: %w", name, hdr.Typeflag, ErrUnsafeArchive)
		}
	}
}

func mkParent(root *os.Root, name string) error {
	if d := path.Dir(name); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("entry %q: %w", name, err)
		}
	}
	return nil
}

func writeFile(root *os.Root, name string, hdr *tar.Header, r io.Reader) error {
	if err := mkParent(root, name); err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		mode = 0o755
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("entry %q: %w", name, err)
	}
	_, err = io.CopyN(f, r, hdr.Size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("entry %q: %w", name, err)
	}
	return nil
}

// cleanName checks an entry's name and returns it relative and clean (""
// for the root).
func cleanName(raw string) (string, error) {
	switch {
	case raw == "" || len(raw) > 4096:
		return "", fmt.Errorf("entry name of %d bytes: %w", len(raw), ErrUnsafeArchive)
	case !utf8.ValidString(raw) || strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", fmt.Errorf("entry %q: invalid or control characters: %w", raw, ErrUnsafeArchive)
	case strings.HasPrefix(raw, "/"):
		return "", fmt.Errorf("entry %q: absolute path: %w", raw, ErrUnsafeArchive)
	}
	var parts []string
	for _, c := range strings.Split(raw, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return "", fmt.Errorf("entry %q: path holds \"..\": %w", raw, ErrUnsafeArchive)
		}
		parts = append(parts, c)
	}
	return path.Join(parts...), nil
}

// checkLink refuses a symlink whose target is absolute or climbs out of
// the tree from where the link is.
func checkLink(name, target string) error {
	if target == "" || strings.HasPrefix(target, "/") || strings.ContainsRune(target, 0) {
		return fmt.Errorf("symlink %q -> %q leads out of the tree: %w", name, target, ErrUnsafeArchive)
	}
	resolved := path.Join(path.Dir(name), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("symlink %q -> %q leads out of the tree: %w", name, target, ErrUnsafeArchive)
	}
	return nil
}
