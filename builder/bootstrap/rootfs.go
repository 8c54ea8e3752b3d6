package bootstrap

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// mmdebstrapArgs is the argv that makes a base rootfs tarball at out from
// the host's apt sources file. Hooks and dpkg options come from the recipe;
// users, apt sources and the Go toolchain are dealt with in rewriteRootfs,
// in Go, rather than in shell hooks.
func mmdebstrapArgs(spec rootfsSpec, aptSources, out string) []string {
	args := []string{
		"mmdebstrap",
		"--variant=" + spec.variant,
		"--include=" + strings.Join(spec.include, ","),
		"--hook-dir=" + mergedUsrHooks,
	}
	for _, o := range dpkgOptions {
		args = append(args, "--dpkgopt="+o)
	}
	return append(args, "--format=tar", suite, out, aptSources)
}

// dropFromRootfs are files of mmdebstrap's tarball that must not reach an
// image: the host's apt sources (the images have no use for the host's
// mirror, and apprun names none), and the host's name and resolver, which
// mmdebstrap copies in and the engine provides to every container anyway.
func dropFromRootfs(name string) bool {
	switch name {
	case "etc/apt/sources.list", "etc/hostname", "etc/resolv.conf":
		return true
	}
	dir, file := path.Split(name)
	return dir == "etc/apt/sources.list.d/" && file != ""
}

// rewriteOptions say what rewriteRootfs adds.
type rewriteOptions struct {
	// goRoot, if set, is copied to usr/local/go, less goRootExcludes.
	goRoot string
}

// rewriteRootfs copies mmdebstrap's tarball from src to dst, ready for the
// image import: the host's apt sources and names dropped, the cnb user and
// group added to /etc/passwd and /etc/group with a home directory, and the Go
// toolchain added when asked.
func rewriteRootfs(dst io.Writer, src io.Reader, opts rewriteOptions) error {
	tr := tar.NewReader(src)
	tw := tar.NewWriter(dst)
	var sawPasswd, sawGroup bool
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading rootfs tarball: %w", err)
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if dropFromRootfs(name) {
			continue
		}
		var extra string
		switch name {
		case "etc/passwd":
			sawPasswd = true
			extra = fmt.Sprintf("%s:x:%d:%d:%s:%s:/bin/sh\n", userName, userID, groupID, userName, userHome)
		case "etc/group":
			sawGroup = true
			extra = fmt.Sprintf("%s:x:%d:\n", userName, groupID)
		}
		if extra == "" {
			if err := tw.WriteHeader(hdr); err != nil {
				return fmt.Errorf("writing rootfs: %w", err)
			}
			if _, err := io.Copy(tw, tr); err != nil {
				return fmt.Errorf("writing rootfs: %w", err)
			}
			continue
		}
		if err := appendToFile(tw, tr, hdr, extra); err != nil {
			return err
		}
	}
	if !sawPasswd || !sawGroup {
		return errors.New("rootfs tarball has no /etc/passwd or /etc/group")
	}
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeDir, Name: "./" + strings.TrimPrefix(userHome, "/") + "/",
		Mode: 0o755, Uid: userID, Gid: groupID, ModTime: epoch,
	}); err != nil {
		return fmt.Errorf("writing rootfs: %w", err)
	}
	if opts.goRoot != "" {
		if err := addTree(tw, opts.goRoot, "usr/local/go", goRootExcludes); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing rootfs: %w", err)
	}
	return nil
}

// appendToFile writes the entry hdr from tr with extra appended, unless the
// file already holds that line.
func appendToFile(tw *tar.Writer, tr io.Reader, hdr *tar.Header, extra string) error {
	b, err := io.ReadAll(io.LimitReader(tr, 1<<20))
	if err != nil {
		return fmt.Errorf("reading %s from rootfs: %w", hdr.Name, err)
	}
	content := string(b)
	if !strings.Contains(content, userName+":x:") {
		if content != "" && !strings.HasSuffix(content, "\n") {
			content += "\n"
		}
		content += extra
	}
	h := *hdr
	h.Size = int64(len(content))
	if err := tw.WriteHeader(&h); err != nil {
		return fmt.Errorf("writing rootfs: %w", err)
	}
	if _, err := io.WriteString(tw, content); err != nil {
		return fmt.Errorf("writing rootfs: %w", err)
	}
	return nil
}

// addTree writes the directory root into tw under prefix, owned by root,
// leaving out the top-level entries named in exclude.
func addTree(tw *tar.Writer, root, prefix string, exclude []string) error {
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		for _, x := range exclude {
			if rel == x {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		var link string
		if d.Type()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = "./" + path.Join(prefix, rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "root", "root"
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, bufio.NewReaderSize(f, 1<<16))
		return err
	})
	if err != nil {
		return fmt.Errorf("adding %s to rootfs: %w", root, err)
	}
	return nil
}

// makeBaseImage runs mmdebstrap into the scratch dir, then streams its
// tarball, rewritten, into the engine's image import.
func (r *runner) makeBaseImage(ctx context.Context, s step, spec rootfsSpec) error {
	tarball := filepath.Join(r.scratch, strings.ReplaceAll(string(s.id), " ", "-")+".tar")
	defer os.Remove(tarball)
	if _, err := runCommand(ctx, r.log, command{argv: mmdebstrapArgs(spec, r.aptSources, tarball)}); err != nil {
		return err
	}
	f, err := os.Open(tarball)
	if err != nil {
		return fmt.Errorf("opening rootfs tarball: %w", err)
	}
	defer f.Close()
	opts := rewriteOptions{}
	if spec.withGo {
		opts.goRoot = r.goRoot
	}
	changes := append(imageChanges(spec, r.in), "LABEL "+HashLabel+"="+s.hash)
	return r.importStream(ctx, s.name, changes, func(w io.Writer) error {
		return rewriteRootfs(w, bufio.NewReaderSize(f, 1<<20), opts)
	})
}

// importStream imports the tarball that write produces, through a pipe, so
// the rewritten rootfs never touches the disk.
func (r *runner) importStream(ctx context.Context, ref string, changes []string, write func(io.Writer) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := write(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	err := r.eng.importImage(ctx, ref, pr, changes)
	// Unblock the writer if the import stopped reading early.
	pr.CloseWithError(errors.New("import ended"))
	if werr := <-done; werr != nil && err == nil {
		err = werr
	}
	return err
}
