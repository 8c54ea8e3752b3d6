// Package plan decides what the reconciler does: from the instances a
// service should run (its current revision and a count per process type)
// and the instances the engine reports, it computes which to start, which
// to take out of the routes, which to stop and which to clear away. It is a
// pure function of its input and the time, with no I/O, so every case is a
// table test.
package plan
