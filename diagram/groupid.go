package diagram

import (
	"fmt"
	"strings"
)

// GroupPrefix starts the ID of every group of a layout: a port or box that
// stands for several fds, descriptions, objects or processes.
const GroupPrefix = "group:"

// Group kinds: what a group stands for.
const (
	GroupStdio     = "stdio"     // port: fds 0, 1 and 2 of a process on one object
	GroupFDs       = "fd"        // port: a collapsed run of fds of one kind
	GroupOFDs      = "ofd"       // box: their descriptions
	GroupObjects   = "obj"       // box: their objects
	GroupMore      = "more"      // port: a process's fds not drawn
	GroupNone      = "none"      // port: a process with no fd to show
	GroupCrowd     = "crowd"     // box: processes that only share with the focus
	GroupCrowdPort = "crowdport" // port of a crowd: their fds on one description or object
	GroupCrowdOFDs = "crowdofd"  // box: the crowd's descriptions of one object
)

// GroupID names a group: "group:KIND:OWNER" or "group:KIND:OWNER:KEY", as
// layouts carry it and Options.ExpandGroups takes it.
type GroupID struct {
	Kind string // GroupStdio, GroupFDs, ...
	// Owner is the node ID of the process the group belongs to ("proc:PID:START";
	// for a crowd, its first process).
	Owner string
	// Key tells the groups of one owner and kind apart: the kind of the
	// fds of a collapsed run, the description or object a crowd's port
	// leads to. Empty for stdio, more, none and crowd.
	Key string
}

// String returns the ID in its text form.
func (g GroupID) String() string {
	s := GroupPrefix + g.Kind + ":" + g.Owner
	if g.Key != "" {
		s += ":" + g.Key
	}
	return s
}

// ParseGroupID reads the text form of a group ID.
func ParseGroupID(s string) (GroupID, error) {
	rest, ok := strings.CutPrefix(s, GroupPrefix)
	if !ok {
		return GroupID{}, fmt.Errorf("%q is not a group ID (%s...)", s, GroupPrefix)
	}
	kind, rest, ok := strings.Cut(rest, ":")
	if !ok || kind == "" {
		return GroupID{}, fmt.Errorf("group ID %q has no kind", s)
	}
	// The owner is a process node ID: "proc:PID:START".
	parts := strings.SplitN(rest, ":", 4)
	if len(parts) < 3 || parts[0] != "proc" || parts[1] == "" || parts[2] == "" {
		return GroupID{}, fmt.Errorf("group ID %q has no owner process", s)
	}
	g := GroupID{Kind: kind, Owner: strings.Join(parts[:3], ":")}
	if len(parts) == 4 {
		g.Key = parts[3]
	}
	return g, nil
}

// Expands returns the ID to give Options.ExpandGroups to draw what the
// group stands for one by one, and false for a group that cannot be
// expanded (more, none). A collapsed run's boxes expand its port; a
// crowd's ports and boxes, the crowd.
func (g GroupID) Expands() (GroupID, bool) {
	switch g.Kind {
	case GroupStdio, GroupFDs, GroupCrowd:
		return g, true
	case GroupOFDs, GroupObjects:
		return GroupID{Kind: GroupFDs, Owner: g.Owner, Key: g.Key}, true
	case GroupCrowdPort, GroupCrowdOFDs:
		return GroupID{Kind: GroupCrowd, Owner: g.Owner}, true
	}
	return GroupID{}, false
}

// expandOf is the Expand of a drawn port or box with the given ID: the
// group ID that draws it one by one, or "".
func expandOf(id string) string {
	g, err := ParseGroupID(id)
	if err != nil {
		return ""
	}
	if e, ok := g.Expands(); ok {
		return e.String()
	}
	return ""
}
