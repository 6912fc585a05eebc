package diagram_test

import (
	"testing"

	"github.com/fdscope/fdscope/diagram"
)

func TestActivityText(t *testing.T) {
	for _, c := range []struct {
		a      diagram.Activity
		text   string
		weight int
	}{
		{diagram.Activity{}, "", 0},
		{diagram.Activity{BytesPerSec: 0.2}, "", 0},
		{diagram.Activity{BytesPerSec: 1}, "1 B/s", 1},
		{diagram.Activity{BytesPerSec: 999}, "999 B/s", 1},
		{diagram.Activity{BytesPerSec: 999.6}, "1.0 KB/s", 1},
		{diagram.Activity{BytesPerSec: 1000}, "1.0 KB/s", 2},
		{diagram.Activity{BytesPerSec: 12_345}, "12 KB/s", 2},
		{diagram.Activity{BytesPerSec: 1_500_000, Queued: 9}, "1.5 MB/s", 3},
		{diagram.Activity{BytesPerSec: 2e9}, "2.0 GB/s", 4},
		{diagram.Activity{BytesPerSec: 5e15}, "5000 TB/s", 4},
		{diagram.Activity{Queued: 4096}, "4.1 KB queued", 1},
	} {
		if got := c.a.Text(); got != c.text {
			t.Errorf("%+v.Text() = %q, want %q", c.a, got, c.text)
		}
		if got := c.a.Weight(); got != c.weight {
			t.Errorf("%+v.Weight() = %d, want %d", c.a, got, c.weight)
		}
	}
}
