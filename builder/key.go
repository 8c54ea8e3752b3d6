package builder

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
)

// requestKey identifies a build request for de-duplication: the service,
// every option that changes the image, and the source's content (names,
// types, execute bits, file contents and link targets). Two requests with
// the same key would build the same image, so they share one build.
func requestKey(src Source, opts Options, network string) (string, error) {
	h := sha256.New()
	field := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		io.WriteString(h, s)
	}
	field(opts.Service)
	field(opts.Image)
	field(opts.PreviousImage)
	field(network)
	field(fmt.Sprint(opts.SecretsInEnv))
	for _, m := range []map[string]string{opts.Env, opts.Secrets} {
		field(fmt.Sprint(len(m)))
		for _, k := range slices.Sorted(maps.Keys(m)) {
			field(k)
			field(m[k])
		}
	}
	if err := hashTree(h, src.Dir, field); err != nil {
		return "", fmt.Errorf("hashing source: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashTree feeds the tree under dir into h. It opens regular files only:
// reading a FIFO would block (CheckTree refuses those later, with a
// clear message).
func hashTree(h hash.Hash, dir string, field func(string)) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		field(filepath.ToSlash(rel))
		t := d.Type()
		field(t.String())
		switch {
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			field(target)
		case t.IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			field(fmt.Sprint(fi.Mode().Perm() & 0o111))
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			sum := sha256.New()
			_, err = io.Copy(sum, f)
			f.Close()
			if err != nil {
				return err
			}
			field(string(sum.Sum(nil)))
		}
		return nil
	})
}
