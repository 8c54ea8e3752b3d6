// Package examples holds apprun's sample apps, one directory each (each Go
// example is a module of its own), and the end-to-end test that builds
// every one of them into an image on the real engine, runs it, and gets its
// HTTP answer on loopback.
package examples
