package hibp

// SetTestHookJoined sets the hook that runs once a Range caller has started
// or joined the shared request, and returns a function that removes it.
func SetTestHookJoined(f func()) (restore func()) {
	testHookJoined = f
	return func() { testHookJoined = nil }
}
