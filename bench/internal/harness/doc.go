// Package harness is what the end-to-end benchmarks (bench/deploy and
// bench/gitpush) need around the code they measure: a real `apprun serve`
// as a subprocess with its own data directory and free loopback ports, the
// admin token it prints, its API, a copy of an example whose handler
// prints a version, and the removal of everything a run left in the
// Docker engine.
//
// It exists so that the benchmarks start, call and stop the server the
// same way: a fix to how the serving line is read, or to what cleanup
// removes, lands in every benchmark at once. It does not time anything;
// what is measured, and how it is reported, stays in each command.
//
// The docker CLI is run with argv, never a shell, and the Docker SDK is not
// imported: the benchmarks see the engine the way a user's shell does.
package harness
