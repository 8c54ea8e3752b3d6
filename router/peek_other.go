//go:build !linux

package router

// peekFD is not implemented off Linux (apprun's platform): every idle
// connection is taken as usable, and a stale one is caught by the retry.
func peekFD(fd uintptr, b []byte) (int, error) { return 0, nil }

func peekIdle(n int, err error) bool { return true }
