package graph

import (
	"runtime"
	"sync"
)

// minParallelSort is the shortest list sortParallel splits: below it, one
// goroutine's sort is about as fast as starting several.
const minParallelSort = 1 << 14

// sortParallel sorts s on up to GOMAXPROCS goroutines: sortChunk sorts
// equal chunks of s at once, then pairs of sorted chunks are merged by cmp,
// each round of merges in parallel, through one buffer as long as s. The
// order equals one sortChunk of all of s wherever cmp is a total order
// without ties between distinct elements (IDs, packed edge keys).
func sortParallel[T any](s []T, sortChunk func([]T), cmp func(a, b T) int) {
	p := min(runtime.GOMAXPROCS(0), len(s)/minParallelSort)
	if p < 2 {
		sortChunk(s)
		return
	}
	bounds := make([]int, p+1)
	for i := range bounds {
		bounds[i] = len(s) * i / p
	}
	var wg sync.WaitGroup
	for i := range p {
		chunk := s[bounds[i]:bounds[i+1]]
		wg.Go(func() { sortChunk(chunk) })
	}
	wg.Wait()
	src, dst := s, make([]T, len(s))
	for len(bounds) > 2 {
		next := []int{}
		for i := 0; i+1 < len(bounds); i += 2 {
			lo, mid := bounds[i], bounds[i+1]
			next = append(next, lo)
			if i+2 == len(bounds) { // the odd chunk out: carried to the next round
				copy(dst[lo:mid], src[lo:mid])
				continue
			}
			hi := bounds[i+2]
			wg.Go(func() { merge(dst[lo:hi], src[lo:mid], src[mid:hi], cmp) })
		}
		wg.Wait()
		bounds = append(next, len(s))
		src, dst = dst, src
	}
	if &src[0] != &s[0] {
		copy(s, src)
	}
}

// inParallel calls fn for equal chunks [lo, hi) of [0, n), on up to
// GOMAXPROCS goroutines when n is long enough to be worth splitting.
func inParallel(n int, fn func(lo, hi int)) {
	p := min(runtime.GOMAXPROCS(0), n/minParallelSort)
	if p < 2 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for i := range p {
		lo, hi := n*i/p, n*(i+1)/p
		wg.Go(func() { fn(lo, hi) })
	}
	wg.Wait()
}

// merge writes the sorted lists a and b, merged, into out (len(a)+len(b)
// long); of equal elements a's come first.
func merge[T any](out, a, b []T, cmp func(x, y T) int) {
	i, j, k := 0, 0, 0
	for i < len(a) && j < len(b) {
		if cmp(b[j], a[i]) < 0 {
			out[k] = b[j]
			j++
		} else {
			out[k] = a[i]
			i++
		}
		k++
	}
	k += copy(out[k:], a[i:])
	copy(out[k:], b[j:])
}
