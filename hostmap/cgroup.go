package hostmap

import (
	"strings"
)

// containerRuntimes recognise the cgroup of a container by one component
// of its path: the runtime's name, and the container's ID or name.
var containerRuntimes = []struct {
	runtime        string
	prefix, suffix string
}{
	{"docker", "docker-", ".scope"},
	{"podman", "libpod-", ".scope"},
	{"containerd", "cri-containerd-", ".scope"},
	{"cri-o", "crio-", ".scope"},
	{"nspawn", "machine-", ".scope"},
	{"lxc", "lxc.payload.", ""},
}

// cgroupGroup returns the group of a process in cgroup path, or nil when
// the cgroup makes no group: unknown, the root, a slice, a login session,
// a user's service manager, init.scope, or everything (the cgroup of pid
// 1 on a machine or container without systemd).
func cgroupGroup(path, everything string) *Group {
	if path == "" || path == everything {
		return nil
	}
	var parts []string
	for _, c := range strings.Split(path, "/") {
		if c != "" {
			parts = append(parts, c)
		}
	}
	if len(parts) == 0 {
		return nil // the root
	}
	path = "/" + strings.Join(parts, "/")
	// A container: the deepest component that names one, by its
	// runtime's spelling or under a directory named after the runtime
	// (cgroupfs drivers: /docker/ID, /lxc/NAME).
	for i := len(parts) - 1; i >= 0; i-- {
		c := parts[i]
		for _, r := range containerRuntimes {
			if id, ok := strings.CutPrefix(c, r.prefix); ok && strings.HasSuffix(id, r.suffix) && len(id) > len(r.suffix) {
				return containerGroup(strings.Join(parts[:i+1], "/"), r.runtime, strings.TrimSuffix(id, r.suffix))
			}
		}
		if i > 0 && (parts[i-1] == "docker" || parts[i-1] == "lxc" || parts[i-1] == "libpod_parent") {
			return containerGroup(strings.Join(parts[:i+1], "/"), parts[i-1], c)
		}
	}
	// A unit: the deepest service or scope.
	for i := len(parts) - 1; i >= 0; i-- {
		c := parts[i]
		if !strings.HasSuffix(c, ".service") && !strings.HasSuffix(c, ".scope") {
			continue
		}
		if c == "init.scope" || strings.HasPrefix(c, "session-") || strings.HasPrefix(c, "user@") {
			return nil
		}
		return &Group{ID: "unit:/" + strings.Join(parts[:i+1], "/"), Name: c, Kind: KindUnit, Detail: "/" + strings.Join(parts[:i+1], "/")}
	}
	last := parts[len(parts)-1]
	if strings.HasSuffix(last, ".slice") {
		return nil
	}
	return &Group{ID: "cgroup:" + path, Name: last, Kind: KindCgroup, Detail: path}
}

func containerGroup(path, runtime, id string) *Group {
	short := id
	if len(short) > 12 && strings.Trim(short, "0123456789abcdef") == "" {
		short = short[:12] // a hex ID, as docker ps shows it
	}
	return &Group{ID: "container:/" + path, Name: runtime + " " + short, Kind: KindContainer, Detail: "/" + path}
}
