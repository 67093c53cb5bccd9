//go:build !linux

package fsmeta

const oNoatime = 0
