// Command tls measures full TLS handshakes per second through apprun's
// HTTPS listener (the router serving router/tls's certificate manager, as
// `apprun serve` does) against a bare crypto/tls server with the same
// certificate (P-256) and key exchange (X25519), side by side in one run.
//
//	go run ./bench/tls -rounds 3 -duration 10s
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apprun/apprun/router"
	rtls "github.com/apprun/apprun/router/tls"
)

const name = "bench.localhost"

func main() {
	rounds := flag.Int("rounds", 3, "rounds; each measures every target once")
	duration := flag.Duration("duration", 10*time.Second, "measured time per target per round")
	warmup := flag.Duration("warmup", 2*time.Second, "warm-up per target per round")
	conns := flag.Int("c", 2*runtime.NumCPU(), "concurrent handshaking clients")
	flag.Parse()
	if err := run(*rounds, *duration, *warmup, *conns); err != nil {
		fmt.Fprintln(os.Stderr, "bench/tls:", err)
		os.Exit(1)
	}
}

type target struct {
	name string
	addr string
}

func run(rounds int, duration, warmup time.Duration, conns int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, err := os.MkdirTemp("", "apprun-bench-tls-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)

	// apprun: the certificate manager with its local CA, behind the
	// router's own server, as `apprun serve` runs it.
	m, err := rtls.New(ctx, rtls.Config{DataDir: dir, Log: quiet,
		Allowed: func(_ context.Context, n string) error {
			if n == name {
				return nil
			}
			return errors.New("unknown name")
		}})
	if err != nil {
		return err
	}
	defer m.Stop()
	rootPEM, err := m.RootPEM()
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	rt, err := router.New(router.Config{AppsDomain: "localhost"}, quiet)
	if err != nil {
		return err
	}
	lnA, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go rt.Serve(tls.NewListener(lnA, m.TLSConfig()))
	defer rt.Shutdown(context.Background())

	// The certificate the manager issued, for the bare server: the same
	// key type and chain, so only the serving path differs.
	first, err := handshake(lnA.Addr().String(), roots)
	if err != nil {
		return fmt.Errorf("first handshake through apprun: %w", err)
	}
	cert, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
	if err != nil {
		return err
	}
	bare := &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
	lnB, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srvB := &http.Server{Handler: http.NotFoundHandler(), ErrorLog: nil}
	go srvB.Serve(tls.NewListener(lnB, bare))
	defer srvB.Close()

	fmt.Printf("bench/tls: %d clients, %s per target per round (after %s warm-up), %d round(s); key %s, %s\n",
		conns, duration, warmup, rounds, first.key, first.curve)
	targets := []target{{"bare crypto/tls", lnB.Addr().String()}, {"apprun", lnA.Addr().String()}}
	rates := map[string][]float64{}
	for r := range rounds {
		order := slices.Clone(targets)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, t := range order {
			measure(t.addr, roots, conns, warmup)
			n, errs := measure(t.addr, roots, conns, duration)
			rate := float64(n) / duration.Seconds()
			rates[t.name] = append(rates[t.name], rate)
			fmt.Printf("  round %d  %-16s %8.0f handshakes/s  (%d errors)\n", r+1, t.name, rate, errs)
		}
	}
	fmt.Println()
	fmt.Println("| target | handshakes/s (median) | min | max | vs bare |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: |")
	base := median(rates["bare crypto/tls"])
	for _, t := range targets {
		v := rates[t.name]
		fmt.Printf("| %s | %.0f | %.0f | %.0f | %.2f |\n", t.name, median(v), slices.Min(v), slices.Max(v), median(v)/base)
	}
	return nil
}

type hsInfo struct{ key, curve string }

// handshake does one full handshake (no session cache: every one is
// full) and returns what was negotiated.
func handshake(addr string, roots *x509.CertPool) (hsInfo, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{
		ServerName:       name,
		RootCAs:          roots,
		CurvePreferences: []tls.CurveID{tls.X25519},
	})
	if err != nil {
		return hsInfo{}, err
	}
	defer c.Close()
	st := c.ConnectionState()
	info := hsInfo{curve: fmt.Sprint(st.CurveID)}
	if len(st.PeerCertificates) > 0 {
		info.key = st.PeerCertificates[0].PublicKeyAlgorithm.String()
	}
	return info, nil
}

// measure runs conns clients doing full handshakes for d and returns how
// many succeeded and failed.
func measure(addr string, roots *x509.CertPool, conns int, d time.Duration) (int64, int64) {
	var ok, failed atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if _, err := handshake(addr, roots); err != nil {
					failed.Add(1)
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return ok.Load(), failed.Load()
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
