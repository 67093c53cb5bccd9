// Package console is an optional staff security console for a host
// application: server-rendered pages over the same domain packages and
// permission rules as package httpadapter, mounted under a prefix of the
// host's choice.
package console
