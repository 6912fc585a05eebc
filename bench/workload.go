//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Workload is the synthetic workload, running in its own pid, mount and
// network namespaces. Stop must be called to end it.
type Workload struct {
	Plan     Plan
	Expected Expected
	// Built is what the workload actually holds, as its processes counted it.
	Built Built
	// InitPID is the namespace's init as the caller's pid namespace sees it:
	// the target for nsenter.
	InitPID int

	dir     string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  *tailBuffer
	done    chan struct{}
	stopped sync.Once
	stopErr error
}

// StartWorkload builds the workload of plan with self (the fdscope binary) in
// new namespaces started by unshare, and returns once it is built.
func StartWorkload(ctx context.Context, self, unshare string, plan Plan, timeout time.Duration) (*Workload, error) {
	// Whatever fds this process inherited must not reach the workload, so
	// that it holds what the plan says wherever the benchmark runs.
	if err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return nil, fmt.Errorf("workload: mark inherited fds close-on-exec: %w", err)
	}
	dir, err := os.MkdirTemp("", "fdscope-bench-")
	if err != nil {
		return nil, fmt.Errorf("workload: %w", err)
	}
	w := &Workload{Plan: plan, Expected: plan.Expect(), dir: dir, stderr: &tailBuffer{max: 16 << 10}, done: make(chan struct{})}
	w.cmd = exec.Command(unshare, "--pid", "--fork", "--kill-child", "--mount-proc", "--net", "--",
		self, "bench", "worker", "--init", "--scale", strconv.FormatFloat(plan.Scale, 'g', -1, 64), "--dir", dir,
		"--threaded="+strconv.FormatBool(plan.Threaded))
	// Setpgid keeps a terminal's ^C away from the workload: the benchmark
	// ends it in order. Pdeathsig ends it when the benchmark dies.
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	w.cmd.Stderr = w.stderr
	if w.stdin, err = w.cmd.StdinPipe(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("workload: %w", err)
	}
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("workload: %w", err)
	}
	if err := w.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("workload: start %s: %w", unshare, err)
	}
	go func() {
		_ = w.cmd.Wait()
		close(w.done)
	}()

	lines := make(chan []byte, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		if sc.Scan() {
			lines <- bytes.Clone(sc.Bytes())
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case line, ok := <-lines:
		if !ok {
			err = errors.New("the namespace's init exited before reporting")
		} else if jerr := json.Unmarshal(line, &w.Built); jerr != nil {
			err = fmt.Errorf("bad report %q: %w", line, jerr)
		} else if w.Built.Error != "" {
			err = errors.New(w.Built.Error)
		}
	case <-timer.C:
		err = fmt.Errorf("not built after %v", timeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil {
		w.InitPID, err = childOf(w.cmd.Process.Pid)
	}
	if err == nil {
		// The init reports, then execs the holder: wait for that, since
		// the pid is briefly gone from /proc while a multi-threaded
		// process execs.
		err = waitHolder(ctx, w.InitPID, w.done)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("workload: %w%s", err, w.stderr.suffix()), w.Stop())
	}
	return w, nil
}

// Stop ends every process of the workload and removes its directory. It
// closes the init's stdin, which ends the workload in order, and kills the
// init and unshare by pid when they are still there after a grace period.
func (w *Workload) Stop() error {
	w.stopped.Do(func() {
		_ = w.stdin.Close()
		select {
		case <-w.done:
		case <-time.After(10 * time.Second):
			if w.InitPID > 0 {
				_ = syscall.Kill(w.InitPID, syscall.SIGKILL)
			}
			_ = w.cmd.Process.Kill()
			select {
			case <-w.done:
			case <-time.After(5 * time.Second):
				w.stopErr = fmt.Errorf("workload: unshare (pid %d) still running after SIGKILL", w.cmd.Process.Pid)
			}
		}
		if err := os.RemoveAll(w.dir); err != nil {
			w.stopErr = errors.Join(w.stopErr, fmt.Errorf("workload: %w", err))
		}
	})
	return w.stopErr
}

// Running reports whether the workload's namespace still runs: its init
// and unshare have not exited.
func (w *Workload) Running() bool {
	select {
	case <-w.done:
		return false
	default:
	}
	_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(w.InitPID), "ns", "pid"))
	return err == nil
}

// childOf returns the only child of pid: unshare's forked child is the init
// of the new pid namespace.
func childOf(pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", strconv.Itoa(pid), "children"))
	if err != nil {
		return 0, fmt.Errorf("find the namespace's init: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 1 {
		return 0, fmt.Errorf("find the namespace's init: unshare (pid %d) has children %q, want one", pid, f)
	}
	child, err := strconv.Atoi(f[0])
	if err != nil {
		return 0, fmt.Errorf("find the namespace's init: %w", err)
	}
	return child, nil
}

// tailBuffer keeps the last max bytes written to it; it is safe for
// concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// suffix is the buffer's text as the end of an error message, or "".
func (t *tailBuffer) suffix() string {
	s := strings.TrimSpace(t.String())
	if s == "" {
		return ""
	}
	return "\n" + s
}
