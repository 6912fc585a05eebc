package live

import (
	"sync"
	"time"
)

// ProcEvent is one process event from the kernel's proc connector, as
// ListenProcEventsTo hands them over.
type ProcEvent struct {
	Time time.Time
	// Kind is "exec" (the process began running a new program) or "exit".
	Kind string
	PID  int
	// ExitStatus is the exit's wait status (as waitpid(2) gives it): the
	// exit code in bits 8 to 15, the terminating signal in bits 0 to 6.
	ExitStatus int
}

// PIDSet is a set of pids filled from one goroutine (the proc connector's
// sink) and taken from another (the loop). The zero value is ready.
type PIDSet struct {
	mu   sync.Mutex
	pids map[int]bool
}

// Add adds pid.
func (s *PIDSet) Add(pid int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pids == nil {
		s.pids = map[int]bool{}
	}
	s.pids[pid] = true
}

// Take returns the pids added since the last Take, in no order, and empties the set.
func (s *PIDSet) Take() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int, 0, len(s.pids))
	for pid := range s.pids {
		out = append(out, pid)
	}
	clear(s.pids)
	return out
}
