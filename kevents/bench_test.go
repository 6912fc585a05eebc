//go:build linux && (amd64 || arm64)

package kevents_test

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/kevents"
)

// BenchmarkSyscalls measures what the programs add to every system call
// of the machine: a call they ignore (getppid) and a pair they mark (open
// and close of a file), without and with a Watcher loaded. Root only.
//
//	go test -run '^$' -bench Syscalls ./kevents
func BenchmarkSyscalls(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("loading tracing programs needs root")
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
	w, err := kevents.Open()
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.Run("with", calls)
}
