package scan

import "bytes"

// maxCgroupFile bounds what is read of /proc/PID/cgroup: a line per
// hierarchy, a dozen on cgroup v1, one on v2.
const maxCgroupFile = 64 << 10

// parseCgroup returns the cgroup a process is in, from the contents of
// /proc/PID/cgroup: the path of the unified (v2) hierarchy ("0::PATH"),
// or on a cgroup v1 machine the path in systemd's named hierarchy
// ("N:name=systemd:PATH"); "" when neither is there.
func parseCgroup(data []byte) string {
	var v1 string
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		_, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		ctrl, path, ok := bytes.Cut(rest, []byte(":"))
		if !ok || len(path) == 0 || path[0] != '/' {
			continue
		}
		switch {
		case len(ctrl) == 0 && bytes.HasPrefix(line, []byte("0:")):
			return string(path)
		case string(ctrl) == "name=systemd" && v1 == "":
			v1 = string(path)
		}
	}
	return v1
}
