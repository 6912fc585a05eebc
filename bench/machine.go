//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Machine describes where the benchmark ran.
type Machine struct {
	CPU    string  `json:"cpu"`
	CPUs   int     `json:"cpus"`
	MemGiB float64 `json:"mem_gib"`
	Kernel string  `json:"kernel"`
	Go     string  `json:"go"`
	// Load is /proc/loadavg's 1, 5 and 15 minute averages when the
	// measurement started: other work on the machine slows every tool.
	Load string `json:"load"`
	// PageTouchUS is what the first write to a page of fresh anonymous
	// memory costs, in microseconds (the page fault, the kernel zeroing
	// the page, and on a virtual machine the host backing it): a tool
	// pays it for every page of its peak RSS. 0 when not measured.
	PageTouchUS float64 `json:"page_touch_us"`
}

// readMachine reads what it can; a fact it cannot read stays empty. self
// is the fdscope binary, which measures page touches in a process of its
// own (see PageTouchUS).
func readMachine(ctx context.Context, self string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = field(b, "model name")
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.Load = strings.Join(f[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		kib, _ := strconv.ParseFloat(strings.TrimSuffix(field(b, "MemTotal"), " kB"), 64)
		m.MemGiB = kib / (1 << 20)
	}
	m.PageTouchUS = pageTouchInChild(ctx, self)
	return m
}

// pageTouchInChild runs `self bench pagetouch` and returns what it printed,
// 0 on any error. The 64 MiB it touches must not be the benchmark's own:
// at exec the kernel carries the launching process's RSS high-water mark
// into the new program (see Runner.Run), so they would become every tool's
// peak RSS.
func pageTouchInChild(ctx context.Context, self string) float64 {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, self, "bench", "pagetouch").Output()
	if err != nil {
		return 0
	}
	us, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		return 0
	}
	return us
}

// RunPageTouch is `fdscope bench pagetouch`, a hidden subcommand: it
// prints the mean cost of a first write to a fresh page in microseconds.
func RunPageTouch(stdout io.Writer) error {
	us := pageTouchUS()
	if us == 0 {
		return fmt.Errorf("bench pagetouch: cannot map 64 MiB")
	}
	_, err := fmt.Fprintf(stdout, "%.3f\n", us)
	return err
}

// pageTouchUS maps 64 MiB of anonymous memory, writes one byte to each
// page, and returns the mean time of a write in microseconds; 0 when the
// memory cannot be mapped.
func pageTouchUS() float64 {
	const size = 64 << 20
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return 0
	}
	defer unix.Munmap(b)
	page := os.Getpagesize()
	start := time.Now()
	for i := 0; i < size; i += page {
		b[i] = 1
	}
	return float64(time.Since(start).Nanoseconds()) / 1000 / float64(size/page)
}

// field returns the value of the first "key: value" line of b.
func field(b []byte, key string) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
