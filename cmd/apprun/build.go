package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/apprun/apprun/builder/bootstrap"
)

func newBuilderCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "builder",
		Short: "Manage the images builds need (made locally; no registry)",
	}
	var dataDir, configPath string
	var force bool
	resolve := func() (string, error) {
		cfg, err := loadServerConfig(configPath, g.getenv)
		if err != nil {
			return "", err
		}
		if dataDir != "" {
			cfg.DataDir = dataDir
		}
		return cfg.DataDir, nil
	}
	boot := &cobra.Command{
		Use:   "bootstrap",
		Short: "Make the run, build, lifecycle and builder images on this engine",
		Long: `Make everything a build needs on a Docker engine that has no images and
reaches no registry: Debian run and build images (mmdebstrap from this host's
apt sources), the CNB lifecycle compiled from the Go module proxy, apprun's
buildpacks, and the builder image. Each output is labelled with a hash of its
inputs and skipped when it is up to date, so running it again is quick.
It needs root (mmdebstrap) and a few minutes the first time.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := resolve()
			if err != nil {
				return err
			}
			progress := g.io.out
			if g.json {
				progress = g.io.err
			}
			cfg, err := bootstrapConfig(dir, progress, slog.New(slog.NewTextHandler(io.Discard, nil)), force)
			if err != nil {
				return err
			}
			start := time.Now()
			res, err := bootstrap.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(res)
			}
			fmt.Fprintf(g.io.out, "-----> Builder %s ready (%s)\n", res.BuilderImage, time.Since(start).Round(100*time.Millisecond))
			return nil
		},
	}
	boot.Flags().BoolVar(&force, "force", false, "make every image again, even those up to date")
	status := &cobra.Command{
		Use:   "status",
		Short: "Show which builder images are missing or stale, without making any",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := resolve()
			if err != nil {
				return err
			}
			cfg, err := bootstrapConfig(dir, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)), false)
			if err != nil {
				return err
			}
			st, err := bootstrap.Check(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if g.json {
				return g.printJSON(map[string]any{"ready": st.Ready(), "outputs": st.Outputs})
			}
			t := newTable(g.io.out, "STEP", "NAME", "STATE")
			for _, o := range st.Outputs {
				t.row(o.Step, o.Name, string(o.State))
			}
			if err := t.flush(); err != nil {
				return err
			}
			if !st.Ready() {
				return fmt.Errorf("the builder is not ready: run `apprun builder bootstrap`")
			}
			return nil
		},
	}
	for _, c := range []*cobra.Command{boot, status} {
		c.Flags().StringVar(&dataDir, "data-dir", "", "the server's data directory (env APPRUN_DATA_DIR)")
		c.Flags().StringVar(&configPath, "config", "", "server config file (env APPRUN_CONFIG)")
	}
	cmd.AddCommand(boot, status)
	return cmd
}

func newBuildCmd(g *globals) *cobra.Command {
	var service, name string
	cmd := &cobra.Command{
		Use:   "build [DIR]",
		Short: "Build a local directory into an image on the server and print the image",
		Long: `Upload DIR (default ".") to the server, build it with buildpacks (or its
Dockerfile when apprun.yaml asks for one, or when no buildpack detects), and
print the image. The build log goes to stderr, the image to stdout, so
IMAGE=$(apprun build .) works. .git is not uploaded.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			abs, err := sourceDir(args)
			if err != nil {
				return err
			}
			q := url.Values{}
			switch {
			case service != "" && name != "":
				return usageErrorf("give --service or --name, not both")
			case service != "":
				q.Set("service", service)
			default:
				if name == "" {
					name = labelFromDir(abs)
				}
				q.Set("name", name)
			}
			archive, err := packDir(abs)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			return g.streamBuild(cmd.Context(), c, "/api/v1/builds?"+q.Encode(), archive)
		},
	}
	cmd.Flags().StringVar(&service, "service", "", "build for this service (its image, its secrets masked)")
	cmd.Flags().StringVar(&name, "name", "", "image name for an ad-hoc build (default: the directory's name)")
	return cmd
}

// streamBuild posts an archive and follows the NDJSON answer: log lines to
// stderr as they come, the image (or the JSON result) to stdout.
func (g *globals) streamBuild(ctx context.Context, c *client, path string, archive []byte) error {
	start := time.Now()
	fmt.Fprintf(g.io.err, "-----> Uploading source (%s)\n", byteSize(len(archive)))
	resp, err := c.stream(ctx, "POST", path, "application/gzip", archive)
	if err != nil {
		return err
	}
	defer resp.Close()
	finished := false
	err = readNDJSON(resp, "build", func(line []byte) (bool, error) {
		var ev struct {
			Log    *string         `json:"log"`
			Result json.RawMessage `json:"result"`
			Error  *apiError       `json:"error"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			return true, fmt.Errorf("the server's build stream is not NDJSON: %w", err)
		}
		switch {
		case ev.Log != nil:
			fmt.Fprintln(g.io.err, *ev.Log)
		case ev.Error != nil:
			ev.Error.Status = 422
			if ev.Error.Code == "build_failed" {
				ev.Error.Status = 500
			}
			return true, ev.Error
		case ev.Result != nil:
			finished = true
			if g.json {
				return true, g.printRaw(ev.Result)
			}
			var res struct {
				Image, Digest, Kind string
			}
			_ = json.Unmarshal(ev.Result, &res)
			fmt.Fprintf(g.io.err, "-----> Done in %s\n", elapsed(start))
			fmt.Fprintln(g.io.out, res.Image)
			return true, nil
		}
		return false, nil
	})
	if err != nil || finished {
		return err
	}
	return fmt.Errorf("the build stream ended without a result")
}
