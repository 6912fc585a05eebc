package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fdscope/fdscope/conntrace"
	"github.com/fdscope/fdscope/history"
)

// openConnEvents loads the connection event programs as --conn-events
// says: off, never; on, or fail; auto, where they load (and where not, it
// says why at info level). nil: none.
func openConnEvents(mode, procRoot string, log *slog.Logger) (*conntrace.Tracer, error) {
	switch mode {
	case "off":
		return nil, nil
	case "on", "auto":
	default:
		return nil, fmt.Errorf("--conn-events %q: want auto, on or off", mode)
	}
	why := ""
	var tr *conntrace.Tracer
	if procRoot != "/proc" {
		why = "the proc root is " + procRoot + ", not /proc"
	} else if self, err := os.Readlink("/proc/self"); err != nil || self != strconv.Itoa(os.Getpid()) {
		why = "/proc belongs to another pid namespace"
	} else if t, err := conntrace.Open(); err != nil {
		why = err.Error()
	} else {
		tr = t
	}
	if tr != nil {
		log.Info("connection events: the history records every connection, even one shorter than a scan", "hooks", tr.Hooks())
		return tr, nil
	}
	if mode == "on" {
		return nil, fmt.Errorf("--conn-events on: %s", why)
	}
	log.Info("no connection events: the history records the connections scans see", "reason", why)
	return nil, nil
}

// recordConns hands every connection tr reports to rec, but the server's
// own (its clients'), until ctx is done.
func recordConns(ctx context.Context, tr *conntrace.Tracer, rec *history.Recorder, self int, log *slog.Logger) {
	err := tr.Run(ctx, func(c conntrace.Conn) {
		if c.Client.PID == self || c.Server.PID == self || (c.Client.PID == 0 && c.Server.PID == 0) {
			return
		}
		rec.KernelConn(connEvent(c), c.Closed)
	})
	if err != nil {
		log.Warn("connection events stopped", "err", err)
	}
}

// connEvent is c as a conn_open event: the client as the process, the
// server as the peer; a connection from another host (or a process out of
// sight), the server as the process and the client's address as the peer.
func connEvent(c conntrace.Conn) history.Event {
	one, other := c.Client, c.Server
	swapped := one.PID == 0 && other.PID != 0
	if swapped {
		one, other = other, one
	}
	ev := history.Event{Time: c.Opened, Kind: history.ConnOpen, Via: c.Via,
		PID: one.PID, Comm: one.Comm, FD: one.FD, Inode: one.Inode, Addr: one.Addr,
		PeerPID: other.PID, PeerComm: other.Comm, PeerFD: other.FD, PeerInode: other.Inode, PeerAddr: other.Addr,
		Source: history.SourceKernel}
	switch c.Via {
	case "tcp6":
		ev.Via = "tcp" // as scans name it
	case "unix":
		if !swapped {
			ev.Addr = "" // the client's socket is unnamed; the name is the server's
		}
	}
	if ev.Inode != 0 {
		ev.Name = "socket:[" + strconv.FormatUint(ev.Inode, 10) + "]"
	}
	return ev
}

// registerConnEvents exports the programs' counts as metrics.
func registerConnEvents(reg prometheus.Registerer, tr *conntrace.Tracer) {
	count := func(name, help string, pick func(conntrace.Totals) uint64) prometheus.CounterFunc {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 {
			t, err := tr.Totals()
			if err != nil {
				return 0
			}
			return float64(pick(t))
		})
	}
	reg.MustRegister(
		count("fdscope_conn_event_records_total", "Records of the connection event programs (connects, accepts, TCP state changes, unix sockets freed).",
			func(t conntrace.Totals) uint64 { return t.Records }),
		count("fdscope_conn_event_lost_total", "Records of the connection event programs dropped: the server read them too slowly.",
			func(t conntrace.Totals) uint64 { return t.Lost }),
	)
}
