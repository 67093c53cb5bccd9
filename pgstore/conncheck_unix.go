//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package pgstore

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
)

// readable reports whether c has bytes or the end of the stream waiting to
// be read, by peeking at its socket without blocking (MSG_PEEK |
// MSG_DONTWAIT): nothing is consumed. A TLS connection is checked on the
// socket beneath it. A connection that is not a socket reports false.
func readable(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	var perr error
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		for {
			_, _, perr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if perr != syscall.EINTR {
				return true
			}
		}
	})
	if err != nil {
		return true // the socket is closed
	}
	// EAGAIN: nothing to read, as on a healthy idle connection. A byte or
	// the end of the stream (no error), or any other error, is not that.
	return !errors.Is(perr, syscall.EAGAIN)
}
