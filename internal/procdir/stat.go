package procdir

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// ErrMalformed is wrapped by the errors for proc files and directory
// entries that cannot be parsed.
var ErrMalformed = errors.New("malformed proc file")

// ParseStartTime returns field 22 (starttime, in clock ticks since boot) of
// a /proc/PID/stat line. The comm field (2) may hold spaces and
// parentheses, so fields are counted from the last ')'.
func ParseStartTime(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat: no ')'", ErrMalformed)
	}
	// After ") " come fields 3 (state) onwards; starttime is field 22, the
	// 20th of them. Count them in place: this runs for every process every tick.
	rest := b[i+1:]
	for n := 0; ; n++ {
		rest = bytes.TrimLeft(rest, " \n")
		end := bytes.IndexAny(rest, " \n")
		if end < 0 {
			end = len(rest)
		}
		if end == 0 {
			return 0, fmt.Errorf("%w: stat: %d fields after comm", ErrMalformed, n)
		}
		if n == 19 {
			v, err := strconv.ParseUint(string(rest[:end]), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%w: stat: starttime: %w", ErrMalformed, err)
			}
			return v, nil
		}
		rest = rest[end:]
	}
}

// parseNumber parses a NUL-terminated decimal directory entry name (a pid,
// an fd number); false for any other name.
func parseNumber(name []byte) (int, bool) {
	v := 0
	i := 0
	for ; i < len(name) && name[i] != 0; i++ {
		c := name[i]
		if c < '0' || c > '9' || v > (1<<31)/10 {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, i > 0
}
