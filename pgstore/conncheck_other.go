//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package pgstore

import "net"

// readable reports false: on this system the socket is not checked, and a
// connection the server dropped is found by pgxpool's ping after an idle
// second, or by the query that fails on it (which resets the pool; see
// retryIf).
func readable(net.Conn) bool { return false }
