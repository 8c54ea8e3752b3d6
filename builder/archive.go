package builder

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// ArchiveLimits bound what an uploaded source archive may unpack to, so a
// small upload (a gzip bomb, a million empty files) cannot fill the disk or
// exhaust inodes.
type ArchiveLimits struct {
	// MaxBytes is the total size of the files (default 1 GiB).
	MaxBytes int64
	// MaxEntries is the number of entries: files, directories and links
	// (default 100,000).
	MaxEntries int
}

// DefaultArchiveLimits are the limits for a zero ArchiveLimits.
var DefaultArchiveLimits = ArchiveLimits{MaxBytes: 1 << 30, MaxEntries: 100_000}

func (l ArchiveLimits) orDefaults() ArchiveLimits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultArchiveLimits.MaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultArchiveLimits.MaxEntries
	}
	return l
}

// maxNameLen is the longest entry name accepted, Linux's PATH_MAX.
const maxNameLen = 4096

// ExtractArchive unpacks a tar or gzip-compressed tar source archive (the
// API's upload) into dst, which must not exist or be an empty directory.
//
// It refuses, naming the entry: names that are absolute, hold a ".."
// component, a NUL or another control character, or are not valid UTF-8;
// symlinks whose target leads out of the tree; hardlinks to anything not
// already extracted; writing through a symlink; device files, FIFOs and
// other special entries; duplicate entries; and archives past limits. It
// unpacks into a temporary directory beside dst and renames it into place
// only when every entry passed, so on refusal nothing is left in dst.
// Names are taken literally: "%2e%2e" is a file of that name. File modes
// keep only the execute bits (0644 or 0755); owners and times are not
// restored. Errors wrap ErrUnsafeSource when the archive is refused.
func ExtractArchive(r io.Reader, dst string, limits ArchiveLimits) error {
	limits = limits.orDefaults()
	if err := checkEmptyOrMissing(dst); err != nil {
		return fmt.Errorf("extracting archive: %w", err)
	}
	parent, base := filepath.Split(filepath.Clean(dst))
	if parent == "" {
		parent = "."
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".extract-")
	if err != nil {
		return fmt.Errorf("extracting archive: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(tmp)
		}
	}()
	if err := extractInto(r, tmp, limits); err != nil {
		return fmt.Errorf("extracting archive: %w", err)
	}
	// Links checked one by one can still combine into an escape once the
	// tree is complete, so the whole tree is checked before it is used.
	if err := CheckTree(tmp); err != nil {
		return fmt.Errorf("extracting archive: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("extracting archive: %w", err)
	}
	// os.Rename will not replace a directory, even an empty one; Remove
	// removes dst only if it is empty (checked above).
	if err := os.Remove(dst); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("extracting archive: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("extracting archive: %w", err)
	}
	keep = true
	return nil
}

func checkEmptyOrMissing(dst string) error {
	entries, err := os.ReadDir(dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("%s is not empty", dst)
	}
	return nil
}

// refuse is an archive entry that is not accepted.
func refuse(name, format string, args ...any) error {
	return fmt.Errorf("entry %q: %s: %w", name, fmt.Sprintf(format, args...), ErrUnsafeSource)
}

func extractInto(r io.Reader, root string, limits ArchiveLimits) error {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("reading gzip: %w", err)
		}
		defer zr.Close()
		src = zr
	}
	tr := tar.NewReader(src)
	var total int64
	entries := 0
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading tar: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // pax metadata for the whole archive, not a file
		}
		if entries++; entries > limits.MaxEntries {
			return fmt.Errorf("archive has more than %d entries: %w", limits.MaxEntries, ErrUnsafeSource)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue // the root itself ("./")
		}
		if hdr.Typeflag == tar.TypeReg {
			if hdr.Size < 0 || total+hdr.Size > limits.MaxBytes {
				return fmt.Errorf("entry %q: archive unpacks to more than %d bytes: %w", hdr.Name, limits.MaxBytes, ErrUnsafeSource)
			}
			total += hdr.Size
		}
		if err := extractEntry(tr, hdr, root, name); err != nil {
			return err
		}
	}
}

// entryName checks an entry's name and returns it cleaned and relative
// ("" for the root).
func entryName(raw string) (string, error) {
	switch {
	case raw == "":
		return "", refuse(raw, "empty name")
	case len(raw) > maxNameLen:
		return "", refuse(raw[:64]+"...", "name longer than %d bytes", maxNameLen)
	case !utf8.ValidString(raw):
		return "", refuse(raw, "name is not valid UTF-8")
	case strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", refuse(raw, "name holds a control character")
	case strings.HasPrefix(raw, "/"):
		return "", refuse(raw, "absolute path")
	}
	var parts []string
	for _, c := range strings.Split(raw, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return "", refuse(raw, "path holds \"..\"")
		}
		parts = append(parts, c)
	}
	return path.Join(parts...), nil
}

// extractEntry writes one entry at name (checked) under root.
func extractEntry(tr *tar.Reader, hdr *tar.Header, root, name string) error {
	dir, err := ensureParents(root, name, hdr.Name)
	if err != nil {
		return err
	}
	target := filepath.Join(dir, path.Base(name))
	existing, err := os.Lstat(target)
	switch {
	case err == nil && existing.IsDir() && hdr.Typeflag == tar.TypeDir:
		return nil // a directory listed after its contents, or twice
	case err == nil:
		return refuse(hdr.Name, "duplicate entry")
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return os.Mkdir(target, 0o755)
	case tar.TypeReg: // the reader turns the old TypeRegA into TypeReg
		mode := os.FileMode(0o644)
		if hdr.Mode&0o111 != 0 {
			mode = 0o755
		}
		// O_EXCL with the Lstat above: the file is new, never a link
		// followed to somewhere else.
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if err != nil {
			return err
		}
		_, err = io.CopyN(f, tr, hdr.Size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
		return nil
	case tar.TypeSymlink:
		link := hdr.Linkname
		if link == "" || strings.HasPrefix(link, "/") {
			return refuse(hdr.Name, "symlink to %q leads outside the source tree", link)
		}
		if strings.ContainsRune(link, 0) || !utf8.ValidString(link) {
			return refuse(hdr.Name, "symlink target is not a valid name")
		}
		// A first check against the tree so far; the whole tree is
		// checked again once complete.
		// Not path.Join: cleaning "sub/s/.." to "sub" lexically would
		// hide that sub/s may be a link.
		from := link
		if d := path.Dir(name); d != "." {
			from = d + "/" + link
		}
		if _, err := resolveInRoot(root, from); err != nil {
			return refuse(hdr.Name, "symlink to %q leads outside the source tree", link)
		}
		return os.Symlink(link, target)
	case tar.TypeLink:
		old, err := entryName(hdr.Linkname)
		if err != nil || old == "" {
			return refuse(hdr.Name, "hardlink to %q leads outside the source tree", hdr.Linkname)
		}
		oldDir, err := existingParents(root, old)
		if err != nil {
			return refuse(hdr.Name, "hardlink to %q: %v", hdr.Linkname, err)
		}
		oldPath := filepath.Join(oldDir, path.Base(old))
		fi, err := os.Lstat(oldPath)
		if err != nil || !fi.Mode().IsRegular() {
			return refuse(hdr.Name, "hardlink to %q, which is not a file earlier in the archive", hdr.Linkname)
		}
		return os.Link(oldPath, target)
	case tar.TypeChar, tar.TypeBlock:
		return refuse(hdr.Name, "device file")
	case tar.TypeFifo:
		return refuse(hdr.Name, "named pipe")
	default:
		return refuse(hdr.Name, "unsupported entry type %q", string(hdr.Typeflag))
	}
}

// ensureParents makes the directories above name inside root, refusing to
// pass through a symlink or a file, and returns the host path of name's
// directory. os.MkdirAll would follow a symlink an earlier entry planted.
func ensureParents(root, name, raw string) (string, error) {
	dir := root
	parts := strings.Split(name, "/")
	for _, c := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, c)
		fi, err := os.Lstat(dir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(dir, 0o755); err != nil {
				return "", err
			}
		case err != nil:
			return "", err
		case fi.Mode()&fs.ModeSymlink != 0:
			return "", refuse(raw, "path passes through a symlink")
		case !fi.IsDir():
			return "", refuse(raw, "path passes through a file")
		}
	}
	return dir, nil
}

// existingParents is ensureParents for a path that must already be there.
func existingParents(root, name string) (string, error) {
	dir := root
	parts := strings.Split(name, "/")
	for _, c := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, c)
		fi, err := os.Lstat(dir)
		if err != nil {
			return "", errors.New("not in the archive")
		}
		if !fi.IsDir() {
			return "", errors.New("passes through a symlink or a file")
		}
	}
	return dir, nil
}
