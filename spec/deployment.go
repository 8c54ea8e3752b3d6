package spec

import (
	"fmt"
	"time"
)

// DeploymentState is a step of a deployment (see DESIGN.md). Each transition
// is written to the store before the side effect that follows it, so a
// control plane killed at any step can tell, on restart, what it was doing.
type DeploymentState string

// The states, in the order a successful deployment passes through them.
const (
	StateQueued    DeploymentState = "queued"
	StateBuilding  DeploymentState = "building"
	StateBuilt     DeploymentState = "built"
	StateStarting  DeploymentState = "starting"
	StateHealthy   DeploymentState = "healthy"
	StateRouted    DeploymentState = "routed"
	StateDraining  DeploymentState = "draining"
	StateSucceeded DeploymentState = "succeeded"
	StateFailed    DeploymentState = "failed"
)

// States lists every state in order.
var States = []DeploymentState{StateQueued, StateBuilding, StateBuilt, StateStarting, StateHealthy, StateRouted, StateDraining, StateSucceeded, StateFailed}

// Valid reports whether s is a known state.
func (s DeploymentState) Valid() bool {
	for _, k := range States {
		if s == k {
			return true
		}
	}
	return false
}

// Final reports whether no transition leaves s.
func (s DeploymentState) Final() bool { return s == StateSucceeded || s == StateFailed }

// next is the one forward step from each non-final state.
var next = map[DeploymentState]DeploymentState{
	StateQueued:   StateBuilding,
	StateBuilding: StateBuilt,
	StateBuilt:    StateStarting,
	StateStarting: StateHealthy,
	StateHealthy:  StateRouted,
	StateRouted:   StateDraining,
	StateDraining: StateSucceeded,
}

// CanTransition reports whether a deployment may move from s to to. It moves
// forward one step at a time; it may skip the build (queued → built, for a
// rollback to a revision that is already built); and it may fail from any
// step before routed. Once routed, the new revision serves: failing then
// would leave nothing serving, so the deployment always finishes draining.
func (s DeploymentState) CanTransition(to DeploymentState) bool {
	// An unknown state (a corrupt row, an empty string) goes nowhere; without
	// this, next[s] is "" for it and "" → "" or "bogus" → failed would pass.
	if s.Final() || !s.Valid() || !to.Valid() {
		return false
	}
	if next[s] == to {
		return true
	}
	if s == StateQueued && to == StateBuilt {
		return true
	}
	if to == StateFailed {
		return s != StateRouted && s != StateDraining
	}
	return false
}

// CheckTransition is CanTransition as an error.
func (s DeploymentState) CheckTransition(to DeploymentState) error {
	if !to.Valid() {
		return fmt.Errorf("unknown deployment state %q", to)
	}
	if !s.CanTransition(to) {
		return fmt.Errorf("deployment cannot go from %s to %s: %w", s, to, ErrConflict)
	}
	return nil
}

// Deployment is one attempt to put a source (or an existing revision) into
// service.
type Deployment struct {
	ID        string `json:"id"`
	ServiceID string `json:"serviceId"`
	// Number counts the service's deployments from 1.
	Number int             `json:"number"`
	State  DeploymentState `json:"state"`
	// Reason says why a deployment failed, in words for a person.
	Reason string `json:"reason,omitempty"`
	// RevisionID is set once the image is built (or chosen, for a rollback).
	RevisionID string           `json:"revisionId,omitempty"`
	Source     DeploymentSource `json:"source"`
	CreatedAt  time.Time        `json:"createdAt"`
	UpdatedAt  time.Time        `json:"updatedAt"`
	FinishedAt *time.Time       `json:"finishedAt,omitempty"`
}

// DeploymentSource says what a deployment deploys.
type DeploymentSource struct {
	// Kind is "archive" (an uploaded directory), "git" (a pushed or fetched
	// commit) or "revision" (a rollback to an existing revision).
	Kind   string `json:"kind"`
	Ref    string `json:"ref,omitempty"`
	Commit string `json:"commit,omitempty"`
}

// Revision is an immutable, deployable version of a service: an image digest
// and a snapshot of every setting it runs with.
type Revision struct {
	ID        string `json:"id"`
	ServiceID string `json:"serviceId"`
	// Number counts the service's revisions from 1.
	Number int    `json:"number"`
	Image  string `json:"image"`
	Digest string `json:"digest"`
	// Kind is how the image was built: "buildpacks" (process types run
	// through the CNB launcher) or "dockerfile" (the image's own command).
	Kind string `json:"kind,omitempty"`
	// Service is the service's settings when the revision was made (secret
	// values excluded).
	Service Service `json:"service"`
	// Config is the apprun.yaml that came with the source, if any.
	Config *AppConfig `json:"config,omitempty"`
	// Processes are the process types (from the Procfile or the image).
	Processes    []Process `json:"processes,omitempty"`
	DeploymentID string    `json:"deploymentId"`
	CreatedAt    time.Time `json:"createdAt"`
}
