//go:build linux

package bench

import (
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/fdscope/fdscope/internal/procdir"
)

// FloorStats is what one floor walk saw.
type FloorStats struct {
	Processes int `json:"processes"`
	FDs       int `json:"fds"`       // fds listed
	Readlinks int `json:"readlinks"` // fds whose link could be read
}

// Floor walks procRoot the cheapest way that still finds every fd: it lists
// the processes, lists each /proc/PID/fd with getdents and readlinks every fd
// from that directory, with workers goroutines (0: 2×GOMAXPROCS, the
// scanner's default), and nothing else. No scanner can be faster.
func Floor(ctx context.Context, procRoot string, workers int) (FloorStats, error) {
	if workers <= 0 {
		workers = 2 * runtime.GOMAXPROCS(0)
	}
	all, err := procdir.PIDs(procRoot)
	if err != nil {
		return FloorStats{}, fmt.Errorf("floor: %w", err)
	}
	pids := make(chan string, len(all))
	for _, pid := range all {
		pids <- strconv.Itoa(pid)
	}
	close(pids)

	results := make([]FloorStats, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			dirents := make([]byte, 64<<10)
			link := make([]byte, 4096)
			var fds []string
			for pid := range pids {
				if ctx.Err() != nil {
					return
				}
				fds = floorProcess(filepath.Join(procRoot, pid, "fd"), dirents, link, fds[:0], &results[w])
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return FloorStats{}, fmt.Errorf("floor: %w", err)
	}
	var total FloorStats
	for _, r := range results {
		total.Processes += r.Processes
		total.FDs += r.FDs
		total.Readlinks += r.Readlinks
	}
	return total, nil
}

// floorProcess lists one fd directory and readlinks every entry; a process
// or fd that vanished or denies access is skipped.
func floorProcess(dir string, dirents, link []byte, fds []string, st *FloorStats) []string {
	d, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fds
	}
	defer unix.Close(d)
	for {
		n, err := unix.Getdents(d, dirents)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			break
		}
		_, _, fds = unix.ParseDirent(dirents[:n], -1, fds)
	}
	st.Processes++
	st.FDs += len(fds)
	for _, fd := range fds {
		if _, err := unix.Readlinkat(d, fd, link); err == nil {
			st.Readlinks++
		}
	}
	return fds
}

// RunFloor is the hidden `fdscope bench floor ARGS`: one floor walk, its
// counts on stdout.
func RunFloor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	procRoot := fs.String("proc", "/proc", "proc filesystem to read")
	workers := fs.Int("workers", 0, "processes read in parallel (0: 2×GOMAXPROCS, as the scanner)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := Floor(ctx, *procRoot, *workers)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "processes %d fds %d readlinks %d\n", st.Processes, st.FDs, st.Readlinks)
	return err
}
