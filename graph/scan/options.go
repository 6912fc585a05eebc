package scan

import "fmt"

// Backend names how a Scanner reads the fds.
type Backend string

// The backends. The zero Backend is BackendProcfs.
const (
	// BackendProcfs reads /proc alone: fdinfo for every fd, kcmp(2) for
	// sharing. It is what unprivileged users and kernels without BTF get.
	BackendProcfs Backend = "procfs"
	// BackendBPF reads every fd's facts in one pass with a BPF iterator
	// (package bpfiter) and /proc for the rest: names, paths, processes,
	// and the fdinfo of the few kinds of fd whose details it does not
	// read. A scan fails when the iterator cannot be loaded.
	BackendBPF Backend = "bpf"
	// BackendAuto is BackendBPF where the kernel and the privileges allow
	// it, and BackendProcfs otherwise; Stats.ScannerFallback says why.
	BackendAuto Backend = "auto"
)

// ParseBackend returns the backend named s: "auto", "bpf" or "procfs".
func ParseBackend(s string) (Backend, error) {
	switch b := Backend(s); b {
	case BackendAuto, BackendBPF, BackendProcfs:
		return b, nil
	}
	return "", fmt.Errorf("scanner %q: want auto, bpf or procfs", s)
}

// String returns the backend's name.
func (b Backend) String() string { return string(b) }

// Set sets b to the backend named s, for flag.Var.
func (b *Backend) Set(s string) error {
	v, err := ParseBackend(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Options configure a Scanner. The zero value scans the live /proc.
type Options struct {
	// ProcRoot is the proc mount to read; default "/proc".
	ProcRoot string
	// Backend is how fds are read; default BackendProcfs. BackendBPF
	// needs ProcRoot to be the scanner's own pid namespace's /proc.
	Backend Backend
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
	// Once says that the Scanner makes one scan (a snapshot command): it
	// keeps nothing of it for Rescan, and the build lets go of what it
	// read (the records of processes, fds and sockets) and collects it
	// before the graph's last allocations, which then reuse that memory.
	// On the bench workload (65,000 fds) the peak RSS of a snapshot drops
	// by ~8 MiB, and as many fresh pages are not touched.
	Once bool
	// Progress, when set, is told how far each scan is: phase "processes"
	// (done of total processes read), "fds" (done of total fds read, total
	// growing batch by batch of 1024 processes), "sockets" (waiting for
	// the socket dumps) and "graph" (building the snapshot; done = total =
	// processes). Workers call it concurrently, once per process and once
	// per 256 fds: it must be cheap and safe for concurrent use.
	Progress func(phase string, done, total int)
}
