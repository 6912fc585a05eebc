//go:build linux

package scan

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/prometheus/procfs"

	"github.com/fdscope/fdscope/graph"
	"github.com/fdscope/fdscope/graph/sockdiag"
)

// dumpProcNet reads the sockets of a network namespace from /proc/PID/net
// of one of its processes: the fallback where the namespace cannot be
// entered for sock_diag (entering needs CAP_SYS_ADMIN, reading these files
// only ptrace access). The files give addresses, states and queues, but
// not unix peers.
func dumpProcNet(procRoot string, pid int, netns uint64, into *socketTable) error {
	fs, err := procfs.NewFS(procRoot + "/" + strconv.Itoa(pid))
	if err != nil {
		return fmt.Errorf("/proc/%d/net: %w", pid, err)
	}
	u, err := fs.NetUNIX()
	if err != nil {
		return fmt.Errorf("/proc/%d/net/unix: %w", pid, err)
	}
	for _, l := range u.Rows {
		r := &sockRec{
			inode: l.Inode, netns: netns, family: "unix", typ: sockdiag.TypeName(uint8(l.Type)),
			local: l.Path, unixName: l.Path,
		}
		switch {
		case l.Flags&(1<<16) != 0: // __SO_ACCEPTCON: a listener
			r.state = "listen"
		case l.State == 3: // SS_CONNECTED
			r.state = "established"
		default:
			r.state = "close"
		}
		into.byInode[r.inode] = r
	}
	for _, t := range []struct {
		read     func() (procfs.NetTCP, error)
		family   graph.Family
		protocol string
		typ      string
	}{
		{fs.NetTCP, graph.FamilyInet, "tcp", "stream"}, {fs.NetTCP6, graph.FamilyInet6, "tcp", "stream"},
		{func() (procfs.NetTCP, error) { u, err := fs.NetUDP(); return procfs.NetTCP(u), err }, graph.FamilyInet, "udp", "dgram"},
		{func() (procfs.NetTCP, error) { u, err := fs.NetUDP6(); return procfs.NetTCP(u), err }, graph.FamilyInet6, "udp", "dgram"},
	} {
		lines, err := t.read()
		if err != nil {
			continue // a missing file: the protocol is not built in
		}
		for _, l := range lines {
			local, _ := netip.AddrFromSlice(l.LocalAddr)
			remote, _ := netip.AddrFromSlice(l.RemAddr)
			r := &sockRec{
				inode: l.Inode, netns: netns, family: t.family, typ: t.typ, protocol: t.protocol,
				localAP:  netip.AddrPortFrom(local.Unmap(), uint16(l.LocalPort)),
				remoteAP: netip.AddrPortFrom(remote.Unmap(), uint16(l.RemPort)),
				rxQueue:  uint32(l.RxQueue), txQueue: uint32(l.TxQueue),
			}
			r.local, r.remote = addrString(r.localAP), addrString(r.remoteAP)
			if t.protocol == "tcp" {
				r.state = sockdiag.StateName(uint8(l.St))
			} else if r.remoteAP.Port() != 0 {
				r.state = "established"
			} else {
				r.state = "unconnected"
			}
			into.byInode[r.inode] = r
		}
	}
	into.dumped[netns] = true
	return nil
}
