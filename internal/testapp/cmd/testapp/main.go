// Command testapp is the program inside apprun's test image: a small HTTP
// server whose behaviour the tests switch with environment variables, so
// one image stands in for a healthy app, a crashing one, one that never
// listens, an unhealthy one and a TCP-only "database". It uses the
// standard library only, so it builds with CGO_ENABLED=0 into a FROM
// scratch image.
//
// Environment:
//
//	PORT               the HTTP port (8080)
//	TESTAPP_VERSION    the revision "/" reports
//	TESTAPP_CRASH=1    exit 1 at start
//	TESTAPP_NO_LISTEN=1  run, but never listen
//	TESTAPP_UNHEALTHY=1  answer /healthz with 500
//	TESTAPP_IGNORE_TERM=1  ignore SIGTERM (to test the SIGKILL after a
//	                   stop's grace)
//	TESTAPP_TCP_ONLY=P listen on raw TCP port P instead, accepting and
//	                   closing every connection
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownGrace bounds how long SIGTERM waits for requests in flight; the
// rollout tests send /sleep requests that must complete during a drain.
const shutdownGrace = 60 * time.Second

func main() {
	sigs := []os.Signal{syscall.SIGTERM, os.Interrupt}
	if os.Getenv("TESTAPP_IGNORE_TERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
		sigs = sigs[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), sigs...)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if os.Getenv("TESTAPP_CRASH") == "1" {
		return errors.New("crashing on purpose (TESTAPP_CRASH=1)")
	}
	if port := os.Getenv("TESTAPP_TCP_ONLY"); port != "" {
		return serveTCP(ctx, ":"+port)
	}
	if os.Getenv("TESTAPP_NO_LISTEN") == "1" {
		fmt.Println("not listening (TESTAPP_NO_LISTEN=1)")
		<-ctx.Done()
		fmt.Println("bye")
		return nil
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	a := &app{
		version:   os.Getenv("TESTAPP_VERSION"),
		unhealthy: os.Getenv("TESTAPP_UNHEALTHY") == "1",
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening on :%s\n", port)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	fmt.Println("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	fmt.Println("bye")
	return nil
}

// serveTCP accepts connections and closes them at once: enough for a TCP
// health check or a /dial from another container to succeed.
func serveTCP(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("listening on %s (tcp only)\n", addr)
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				fmt.Println("bye")
				return nil
			}
			return err
		}
		fmt.Printf("tcp connection from %s\n", c.RemoteAddr())
		c.Close()
	}
}
