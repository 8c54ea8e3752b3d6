package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxLinkHops bounds symlink resolution, as the kernel's ELOOP does.
const maxLinkHops = 40

// CheckTree checks a source directory before anything on the host reads it
// to build: pack and the Dockerfile context follow the tree's files, so a
// symlink that leads out of it (an absolute one, or one that climbs above
// the root, directly or through other links) would copy a host file into
// the image. Device files, sockets and FIFOs are refused too: reading a
// FIFO would hang the build. Every problem names the entry; the error
// wraps ErrUnsafeSource.
func CheckTree(dir string) error {
	root, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("checking source: %w", err)
	}
	fi, err := os.Lstat(root)
	if err != nil {
		return fmt.Errorf("checking source: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("checking source: %s is not a directory: %w", dir, ErrUnsafeSource)
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("checking source: %w", err)
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return fmt.Errorf("checking source: %w", err)
		}
		rel = filepath.ToSlash(rel)
		switch t := d.Type(); {
		case t.IsDir(), t.IsRegular():
			return nil
		case t&fs.ModeSymlink != 0:
			if _, err := resolveInRoot(root, rel); err != nil {
				return fmt.Errorf("checking source: symlink %q: %w", rel, err)
			}
			return nil
		default:
			return fmt.Errorf("checking source: %q is a %s, not a file, directory or symlink: %w", rel, fileKind(t), ErrUnsafeSource)
		}
	})
}

// fileKind names a special file's type for an error message.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// errEscapes is the reason a path leads out of its tree.
var errEscapes = fmt.Errorf("leads outside the source tree: %w", ErrUnsafeSource)

// resolveInRoot follows rel (slash-separated, relative to root) the way the
// kernel would, symlink by symlink, and returns where it ends, relative to
// root. It fails when any step would leave root: an absolute link target,
// or a ".." above the root. Resolving lexically is not enough: with
// sub/s -> "..", the path "sub/s/.." is "sub" on paper but the root's parent
// on disk. A component that does not exist ends the walk where it is: what
// is missing cannot lead anywhere yet.
func resolveInRoot(root, rel string) (string, error) {
	var done []string // resolved components, all real directories or the last one
	todo := splitPath(rel)
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case ".":
			continue
		case "..":
			if len(done) == 0 {
				return "", errEscapes
			}
			done = done[:len(done)-1]
			continue
		}
		cur := path.Join(append(done, c)...)
		fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(cur)))
		if errors.Is(err, fs.ErrNotExist) {
			done = append(done, c)
			continue
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if hops++; hops > maxLinkHops {
			return "", fmt.Errorf("too many levels of symlinks: %w", ErrUnsafeSource)
		}
		target, err := os.Readlink(filepath.Join(root, filepath.FromSlash(cur)))
		if err != nil {
			return "", err
		}
		if target == "" || strings.HasPrefix(target, "/") {
			return "", fmt.Errorf("points to %q: %w", target, errEscapes)
		}
		todo = append(splitPath(target), todo...)
	}
	return path.Join(done...), nil
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}
