package scan

// Options configure a Scanner. The zero value scans the live /proc.
type Options struct {
	// ProcRoot is the proc mount to read; default "/proc".
	ProcRoot string
	// Workers is how many processes or fd chunks are read in parallel;
	// default 2×GOMAXPROCS.
	Workers int
	// PIDs, when not empty, limits the scan to these processes. Their peers
	// are still resolved against every socket of their network namespaces,
	// but only scanned processes appear in the graph.
	PIDs []int
	// NoSockDiag skips the sock_diag dumps: sockets are then described by
	// their protocol name only, without addresses, states or peers.
	NoSockDiag bool
	// NoKcmp skips kcmp(2) and groups open file descriptions by the heuristic.
	NoKcmp bool
	// Progress, when set, is told how far each scan is: phase "processes"
	// (done of total processes read), "fds" (done of total fds read, total
	// growing batch by batch of 1024 processes), "sockets" (waiting for
	// the socket dumps) and "graph" (building the snapshot; done = total =
	// processes). Workers call it concurrently, once per process and once
	// per 256 fds: it must be cheap and safe for concurrent use.
	Progress func(phase string, done, total int)
}
