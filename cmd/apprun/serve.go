package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/apprun/apprun/builder"
	"github.com/apprun/apprun/builder/bootstrap"
	"github.com/apprun/apprun/deployer"
	"github.com/apprun/apprun/deployer/docker"
	"github.com/apprun/apprun/router"
	rtls "github.com/apprun/apprun/router/tls"
	"github.com/apprun/apprun/router/traefikcfg"
	"github.com/apprun/apprun/store"
	"github.com/apprun/apprun/web"
)

func newServeCmd(g *globals) *cobra.Command {
	var configPath string
	var over serverConfig
	var saveLogin bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the apprun platform (API and router) on this machine",
		Long: `Run the apprun control plane: the HTTP API (loopback by default) and the
router for the apps' traffic. Settings come from defaults, then --config
(see configs/apprun.yaml), then APPRUN_* environment variables, then flags.

On first start it creates an admin API token and prints it once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadServerConfig(configPath, g.getenv)
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			for flag, pair := range map[string][2]*string{
				"data-dir":    {&cfg.DataDir, &over.DataDir},
				"api-addr":    {&cfg.APIAddr, &over.APIAddr},
				"http-addr":   {&cfg.HTTPAddr, &over.HTTPAddr},
				"apps-domain": {&cfg.AppsDomain, &over.AppsDomain},
				"log-level":   {&cfg.LogLevel, &over.LogLevel},
				"log-format":  {&cfg.LogFormat, &over.LogFormat},
			} {
				if fl.Changed(flag) {
					*pair[0] = *pair[1]
				}
			}
			if err := cfg.Validate(); err != nil {
				return usageErrorf("invalid server config: %v", err)
			}
			return serve(cmd.Context(), g, cfg, saveLogin)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&configPath, "config", "", "server config file (env APPRUN_CONFIG); see configs/apprun.yaml")
	fl.StringVar(&over.DataDir, "data-dir", "", "data directory (env APPRUN_DATA_DIR; default /var/lib/apprun as root, else ~/.local/share/apprun)")
	fl.StringVar(&over.APIAddr, "api-addr", "", "API listen address (env APPRUN_API_ADDR; default 127.0.0.1:8700)")
	fl.StringVar(&over.HTTPAddr, "http-addr", "", "router listen address for app traffic (env APPRUN_HTTP_ADDR; default 127.0.0.1:8080)")
	fl.StringVar(&over.AppsDomain, "apps-domain", "", "apps answer at <service>.<apps-domain> (env APPRUN_APPS_DOMAIN; default localhost)")
	fl.StringVar(&over.LogLevel, "log-level", "", "debug, info, warn or error (env APPRUN_LOG_LEVEL)")
	fl.StringVar(&over.LogFormat, "log-format", "", "text or json (env APPRUN_LOG_FORMAT)")
	fl.BoolVar(&saveLogin, "save-cli-login", true, "on first start, save the admin token for this user's CLI if it has no login yet")
	return cmd
}

func newLogger(cfg serverConfig, g *globals) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(g.io.err, opts))
	}
	return slog.New(slog.NewTextHandler(g.io.err, opts))
}

// serve runs until ctx is cancelled (SIGINT/SIGTERM), then stops accepting
// and gives in-flight requests up to ShutdownTimeout to finish.
func serve(ctx context.Context, g *globals, cfg serverConfig, saveLogin bool) error {
	log := newLogger(cfg, g)
	start := time.Now()
	st, err := store.Open(ctx, store.Config{DataDir: cfg.DataDir}, log.With("component", "store"))
	if err != nil {
		return fmt.Errorf("opening the store in %s: %w", cfg.DataDir, err)
	}
	defer st.Close()

	bld, err := builder.New(builder.Config{
		BuilderImage:  cfg.Build.BuilderImage,
		Pull:          cfg.Build.Pull,
		PackHome:      bootstrap.PackHome(cfg.DataDir),
		Network:       cfg.Build.Network,
		MaxConcurrent: cfg.Build.MaxConcurrent,
		TimeLimit:     cfg.Build.TimeLimit,
		CPUs:          cfg.Build.CPUs,
		MemoryMB:      cfg.Build.MemoryMB,
		TrustBuilder:  cfg.Build.TrustBuilder,
	}, log.With("component", "builder"))
	if err != nil {
		return fmt.Errorf("setting up the builder: %w", err)
	}
	defer bld.Close()
	ready := newReadiness()
	builds := &buildService{b: bld, st: st, dataDir: cfg.DataDir, ready: ready, log: log.With("component", "builder")}

	// One registry: /metrics on the API shows the router's metrics too.
	registry := prometheus.NewRegistry()
	apiLn, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("API address: %w", err)
	}
	httpLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		apiLn.Close()
		return fmt.Errorf("router address: %w", err)
	}
	// URLs name the port really bound (the config may say port 0).
	cfg.HTTPAddr = httpLn.Addr().String()
	var httpsLn net.Listener
	if cfg.TLS.HTTPSAddr != "" {
		if httpsLn, err = net.Listen("tcp", cfg.TLS.HTTPSAddr); err != nil {
			apiLn.Close()
			httpLn.Close()
			return fmt.Errorf("router HTTPS address: %w", err)
		}
		cfg.TLS.HTTPSAddr = httpsLn.Addr().String()
	}
	// Every error return below closes the listeners (Serve owns them once
	// it runs, and closes them on Shutdown).
	listeners := []net.Listener{apiLn, httpLn}
	if httpsLn != nil {
		listeners = append(listeners, httpsLn)
	}
	closeListeners := func() {
		for _, ln := range listeners {
			ln.Close()
		}
	}
	// The first-start token names the address really bound (the config may
	// say port 0).
	if err := firstStart(ctx, g, st, "http://"+apiLn.Addr().String(), saveLogin); err != nil {
		closeListeners()
		return err
	}
	accessLog, closeLog, err := openAccessLog(cfg.AccessLog, g)
	if err != nil {
		closeListeners()
		return err
	}
	defer closeLog()
	// The router calls the deployer's Poke when a request waits for a
	// service with no ready instance; the deployer is made after it.
	var dep *deployer.Deployer
	rt, err := router.New(router.Config{
		AppsDomain: cfg.AppsDomain, Registry: registry, AccessLog: accessLog,
		Poke: func(service, revision string) {
			if dep != nil {
				dep.Poke(service, revision)
			}
		},
	}, log.With("component", "router"))
	if err != nil {
		closeListeners()
		return fmt.Errorf("setting up the router: %w", err)
	}
	dep, err = newDeployer(ctx, cfg, st, rt, builds, log.With("component", "deployer"))
	if err != nil {
		closeListeners()
		return err
	}
	// Certificates for the HTTPS listener: apprun's local CA by default,
	// an ACME CA when one is configured.
	var certs *rtls.Manager
	if httpsLn != nil {
		var tlsNames *names
		certs, tlsNames, err = newTLS(ctx, cfg, st, httpLn, httpsLn, registry, log.With("component", "tls"))
		if err != nil {
			closeListeners()
			return err
		}
		defer certs.Stop()
		go tlsNames.syncNames(ctx, certs, 30*time.Second)
	}
	gitSrv, err := newGitServer(cfg, st, dep, log.With("component", "git"))
	if err != nil {
		closeListeners()
		return err
	}
	var certStatuses web.Certificates
	if certs != nil {
		certStatuses = certStatus{certs}
	}
	api, err := web.New(web.Config{
		ServiceURL: cfg.serviceURL,
		Version:    version,
		Builder:    builds,
		Deployer:   deployAPI{d: dep, dataDir: cfg.DataDir, builds: builds, repos: gitSrv},
		Traefik:    traefikExport{rt: rt, appsDomain: cfg.AppsDomain},
		Registry:   registry,
		Hooks:      newHooksAPI(dep, st, cfg, log),
		AppsDomain: cfg.AppsDomain,
		// The HTTP proof of a domain is fetched from the world's view of
		// it; only a development server (apps under localhost) may
		// verify through loopback.
		DomainVerifier: newDomainVerifier(domainVerifyOptions{AllowPrivate: cfg.AppsDomain == "localhost"}),
		Certificates:   certStatuses,
	}, st, log.With("component", "api"))
	if err != nil {
		closeListeners()
		return fmt.Errorf("setting up the API: %w", err)
	}
	// git push over smart HTTP shares the API's listener, under /git/.
	apiSrv := &http.Server{Handler: gitSrv.Wrap(api.Handler()), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	httpsURL := ""
	if httpsLn != nil {
		httpsURL = "https://" + httpsLn.Addr().String()
	}
	log.Info("apprun is serving", "api", "http://"+apiLn.Addr().String(), "router", "http://"+httpLn.Addr().String(), "https", httpsURL,
		"apps_domain", cfg.AppsDomain, "git_ssh", gitSrv.SSHAddr(), "data_dir", cfg.DataDir, "startup", time.Since(start).Round(time.Millisecond))

	eg, egCtx := errgroup.WithContext(ctx)
	// The builder images are made in the background: the API serves at
	// once, and builds wait for the bootstrap instead of failing.
	if cfg.Build.Bootstrap && (cfg.Build.BuilderImage == "" || cfg.Build.BuilderImage == bootstrap.DefaultBuilderImage) {
		eg.Go(func() error {
			ensureBuilder(egCtx, cfg.DataDir, log.With("component", "bootstrap"), ready)
			return nil
		})
	} else {
		ready.finish(nil)
	}
	eg.Go(func() error { return dep.Run(egCtx) })
	// Services with source.poll set are deployed when their branch moves.
	eg.Go(func() error { return newPoller(newHooksAPI(dep, st, cfg, log), st, log).Run(egCtx) })
	eg.Go(func() error { return gitSrv.Run(egCtx) })
	eg.Go(func() error {
		if err := apiSrv.Serve(apiLn); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("API: %w", err)
		}
		return nil
	})
	eg.Go(func() error {
		// Domain-ownership tokens are answered in front of the router, which
		// routes only verified domains. With an ACME CA, plain HTTP answers
		// its challenges and redirects everything else to HTTPS; with the
		// local CA (a laptop, a LAN) it keeps serving the apps too.
		var front http.Handler = rt
		if certs != nil && cfg.TLS.ACME.Directory != "" {
			front = certs.HTTPHandler(port(httpsLn), nil)
		}
		if err := rt.ServeHandler(httpLn, domainTokenHandler(st, front)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("router: %w", err)
		}
		return nil
	})
	if certs != nil {
		eg.Go(func() error {
			if err := rt.Serve(tls.NewListener(httpsLn, certs.TLSConfig())); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("router HTTPS: %w", err)
			}
			return nil
		})
	}
	eg.Go(func() error {
		<-egCtx.Done()
		log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		// The router first: app traffic finishes its in-flight requests
		// (websockets included) while the API still answers.
		return errors.Join(rt.Shutdown(sctx), apiSrv.Shutdown(sctx))
	})
	if err := eg.Wait(); err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	log.Info("stopped")
	return nil
}

// firstStart creates the first admin token when the store has none, prints
// it once, and (if asked and this user's CLI has no login yet) saves it so
// the CLI works at once on this machine.
func firstStart(ctx context.Context, g *globals, st store.Store, apiURL string, saveLogin bool) error {
	n, err := st.CountTokens(ctx)
	if err != nil {
		return fmt.Errorf("counting tokens: %w", err)
	}
	if n > 0 {
		return nil
	}
	plain, _, err := st.CreateToken(ctx, "admin")
	if err != nil {
		return fmt.Errorf("creating the first admin token: %w", err)
	}
	fmt.Fprintf(g.io.out, "First start: created an admin API token. It is shown once; keep it safe:\n\n    %s\n\n", plain)
	saved := ""
	if saveLogin {
		if path, err := g.cliConfigPath(); err == nil {
			if _, statErr := os.Stat(path); errors.Is(statErr, os.ErrNotExist) {
				if err := writeCLIConfig(path, cliConfig{Server: apiURL, Token: plain}); err == nil {
					saved = path
				}
			}
		}
	}
	if saved != "" {
		fmt.Fprintf(g.io.out, "The CLI on this machine is logged in with it (saved to %s).\n", saved)
	} else {
		fmt.Fprintf(g.io.out, "Log the CLI in with:\n\n    apprun login --server %s --token %s\n\n", apiURL, plain)
	}
	return nil
}

// traefikExport renders the router's current routes for Traefik's HTTP
// provider.
type traefikExport struct {
	rt         *router.Router
	appsDomain string
}

func (t traefikExport) TraefikConfig() ([]byte, error) {
	cfg, err := traefikcfg.Build(t.rt.Routes(), traefikcfg.Options{AppsDomain: t.appsDomain})
	if err != nil {
		return nil, err
	}
	return traefikcfg.Marshal(cfg)
}

// openAccessLog opens the router's access log: "" is none, "-" is stdout,
// anything else a file appended to.
func openAccessLog(path string, g *globals) (io.Writer, func(), error) {
	switch path {
	case "":
		return nil, func() {}, nil
	case "-":
		return g.io.out, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("access log: %w", err)
	}
	return f, func() { f.Close() }, nil
}

// newDeployer connects to the engine, settles the deployments a previous
// run left unfinished, and returns the deployer (its reconciler starts with
// the servers). Without an engine the platform still serves its API; the
// reconciler logs until one answers.
func newDeployer(ctx context.Context, cfg serverConfig, st store.Store, rt *router.Router, builds *buildService, log *slog.Logger) (*deployer.Deployer, error) {
	eng, err := docker.New(docker.Config{}, log)
	if err != nil {
		return nil, fmt.Errorf("connecting to the container engine: %w", err)
	}
	inst, err := installationID(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	d, err := deployer.New(deployer.Config{
		Store: st, Runtime: eng, Router: rt, Builder: deployBuilder{bs: builds},
		Installation: inst,
		Network:      cfg.Deploy.Network,
		StartTimeout: cfg.Deploy.StartTimeout,
		DrainTimeout: cfg.Deploy.DrainTimeout,
		StopGrace:    cfg.Deploy.StopGrace,
		LogDir:       filepath.Join(cfg.DataDir, "logs"),
	}, log)
	if err != nil {
		return nil, err
	}
	if err := d.Recover(ctx); err != nil {
		return nil, fmt.Errorf("recovering unfinished deployments: %w", err)
	}
	return d, nil
}

// installationID names this data directory's containers on the engine; it
// is made once and kept in the data directory.
func installationID(dataDir string) (string, error) {
	path := filepath.Join(dataDir, "installation-id")
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading the installation ID: %w", err)
	}
	id, err := randomID()
	if err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the installation ID: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("writing the installation ID: %w", err)
	}
	return id, nil
}
