package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apprun/apprun/spec"
)

// serverConfig is the server's settings: defaults, then the config file
// (configs/apprun.yaml documents every field), then APPRUN_* environment
// variables, then flags. Every field has a default that serves one machine
// with nothing installed but Docker.
type serverConfig struct {
	// DataDir holds the database, the secrets key and (later) certificates
	// and build caches.
	DataDir string `yaml:"dataDir"`
	// APIAddr is where the HTTP API listens; loopback by default, since the
	// API can change everything.
	APIAddr string `yaml:"apiAddr"`
	// HTTPAddr is where the router listens for the apps' traffic.
	HTTPAddr string `yaml:"httpAddr"`
	// AppsDomain: each service answers at <service>.<AppsDomain>. The default
	// "localhost" needs no DNS: browsers and curl resolve *.localhost to
	// loopback.
	AppsDomain string `yaml:"appsDomain"`
	// LogLevel is debug, info, warn or error; LogFormat is text or json.
	LogLevel  string `yaml:"logLevel"`
	LogFormat string `yaml:"logFormat"`
	// ShutdownTimeout bounds how long in-flight requests may finish after
	// SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdownTimeout"`
	// AccessLog is where the router writes one Combined Log Format line
	// per request: "" for none (the default), "-" for stdout, or a file.
	AccessLog string `yaml:"accessLog"`
	// Build configures the builder (see builder.Config for each field).
	Build buildSettings `yaml:"build"`
	// Deploy configures rollouts and the instances (see deployer.Config).
	Deploy deploySettings `yaml:"deploy"`
	// TLS configures HTTPS and certificates (see tlssvc.go).
	TLS tlsSettings `yaml:"tls"`
	// Git configures git push (smart HTTP is served on the API address,
	// under /git/).
	Git gitSettings `yaml:"git"`
}

// gitSettings are git push's server settings.
type gitSettings struct {
	// SSHAddr is where the SSH server for git push listens ("" for no
	// SSH). Loopback by default, like the API.
	SSHAddr string `yaml:"sshAddr"`
	// AllowPrivateFetch lets webhook and polling fetches reach repository
	// URLs that resolve to loopback, link-local, metadata or unspecified
	// addresses (and file:// URLs). Off by default: a service's source.repo
	// is user input, and those addresses reach this machine and its cloud.
	AllowPrivateFetch bool `yaml:"allowPrivateFetch"`
}

// deploySettings are the deployer's server settings.
type deploySettings struct {
	// Network is the Docker network the router reaches instances on
	// (made by apprun; container-to-container traffic is off on it).
	Network string `yaml:"network"`
	// StartTimeout bounds a new instance's wait for its first healthy
	// check; DrainTimeout an old instance's in-flight requests after it is
	// unpublished; StopGrace the time between SIGTERM and SIGKILL.
	StartTimeout time.Duration `yaml:"startTimeout"`
	DrainTimeout time.Duration `yaml:"drainTimeout"`
	StopGrace    time.Duration `yaml:"stopGrace"`
}

// buildSettings are the builder's server settings.
type buildSettings struct {
	// Bootstrap makes the builder images in the background at start when
	// they are missing (default true).
	Bootstrap bool `yaml:"bootstrap"`
	// BuilderImage is the CNB builder; another one (Paketo, Heroku) works
	// on a host that can pull it, with Pull "if-not-present".
	BuilderImage string `yaml:"builderImage"`
	Pull         string `yaml:"pull"`
	// Network is the Docker network builds run in: "none" (default,
	// offline) or "bridge" to let builds download dependencies.
	Network       string        `yaml:"network"`
	MaxConcurrent int           `yaml:"maxConcurrent"`
	TimeLimit     time.Duration `yaml:"timeLimit"`
	CPUs          float64       `yaml:"cpus"`
	MemoryMB      int64         `yaml:"memoryMB"`
	// TrustBuilder runs builds in one container with the Docker socket:
	// faster, and safe only when every app's source is trusted.
	TrustBuilder bool `yaml:"trustBuilder"`
}

func defaultDataDir(getenv func(string) string) string {
	if os.Geteuid() == 0 {
		return "/var/lib/apprun"
	}
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "apprun")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "apprun")
	}
	return "apprun-data"
}

func defaultServerConfig(getenv func(string) string) serverConfig {
	return serverConfig{
		DataDir:         defaultDataDir(getenv),
		APIAddr:         "127.0.0.1:8700",
		HTTPAddr:        "127.0.0.1:8080",
		AppsDomain:      "localhost",
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 30 * time.Second,
		Build:           buildSettings{Bootstrap: true},
		Git:             gitSettings{SSHAddr: "127.0.0.1:2222"},
		TLS:             tlsSettings{HTTPSAddr: "127.0.0.1:8443"},
		Deploy: deploySettings{
			Network:      "apprun",
			StartTimeout: 90 * time.Second,
			DrainTimeout: 120 * time.Second,
			StopGrace:    10 * time.Second,
		},
	}
}

// loadServerConfig layers the config file and the environment over the
// defaults. Flags are applied by the caller.
func loadServerConfig(path string, getenv func(string) string) (serverConfig, error) {
	c := defaultServerConfig(getenv)
	if path == "" {
		path = getenv("APPRUN_CONFIG")
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("reading config: %w", err)
		}
		if err := spec.UnmarshalYAML(data, &c); err != nil {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
	}
	for env, dst := range map[string]*string{
		"APPRUN_DATA_DIR":     &c.DataDir,
		"APPRUN_API_ADDR":     &c.APIAddr,
		"APPRUN_HTTP_ADDR":    &c.HTTPAddr,
		"APPRUN_APPS_DOMAIN":  &c.AppsDomain,
		"APPRUN_LOG_LEVEL":    &c.LogLevel,
		"APPRUN_LOG_FORMAT":   &c.LogFormat,
		"APPRUN_ACCESS_LOG":   &c.AccessLog,
		"APPRUN_GIT_SSH_ADDR": &c.Git.SSHAddr,
	} {
		if v := getenv(env); v != "" {
			*dst = v
		}
	}
	for env, dst := range map[string]*string{
		"APPRUN_HTTPS_ADDR":       &c.TLS.HTTPSAddr,
		"APPRUN_ACME_DIRECTORY":   &c.TLS.ACME.Directory,
		"APPRUN_ACME_EMAIL":       &c.TLS.ACME.Email,
		"APPRUN_ACME_EAB_KEY_ID":  &c.TLS.ACME.EABKeyID,
		"APPRUN_ACME_EAB_MAC_KEY": &c.TLS.ACME.EABMACKey,
	} {
		if v := getenv(env); v != "" {
			*dst = v
		}
	}
	// "off" turns HTTPS off from the environment (an empty value cannot).
	if c.TLS.HTTPSAddr == "off" {
		c.TLS.HTTPSAddr = ""
	}
	if v := getenv("APPRUN_DEPLOY_NETWORK"); v != "" {
		c.Deploy.Network = v
	}
	for env, dst := range map[string]*time.Duration{
		"APPRUN_DEPLOY_START_TIMEOUT": &c.Deploy.StartTimeout,
		"APPRUN_DEPLOY_DRAIN_TIMEOUT": &c.Deploy.DrainTimeout,
		"APPRUN_DEPLOY_STOP_GRACE":    &c.Deploy.StopGrace,
	} {
		if v := getenv(env); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return c, fmt.Errorf("%s=%q: want a duration such as 30s", env, v)
			}
			*dst = d
		}
	}
	if v := getenv("APPRUN_GIT_ALLOW_PRIVATE_FETCH"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("APPRUN_GIT_ALLOW_PRIVATE_FETCH=%q: want true or false", v)
		}
		c.Git.AllowPrivateFetch = b
	}
	if v := getenv("APPRUN_BUILD_BOOTSTRAP"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("APPRUN_BUILD_BOOTSTRAP=%q: want true or false", v)
		}
		c.Build.Bootstrap = b
	}
	return c, nil
}

// Validate returns every problem with the config.
func (c serverConfig) Validate() error {
	var ps spec.Problems
	if c.DataDir == "" {
		ps.Add("dataDir", "must not be empty")
	}
	for field, addr := range map[string]string{"apiAddr": c.APIAddr, "httpAddr": c.HTTPAddr} {
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			ps.Add(field, "%q is not HOST:PORT", addr)
		}
	}
	if c.Git.SSHAddr != "" {
		if _, port, err := net.SplitHostPort(c.Git.SSHAddr); err != nil || port == "" {
			ps.Add("git.sshAddr", "%q is not HOST:PORT", c.Git.SSHAddr)
		}
	}
	if c.AppsDomain != "localhost" {
		if err := spec.ValidateHostname(c.AppsDomain); err != nil {
			ps.Add("appsDomain", "%v", err)
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		ps.Add("logLevel", "%v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		ps.Add("logFormat", "must be text or json, got %q", c.LogFormat)
	}
	if c.ShutdownTimeout <= 0 {
		ps.Add("shutdownTimeout", "must be positive, got %s", c.ShutdownTimeout)
	}
	if c.TLS.HTTPSAddr != "" {
		if _, port, err := net.SplitHostPort(c.TLS.HTTPSAddr); err != nil || port == "" {
			ps.Add("tls.httpsAddr", "%q is not HOST:PORT (or \"\" for no HTTPS)", c.TLS.HTTPSAddr)
		}
	}
	if a := c.TLS.ACME; a.Directory != "" {
		if !strings.HasPrefix(a.Directory, "https://") {
			ps.Add("tls.acme.directory", "must be an https:// URL, got %q", a.Directory)
		}
		if c.TLS.HTTPSAddr == "" {
			ps.Add("tls.httpsAddr", "must be set when an ACME directory is")
		}
		if c.AppsDomain == "localhost" {
			ps.Add("appsDomain", "an ACME CA cannot issue for *.localhost: set a domain whose DNS points here, or leave tls.acme.directory empty to use the local CA")
		}
		if (a.EABKeyID == "") != (a.EABMACKey == "") {
			ps.Add("tls.acme.eabKeyID", "the external account binding needs both eabKeyID and eabMACKey")
		}
	}
	if err := spec.ValidateName(c.Deploy.Network); err != nil {
		ps.Add("deploy.network", "%v", err)
	}
	for field, d := range map[string]time.Duration{"deploy.startTimeout": c.Deploy.StartTimeout,
		"deploy.drainTimeout": c.Deploy.DrainTimeout, "deploy.stopGrace": c.Deploy.StopGrace} {
		if d <= 0 {
			ps.Add(field, "must be positive, got %s", d)
		}
	}
	return ps.Err()
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return l, errors.New("must be debug, info, warn or error")
	}
	return l, nil
}

// serviceURL is where a service answers through the router: HTTPS when
// an ACME CA issues its certificates (plain HTTP then redirects), HTTP
// otherwise (the local CA's HTTPS works too, once its root is trusted).
func (c serverConfig) serviceURL(name string) string {
	scheme, addr, std := "http", c.HTTPAddr, "80"
	if c.TLS.ACME.Directory != "" && c.TLS.HTTPSAddr != "" {
		scheme, addr, std = "https", c.TLS.HTTPSAddr, "443"
	}
	_, port, _ := net.SplitHostPort(addr)
	host := name + "." + c.AppsDomain
	if port != std {
		host += ":" + port
	}
	return scheme + "://" + host
}
