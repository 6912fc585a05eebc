//go:build linux

package scan

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fdscope/fdscope/graph"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in   string
		want target
	}{
		{"socket:[28728]", target{kind: graph.KindSocket, inode: 28728}},
		{"pipe:[4431]", target{kind: graph.KindPipe, inode: 4431}},
		{"anon_inode:[eventfd]", target{kind: graph.KindAnon, anonType: "eventfd"}},
		{"anon_inode:inotify", target{kind: graph.KindAnon, anonType: "inotify"}},
		{"anon_inode:bpf-map", target{kind: graph.KindAnon, anonType: "bpf-map"}},
		{"anon_inode:", target{kind: graph.KindUnknown}},
		{"net:[4026531840]", target{kind: graph.KindNsfs, inode: 4026531840, nsType: "net"}},
		{"pidfd:[77]", target{kind: graph.KindAnon, anonType: "pidfd", inode: 77}},
		{"/tmp/server.sock", target{path: "/tmp/server.sock"}},
		{"/tmp/a.log (deleted)", target{path: "/tmp/a.log", deleted: true}},
		{"/memfd:hello (deleted)", target{path: "/memfd:hello", deleted: true}},
		{"socket:[x]", target{kind: graph.KindUnknown}},
		{"socket:[12", target{kind: graph.KindUnknown}},
		{":[12]", target{kind: graph.KindUnknown}},
		{"", target{kind: graph.KindUnknown}},
	}
	for _, tt := range tests {
		got := parseTarget(tt.in)
		if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(target{})); diff != "" {
			t.Errorf("parseTarget(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fdinfo", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFDInfo(t *testing.T) {
	tests := []struct {
		file string
		want fdInfo
	}{
		{"file", fdInfo{pos: 66, flags: 0100001, mntID: 27, ino: 9978113}},
		{"eventfd", fdInfo{flags: 02000002, mntID: 17, ino: 26, extra: &fdExtra{eventfdID: 1, ttyIndex: -1, detail: "count 3"}}},
		{"eventpoll", fdInfo{flags: 02000002, mntID: 17, ino: 26, extra: &fdExtra{eventfdID: -1, ttyIndex: -1, tfds: []epollTarget{
			{fd: 5, ino: 0x22ed, sdev: 9, event: 0x1f}, {fd: 3, ino: 0x1a, sdev: 0x10, event: 0x1f},
		}}}},
		{"inotify", fdInfo{mntID: 17, ino: 26, extra: &fdExtra{eventfdID: -1, ttyIndex: -1, watches: []inotifyWatch{
			{ino: 0x3c4a3, sdev: 0xfe00000, mask: 0x100, handleType: 1, handle: "\xa3\xc4\x03\x00\x00\x00\x00\x00"},
			{ino: 0x1, sdev: 0x15, mask: 0x100},
		}}}},
		{"ptmx", fdInfo{flags: 02100002, mntID: 24, ino: 91, extra: &fdExtra{eventfdID: -1, ttyIndex: 0}}},
		{"unix_scm", fdInfo{flags: 02000002, mntID: 10, ino: 8953, scmFDs: 1}},
		{"pidfd", fdInfo{flags: 02000002, mntID: 4, ino: 5844, extra: &fdExtra{eventfdID: -1, ttyIndex: -1, pidfdPid: 5843}}},
		{"timerfd", fdInfo{flags: 02, mntID: 17, ino: 26, extra: &fdExtra{eventfdID: -1, ttyIndex: -1, detail: "clockid 1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := parseFDInfo(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(fdInfo{}, fdExtra{}, epollTarget{}, inotifyWatch{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFDInfoErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"pos:\t0\n",
		"pos:\tx\nflags:\t0\n",
		"pos:\t0\nflags:\t9\n",
		"pos:\t0\nflags:\t0\ntfd: x events: 1\n",
		"pos:\t0\nflags:\t0\ntfd: 3 events: 1f\n",
		"pos:\t0\nflags:\t0\ninotify wd:1 ino:zz sdev:1\n",
		"pos:\t0\nflags:\t0\ninotify wd:1 ino:1 sdev:1 fhandle-bytes:8 fhandle-type:1 f_handle:a3c4\n",
		"pos:\t0\nflags:\t0\ninotify wd:1 ino:1 sdev:1 fhandle-bytes:2 fhandle-type:1 f_handle:a3c\n",
		"pos:\t0\nflags:\t0\ninotify wd:1 ino:1 sdev:1 fhandle-bytes:2 fhandle-type:zz f_handle:a3c4\n",
		"pos:\t0\nflags:\t0\ntty-index: -\n",
	} {
		if _, err := parseFDInfo([]byte(in)); !errors.Is(err, ErrParse) {
			t.Errorf("parseFDInfo(%q) = %v, want an error wrapping ErrParse", in, err)
		}
	}
}

func TestKernelDev(t *testing.T) {
	if maj, min := kernelDev(0xfe00000); maj != 254 || min != 0 {
		t.Errorf("kernelDev(0xfe00000) = %d:%d, want 254:0", maj, min)
	}
	if maj, min := kernelDev(0x800001); maj != 8 || min != 1 {
		t.Errorf("kernelDev(0x800001) = %d:%d, want 8:1", maj, min)
	}
}

func FuzzParseFDInfo(f *testing.F) {
	entries, _ := os.ReadDir(filepath.Join("testdata", "fdinfo"))
	for _, e := range entries {
		f.Add(readFixture(f, e.Name()))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := parseFDInfo(b)
		if err != nil && !errors.Is(err, ErrParse) {
			t.Errorf("error %v does not wrap ErrParse", err)
		}
		if err == nil && info.eventfdID() < -1 {
			t.Logf("negative eventfd id %d", info.eventfdID())
		}
	})
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"socket:[1]", "pipe:[2]", "anon_inode:[eventfd]", "/a (deleted)", "net:[3]", "x:[]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tgt := parseTarget(s)
		if tgt.kind == "" && tgt.path == "" {
			t.Errorf("parseTarget(%q): neither a kind nor a path", s)
		}
	})
}
