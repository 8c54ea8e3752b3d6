package router

import (
	"io"
	"sync"
)

// tunnelEnd is the instance's side of an upgraded connection (a websocket).
// httputil.ReverseProxy half-closes the client's side when the instance's
// side ends and then waits for the client to hang up too: a client that
// never does would hold its slot on the instance, counted in flight, for
// ever, and a deploy draining that instance would wait its whole drain
// timeout for nothing. When the instance's side ends, the whole tunnel
// ends: the client's connection is closed as well.
type tunnelEnd struct {
	io.ReadWriteCloser
	end  func()
	once sync.Once
}

func (t *tunnelEnd) Read(p []byte) (int, error) {
	n, err := t.ReadWriteCloser.Read(p)
	if err != nil {
		t.once.Do(t.end)
	}
	return n, err
}
