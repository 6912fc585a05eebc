//go:build !linux

package sockdiag

import "fmt"

// Dial opens a sock_diag connection; sock_diag exists only on Linux, so here
// it always fails with an error wrapping ErrNotSupported.
func Dial(netnsFD int) (*Conn, error) {
	return nil, fmt.Errorf("sockdiag: dial: %w: sock_diag is Linux only", ErrNotSupported)
}
