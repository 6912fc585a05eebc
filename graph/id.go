package graph

import (
	"fmt"
	"strconv"
)

// Node IDs are built here and nowhere else. Each is stable across scans for
// the same kernel object, and readable by a person:
//
//	process  proc:PID:START          START = start time in clock ticks (pids are reused)
//	fd       fd:PID:START:N
//	ofd      ofd:PID:START:N         named after the first fd seen to hold it; a scanner
//	                                 keeps the ID while any fd that shares it survives
//	         ofd:PID:START:N~K       K = 2, 3, ...: while an older description keeps that name
//	socket   socket:[INODE]          as readlink shows it: sockfs inodes are unique
//	pipe     pipe:[INODE]
//	anon     anon:TYPE:ofd:PID:START:N  anon inodes all share one inode number, so an
//	                                 anon object is named after its open file description
//	others   KIND:MAJ:MIN:INODE      the filesystem's device and the inode number
//	         path:NAME               a file that could not be stat'ed: its name only
//	pty      ptmx:MAJ:MIN:INODE:N    master N: every open of /dev/ptmx makes a new pty
//	unknown  unknown:NAME            what the fd's link says

// ProcessID returns the ID of the process with the given pid and start time.
func ProcessID(pid int, startTime uint64) string {
	return "proc:" + strconv.Itoa(pid) + ":" + strconv.FormatUint(startTime, 10)
}

// FDID returns the ID of fd number fd of the process with the given pid and start time.
func FDID(pid int, startTime uint64, fd int) string {
	return "fd:" + strconv.Itoa(pid) + ":" + strconv.FormatUint(startTime, 10) + ":" + strconv.Itoa(fd)
}

// OFDID returns the ID of an open file description first seen behind fd
// number fd of the process with the given pid and start time.
func OFDID(pid int, startTime uint64, fd int) string {
	return "ofd:" + strconv.Itoa(pid) + ":" + strconv.FormatUint(startTime, 10) + ":" + strconv.Itoa(fd)
}

// AppendFDID appends FDID(pid, startTime, fd) to b: for a scanner that
// makes many IDs in one buffer.
func AppendFDID(b []byte, pid int, startTime uint64, fd int) []byte {
	return appendPIDStartNum(append(b, "fd:"...), pid, startTime, fd)
}

// AppendOFDID appends OFDID(pid, startTime, fd) to b.
func AppendOFDID(b []byte, pid int, startTime uint64, fd int) []byte {
	return appendPIDStartNum(append(b, "ofd:"...), pid, startTime, fd)
}

func appendPIDStartNum(b []byte, pid int, startTime uint64, n int) []byte {
	b = strconv.AppendInt(b, int64(pid), 10)
	b = strconv.AppendUint(append(b, ':'), startTime, 10)
	return strconv.AppendInt(append(b, ':'), int64(n), 10)
}

// NthOFDID returns the ID of the n-th (n ≥ 2) open file description named
// after fd number fd of the process with the given pid and start time,
// when the name OFDID gives is kept by an older description (the fd was
// closed and its number reused while that description lives on elsewhere).
func NthOFDID(pid int, startTime uint64, fd, n int) string {
	return OFDID(pid, startTime, fd) + "~" + strconv.Itoa(n)
}

// SocketID returns the ID of the socket with the given sockfs inode.
func SocketID(inode uint64) string {
	return "socket:[" + strconv.FormatUint(inode, 10) + "]"
}

// AppendSocketID appends SocketID(inode) to b.
func AppendSocketID(b []byte, inode uint64) []byte {
	return append(strconv.AppendUint(append(b, "socket:["...), inode, 10), ']')
}

// PipeID returns the ID of the anonymous pipe with the given pipefs inode.
func PipeID(inode uint64) string {
	return "pipe:[" + strconv.FormatUint(inode, 10) + "]"
}

// AnonID returns the ID of an anon-inode object of the given type (eventfd,
// eventpoll, ...), which has no identity but its open file description.
func AnonID(anonType, ofdID string) string {
	return "anon:" + anonType + ":" + ofdID
}

// InodeID returns the ID of a filesystem object of the given kind, device
// ("maj:min") and inode.
func InodeID(kind Kind, dev string, inode uint64) string {
	return string(kind) + ":" + dev + ":" + strconv.FormatUint(inode, 10)
}

// PathID returns the ID of a filesystem object that could not be stat'ed,
// so that nothing but its name is known.
func PathID(name string) string {
	return "path:" + name
}

// UnknownID returns the ID of the target of an fd that could not be
// classified, named by what its link says.
func UnknownID(name string) string {
	return "unknown:" + name
}

// PtyMasterID returns the ID of the pty master with the given index: every
// open of /dev/ptmx shares one inode but makes a new pty, so a master is
// named after its ptmx device node and index.
func PtyMasterID(ptmxDev string, ptmxInode uint64, index int) string {
	return fmt.Sprintf("ptmx:%s:%d:%d", ptmxDev, ptmxInode, index)
}

// DevString formats a device number pair as "maj:min".
func DevString(major, minor uint32) string {
	return strconv.FormatUint(uint64(major), 10) + ":" + strconv.FormatUint(uint64(minor), 10)
}
