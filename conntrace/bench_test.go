//go:build linux && (amd64 || arm64)

package conntrace

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkConnectClose makes loopback TCP connections as fast as one
// goroutine can (connect, write a byte, close; a goroutine of the same
// process accepts, reads to the end, closes), without the programs
// ("off") and with them and a reader joining the records ("on"), which
// waits until every connection is handed over. conns/s compares the two;
// lost counts the records the ring buffer dropped. Root only.
func BenchmarkConnectClose(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("loading BPF programs needs root")
	}
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						io.Copy(io.Discard, c)
						c.Close()
					}()
				}
			}()
			var seen atomic.Int64
			var tr *Tracer
			if on {
				if tr, err = Open(); err != nil {
					b.Fatal(err)
				}
				defer tr.Close()
				port := ln.Addr().(*net.TCPAddr).Port
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go tr.Run(ctx, func(c Conn) {
					if c.Via == "tcp" && c.Server.Addr == "127.0.0.1:"+strconv.Itoa(port) {
						seen.Add(1)
					}
				})
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				c.Write([]byte{1})
				c.Close()
			}
			if on {
				deadline := time.Now().Add(30 * time.Second)
				for seen.Load() < int64(b.N) && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				tot, _ := tr.Totals()
				b.ReportMetric(float64(tot.Lost), "lost")
				b.ReportMetric(float64(seen.Load())/float64(b.N), "reported/conn")
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "conns/s")
		})
	}
}

// BenchmarkSyscalls measures what the programs add to the rest of the
// machine: every system call's return runs one (getppid), and every free
// of a slab object another (open and close of a file frees a struct
// file), without and with a Tracer loaded (nobody reading). Root only.
//
//	go test -run '^$' -bench Syscalls ./conntrace
func BenchmarkSyscalls(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("loading BPF programs needs root")
	}
	calls := func(b *testing.B) {
		b.Run("getppid", func(b *testing.B) {
			for b.Loop() {
				unix.Getppid()
			}
		})
		b.Run("open+close", func(b *testing.B) {
			for b.Loop() {
				fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					b.Fatal(err)
				}
				unix.Close(fd)
			}
		})
	}
	b.Run("without", calls)
	tr, err := Open()
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	b.Run("with", calls)
}
