package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/apprun/apprun/builder"
	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/source"
	"github.com/apprun/apprun/spec"
	"github.com/apprun/apprun/web"
)

// deployBuilder is the deployer's builder: the real builder, waiting for
// the bootstrap, with the service's build secrets, and an image tag per
// deployment so that every revision keeps its image (a rollback needs it).
type deployBuilder struct{ bs *buildService }

func (b deployBuilder) Build(ctx context.Context, req deployer.BuildRequest, log io.Writer) (deployer.BuildResult, error) {
	if err := b.bs.ready.wait(ctx, log); err != nil {
		return deployer.BuildResult{}, err
	}
	secrets, err := b.bs.st.ServiceSecrets(ctx, req.Service.Name)
	if err != nil {
		return deployer.BuildResult{}, err
	}
	// Image names derive from the service's ID, never its name.
	image := deployer.ImageRepository(req.Service.ID) + ":" + strconv.Itoa(req.Deployment.Number)
	opts := builder.Options{
		Service:       req.Service.ID,
		Image:         image,
		PreviousImage: req.PreviousImage,
		Secrets:       secrets,
		Log:           log,
	}
	res, err := b.bs.b.Build(ctx, builder.Source{Dir: req.Dir}, opts)
	if err != nil {
		return deployer.BuildResult{}, err
	}
	out := deployer.BuildResult{Image: res.Image, Digest: res.Digest, Kind: res.Kind, Processes: res.Processes}
	// apprun.yaml says which port the app listens on and its run env; the
	// builder has checked it already, so an error here is not expected.
	if data, err := os.ReadFile(filepath.Join(req.Dir, "apprun.yaml")); err == nil {
		cfg, err := spec.ParseAppConfig(data)
		if err != nil {
			return deployer.BuildResult{}, err
		}
		out.Config = &cfg
	} else if !errors.Is(err, fs.ErrNotExist) {
		return deployer.BuildResult{}, fmt.Errorf("reading apprun.yaml: %w", err)
	}
	return out, nil
}

// deployAPI adapts the deployer to the API's Deployer: it unpacks an
// uploaded archive into a directory derived from a fresh ID and converts
// the deployer's types to the API's.
type deployAPI struct {
	d       *deployer.Deployer
	dataDir string
	// builds, when set, removes a deleted service's build caches; repos
	// its git repository.
	builds *buildService
	repos  *source.Server
}

func (a deployAPI) DeployArchive(ctx context.Context, svc spec.Service, archive io.Reader, log io.Writer) (spec.Deployment, error) {
	id, err := randomID()
	if err != nil {
		return spec.Deployment{}, err
	}
	dir := filepath.Join(a.dataDir, "builds", id)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return spec.Deployment{}, fmt.Errorf("preparing the build directory: %w", err)
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(log, "-----> Receiving source")
	if err := builder.ExtractArchive(archive, dir, builder.ArchiveLimits{}); err != nil {
		return spec.Deployment{}, err
	}
	return a.d.Deploy(ctx, deployer.DeployRequest{Service: svc.Name, Dir: dir}, log)
}

func (a deployAPI) DeployRevision(ctx context.Context, svc spec.Service, revisionID string, log io.Writer) (spec.Deployment, error) {
	return a.d.Deploy(ctx, deployer.DeployRequest{Service: svc.Name, RevisionID: revisionID}, log)
}

func (a deployAPI) Scale(ctx context.Context, svc spec.Service, formation map[string]int) (spec.Service, error) {
	return a.d.Scale(ctx, svc.Name, formation)
}

func (a deployAPI) Logs(ctx context.Context, svc spec.Service, q web.LogQuery, emit func(web.LogLine) error) error {
	return a.d.Logs(ctx, svc.Name, deployer.LogQuery(q), func(l deployer.LogLine) error {
		return emit(web.LogLine(l))
	})
}

func (a deployAPI) Instances(ctx context.Context, svc spec.Service) ([]web.InstanceStatus, error) {
	insts, err := a.d.Instances(ctx, svc.Name)
	if err != nil {
		return nil, err
	}
	out := make([]web.InstanceStatus, len(insts))
	for n, i := range insts {
		out[n] = web.InstanceStatus{ID: i.ID, Name: i.Name, Process: i.Process, RevisionID: i.RevisionID,
			State: i.State, Address: i.Address, Ready: i.Ready, StartedAt: i.StartedAt, Restarts: i.Restarts}
	}
	return out, nil
}

func (a deployAPI) Undeploy(ctx context.Context, svc spec.Service) error {
	err := a.d.Undeploy(ctx, svc)
	if a.builds != nil {
		// The caches are keyed on the image repository, shared by every
		// revision's tag.
		err = errors.Join(err, a.builds.b.RemoveCache(ctx, deployer.ImageRepository(svc.ID)+":latest"))
	}
	if a.repos != nil {
		err = errors.Join(err, a.repos.RemoveRepo(svc.ID))
	}
	return err
}
