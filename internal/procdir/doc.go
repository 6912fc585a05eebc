// Package procdir reads the facts of processes that the scanner (graph/scan),
// the live loop's probe (live) and the benchmark (bench) all need from a
// proc filesystem, so that each is read one way: which processes exist
// (PIDs, and ListNumbers for any numbered directory such as /proc/PID/fd),
// when a process started (StartTime, ParseStartTime) and which network
// namespace it is in (NetNS, NamespaceAt, ThreadNetNS, OpenNetNS).
//
// It is small and cheap on purpose: the probe calls it for every process
// every second, so it reads into the caller's buffers and parses in place.
// Everything else about a process comes from github.com/prometheus/procfs.
//
// The proc root is a parameter ("/proc" on a live system, a fixture tree in
// tests). The reading functions need Linux; elsewhere they fail with an
// error wrapping errors.ErrUnsupported.
package procdir
