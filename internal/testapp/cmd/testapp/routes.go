package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// dialTimeout bounds /dial, so a test of an unreachable address (a
// network the caller is not on) answers quickly instead of hanging.
const dialTimeout = 2 * time.Second

// app holds what the environment switched at start.
type app struct {
	version   string
	unhealthy bool
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from testapp %s\n", a.version)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if a.unhealthy {
			http.Error(w, "unhealthy (TESTAPP_UNHEALTHY=1)", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /sleep", sleep)
	mux.HandleFunc("GET /dial", dial)
	mux.HandleFunc("GET /env", env)
	mux.HandleFunc("GET /ws", echoWebSocket)
	return logRequests(mux)
}

// logRequests prints one line per request, so tests that read a
// container's logs see traffic arrive.
func logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("%s %s from %s\n", r.Method, r.URL.RequestURI(), r.RemoteAddr)
		h.ServeHTTP(w, r)
	})
}

// sleep answers after ?d= (a Go duration), or when the client goes away.
func sleep(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.URL.Query().Get("d"))
	if err != nil {
		http.Error(w, "d: "+err.Error(), http.StatusBadRequest)
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		fmt.Fprintf(w, "slept %s\n", d)
	case <-r.Context().Done():
	}
}

// dial tries a TCP connection to ?addr=, so tests can tell which
// containers reach which over the networks they share.
func dial(w http.ResponseWriter, r *http.Request) {
	addr := r.URL.Query().Get("addr")
	if addr == "" {
		http.Error(w, "addr is required", http.StatusBadRequest)
		return
	}
	c, err := net.DialTimeout("tcp", addr, dialTimeout)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	c.Close()
	fmt.Fprintln(w, "ok")
}

// env says whether ?name= is set, never its value: tests check that
// secrets arrive without printing them.
func env(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if name == "" {
		http.Error(w, "name is required", http.StatusBadRequest)
		return
	}
	if _, ok := os.LookupEnv(name); ok {
		fmt.Fprintln(w, "set")
		return
	}
	fmt.Fprintln(w, "unset")
}
