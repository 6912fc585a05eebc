//go:build linux

package live

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/graph/sockdiag"
)

// The proc connector (include/uapi/linux/connector.h, cn_proc.h).
const (
	cnIdxProc          = 1
	cnValProc          = 1
	procCnMcastListen  = 1
	procEventFork      = 0x00000001
	procEventExec      = 0x00000002
	procEventExit      = 0x80000000
	sizeofCnMsg        = 20 // struct cn_msg: id{idx,val}, seq, ack, len u16, flags u16
	sizeofProcEventHdr = 16 // struct proc_event: what, cpu, timestamp_ns
)

// ListenProcEvents subscribes to the kernel's proc connector and returns a
// channel that receives a value (without blocking: bursts coalesce) when a
// process starts, execs or exits — not when a thread does. Give it to
// Loop.Wake to see processes come and go at once instead of at the next
// tick. It needs CAP_NET_ADMIN and the initial network namespace; the error
// says so otherwise. The listener stops when ctx is done.
func ListenProcEvents(ctx context.Context) (<-chan struct{}, error) {
	return ListenProcEventsTo(ctx, nil)
}

// ListenProcEventsTo is ListenProcEvents that also calls sink, when not
// nil, with every exec and exit of a process (not of a thread), from the
// listener's goroutine: sink must not block.
func ListenProcEventsTo(ctx context.Context, sink func(ProcEvent)) (<-chan struct{}, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("proc connector: socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("proc connector: bind: %w", err)
	}
	// cn_msg + enum proc_cn_mcast_op, in a message of type NLMSG_DONE.
	sub := make([]byte, sizeofCnMsg+4)
	ne := binary.NativeEndian
	ne.PutUint32(sub[0:], cnIdxProc)
	ne.PutUint32(sub[4:], cnValProc)
	ne.PutUint16(sub[16:], 4)
	ne.PutUint32(sub[20:], procCnMcastListen)
	msg := sockdiag.AppendMessage(nil, netlink.Header{Type: netlink.Done, PID: uint32(unix.Getpid())}, sub)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("proc connector: subscribe: %w", err)
	}
	ch := make(chan struct{}, 1)
	// ctx done wakes the reader by shutting the socket down; the fd is
	// closed once, after that can no longer happen: a shutdown after the
	// close would hit whatever took the fd number since (the server's
	// listener, say).
	var mu sync.Mutex
	closed := false
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !closed {
			unix.Shutdown(fd, unix.SHUT_RDWR)
		}
	})
	go func() {
		defer func() {
			stop()
			mu.Lock()
			closed = true
			unix.Close(fd)
			mu.Unlock()
		}()
		buf := make([]byte, 8192)
		for ctx.Err() == nil {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err == unix.EINTR || err == unix.ENOBUFS {
				// ENOBUFS: events were lost; a tick finds what they said.
				if err == unix.ENOBUFS {
					poke(ch)
				}
				continue
			}
			if err != nil || n == 0 {
				return
			}
			if parseProcEvents(buf[:n], sink) {
				poke(ch)
			}
		}
	}()
	return ch, nil
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// processEvent reports whether a datagram from the proc connector holds the
// start, exec or exit of a process (not of a thread).
func processEvent(b []byte) bool { return parseProcEvents(b, nil) }

// parseProcEvents is processEvent that also calls visit, when not nil,
// with each exec and exit of a process.
func parseProcEvents(b []byte, visit func(ProcEvent)) bool {
	ne := binary.NativeEndian
	found := false
	for {
		m, rest, ok := sockdiag.SplitMessage(b)
		if !ok {
			break
		}
		ev := m.Data
		if len(ev) >= sizeofCnMsg+sizeofProcEventHdr+16 {
			data := ev[sizeofCnMsg+sizeofProcEventHdr:]
			switch ne.Uint32(ev[sizeofCnMsg:]) {
			case procEventFork:
				// parent_pid, parent_tgid, child_pid, child_tgid
				found = found || ne.Uint32(data[8:]) == ne.Uint32(data[12:])
			case procEventExec:
				// process_pid, process_tgid
				found = true
				if visit != nil {
					visit(ProcEvent{Time: time.Now(), Kind: "exec", PID: int(ne.Uint32(data[4:]))})
				}
			case procEventExit:
				// process_pid, process_tgid, exit_code, exit_signal
				if ne.Uint32(data[0:]) == ne.Uint32(data[4:]) {
					found = true
					if visit != nil {
						visit(ProcEvent{Time: time.Now(), Kind: "exit", PID: int(ne.Uint32(data[4:])), ExitStatus: int(ne.Uint32(data[8:]))})
					}
				}
			}
		}
		b = rest
	}
	return found
}
