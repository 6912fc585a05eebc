package main

import (
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fdscope/fdscope/activity"
	"github.com/fdscope/fdscope/kevents"
	"github.com/fdscope/fdscope/live"
)

// openKernelEvents loads the kernel event programs as --kernel-events
// says: off, never; on, or fail; auto, where they load (and where not, it
// says why at info level). nil: none.
func openKernelEvents(mode, procRoot string, log *slog.Logger) (*kevents.Watcher, error) {
	switch mode {
	case "off":
		return nil, nil
	case "on", "auto":
	default:
		return nil, fmt.Errorf("--kernel-events %q: want auto, on or off", mode)
	}
	w, why := tryKernelEvents(procRoot)
	if w != nil {
		log.Info("kernel events: the loop reads the processes that change", "hooks", w.Hooks())
		return w, nil
	}
	if mode == "on" {
		return nil, fmt.Errorf("--kernel-events on: %s", why)
	}
	log.Info("no kernel events: the loop looks at every process each tick", "reason", why)
	return nil, nil
}

// tryKernelEvents loads the programs, or says why they cannot serve.
func tryKernelEvents(procRoot string) (*kevents.Watcher, string) {
	// The programs mark pids as the server's pid namespace numbers them,
	// and the scanner reads them in procRoot: both must agree.
	if procRoot != "/proc" {
		return nil, "the proc root is " + procRoot + ", not /proc"
	}
	if self, err := os.Readlink("/proc/self"); err != nil || self != strconv.Itoa(os.Getpid()) {
		return nil, "/proc belongs to another pid namespace"
	}
	w, err := kevents.Open()
	if err != nil {
		return nil, err.Error()
	}
	return w, ""
}

// kernelEvents is a kevents.Watcher as the live loop's Events. TCP state
// changes count only in the network namespaces of the store's latest
// snapshot (looked at again when it changed, at most every netnsEvery):
// elsewhere on the machine they are none of the loop's business.
type kernelEvents struct {
	w       *kevents.Watcher
	store   *live.Store
	seq     uint64
	checked time.Time
}

// netnsEvery bounds how often kernelEvents looks for new namespaces.
const netnsEvery = 5 * time.Second

func kernelEventsOf(w *kevents.Watcher, store *live.Store) live.Events {
	return &kernelEvents{w: w, store: store}
}

func (k *kernelEvents) Changed() (live.Changed, error) {
	if seq, snap := k.store.Latest(); snap != nil && seq != k.seq && time.Since(k.checked) >= netnsEvery {
		k.seq, k.checked = seq, time.Now()
		if err := k.w.WatchNetNS(slices.Collect(maps.Keys(activity.NetNSOf(snap)))); err != nil {
			return live.Changed{}, err
		}
	}
	b, err := k.w.Take()
	return live.Changed{PIDs: b.PIDs, FDsOnly: b.FDsOnly, Sockets: b.Sockets, Lost: b.Lost}, err
}

// registerKernelEvents exports the programs' counts as metrics.
func registerKernelEvents(reg prometheus.Registerer, w *kevents.Watcher) {
	count := func(name, help string, pick func(kevents.Totals) uint64) prometheus.CounterFunc {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 {
			t, err := w.Totals()
			if err != nil {
				return 0
			}
			return float64(pick(t))
		})
	}
	reg.MustRegister(
		count("fdscope_kernel_event_marks_total", "Processes marked as changed by the kernel event programs (a process marked again before the loop took it counts again).",
			func(t kevents.Totals) uint64 { return t.Marks }),
		count("fdscope_kernel_event_lost_total", "Marks dropped because too many processes changed between two ticks (each loss makes a full scan).",
			func(t kevents.Totals) uint64 { return t.Lost }),
		count("fdscope_kernel_event_tcp_state_changes_total", "TCP state changes the kernel event programs counted.",
			func(t kevents.Totals) uint64 { return t.Sockets }),
	)
}
