package inotify

import "sync"

// Watches is a Watcher whose watches are known by the caller's keys (such
// as the directories they watch), both ways. It is safe for concurrent
// use.
type Watches[K comparable] struct {
	*Watcher
	mu   sync.Mutex
	wds  map[int32]K // watch → key
	keys map[K]int32 // key → watch
	// seen, during a sweep, collects the watches added again.
	seen map[int32]bool
}

// NewWatches returns a Watches watching nothing yet.
func NewWatches[K comparable]() (*Watches[K], error) {
	w, err := New()
	if err != nil {
		return nil, err
	}
	return &Watches[K]{Watcher: w, wds: map[int32]K{}, keys: map[K]int32{}}, nil
}

// Add watches the directory path as k ([Watcher.Add]). A directory watched
// already under another key (it was moved) is known by k from now on.
func (s *Watches[K]) Add(k K, path string) error {
	wd, err := s.Watcher.Add(path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.wds[wd]; ok && old != k {
		delete(s.keys, old)
	}
	s.wds[wd], s.keys[k] = k, wd
	if s.seen != nil {
		s.seen[wd] = true
	}
	return nil
}

// Len returns how many directories are watched.
func (s *Watches[K]) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

// Key returns the key of ev's watch. It reports false for a watch it does
// not know and for IN_IGNORED (the watch is gone: it is forgotten).
func (s *Watches[K]) Key(ev Event) (K, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.wds[ev.WD]
	if ok && ev.Ignored() {
		delete(s.wds, ev.WD)
		if s.keys[k] == ev.WD {
			delete(s.keys, k)
		}
	}
	return k, ok && !ev.Ignored()
}

// RemoveIf removes the watches whose keys match.
func (s *Watches[K]) RemoveIf(match func(K) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, wd := range s.keys {
		if match(k) {
			s.Remove(wd) // removed already if its directory is gone
			delete(s.keys, k)
			delete(s.wds, wd)
		}
	}
}

// BeginSweep starts noting the watches added; EndSweep then removes the
// others (their directories are gone, or no longer to be watched).
func (s *Watches[K]) BeginSweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = map[int32]bool{}
}

// EndSweep removes the watches not added since BeginSweep.
func (s *Watches[K]) EndSweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for wd, k := range s.wds {
		if !s.seen[wd] {
			s.Remove(wd) // gone already
			delete(s.wds, wd)
			if s.keys[k] == wd {
				delete(s.keys, k)
			}
		}
	}
	s.seen = nil
}
