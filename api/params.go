package api

import (
	"fmt"
	"strconv"
)

// The parameters that the REST routes, the websocket's query and the
// command line (fdscope snapshot) share: their bounds and spelling are
// checked here, in one place. Each check returns an error that says what
// is allowed; the caller names the parameter or flag.

// MaxPID is the largest pid Linux hands out (PID_MAX_LIMIT on 64-bit).
const MaxPID = 1 << 22

// Widths of a text diagram, in cells (diagram.txt?width=N; fdscope snapshot
// --format text --width N).
const (
	MinTextWidth     = 40
	MaxTextWidth     = 1000
	DefaultTextWidth = 120
)

// Limits on the width=N (in cells) a websocket client may ask its layouts
// to be wrapped to (fdscope snapshot --format svg|layout --width N); 0
// asks for no wrapping.
const (
	MinLayoutWidth = 40
	MaxLayoutWidth = 2000
)

// ParsePID reads a process ID as the kernel writes one: decimal digits
// only (no sign, spaces, leading zero or base prefix), 1 to MaxPID. "+1",
// "01", " 1" and "1e3" are not pids, whatever strconv.Atoi makes of them.
func ParsePID(s string) (int, error) {
	bad := fmt.Errorf("%q is not a process ID (want 1 to %d)", s, MaxPID)
	if s == "" || len(s) > len(strconv.Itoa(MaxPID)) || s[0] == '0' {
		return 0, bad
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, bad
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxPID {
		return 0, bad
	}
	return n, nil
}

// CheckPID checks a pid given as a number (a websocket request's pid).
func CheckPID(n int) error {
	if n < 1 || n > MaxPID {
		return fmt.Errorf("%d is not a process ID (want 1 to %d)", n, MaxPID)
	}
	return nil
}

// MaxHostLen is the longest host name a focus may name (?host=).
const MaxHostLen = 255

// CheckHost checks the host name of a host-qualified focus (?host=NAME): 1
// to MaxHostLen printable bytes, no slash (a hub's host names prefix node
// IDs with NAME/) and no space.
func CheckHost(s string) error {
	if s == "" || len(s) > MaxHostLen {
		return fmt.Errorf("%q is not a host name (want 1 to %d bytes)", s, MaxHostLen)
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c == '/' || c >= 0x7f {
			return fmt.Errorf("%q is not a host name (no slash, space or control character)", s)
		}
	}
	return nil
}

// CheckTextWidth checks the width of a text diagram.
func CheckTextWidth(n int) error {
	if n < MinTextWidth || n > MaxTextWidth {
		return fmt.Errorf("%d cells is out of range (want %d to %d)", n, MinTextWidth, MaxTextWidth)
	}
	return nil
}

// CheckLayoutWidth checks the width a layout is wrapped to: 0 (no
// wrapping), or MinLayoutWidth to MaxLayoutWidth cells.
func CheckLayoutWidth(n int) error {
	if n != 0 && (n < MinLayoutWidth || n > MaxLayoutWidth) {
		return fmt.Errorf("%d cells is out of range (want 0, or %d to %d)", n, MinLayoutWidth, MaxLayoutWidth)
	}
	return nil
}

// CheckTheme checks the colour theme of an SVG diagram
// (diagram.SVGOptions.Theme): light, dark or auto.
func CheckTheme(s string) error {
	switch s {
	case "light", "dark", "auto":
		return nil
	}
	return fmt.Errorf("unknown theme %q (want light, dark or auto)", s)
}

// ParseSwitch reads an on/off query parameter (watches, ascii, layout,
// processes): "1" is on, "0" or absent ("") is off, anything else an error.
func ParseSwitch(s string) (bool, error) {
	switch s {
	case "1":
		return true, nil
	case "", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is neither 1 nor 0", s)
}
