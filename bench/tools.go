//go:build linux

package bench

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// Tool names.
const (
	ToolSnapshot = "snapshot"
	ToolLsof     = "lsof"
	ToolSSX      = "ss-x"
	ToolSSTan    = "ss-tan"
	ToolFloor    = "floor"
	ToolNSEnter  = "nsenter"
)

// AllTools returns every tool the benchmark measures, in table order.
func AllTools() []string {
	return []string{ToolSnapshot, ToolLsof, ToolSSX, ToolSSTan, ToolFloor, ToolNSEnter}
}

// lookTools finds the commands the benchmark runs.
func lookTools() (map[string]string, error) {
	paths := make(map[string]string)
	var missing []string
	for _, name := range []string{"unshare", "nsenter", "lsof", "ss", "cat", "true"} {
		p, err := exec.LookPath(name)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		paths[name] = p
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("bench: %s not found in PATH: apt-get install lsof iproute2 util-linux coreutils",
			strings.Join(missing, ", "))
	}
	return paths, nil
}

// makeTools returns the tools to measure, in table order: a snapshot for
// each of scanners (its --scanner; none: one snapshot with its default),
// then the others.
func makeTools(self string, scanners []string, paths map[string]string, names []string) []Tool {
	var all []Tool
	if len(scanners) == 0 {
		scanners = []string{""}
	}
	for _, sc := range scanners {
		argv := []string{self, "snapshot", "--format", "json"}
		if sc != "" {
			argv = append(argv, "--scanner", sc)
		}
		all = append(all, Tool{Name: SnapshotName(sc), Argv: argv, Scanner: sc})
	}
	all = append(all, []Tool{
		{Name: ToolLsof, Argv: []string{paths["lsof"], "-n", "-P"}},
		{Name: ToolSSX, Argv: []string{paths["ss"], "-xp"}},
		{Name: ToolSSTan, Argv: []string{paths["ss"], "-tanp"}},
		{Name: ToolFloor, Argv: []string{self, "bench", "floor"}},
		{Name: ToolNSEnter, Argv: []string{paths["true"]}},
	}...)
	var out []Tool
	for _, t := range all {
		if slices.Contains(names, t.Name) || IsSnapshot(t.Name) && slices.Contains(names, ToolSnapshot) {
			out = append(out, t)
		}
	}
	return out
}

// SnapshotName is the name of the snapshot tool with that --scanner:
// snapshot-bpf, snapshot-procfs, or snapshot for the default.
func SnapshotName(scanner string) string {
	if scanner == "" {
		return ToolSnapshot
	}
	return ToolSnapshot + "-" + scanner
}

// IsSnapshot reports whether the tool of that name is a snapshot.
func IsSnapshot(name string) bool {
	return name == ToolSnapshot || strings.HasPrefix(name, ToolSnapshot+"-")
}

// toolLabel is a tool's short name, for ratios and targets.
func toolLabel(t Tool) string {
	switch {
	case IsSnapshot(t.Name), t.Name == ToolFloor, t.Name == ToolNSEnter:
		return t.Name
	}
	return toolCommand(t)
}

// toolCommand is how the table names a tool's command.
func toolCommand(t Tool) string {
	switch {
	case IsSnapshot(t.Name):
		return "fdscope " + strings.Join(t.Argv[1:], " ")
	}
	switch t.Name {
	case ToolFloor:
		return "floor (fdscope bench floor)"
	case ToolNSEnter:
		return "nsenter + true (fixed cost)"
	}
	argv := slices.Clone(t.Argv)
	argv[0] = argv[0][strings.LastIndexByte(argv[0], '/')+1:]
	return strings.Join(argv, " ")
}
