// Package scan builds a graph.Snapshot from the live kernel: it walks
// /proc/PID/fd and /proc/PID/fdinfo of every process, asks NETLINK_SOCK_DIAG
// for the sockets of every network namespace, groups fds that share one open
// file description with kcmp(2), and resolves the peers of sockets, pipes
// and ptys.
//
// The proc root is injected (Options.ProcRoot), and so is sharing detection,
// so that tests can run the scanner against a fixture tree.
package scan

import (
	"context"

	"github.com/fdscope/fdscope/graph"
)

// Options configure a Scanner. The zero value scans the live /proc.
type Options struct {
	// ProcRoot is the proc mount to read; default "/proc".
	ProcRoot string
	// Workers is how many processes are read in parallel; default 2×GOMAXPROCS.
	Workers int
	// PIDs, when not empty, limits the scan to these processes (and still
	// resolves their peers against the sockets of their namespaces).
	PIDs []int
}

// Scanner scans the machine. It keeps the IDs of open file descriptions
// stable from one scan to the next, so one Scanner should be used for a
// series of scans. A Scanner is not safe for concurrent use.
type Scanner struct {
	opts Options
	prev *graph.Snapshot
}

// New returns a Scanner with the given options.
func New(opts Options) *Scanner {
	if opts.ProcRoot == "" {
		opts.ProcRoot = "/proc"
	}
	return &Scanner{opts: opts}
}

// Scan reads the whole machine into a snapshot. Processes and fds that vanish
// or deny access are normal and recorded in the snapshot's stats; Scan
// returns an error only when the scan as a whole could not run (for example
// when the proc root cannot be listed) or ctx was cancelled.
func (s *Scanner) Scan(ctx context.Context) (*graph.Snapshot, error) {
	panic("not yet")
}
