package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fdscope/fdscope/graph"
)

// TestSnapshotJSON builds the binary and checks that `fdscope snapshot
// --format json` prints the graph contract of docs/graph.md: one JSON object
// with nodes, edges and stats, holding this test process and the snapshot
// process itself.
func TestSnapshotJSON(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binary with")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a build and a scan, on a loaded machine
	defer cancel()
	bin := filepath.Join(t.TempDir(), "fdscope")
	if out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.CommandContext(ctx, bin, "snapshot", "--format", "json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("fdscope snapshot --format json: %v\nstderr:\n%s", err, stderr.String())
	}
	out := stdout.Bytes()
	if !json.Valid(out) {
		t.Fatalf("the output is not valid JSON:\n%.1000s", out)
	}

	// The three top-level keys, none of them null.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(out, &top); err != nil {
		t.Fatalf("the output is not a JSON object: %v", err)
	}
	for _, k := range []string{"nodes", "edges", "stats"} {
		if v, ok := top[k]; !ok || string(v) == "null" {
			t.Errorf("top-level %q is missing or null (keys: %v)", k, slices.Sorted(maps.Keys(top)))
		}
	}
	var stats map[string]json.RawMessage
	if err := json.Unmarshal(top["stats"], &stats); err != nil {
		t.Fatalf("stats: %v", err)
	}
	for _, k := range []string{"missing_features", "errors"} {
		if v := string(stats[k]); v == "" || v == "null" {
			t.Errorf("stats.%s is %q, want a list", k, v)
		}
	}

	var s graph.Snapshot
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("the output does not decode as a graph.Snapshot: %v", err)
	}
	if len(s.Nodes) == 0 || len(s.Edges) == 0 {
		t.Fatalf("empty graph: %d nodes, %d edges", len(s.Nodes), len(s.Edges))
	}

	knownNodes := []graph.Kind{
		graph.KindProcess, graph.KindFD, graph.KindOFD, graph.KindFile, graph.KindDir, graph.KindChr,
		graph.KindBlk, graph.KindFIFO, graph.KindSymlink, graph.KindPipe, graph.KindSocket, graph.KindAnon,
		graph.KindMemfd, graph.KindMqueue, graph.KindNsfs, graph.KindUnknown,
	}
	ids := map[string]*graph.Node{}
	for i, n := range s.Nodes {
		if !slices.Contains(knownNodes, n.Kind) {
			t.Errorf("node %s has an unknown kind %q", n.ID, n.Kind)
		}
		if i > 0 && s.Nodes[i-1].ID >= n.ID {
			t.Errorf("nodes not sorted by id or duplicated: %q then %q", s.Nodes[i-1].ID, n.ID)
		}
		ids[n.ID] = n
	}
	knownEdges := []graph.EdgeKind{
		graph.EdgeFD, graph.EdgeOFD, graph.EdgeObject, graph.EdgePeer, graph.EdgeAccepted,
		graph.EdgeWatch, graph.EdgeChild, graph.EdgeCwd, graph.EdgeRoot, graph.EdgeExe,
	}
	for _, e := range s.Edges {
		if !slices.Contains(knownEdges, e.Kind) {
			t.Errorf("edge %v has an unknown kind", e)
		}
		if ids[e.From] == nil || ids[e.To] == nil {
			t.Errorf("edge %v has an end that is not a node", e)
		}
	}
	kinds := s.CountKinds()
	for _, k := range []graph.Kind{graph.KindProcess, graph.KindFD, graph.KindOFD} {
		if kinds[k] == 0 {
			t.Errorf("no %s nodes (kinds: %v)", k, kinds)
		}
	}
	if s.Stats.Processes != kinds[graph.KindProcess] || s.Stats.FDs != kinds[graph.KindFD] {
		t.Errorf("stats say %d processes and %d fds, the nodes %d and %d", s.Stats.Processes, s.Stats.FDs, kinds[graph.KindProcess], kinds[graph.KindFD])
	}

	// This process, and the snapshot process with its fds (stdout is a pipe to us).
	for _, c := range []struct {
		what string
		pid  int
		fds  bool
	}{{"this test process", os.Getpid(), false}, {"the snapshot process", cmd.Process.Pid, true}} {
		var p *graph.Node
		for _, n := range s.Nodes {
			if n.Kind == graph.KindProcess && n.PID == c.pid {
				p = n
			}
		}
		if p == nil {
			t.Errorf("%s (pid %d) is not in the snapshot", c.what, c.pid)
			continue
		}
		if p.Process == nil || p.Error != "" {
			t.Errorf("%s: %+v", c.what, p)
		}
		if !c.fds {
			continue
		}
		var fds int
		for _, e := range s.EdgesFrom(p.ID) {
			if e.Kind == graph.EdgeFD {
				fds++
			}
		}
		if fds < 3 {
			t.Errorf("%s (pid %d) has %d fd nodes, want at least stdin, stdout and stderr", c.what, c.pid, fds)
		}
	}
}
