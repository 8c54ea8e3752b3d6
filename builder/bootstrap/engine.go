package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// engine is what the bootstrap needs of the Docker Engine API. The real one
// is mobyEngine; tests use a hand-written fake.
type engine interface {
	// apiVersion is the engine's API version, like "1.41".
	apiVersion(ctx context.Context) (string, error)
	// image returns the ID and labels of the image ref, with ok false
	// when no image has that name.
	image(ctx context.Context, ref string) (info imageInfo, ok bool, err error)
	// importImage makes the image ref from a rootfs tarball and
	// Dockerfile-like changes (ENV, LABEL, USER, WORKDIR).
	importImage(ctx context.Context, ref string, rootfs io.Reader, changes []string) error
	// buildImage builds ref from a build context tarball holding a
	// Dockerfile, adding labels.
	buildImage(ctx context.Context, ref string, buildContext io.Reader, labels map[string]string) error
	// removeImage removes an image by ID, and its untagged parents, if
	// nothing uses it.
	removeImage(ctx context.Context, id string) error
}

type imageInfo struct {
	ID     string
	Tags   []string
	Labels map[string]string
}

// mobyEngine is engine over the moby client that pack also uses.
type mobyEngine struct {
	c *client.Client
}

func (e mobyEngine) apiVersion(ctx context.Context) (string, error) {
	v, err := e.c.ServerVersion(ctx, client.ServerVersionOptions{})
	if err != nil {
		return "", fmt.Errorf("asking the Docker engine its version: %w", err)
	}
	return v.APIVersion, nil
}

func (e mobyEngine) image(ctx context.Context, ref string) (imageInfo, bool, error) {
	res, err := e.c.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return imageInfo{}, false, nil
	}
	if err != nil {
		return imageInfo{}, false, fmt.Errorf("inspecting image %s: %w", ref, err)
	}
	info := imageInfo{ID: res.ID, Tags: res.RepoTags}
	if res.Config != nil {
		info.Labels = res.Config.Labels
	}
	return info, true, nil
}

func (e mobyEngine) importImage(ctx context.Context, ref string, rootfs io.Reader, changes []string) error {
	body, err := e.c.ImageImport(ctx, client.ImageImportSource{Source: rootfs, SourceName: "-"}, ref, client.ImageImportOptions{Changes: changes})
	if err != nil {
		return fmt.Errorf("importing %s: %w", ref, err)
	}
	defer body.Close()
	if err := readMessages(body, io.Discard); err != nil {
		return fmt.Errorf("importing %s: %w", ref, err)
	}
	return nil
}

func (e mobyEngine) buildImage(ctx context.Context, ref string, buildContext io.Reader, labels map[string]string) error {
	tail := newTail(4096)
	res, err := e.c.ImageBuild(ctx, buildContext, client.ImageBuildOptions{
		Tags:        []string{ref},
		Labels:      labels,
		Remove:      true,
		ForceRemove: true,
		// Nothing is pulled: the base is one of ours, and there is no
		// registry to pull from.
		PullParent: false,
	})
	if err != nil {
		return fmt.Errorf("building %s: %w", ref, err)
	}
	defer res.Body.Close()
	if err := readMessages(res.Body, tail); err != nil {
		return fmt.Errorf("building %s: %w\n%s", ref, err, tail)
	}
	return nil
}

func (e mobyEngine) removeImage(ctx context.Context, id string) error {
	// PruneChildren, despite its name, removes the untagged parents too:
	// the intermediate images of the lifecycle image's build, and the run
	// image it was made from once that has been replaced as well.
	_, err := e.c.ImageRemove(ctx, id, client.ImageRemoveOptions{PruneChildren: true})
	return err
}

// message is one object of the JSON stream the import and build endpoints
// answer with. Errors arrive in the stream with status 200, so it must be
// read to the end.
type message struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	ErrorDetail *struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
}

// readMessages reads a JSON message stream to its end, copying the build
// output to out, and returns the first error the stream reports.
func readMessages(r io.Reader, out io.Writer) error {
	dec := json.NewDecoder(r)
	for {
		var m message
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the engine's answer: %w", err)
		}
		if m.ErrorDetail != nil && m.ErrorDetail.Message != "" {
			return errors.New(strings.TrimSpace(m.ErrorDetail.Message))
		}
		if m.Error != "" {
			return errors.New(strings.TrimSpace(m.Error))
		}
		if m.Stream != "" {
			io.WriteString(out, m.Stream)
		}
	}
}
