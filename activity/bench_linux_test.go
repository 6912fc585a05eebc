//go:build linux

package activity

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph/sockdiag"
	"github.com/fdscope/fdscope/internal/procdir"
	"golang.org/x/sys/unix"
)

// hostNetNS returns every network namespace of the machine's processes,
// each with one pid in it, as NetNSOf of a full scan would.
func hostNetNS(tb testing.TB) map[uint64]int {
	tb.Helper()
	pids, err := procdir.PIDs("/proc")
	if err != nil {
		tb.Fatal(err)
	}
	out := map[uint64]int{}
	for _, pid := range pids {
		if ns, err := procdir.NetNS("/proc", pid); err == nil {
			if _, ok := out[ns]; !ok {
				out[ns] = pid
			}
		}
	}
	return out
}

func processCPU() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSampleHost takes samples of every socket of the machine, in
// every network namespace: the sampler's cost per tick (docs/performance.md,
// "Activity sampling"; run it beside `fdscope bench --hold` for a host with
// 2,000 TCP connections). cpu-ms/tick is the process's CPU time per sample,
// sockets the TCP and unix sockets each sample reads. "all" samples the
// sockets; "with-pipes" the pipes too at every sample (by default they are
// sampled every DefaultPipeEvery samples; root).
func BenchmarkSampleHost(b *testing.B) {
	b.Run("all", func(b *testing.B) { benchmarkSampleHost(b, "") })
	b.Run("with-pipes", func(b *testing.B) { benchmarkSampleHost(b, "pipes") })
	b.Run("unix-only", func(b *testing.B) { benchmarkSampleHost(b, "unix") })
	// What tcp_info costs: the same dumps without INET_DIAG_INFO.
	b.Run("without-tcp_info", func(b *testing.B) { benchmarkSampleHost(b, "noinfo") })
}

func benchmarkSampleHost(b *testing.B, variant string) {
	netns := hostNetNS(b)
	s := &Sampler{NetNS: func() map[uint64]int { return netns }, PipeEvery: -1}
	if variant == "pipes" {
		s.PipeEvery = 1
	}
	ctx := context.Background()
	s.Sample(ctx) // connections dialled, first counters
	switch variant {
	case "unix":
		s.d.tcpReqs = nil
	case "noinfo":
		s.d.tcpReqs = []sockdiag.Request{sockdiag.InetRequest(unix.AF_INET, unix.IPPROTO_TCP, 0), sockdiag.InetRequest(unix.AF_INET6, unix.IPPROTO_TCP, 0)}
	}
	var seen int
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		if err := s.Sample(ctx); err != nil {
			b.Fatal(err)
		}
	}
	cpu := processCPU() - cpu0
	b.StopTimer()
	counter := &Sampler{NetNS: s.NetNS}
	counter.socks = map[uint64]*sock{}
	counter.d = newDumper("", netip.AddrPort{})
	counter.d.dump(ctx, netns, true, func(o observation) { seen++ })
	counter.close()
	s.close()
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/tick")
	b.ReportMetric(float64(seen), "sockets")
	b.ReportMetric(float64(len(netns)), "netns")
	b.ReportMetric(float64(len(s.socks)), "kept")
}
