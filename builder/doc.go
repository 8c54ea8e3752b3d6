// Package builder turns source into an OCI image: buildpack detection, the
// pack client with apprun's own offline builder, and Dockerfile builds.
//
// It is filled in by the builder issue; the package exists now so the
// import rules of DESIGN.md are enforced from the first commit.
package builder
