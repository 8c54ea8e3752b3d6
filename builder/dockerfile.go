package builder

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// dockerfile builds j from its Dockerfile through the Engine API's legacy
// builder, which works offline with base images already on the host
// (BuildKit would want to resolve them in a registry). The image is built
// untagged and tagged only once the whole build succeeded, so a failing
// step or a stopped build leaves no tag; the daemon removes intermediate
// containers whatever the outcome. It returns the image ID.
func (b *Builder) dockerfile(ctx context.Context, j *job) (string, error) {
	j.log.Step("Building with the Dockerfile %s", j.dockerfile)
	pr, pw := io.Pipe()
	tarDone := make(chan error, 1)
	go func() {
		err := writeContext(pw, j.dir, j.dockerfile)
		pw.CloseWithError(err)
		tarDone <- err
	}()
	// However the build ends, the context writer stops and is waited for.
	defer func() {
		pr.CloseWithError(errors.New("build ended"))
		<-tarDone
	}()

	lim := b.cfg.limits()
	args := map[string]*string{}
	for k, v := range j.buildEnv() {
		args[k] = &v
	}
	pull, _ := b.cfg.pullPolicy()
	resp, err := b.engine.ImageBuild(ctx, pr, client.ImageBuildOptions{
		Version:     build.BuilderV1,
		Dockerfile:  j.dockerfile,
		BuildArgs:   args,
		Labels:      map[string]string{labelService: j.opts.Service},
		NetworkMode: j.network,
		Memory:      lim.memoryBytes,
		MemorySwap:  lim.memoryBytes,
		CPUPeriod:   100_000,
		CPUQuota:    lim.nanoCPUs / 10_000,
		Remove:      true,
		ForceRemove: true,
		PullParent:  pull.String() == "always",
	})
	if err != nil {
		return "", fmt.Errorf("starting the Dockerfile build: %w", err)
	}
	defer resp.Body.Close()
	id, err := readBuildStream(resp.Body, j.log)
	if err != nil {
		if tarErr := contextError(tarDone); tarErr != nil {
			return "", tarErr
		}
		return "", err
	}
	if _, err := b.engine.ImageTag(ctx, client.ImageTagOptions{Source: id, Target: j.opts.Image}); err != nil {
		return "", fmt.Errorf("tagging %s: %w", j.opts.Image, err)
	}
	return id, nil
}

// contextError returns the context writer's error if it has already
// failed (a file vanished mid-build), which explains a broken stream
// better than the daemon's message.
func contextError(done chan error) error {
	select {
	case err := <-done:
		done <- err // the deferred wait reads it again
		if err != nil {
			return fmt.Errorf("sending the build context: %w", err)
		}
	default:
	}
	return nil
}

// buildMessage is one message of the Engine's JSON build stream.
type buildMessage struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	ID          string `json:"id"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux json.RawMessage `json:"aux"`
}

// readBuildStream copies the build's output to the log and returns the
// built image's ID, or the error the daemon reported.
func readBuildStream(r io.Reader, log io.Writer) (string, error) {
	dec := json.NewDecoder(r)
	var id string
	for {
		var m buildMessage
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return "", fmt.Errorf("reading the build output: %w", err)
		}
		switch {
		case m.Error != "" || m.ErrorDetail != nil:
			msg := m.Error
			if msg == "" {
				msg = m.ErrorDetail.Message
			}
			fmt.Fprintln(log, msg)
			return "", fmt.Errorf("%w: %s", ErrBuildFailed, msg)
		case m.Stream != "":
			io.WriteString(log, m.Stream)
		case m.Status != "":
			if m.ID != "" {
				fmt.Fprintf(log, "%s: %s\n", m.ID, m.Status)
			} else {
				fmt.Fprintln(log, m.Status)
			}
		case len(m.Aux) > 0:
			var aux struct{ ID string }
			if json.Unmarshal(m.Aux, &aux) == nil && aux.ID != "" {
				id = aux.ID
			}
		}
	}
	if id == "" {
		return "", fmt.Errorf("%w: the engine reported no image", ErrBuildFailed)
	}
	return id, nil
}

// writeContext writes dir as the build context tar to w, leaving out what
// .dockerignore excludes (with Docker's rules, "!" exceptions included).
// The Dockerfile is always sent, as the Docker CLI does. Symlinks are sent
// as links (CheckTree has refused any that leave the tree), owners are
// zeroed, and entries come in a fixed order so an unchanged source hits
// the daemon's layer cache.
func writeContext(w io.Writer, dir, dockerfile string) error {
	pm, err := ignoreMatcher(dir)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	parents := map[string]patternmatcher.MatchInfo{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if pm != nil && rel != dockerfile && rel != ".dockerignore" {
			parent := parents[filepath.ToSlash(filepath.Dir(rel))]
			skip, info, err := pm.MatchesUsingParentResults(rel, parent)
			if err != nil {
				return fmt.Errorf("matching .dockerignore: %w", err)
			}
			if d.IsDir() {
				parents[rel] = info
			}
			if skip {
				if d.IsDir() && !pm.Exclusions() {
					return fs.SkipDir
				}
				return nil
			}
		}
		return addToTar(tw, p, rel, d)
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

func ignoreMatcher(dir string) (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	return pm, nil
}

func addToTar(tw *tar.Writer, p, rel string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name = rel
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	// Access and change times differ on every read; they would make
	// each context unique for nothing.
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	hdr.Format = tar.FormatPAX // names longer than 100 bytes
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
		return fmt.Errorf("adding %s: %w", rel, err)
	}
	return nil
}

// dockerfileAt reports whether the source has a regular file at the
// relative path name.
func dockerfileAt(dir, name string) bool {
	fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name)))
	return err == nil && fi.Mode().IsRegular() && !strings.Contains(name, "..")
}
