package live

import "time"

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
