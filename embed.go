// Package apprun holds what the apprun binary carries of its own source tree.
//
// The builder bootstrap compiles apprun's buildpacks (a standard-library Go
// program in builder/buildpacks that also uses spec) on the machine that
// runs apprun, the same way it compiles the CNB lifecycle: an installed
// apprun binary has no source tree beside it, so it carries the few source
// files it needs. No build output is ever committed or embedded.
package apprun

import "embed"

// BuildpackSource is the source of the buildpacks program and of the spec
// package it imports, at their paths in this module (test files and
// testdata included; the bootstrap skips them).
//
//go:embed spec/*.go builder/buildpacks
var BuildpackSource embed.FS
