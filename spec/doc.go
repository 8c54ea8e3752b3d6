// Package spec is apprun's domain: services and their settings, the
// apprun.yaml and Procfile formats, revisions, deployments and their state
// machine, networks and domains, and the validation of all of them.
// apprun.yaml is read by a strict YAML subset parser of its own (ParseYAML),
// which refuses what it does not support, such as anchors, tags and multiple
// documents, with the line at fault rather than guess.
//
// It imports only the standard library, so every other package can depend on
// it and it can be fuzzed and tested without any outside system. Validation
// never stops at the first problem: it returns every problem with the path of
// the field at fault (see Problems), so an API client or a CLI user fixes a
// request in one round trip.
package spec
