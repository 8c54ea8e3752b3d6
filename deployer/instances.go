package deployer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/apprun/apprun/spec"
)

// nobody is the user a root image runs as: hardening by default means no
// app process is root, even when its Dockerfile forgot a USER line.
const nobody = "65534:65534"

// port is the port the revision's app listens on: the service's setting,
// else apprun.yaml's run.network.port, else App Runner's 8080.
func port(rev spec.Revision) int {
	if rev.Service.Port != 0 {
		return rev.Service.Port
	}
	if rev.Config != nil && rev.Config.Run.Network.Port != 0 {
		return rev.Config.Run.Network.Port
	}
	return spec.DefaultPort
}

// processTypes are the revision's process types, web first. An image
// without declared processes (a Dockerfile build) has only web, run with
// the image's own command.
func processTypes(rev spec.Revision) []string {
	types := []string{}
	for _, p := range rev.Processes {
		if !slices.Contains(types, p.Type) {
			types = append(types, p.Type)
		}
	}
	if !slices.Contains(types, spec.WebProcess) && (len(types) == 0 || rev.Kind != "buildpacks") {
		types = append(types, spec.WebProcess)
	}
	slices.SortStableFunc(types, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == spec.WebProcess:
			return -1
		case b == spec.WebProcess:
			return 1
		}
		return strings.Compare(a, b)
	})
	return types
}

// Desired is the number of instances to run per process type of a
// revision: the service's formation, else one of each, web following
// Scaling.MinInstances (0 is scaled to zero) plus the instances started
// because requests arrived (warm).
func Desired(svc spec.Service, rev spec.Revision, warm int) map[string]int {
	out := map[string]int{}
	for _, t := range processTypes(rev) {
		n, set := svc.Formation[t]
		if !set {
			n = 1
			if t == spec.WebProcess {
				n = svc.Scaling.MinInstances
			}
		}
		if t == spec.WebProcess && warm > n {
			n = warm
		}
		out[t] = n
	}
	return out
}

// platformSecrets are service secrets apprun itself uses and the app
// never sees: GIT_TOKEN is the credential that fetches the service's
// repository (webhooks, polling).
var platformSecrets = map[string]bool{"GIT_TOKEN": true}

// env is the environment of an instance: the revision's apprun.yaml env,
// the service's env (it wins), the secrets, and PORT (always the port the
// router dials, so an app cannot listen elsewhere by accident).
func env(rev spec.Revision, secrets map[string]string) []string {
	m := map[string]string{}
	p := strconv.Itoa(port(rev))
	if rev.Config != nil {
		for _, e := range rev.Config.Run.Env {
			m[e.Name] = e.Value
		}
		if n := rev.Config.Run.Network.Env; n != "" {
			m[n] = p
		}
		// apprun.yaml's run.secrets name a service secret to expose under
		// another variable name.
		for _, s := range rev.Config.Run.Secrets {
			if v, ok := secrets[s.ValueFrom]; ok {
				m[s.Name] = v
			}
		}
	}
	for k, v := range rev.Service.Env {
		m[k] = v
	}
	for k, v := range secrets {
		if platformSecrets[k] {
			continue
		}
		m[k] = v
	}
	m["PORT"] = p
	m["APPRUN_SERVICE"] = rev.Service.Name
	m["APPRUN_REVISION"] = strconv.Itoa(rev.Number)
	out := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, k+"="+m[k])
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// newInstanceID is a short random ID for a container name.
func newInstanceID() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// instanceSpec is the container of one instance of a process type of a
// revision. Networks are ensured on the engine first.
func (d *Deployer) instanceSpec(ctx context.Context, rev spec.Revision, deploymentID, process string, secrets map[string]string) (InstanceSpec, error) {
	id := newInstanceID()
	s := InstanceSpec{
		Name:  "apprun-" + rev.Service.Name + "-" + process + "-" + id,
		Image: rev.Digest,
		Env:   env(rev, secrets),
		Labels: map[string]string{
			LabelManaged:      "true",
			LabelInstallation: d.cfg.Installation,
			LabelService:      rev.ServiceID,
			LabelName:         rev.Service.Name,
			LabelRevision:     rev.ID,
			LabelDeployment:   deploymentID,
			LabelProcess:      process,
			LabelInstance:     id,
		},
		Port:        port(rev),
		CPUs:        rev.Service.InstanceSize.CPU,
		MemoryMB:    rev.Service.InstanceSize.MemoryMB,
		PidsLimit:   d.cfg.PidsLimit,
		Network:     d.cfg.Network,
		LogMaxBytes: d.cfg.LogMaxBytes,
		LogFiles:    d.cfg.LogFiles,
		StopGrace:   d.cfg.StopGrace,
	}
	if s.Image == "" {
		s.Image = rev.Image
	}
	if rev.Kind == "buildpacks" {
		// The CNB launcher runs each declared process type by this path.
		s.Entrypoint = []string{"/cnb/process/" + process}
	}
	user, err := d.cfg.Runtime.ImageUser(ctx, s.Image)
	if err != nil {
		return InstanceSpec{}, fmt.Errorf("reading the image's user: %w", err)
	}
	if isRoot(user) {
		s.User = nobody
	}
	if _, err := d.ensureNetwork(ctx, NetworkSpec{Name: d.cfg.Network, Isolated: true}); err != nil {
		return InstanceSpec{}, err
	}
	for _, name := range rev.Service.Networks {
		n, err := d.cfg.Store.GetNetwork(ctx, name)
		if err != nil {
			return InstanceSpec{}, fmt.Errorf("network %q: %w", name, err)
		}
		engineName := NetworkName(n)
		if _, err := d.ensureNetwork(ctx, NetworkSpec{Name: engineName, Internal: n.Internal,
			Labels: map[string]string{"io.apprun.network": n.ID}}); err != nil {
			return InstanceSpec{}, err
		}
		s.Networks = append(s.Networks, engineName)
	}
	if len(s.Networks) > 0 {
		s.Aliases = []string{rev.Service.Name}
	}
	return s, nil
}

// NetworkName is the engine's name of a private network: derived from its
// ID, so a network deleted and made again under the same name is new.
func NetworkName(n spec.Network) string { return "apprun-net-" + strings.TrimPrefix(n.ID, "net_") }

func (d *Deployer) ensureNetwork(ctx context.Context, n NetworkSpec) (string, error) {
	id, err := d.cfg.Runtime.EnsureNetwork(ctx, n)
	if err != nil {
		return "", fmt.Errorf("network %s: %w", n.Name, err)
	}
	return id, nil
}

func isRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u == "" || u == "root" || u == "0"
}

// address is where the router reaches an instance.
func address(inst Instance, rev spec.Revision) string {
	return net.JoinHostPort(inst.IP, strconv.Itoa(port(rev)))
}
