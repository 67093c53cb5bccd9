package integrity

// SetReadHook sets a function the Monitor calls after each read of a file
// (pass 1, and pass 2 when the file changed while it was read).
func SetReadHook(m *Monitor, f func(path string, pass int)) { m.hook = f }
