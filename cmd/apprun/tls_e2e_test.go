package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apprun/apprun/internal/testapp"
)

// What a newcomer does for HTTPS: trust `apprun ca cert`, open
// https://<service>.<apps domain>. The local CA issues for a service's
// name on demand, over HTTP/2; a name the platform does not know gets no
// certificate.
func TestHTTPSWithTheLocalCA(t *testing.T) {
	image := testapp.ImageForTest(t)
	dataDir := t.TempDir()
	_, revs, token := seedTestApp(t, dataDir, "web", image, "tls")
	rev := revs[0]
	network := "apprun-tls-" + strings.ToLower(randomSuffix(t))
	t.Cleanup(func() { removeInstallation(t, dataDir, network, "") })
	srv := startServer(t, dataDir, "APPRUN_DEPLOY_NETWORK="+network, "APPRUN_DEPLOY_STOP_GRACE=2s")
	if srv.https == "" {
		t.Fatal("the server reports no HTTPS address")
	}
	if _, err := deployRevision(srv, token, rev.ID); err != nil {
		t.Fatal(err)
	}

	code, pemOut, errs := cli(t, nil, "", "ca", "cert", "--data-dir", dataDir)
	if code != 0 || !strings.HasPrefix(pemOut, "-----BEGIN CERTIFICATE-----") || strings.Contains(pemOut, "PRIVATE KEY") {
		t.Fatalf("apprun ca cert: exit %d %q %s", code, pemOut, errs)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(pemOut)) {
		t.Fatal("the printed root does not parse")
	}
	addr := strings.TrimPrefix(srv.https, "https://")
	client := func(name string) *http.Client {
		return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: name},
			ForceAttemptHTTP2: true,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		}}
	}
	resp, err := client("web.localhost").Get("https://web.localhost/")
	if err != nil {
		t.Fatalf("https://web.localhost/: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "hello from testapp tls") {
		t.Fatalf("https://web.localhost/: %d %q", resp.StatusCode, body)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("negotiated %s, want HTTP/2", resp.Proto)
	}
	if got := resp.TLS.PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != "web.localhost" {
		t.Errorf("certificate names %v", got)
	}
	if _, err := client("nope.localhost").Get("https://nope.localhost/"); err == nil {
		t.Error("a name the platform does not know got a certificate")
	}
	// Plain HTTP keeps serving with the local CA (no redirect).
	if code, body := routerGet(srv, "web"); code != 200 || !strings.Contains(body, "hello from testapp") {
		t.Errorf("http: %d %q", code, body)
	}
}
