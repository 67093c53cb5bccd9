//go:build darwin || freebsd || netbsd || openbsd

package integrity

// Extended attributes are recorded on Linux only; elsewhere an entry's
// Meta covers its link count and times, and its XAttrs are empty.

func (r *reader) metaFd(c *current, _ int)           { c.XAttrs, c.Meta, c.MetaErr = nil, true, "" }
func (r *reader) metaAt(c *current, _ int, _ string) { c.XAttrs, c.Meta, c.MetaErr = nil, true, "" }
