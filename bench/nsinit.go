//go:build linux

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Built is what the workload holds once built. The namespace's init writes
// it as one JSON line on its standard output, or with Error set when building
// failed.
type Built struct {
	Error string `json:"error,omitempty"`
	// Processes and FDs are what the workload actually holds: the init and
	// every worker counted their own open fds.
	Processes int     `json:"processes"`
	FDs       int     `json:"fds"`
	MaxFDs    int     `json:"max_fds"`
	BuildMS   float64 `json:"build_ms"`
}

// runInit plays the namespace's init: it builds the workload, reports on
// stdout, and execs the holder (cat) with the control sockets of every
// worker open: the holder keeps the workload alive until its stdin closes,
// and then its exit ends every process in the namespace.
func runInit(ctx context.Context, plan Plan, dir string, stdout, stderr io.Writer) error {
	start := time.Now()
	holder, err := exec.LookPath(holderName)
	if err != nil {
		return fmt.Errorf("init: the holder: %w", err)
	}
	report, workers, err := buildWorkload(ctx, plan, dir, holder, stderr)
	if err == nil && !plan.Threaded {
		err = waitHolders(ctx, workers)
	}
	if err == nil {
		err = keepControlSockets(workers)
	}
	if err == nil {
		var own int
		own, err = countFDs(false)
		report.FDs += own
		report.MaxFDs = max(report.MaxFDs, own)
	}
	if err != nil {
		report.Error = err.Error()
	}
	report.BuildMS = float64(time.Since(start).Microseconds()) / 1000
	b, jerr := json.Marshal(report)
	if jerr != nil {
		err = errors.Join(err, fmt.Errorf("init: encode report: %w", jerr))
	} else if _, werr := fmt.Fprintf(stdout, "%s\n", b); werr != nil {
		err = errors.Join(err, fmt.Errorf("init: report: %w", werr))
	}
	if err != nil {
		stopWorkers(workers)
		return err
	}
	return execHolder(holder, "fdscope-bench-init")
}

// holderName is the program that holds the fds once they are built: it
// reads its standard input until EOF, single-threaded.
const holderName = "cat"

// waitHolders waits until every worker has become the holder.
func waitHolders(ctx context.Context, workers []*workerProc) error {
	for i, w := range workers {
		if err := waitHolder(ctx, w.cmd.Process.Pid, w.done); err != nil {
			return fmt.Errorf("worker %d: %w", i, err)
		}
	}
	return nil
}

// waitHolder waits until process pid runs the holder: its comm is the
// holder's name once its exec has completed. done closes if it exits.
func waitHolder(ctx context.Context, pid int, done <-chan struct{}) error {
	path := filepath.Join("/proc", strconv.Itoa(pid), "comm")
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && strings.TrimSpace(string(b)) == holderName {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("pid %d exited instead of holding its fds", pid)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d does not run %s after 30 s", pid, holderName)
		}
	}
}

// keepControlSockets clears close-on-exec on the init's ends of the control
// sockets, so that the init's holder keeps them.
func keepControlSockets(workers []*workerProc) error {
	for i, w := range workers {
		if _, err := unix.FcntlInt(uintptr(w.ctrl.fd), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("init: control socket of worker %d: %w", i, err)
		}
	}
	return nil
}

// workerProc is a started worker and the init's end of its control socket.
type workerProc struct {
	cmd  *exec.Cmd
	ctrl ctrl
	done chan struct{}
}

// buildWorkload starts the workers and walks them through building their fds.
func buildWorkload(ctx context.Context, plan Plan, dir, holder string, stderr io.Writer) (Built, []*workerProc, error) {
	var report Built
	if err := raiseNOFILE(); err != nil {
		return report, nil, err
	}
	if err := loopbackUp(); err != nil {
		return report, nil, err
	}
	if err := writeFiles(plan, dir); err != nil {
		return report, nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return report, nil, fmt.Errorf("init: find own executable: %w", err)
	}
	workers, err := startWorkers(self, plan, stderr)
	if err != nil {
		return report, workers, err
	}
	// A cancelled build unblocks every control socket.
	stop := context.AfterFunc(ctx, func() {
		for _, w := range workers {
			_ = unix.Shutdown(w.ctrl.fd, unix.SHUT_RDWR)
		}
	})
	defer stop()

	for i, w := range workers {
		s := plan.spec(i, dir)
		if !plan.Threaded {
			s.Holder = holder
		}
		if err := w.ctrl.send(message{Op: opSetup, Spec: &s}); err != nil {
			return report, workers, fmt.Errorf("worker %d: %w", i, err)
		}
	}
	for i, w := range workers {
		if _, _, err := w.ctrl.expect(opListening); err != nil {
			return report, workers, fmt.Errorf("worker %d: %w", i, err)
		}
	}
	if err := sendSCMPairs(plan, workers); err != nil {
		return report, workers, err
	}
	for i, w := range workers {
		if err := w.ctrl.send(message{Op: opConnect}); err != nil {
			return report, workers, fmt.Errorf("worker %d: %w", i, err)
		}
	}
	for i, w := range workers {
		m, _, err := w.ctrl.expect(opReady)
		if err != nil {
			return report, workers, fmt.Errorf("worker %d: %w", i, err)
		}
		report.FDs += m.FDs
		report.MaxFDs = max(report.MaxFDs, m.FDs)
	}
	report.Processes = len(workers) + 1
	return report, workers, nil
}

// startWorkers starts the workers group by group; each group inherits the
// same pipes, so that its processes share their open file descriptions.
func startWorkers(self string, plan Plan, stderr io.Writer) ([]*workerProc, error) {
	workers := make([]*workerProc, 0, plan.Workers)
	for g := range plan.groups() {
		pipes := make([]*os.File, 0, 2*plan.PipesPerGroup)
		closePipes := func() {
			for _, f := range pipes {
				_ = f.Close()
			}
		}
		for range plan.PipesPerGroup {
			var p [2]int
			if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
				closePipes()
				return workers, fmt.Errorf("init: pipe: %w", err)
			}
			pipes = append(pipes, os.NewFile(uintptr(p[0]), "pipe-r"), os.NewFile(uintptr(p[1]), "pipe-w"))
		}
		for i := g * plan.GroupSize; i < min(plan.Workers, (g+1)*plan.GroupSize); i++ {
			w, err := startWorker(self, i, pipes, stderr)
			if err != nil {
				closePipes()
				return workers, err
			}
			workers = append(workers, w)
		}
		closePipes()
	}
	return workers, nil
}

func startWorker(self string, id int, pipes []*os.File, stderr io.Writer) (*workerProc, error) {
	p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("init: control socketpair: %w", err)
	}
	child := os.NewFile(uintptr(p[1]), "ctrl")
	defer child.Close()
	cmd := exec.Command(self, "bench", "worker", "--id", strconv.Itoa(id))
	cmd.ExtraFiles = append([]*os.File{child}, pipes...)
	cmd.Stderr = stderr
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	// No Pdeathsig: it fires when the thread that started the worker
	// exits, and the init's exec ends every thread but one. The workers
	// die with the init anyway: it is the init of their pid namespace.
	if err := cmd.Start(); err != nil {
		_ = unix.Close(p[0])
		return nil, fmt.Errorf("init: start worker %d: %w", id, err)
	}
	w := &workerProc{cmd: cmd, ctrl: ctrl{fd: p[0]}, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(w.done)
	}()
	return w, nil
}

// stopWorkers closes every control socket, which ends the workers, and kills
// those still running after a grace period.
func stopWorkers(workers []*workerProc) {
	for _, w := range workers {
		_ = unix.Close(w.ctrl.fd)
	}
	deadline := time.After(5 * time.Second)
	for _, w := range workers {
		select {
		case <-w.done:
		case <-deadline:
			_ = w.cmd.Process.Kill()
		}
	}
}

// sendSCMPairs creates the socket pairs whose ends reach two workers by
// SCM_RIGHTS, a batch at a time, and closes the init's copies.
func sendSCMPairs(plan Plan, workers []*workerProc) error {
	const batch = 1000
	for lo := 0; lo < plan.SCMPairs; lo += batch {
		byWorker := make(map[int][]int)
		var mine []int
		for k := lo; k < min(plan.SCMPairs, lo+batch); k++ {
			p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				closeAll(mine)
				return fmt.Errorf("init: socketpair: %w", err)
			}
			a, b := plan.scmPair(k)
			byWorker[a] = append(byWorker[a], p[0])
			byWorker[b] = append(byWorker[b], p[1])
			mine = append(mine, p[0], p[1])
		}
		for i, fds := range byWorker {
			for len(fds) > 0 {
				n := min(len(fds), maxFDsPerMessage)
				if err := workers[i].ctrl.send(message{Op: opFDs, FDs: n}, fds[:n]...); err != nil {
					closeAll(mine)
					return fmt.Errorf("worker %d: %w", i, err)
				}
				fds = fds[n:]
			}
		}
		closeAll(mine)
	}
	return nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
}

// loopbackUp brings lo up in the new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("init: bring lo up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("init: bring lo up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("init: bring lo up: SIOCGIFFLAGS: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("init: bring lo up: SIOCSIFFLAGS: %w", err)
	}
	return nil
}

// writeFiles writes the regular files the workers open.
func writeFiles(plan Plan, dir string) error {
	write := func(name, content string) error {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("init: %w", err)
		}
		return nil
	}
	for g := range plan.groups() {
		if err := write(plan.dataFile(g), fmt.Sprintf("data of group %d\n", g)); err != nil {
			return err
		}
	}
	for k := range plan.SharedFiles {
		if err := write(plan.sharedFile(k), fmt.Sprintf("shared file %d\n", k)); err != nil {
			return err
		}
	}
	return nil
}
