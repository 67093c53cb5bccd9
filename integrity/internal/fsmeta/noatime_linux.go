package fsmeta

import "golang.org/x/sys/unix"

// oNoatime keeps reads from updating access times (Linux only).
const oNoatime = unix.O_NOATIME
