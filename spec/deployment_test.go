package spec

import (
	"errors"
	"testing"
)

// TestCanTransitionMatrix checks every pair of states against the allowed
// moves, written out by hand rather than derived from the code under test.
func TestCanTransitionMatrix(t *testing.T) {
	allowed := map[[2]DeploymentState]bool{
		// Forward one step at a time.
		{StateQueued, StateBuilding}:    true,
		{StateBuilding, StateBuilt}:     true,
		{StateBuilt, StateStarting}:     true,
		{StateStarting, StateHealthy}:   true,
		{StateHealthy, StateRouted}:     true,
		{StateRouted, StateDraining}:    true,
		{StateDraining, StateSucceeded}: true,
		// A rollback skips the build.
		{StateQueued, StateBuilt}: true,
		// Failing is possible from every step before routed.
		{StateQueued, StateFailed}:   true,
		{StateBuilding, StateFailed}: true,
		{StateBuilt, StateFailed}:    true,
		{StateStarting, StateFailed}: true,
		{StateHealthy, StateFailed}:  true,
	}
	if len(States) != 9 {
		t.Fatalf("States has %d entries; update this test", len(States))
	}
	for _, from := range States {
		for _, to := range States {
			want := allowed[[2]DeploymentState{from, to}]
			if got := from.CanTransition(to); got != want {
				t.Errorf("%s → %s: CanTransition = %v, want %v", from, to, got, want)
			}
			err := from.CheckTransition(to)
			if want != (err == nil) {
				t.Errorf("%s → %s: CheckTransition = %v", from, to, err)
			}
			if err != nil && !errors.Is(err, ErrConflict) {
				t.Errorf("%s → %s: error %v does not wrap ErrConflict", from, to, err)
			}
		}
	}
}

func TestCanTransitionUnknownStates(t *testing.T) {
	tests := []struct{ from, to DeploymentState }{
		{"", ""},
		{"bogus", ""},
		{"bogus", StateFailed},
		{"", StateBuilding},
		{StateQueued, "bogus"},
		{StateDraining, ""},
	}
	for _, tt := range tests {
		if tt.from.CanTransition(tt.to) {
			t.Errorf("%q → %q allowed", tt.from, tt.to)
		}
	}
	if err := StateQueued.CheckTransition("bogus"); err == nil || errors.Is(err, ErrConflict) {
		t.Errorf("CheckTransition to an unknown state = %v, want a plain error", err)
	}
}

func TestDeploymentStateFinalAndValid(t *testing.T) {
	for _, s := range States {
		if !s.Valid() {
			t.Errorf("%s is not Valid", s)
		}
		if want := s == StateSucceeded || s == StateFailed; s.Final() != want {
			t.Errorf("%s.Final() = %v", s, s.Final())
		}
	}
	if DeploymentState("Queued").Valid() || DeploymentState("").Valid() {
		t.Error("an unknown state is Valid")
	}
}
