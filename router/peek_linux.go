package router

import "syscall"

// peekFD looks at a socket without blocking and without consuming
// anything (MSG_PEEK|MSG_DONTWAIT).
func peekFD(fd uintptr, b []byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), b, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}

// peekIdle reports whether a peek found an idle connection: nothing to
// read yet. Zero bytes means the instance closed it; any byte is a
// response nobody asked for.
func peekIdle(n int, err error) bool {
	return err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
}
