//go:build darwin || freebsd || netbsd || openbsd

package fsmeta

// Extended attributes are recorded on Linux only; elsewhere an entry's
// Meta covers its link count and times, and its XAttrs are empty.

func (r *Reader) metaFd(c *Info, _ int)           { c.XAttrs, c.Meta, c.MetaErr = nil, true, "" }
func (r *Reader) metaAt(c *Info, _ int, _ string) { c.XAttrs, c.Meta, c.MetaErr = nil, true, "" }
