// Package scan builds a graph.Snapshot from the live kernel: it walks
// /proc/PID/fd and /proc/PID/fdinfo of every process, asks NETLINK_SOCK_DIAG
// for the sockets of every network namespace, groups fds that share one open
// file description with kcmp(2), and resolves the peers of sockets and ptys.
//
// The proc root is injected (Options.ProcRoot), and so are the socket dump
// and the sharing comparison, so that tests can run the scanner against a
// fixture tree.
//
// # Cost
//
// Per fd the scan makes one readlinkat and one fdinfo read (open, read,
// close) on directory fds kept open per process, plus one fstatat for fds
// that lead to a path. Sockets come from one sock_diag dump per network
// namespace and need no kcmp; only fds that share an object, mode and flags
// are compared with kcmp. Processes and fds are read by a pool of workers.
//
// # Two walks, one builder
//
// With Options.Backend BackendBPF (or BackendAuto where it loads), a scan
// first dumps every fd of the pid namespace with a BPF iterator (package
// bpfiter): flags, position, mount, inode, the open file description's
// identity and unix peers. The /proc walk then takes those from the dump
// instead of fdinfo and kcmp, so sockets and pipes cost no syscall per fd
// and files a readlink and a stat; it still reads fdinfo for anon inodes,
// pidfds and character devices. Both walks fill the same records, and one
// builder turns them into the graph. A Scanner that loaded the iterator
// holds it until Close.
//
// # The build
//
// The builder joins nodes by their indexes, not their IDs: an edge names
// its ends by where the builder put them (graph.NewIndexed), objects are
// found by inode (sockets, pipes) or device and inode, and fds are
// grouped into descriptions by struct keys. Each ID is formatted once, on
// the workers that make the nodes, and only sorted after; none is parsed,
// hashed or looked up. The nodes and edges of descriptions and fds, most
// of the graph, are made in parallel.
//
// Threads with an fd table of their own are read as processes of their
// own (docs/graph.md, "Threads with their own fd table").
//
// The scanner needs Linux; elsewhere the package builds, and New returns a
// Scanner whose scans fail with an error wrapping [errors.ErrUnsupported].
package scan
