package api

import (
	"fmt"
	"strconv"
)

// MaxPID is the largest pid Linux gives (PID_MAX_LIMIT, 2^22).
const MaxPID = 1 << 22

// parsePID reads a pid as the kernel writes one: decimal digits, no sign,
// no leading zero, no space, 1 to MaxPID. "+1", "01", " 1" and "1e3" are
// not pids, whatever strconv.Atoi makes of them.
func parsePID(s string) (int, error) {
	bad := fmt.Errorf("bad pid %q (want a decimal number from 1 to %d, without sign or leading zero)", s, MaxPID)
	if s == "" || len(s) > 7 || s[0] == '0' {
		return 0, bad
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, bad
		}
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid > MaxPID {
		return 0, bad
	}
	return pid, nil
}
