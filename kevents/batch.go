package kevents

// Batch is what changed since the last Take.
type Batch struct {
	// PIDs are the processes marked, sorted: an fd opened, closed,
	// replaced or changed, a socket connected, bound, listening or shut
	// down, a start, an exec, an exit. Pids are as the Watcher's pid
	// namespace numbers them.
	PIDs []int
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
