//go:build linux

package scan

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// inChunks calls fn for the chunks [lo, hi) of [0, n), at most size long,
// on up to workers goroutines (and no more than there are cores: the work
// is the CPU's), each calling newState once for its state. It is the
// builder's fan-out: unlike parallel it does not stop when the scan's
// context is done, since the chunks fill lists the build reads after it.
func inChunks[S any](workers, n, size int, newState func() S, fn func(st S, lo, hi int)) {
	chunks := (n + size - 1) / size
	g := min(max(workers, 1), runtime.GOMAXPROCS(0), chunks)
	if g <= 1 {
		st := newState()
		for lo := 0; lo < n; lo += size {
			fn(st, lo, min(lo+size, n))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range g {
		wg.Go(func() {
			st := newState()
			for {
				lo := int(next.Add(int64(size)) - int64(size))
				if lo >= n {
					return
				}
				fn(st, lo, min(lo+size, n))
			}
		})
	}
	wg.Wait()
}
