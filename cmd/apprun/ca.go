package main

import (
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newCACmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "The local certificate authority that signs HTTPS certificates when no ACME CA is configured",
	}
	var dataDir, configPath string
	cert := &cobra.Command{
		Use:   "cert",
		Short: "Print the local CA's root certificate (PEM) for browsers and clients to trust",
		Long: `Print the root certificate of apprun's local CA, which signs the HTTPS
certificates of service names and verified custom domains when the server has
no ACME directory configured. Trust it once and https://<service>.<apps domain>
works without warnings, offline:

  apprun ca cert > apprun-root.pem
  # Debian/Ubuntu: sudo cp apprun-root.pem /usr/local/share/ca-certificates/apprun.crt && sudo update-ca-certificates
  # curl:          curl --cacert apprun-root.pem https://web.localhost:8443/

It reads the server's data directory (run it on the server's machine, as
the server's user); only the certificate is printed, never a key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadServerConfig(configPath, g.getenv)
			if err != nil {
				return err
			}
			if dataDir != "" {
				cfg.DataDir = dataDir
			}
			if cfg.TLS.ACME.Directory != "" {
				return errNoLocalCA
			}
			root, err := readRootCert(cfg.DataDir)
			if err != nil {
				return err
			}
			if g.json {
				return json.NewEncoder(g.io.out).Encode(map[string]string{"pem": string(root)})
			}
			_, err = g.io.out.Write(root)
			return err
		},
	}
	cert.Flags().StringVar(&dataDir, "data-dir", "", "the server's data directory (env APPRUN_DATA_DIR)")
	cert.Flags().StringVar(&configPath, "config", "", "server config file (env APPRUN_CONFIG)")
	cmd.AddCommand(cert)
	return cmd
}

// readRootCert returns the CERTIFICATE blocks of the local CA's root file,
// which also holds the root's key: the key never leaves the file.
func readRootCert(dataDir string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, "ca", "root.pem"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no local CA in %s yet: it is made on the first HTTPS request to `apprun serve`", dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the local CA: %w", err)
	}
	var out []byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: b.Bytes})...)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the local CA's root file in %s holds no certificate", dataDir)
	}
	return out, nil
}
