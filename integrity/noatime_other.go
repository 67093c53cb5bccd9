//go:build !linux

package integrity

const oNoatime = 0
