//go:build linux

package procdir

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/procfs"
	"golang.org/x/sys/unix"
)

// TestPIDs lists a tree with numbered and other entries, and the live /proc.
func TestPIDs(t *testing.T) {
	root := t.TempDir()
	for _, name := range []string{"1", "42", "1000000", "self", "net", "12a", "7x"} {
		if err := os.Mkdir(filepath.Join(root, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "99"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := PIDs(root)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []int{1, 42, 99, 1000000}; !slices.Equal(got, want) {
		t.Errorf("PIDs = %v, want %v", got, want)
	}
	if _, err := PIDs(filepath.Join(root, "missing")); err == nil {
		t.Error("PIDs of a missing root succeeded")
	}

	live, err := PIDs("/proc")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(live, os.Getpid()) || !slices.Contains(live, 1) {
		t.Errorf("PIDs(/proc) lacks pid 1 or this process (%d): %v", os.Getpid(), live)
	}
}

// TestListNumbersFDs lists this process's fd table, which holds the
// directory itself and a file opened for the test.
func TestListNumbersFDs(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(d)
	// A small buffer: the entries come in several getdents calls.
	fds, err := ListNumbers(d, make([]byte, 64), []int{-1})
	if err != nil {
		t.Fatal(err)
	}
	if fds[0] != -1 || !slices.Contains(fds, d) || !slices.Contains(fds, int(f.Fd())) || !slices.Contains(fds, 0) {
		t.Errorf("ListNumbers = %v, want -1 first, then 0, %d and %d among them", fds, d, f.Fd())
	}
}

// TestStartTime reads this process's start time as prometheus/procfs does,
// which the scanner uses: the probe and the scanner must agree.
func TestStartTime(t *testing.T) {
	got, err := StartTime("/proc", os.Getpid(), make([]byte, 1024))
	if err != nil {
		t.Fatal(err)
	}
	self, err := procfs.Self()
	if err != nil {
		t.Fatal(err)
	}
	st, err := self.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if got != st.Starttime || got == 0 {
		t.Errorf("StartTime = %d, procfs says %d", got, st.Starttime)
	}
	if _, err := StartTime(t.TempDir(), 1, make([]byte, 1024)); err == nil {
		t.Error("StartTime of a missing process succeeded")
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "5"), 0o755)
	os.WriteFile(filepath.Join(dir, "5", "stat"), []byte("5 (x) S 1 2 3\n"), 0o644)
	if _, err := StartTime(dir, 5, make([]byte, 1024)); err == nil {
		t.Error("StartTime of a short stat line succeeded")
	}
}

// TestNetNS compares the three ways to name this process's network namespace.
func TestNetNS(t *testing.T) {
	ns, err := NetNS("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	thread, err := ThreadNetNS()
	if err != nil {
		t.Fatal(err)
	}
	fd, ino, err := OpenNetNS("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	dir, err := unix.Open("/proc/self", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dir)
	at, err := NamespaceAt(dir, "net")
	if err != nil {
		t.Fatal(err)
	}
	if ns == 0 || thread != ns || ino != ns || st.Ino != ns || at != ns {
		t.Errorf("NetNS = %d, ThreadNetNS = %d, OpenNetNS = %d (fd of %d), NamespaceAt = %d", ns, thread, ino, st.Ino, at)
	}
	if mnt, err := NamespaceAt(dir, "mnt"); err != nil || mnt == 0 || mnt == ns {
		t.Errorf("NamespaceAt(mnt) = %d, %v; want another namespace than net's %d", mnt, err, ns)
	}
	if _, err := NamespaceAt(dir, "nonesuch"); err == nil {
		t.Error("NamespaceAt of no namespace succeeded")
	}
	if _, err := NetNS(t.TempDir(), 1); err == nil {
		t.Error("NetNS of a missing process succeeded")
	}
	if _, _, err := OpenNetNS(t.TempDir(), 1); err == nil {
		t.Error("OpenNetNS of a missing process succeeded")
	}
}
