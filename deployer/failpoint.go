package deployer

import (
	"os"
	"strings"
	"syscall"
)

// FailpointEnv names the environment variable that arms failpoints: a
// comma-separated list of failpoint names. When the deployer passes an
// armed failpoint it SIGKILLs its own process, as a crash or an OOM kill
// would at that very step. Tests use it to prove that the control plane
// converges after a kill at every step of the deployment state machine;
// nothing arms it in production.
const FailpointEnv = "APPRUN_FAILPOINTS"

// Failpoints are the steps a test can kill apprun at, in the order a
// deployment passes them.
var Failpoints = []string{
	"deploy-queued",           // the deployment is recorded
	"deploy-building",         // building, before the build runs
	"deploy-built",            // the image is built, no revision yet
	"deploy-revision",         // the revision is recorded
	"deploy-starting",         // starting recorded, no instance yet
	"deploy-instance-started", // the first new instance runs
	"deploy-healthy",          // healthy recorded, routes not published
	"deploy-published",        // routes published, routed not recorded
	"deploy-routed",           // routed recorded
	"deploy-draining",         // draining recorded, old instances running
	"deploy-old-stopped",      // the first old instance is stopped
	"deploy-succeeded",        // succeeded recorded
}

var armed = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Split(os.Getenv(FailpointEnv), ",") {
		if n = strings.TrimSpace(n); n != "" {
			m[n] = true
		}
	}
	return m
}()

// failpoint kills the process when name is armed.
func failpoint(name string) {
	if armed[name] {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
