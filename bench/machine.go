//go:build linux

package bench

import (
	"bufio"
	"bytes"
	"os"
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

// readMachine reads what it can; a fact it cannot read stays empty.
func readMachine() Machine {
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
	m.PageTouchUS = pageTouchUS()
	return m
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
