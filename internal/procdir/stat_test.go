package procdir

import (
	"errors"
	"testing"
)

func TestParseStartTime(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    uint64
		wantErr bool
	}{
		{"plain", "1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 1000 100 18446744073709551615", 42, false},
		{"comm with spaces and parens", "77 (a) b (c) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123456789 0 0", 123456789, false},
		{"last field, newline", "9 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7\n", 7, false},
		{"no paren", "77 init S 1", 0, true},
		{"short", "77 (x) S 1 2 3", 0, true},
		{"not a number", "1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 zz 0", 0, true},
		{"negative", "1 (x) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5 0", 0, true},
		{"empty", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseStartTime([]byte(tt.line))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseStartTime = %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func FuzzParseStartTime(f *testing.F) {
	f.Add([]byte("1 (init) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 42 1000 100 18446744073709551615"))
	f.Add([]byte("77 (a) b (c) R 1 77 77 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 123456789 0 0\n"))
	f.Add([]byte("77 (x) S 1 2 3"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseStartTime(b)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		if err != nil && v != 0 {
			t.Fatalf("value %d with an error", v)
		}
	})
}

func TestParseNumber(t *testing.T) {
	for in, want := range map[string]int{"0\x00": 0, "123\x00\x00": 123, "42": 42, "2147483647": 1<<31 - 1} {
		if got, ok := parseNumber([]byte(in)); !ok || got != want {
			t.Errorf("parseNumber(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", ".", "..", "self", "\x00", "12a", "-1", "99999999999"} {
		if _, ok := parseNumber([]byte(in)); ok {
			t.Errorf("parseNumber(%q) accepted", in)
		}
	}
}
