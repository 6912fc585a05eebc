package bpfiter

// File is one open fd as the kernel holds it.
type File struct {
	PID int // the process, in the reader's pid namespace
	// TID is the thread whose fd table holds the fd: PID for the
	// process's table, another thread's for a thread that has its own.
	TID int
	// StartTime is when the process started, in clock ticks since boot,
	// as /proc/PID/stat's starttime: with PID, it tells a reused pid.
	StartTime uint64
	FD        int
	// Desc numbers the open file description (struct file) within one
	// dump: two fds share a description exactly when their Desc is equal.
	Desc uint64
	// Flags are the description's status flags with O_CLOEXEC added when
	// the fd has it, as /proc/PID/fdinfo/N shows them.
	Flags uint32
	// FMode is the description's f_mode (the kernel's FMODE_* bits).
	FMode uint32
	Pos   int64
	MntID int // the mount, as fdinfo's mnt_id

	Inode uint64
	Dev   uint64 // the inode's filesystem, as a user-space dev_t
	RDev  uint64 // a device's own number, as a user-space dev_t
	// IMode is the inode's type and permission bits (S_IFMT ...).
	IMode uint32
	// FSMagic is the filesystem's magic number (statfs f_type): sockfs,
	// pipefs, anon_inodefs, ... tell the kinds of fd without a readlink.
	FSMagic uint32

	// Sockets only: family (AF_*) and type (SOCK_*); Sock numbers the
	// struct sock within the dump, as Peer does for a unix socket's peer
	// (0 when it has none), so that Peer of one socket equals Sock of the
	// other end when a scanned fd holds it. PeerInode is the peer's inode
	// number (0 when unknown), and InFlight the fds in flight on a unix
	// socket (sent with SCM_RIGHTS and not yet received).
	Family, SockType int
	Sock, Peer       uint64
	PeerInode        uint64
	InFlight         int

	// AnonName is an anon inode's name ("[eventfd]", "[eventpoll]",
	// "inotify"), as readlink shows it after "anon_inode:"; "" for other
	// files. A name of AnonNameMax bytes or more was cut to AnonNameMax.
	AnonName string
}

// AnonNameMax is the longest AnonName a dump holds, less than the names
// some anon inodes have ("[userfaultfd]" fits, a kvm vcpu's may not).
const AnonNameMax = 23

// Dump is one reading of both iterators.
type Dump struct {
	Files []File
	Tasks []Task
}

// Task is one process as the kernel holds it, with what /proc/PID/stat,
// status and ns/ say of it.
type Task struct {
	PID, PPID int // in the reader's pid namespace; PPID 0 when the parent is outside it
	// StartTime is as File's: clock ticks since boot.
	StartTime uint64
	// Comm is the task's comm; a kernel thread's is cut short where
	// /proc/PID/stat adds to it (a kworker's workqueue, a long name).
	Comm         string
	KernelThread bool
	// UID, EUID, GID are the real and effective uid and the real gid, as
	// the initial user namespace numbers them (status's Uid and Gid lines
	// for a reader there, which loading BPF requires).
	UID, EUID, GID int
	Threads        int
	// The inodes of the process's network, mount and pid namespaces, as
	// /proc/PID/ns/ links show them; 0 where it has none (it is exiting).
	NetNS, MntNS, PidNS uint64
	// OwnFDTables are the threads whose fd table is not the process's
	// (they did not share it with CLONE_FILES, or unshared it).
	OwnFDTables []int
}

// Filesystem magic numbers (linux/magic.h) of the kernel-internal mounts
// fds lead to.
const (
	SockfsMagic    = 0x534F434B
	PipefsMagic    = 0x50495045
	AnonInodeMagic = 0x09041934
	PidfsMagic     = 0x50494446
	NsfsMagic      = 0x6e736673
)
