package kevents

// Batch is what changed since the last Take.
type Batch struct {
	// PIDs are the processes marked, sorted, for something that changes
	// them in place: an fd replaced (dup2) or changed (fcntl), a socket
	// connected, bound, listening or shut down, a watch added, a start, an
	// exec, an exit. Pids are as the Watcher's pid namespace numbers them.
	PIDs []int
	// FDsOnly are the processes, sorted, that only opened or closed fds:
	// whether they changed shows in their fd table (a file opened and
	// closed again between two Takes leaves it as it was).
	FDsOnly []int
	// Sockets: some TCP socket changed state (in any process or none).
	Sockets bool
	// Lost: marks were dropped because too many processes changed at once;
	// PIDs is not all of them.
	Lost bool
}

// Totals are counts since Open.
type Totals struct {
	Marks   uint64 // processes marked, counting a process marked again before a Take
	Lost    uint64 // marks dropped: the map was full
	Sockets uint64 // TCP state changes
}
