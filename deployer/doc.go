// Package deployer turns an image into running, healthy, routed instances:
// deployments and their state machine, revisions, rollouts, health checks,
// the reconciler, private networks and logs.
//
// It is filled in by the deployer issue; the package exists now so the
// import rules of DESIGN.md are enforced from the first commit.
package deployer
