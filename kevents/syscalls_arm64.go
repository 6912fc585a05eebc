//go:build linux

package kevents

// archSyscalls: arm64 has only the newer calls (openat, pipe2, dup3, ...).
func archSyscalls() (fds, other []int) { return nil, nil }
