package main

// This file makes what a deployment uploads: the source with a new version
// in main.go, as the tar.gz the API takes (what `apprun deploy` sends).

import (
	"fmt"

	"github.com/apprun/apprun/internal/tarball"
)

// version writes main.go with a new version and returns it and the
// archive of the source.
func (b *bench) version(n int) (string, []byte, error) {
	v := fmt.Sprintf("v%d-%d", n, b.stamp)
	if err := b.src.SetVersion(v); err != nil {
		return "", nil, err
	}
	archive, err := tarGz(b.src.Dir)
	return v, archive, err
}

// tarGz is dir as `apprun deploy` uploads it.
func tarGz(dir string) ([]byte, error) { return tarball.Pack(dir) }
