package api

import (
	"strconv"
	"strings"
	"testing"
)

func TestParsePID(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int // 0: an error
	}{
		{"1", 1}, {"2554", 2554}, {"4194304", MaxPID},
		{"", 0}, {"0", 0}, {"-3", 0}, {"+3", 0}, {" 3", 0}, {"3 ", 0}, {"0x10", 0}, {"1_000", 0},
		{"4194305", 0}, {"99999999999999999999", 0}, {"3.0", 0}, {"٣", 0},
	} {
		got, err := ParsePID(tt.in)
		if got != tt.want || (err != nil) != (tt.want == 0) {
			t.Errorf("ParsePID(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParamChecks(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"text width 40", CheckTextWidth(40), true},
		{"text width 1000", CheckTextWidth(1000), true},
		{"text width 39", CheckTextWidth(39), false},
		{"text width 1001", CheckTextWidth(1001), false},
		{"text width 0", CheckTextWidth(0), false},
		{"layout width 0", CheckLayoutWidth(0), true},
		{"layout width 40", CheckLayoutWidth(40), true},
		{"layout width 2000", CheckLayoutWidth(2000), true},
		{"layout width 5", CheckLayoutWidth(5), false},
		{"layout width 2001", CheckLayoutWidth(2001), false},
		{"layout width -1", CheckLayoutWidth(-1), false},
		{"theme light", CheckTheme("light"), true},
		{"theme auto", CheckTheme("auto"), true},
		{"theme empty", CheckTheme(""), false},
		{"theme neon", CheckTheme("neon"), false},
		{"pid 1", CheckPID(1), true},
		{"pid 0", CheckPID(0), false},
		{"pid -3", CheckPID(-3), false},
		{"pid max+1", CheckPID(MaxPID + 1), false},
	} {
		if (tt.err == nil) != tt.ok {
			t.Errorf("%s: %v, want ok %v", tt.name, tt.err, tt.ok)
		}
	}
	for in, want := range map[string]int{"": 0, "0": 0, "1": 1, "true": -1, "yes": -1, "2": -1, " 1": -1} {
		on, err := ParseSwitch(in)
		if got := map[bool]int{false: 0, true: 1}[on]; err != nil && want != -1 || err == nil && got != want {
			t.Errorf("ParseSwitch(%q) = %v, %v; want %d (-1: an error)", in, on, err, want)
		}
	}
}

// A pid from a hostile client (a URL, a query, a flag): decimal digits of
// a number 1 to MaxPID, or an error.
func FuzzParsePID(f *testing.F) {
	for _, s := range []string{"1", "2554", "4194304", "4194305", "0", "-3", "+3", "0x10", " 7", "007", "99999999999999999999", "٣"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParsePID(s)
		if err != nil {
			if n != 0 {
				t.Errorf("ParsePID(%q) = %d with an error", s, n)
			}
			return
		}
		if n < 1 || n > MaxPID || strings.TrimLeft(s, "0") != strconv.Itoa(n) {
			t.Errorf("ParsePID(%q) = %d", s, n)
		}
	})
}
