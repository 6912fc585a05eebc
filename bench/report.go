//go:build linux

package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// Result is one benchmark: the machine, the workload, every tool's numbers
// and the targets.
type Result struct {
	Machine  Machine       `json:"machine"`
	Plan     Plan          `json:"plan"`
	Expected Expected      `json:"expected"`
	Built    Built         `json:"built"`
	Runs     int           `json:"runs"`
	Tools    []*ToolResult `json:"tools"`
	// Seen is what the first snapshot said it saw (warm-up run); nil when
	// no snapshot was measured (each snapshot's is its ToolResult.Saw).
	// Floor likewise for the floor.
	Seen    *Seen       `json:"snapshot_saw,omitempty"`
	Floor   *FloorStats `json:"floor_saw,omitempty"`
	Ratios  []Ratio     `json:"ratios"`
	Targets []Target    `json:"targets"`
	// Notes say what was left out and why.
	Notes []string `json:"notes,omitempty"`
}

// ToolResult is one tool's samples and their summary.
type ToolResult struct {
	Name    string   `json:"name"`
	Label   string   `json:"label"`   // short: lsof -n -P, floor, ...
	Command string   `json:"command"` // as the table shows it
	Argv    []string `json:"argv"`
	Scanner string   `json:"scanner,omitempty"` // a snapshot's --scanner
	Summary
	OutputKiB float64  `json:"output_kib"` // standard output of the warm-up run
	Samples   []Sample `json:"samples"`
	// Saw is what a snapshot said it saw (warm-up run).
	Saw *Seen `json:"saw,omitempty"`
}

// Seen is what a snapshot counted, from its stats.
type Seen struct {
	Processes       int      `json:"processes"`
	FDs             int      `json:"fds"`
	OFDs            int      `json:"ofds"`
	Sockets         int      `json:"sockets"`
	DeniedFDs       int      `json:"denied_fds"`
	ScanMS          float64  `json:"scan_ms"` // the scan alone, without encoding the JSON
	Sharing         string   `json:"sharing"`
	Scanner         string   `json:"scanner"`
	ScannerFallback string   `json:"scanner_fallback,omitempty"`
	MissingFeatures []string `json:"missing_features"`
	Errors          []string `json:"errors"`
	// Fraction is FDs over the fds the workload holds.
	Fraction float64 `json:"fraction"`
}

// Ratio compares a snapshot with another tool.
type Ratio struct {
	Of   string  `json:"of"` // a snapshot: snapshot, snapshot-bpf, snapshot-procfs
	To   string  `json:"to"` // the other tool
	Wall float64 `json:"wall"`
	CPU  float64 `json:"cpu"`
}

// Target is one of the targets, checked.
type Target struct {
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Limit   float64 `json:"limit"`
	Unit    string  `json:"unit"`     // "×", "MiB" or "%"
	AtLeast bool    `json:"at_least"` // the value must reach the limit, not stay below it
	Pass    bool    `json:"pass"`
}

// Tool returns the named tool's result, or nil.
func (r *Result) Tool(name string) *ToolResult {
	for _, t := range r.Tools {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Targets per scanner (issue 12): the snapshot's wall time against lsof's
// in the same run, and its peak RSS.
const (
	BPFLsofLimit    = 0.10 // bpf: ≤ 0.10× lsof -n -P
	BPFRSSLimitMiB  = 80   // bpf: peak RSS ≤ 80 MiB
	ProcfsLsofLimit = 0.5  // procfs: ≤ 0.5× lsof -n -P
)

// snapshots returns the snapshot tools, in table order.
func (r *Result) snapshots() []*ToolResult {
	var out []*ToolResult
	for _, t := range r.Tools {
		if IsSnapshot(t.Name) {
			out = append(out, t)
		}
	}
	return out
}

// evaluate computes the ratios and checks the targets.
func (r *Result) evaluate() {
	for _, snap := range r.snapshots() {
		r.evaluateSnapshot(snap)
	}
	for i := range r.Targets {
		t := &r.Targets[i]
		t.Pass = t.Value <= t.Limit
		if t.AtLeast {
			t.Pass = t.Value >= t.Limit
		}
	}
}

// evaluateSnapshot adds the ratios and targets of one snapshot. Its
// targets are those of the scanner that ran (its stats say which).
func (r *Result) evaluateSnapshot(snap *ToolResult) {
	ratio := func(other string) *Ratio {
		o := r.Tool(other)
		if o == nil || o.WallMS == 0 || o.CPUMS == 0 {
			return nil
		}
		x := Ratio{Of: snap.Name, To: other, Wall: snap.WallMS / o.WallMS, CPU: snap.CPUMS / o.CPUMS}
		r.Ratios = append(r.Ratios, x)
		return &x
	}
	scanner := snap.Scanner
	if snap.Saw != nil && snap.Saw.Scanner != "" {
		scanner = snap.Saw.Scanner
	}
	who := "snapshot"
	if scanner != "" {
		who += " (" + scanner + ")"
	}
	if x := ratio(ToolLsof); x != nil {
		switch scanner {
		case "bpf":
			r.Targets = append(r.Targets, Target{Name: fmt.Sprintf("%s wall ≤ %.2f× lsof -n -P wall", who, BPFLsofLimit), Value: x.Wall, Limit: BPFLsofLimit, Unit: "×"})
		case "procfs":
			r.Targets = append(r.Targets, Target{Name: fmt.Sprintf("%s wall ≤ %.2f× lsof -n -P wall", who, ProcfsLsofLimit), Value: x.Wall, Limit: ProcfsLsofLimit, Unit: "×"})
		}
	}
	ratio(ToolFloor)
	ratio(ToolSSX)
	ratio(ToolSSTan)
	if scanner == "bpf" {
		r.Targets = append(r.Targets, Target{Name: fmt.Sprintf("%s peak RSS ≤ %d MiB", who, BPFRSSLimitMiB), Value: snap.PeakRSSMiB, Limit: BPFRSSLimitMiB, Unit: "MiB"})
	}
	if snap.Saw != nil {
		r.Targets = append(r.Targets, Target{Name: who + " sees ≥ 95% of the workload's fds",
			Value: 100 * snap.Saw.Fraction, Limit: 100 * MinSeenFraction, Unit: "%", AtLeast: true})
	}
}

// Check fails when the snapshot did not see the workload, and with enforce
// also when any target failed.
func (r *Result) Check(enforce bool) error {
	var errs []error
	for _, snap := range r.snapshots() {
		if s := snap.Saw; s != nil && s.Fraction < MinSeenFraction {
			errs = append(errs, fmt.Errorf("bench: %s saw %d fds, %.1f%% of the %d the workload holds (want ≥ %.0f%%): it did not scan the workload",
				snap.Command, s.FDs, 100*s.Fraction, r.Built.FDs, 100*MinSeenFraction))
		}
	}
	if enforce {
		for _, t := range r.Targets {
			if !t.Pass && !t.AtLeast { // a snapshot that did not see the workload is reported above
				errs = append(errs, fmt.Errorf("bench: target failed: %s: %s", t.Name, t.valueString()))
			}
		}
	}
	return errors.Join(errs...)
}

// FailedTargets counts the targets that failed.
func (r *Result) FailedTargets() int {
	n := 0
	for _, t := range r.Targets {
		if !t.Pass {
			n++
		}
	}
	return n
}

func (t Target) valueString() string {
	switch t.Unit {
	case "×":
		return fmt.Sprintf("%.3f×", t.Value)
	case "%":
		return fmt.Sprintf("%.1f%%", t.Value)
	}
	return fmt.Sprintf("%.1f %s", t.Value, t.Unit)
}

// WriteJSON writes r as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("bench: write JSON: %w", err)
	}
	return nil
}

// WriteTable writes r for people: the workload, a row per tool, the ratios
// and the targets.
func (r *Result) WriteTable(w io.Writer) error {
	var b strings.Builder
	m, e, bt := r.Machine, r.Expected, r.Built
	fmt.Fprintf(&b, "fdscope bench: scale %g, median of %d runs after one warm-up\n", r.Plan.Scale, r.Runs)
	fmt.Fprintf(&b, "machine:  %s, %d CPUs, %.1f GiB, Linux %s, %s, load average %s\n", m.CPU, m.CPUs, m.MemGiB, m.Kernel, m.Go, m.Load)
	if m.PageTouchUS > 0 {
		fmt.Fprintf(&b, "          first write to a fresh page: %.1f µs (paid for every page of a tool's peak RSS)\n", m.PageTouchUS)
	}
	fmt.Fprintf(&b, "workload: %s processes, %s fds (planned %s; at most %s in one process), built in %.2f s\n",
		num(bt.Processes), num(bt.FDs), num(e.FDs), num(bt.MaxFDs), bt.BuildMS/1000)
	fmt.Fprintf(&b, "          %s unix sockets (%s connections across processes, %s fds received by SCM_RIGHTS), "+
		"%s loopback TCP connections, %s pipes shared by groups of %d processes\n",
		num(e.UnixSockets), num(e.CrossUnixConns), num(e.SCMRightsFDs), num(e.TCPConns), num(e.Pipes), r.Plan.GroupSize)
	for _, snap := range r.snapshots() {
		s := snap.Saw
		if s == nil {
			continue
		}
		fmt.Fprintf(&b, "snapshot: saw %s fds (%.1f%% of the workload), %s open file descriptions, %s sockets, %s processes; "+
			"the scan alone took %.0f ms (warm-up), scanner %s, sharing by %s\n",
			num(s.FDs), 100*s.Fraction, num(s.OFDs), num(s.Sockets), num(s.Processes), s.ScanMS, s.Scanner, s.Sharing)
		if s.ScannerFallback != "" {
			fmt.Fprintf(&b, "          scanner %s because bpf could not run: %s\n", s.Scanner, s.ScannerFallback)
		}
		if len(s.Errors) > 0 || len(s.MissingFeatures) > 0 {
			fmt.Fprintf(&b, "          errors %q, missing features %q\n", s.Errors, s.MissingFeatures)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note:     %s\n", n)
	}
	if f := r.Floor; f != nil {
		fmt.Fprintf(&b, "floor:    saw %s fds in %s processes, %s readlinks\n", num(f.FDs), num(f.Processes), num(f.Readlinks))
	}
	b.WriteString("\n")
	width := len("tool")
	for _, t := range r.Tools {
		width = max(width, utf8.RuneCountInString(t.Command))
	}
	fmt.Fprintf(&b, "%-*s  %9s  %17s  %9s  %12s  %10s\n", width, "tool", "wall ms", "min–max ms", "CPU ms", "peak RSS MiB", "output KiB")
	for _, t := range r.Tools {
		fmt.Fprintf(&b, "%-*s  %9.1f  %17s  %9.1f  %12.1f  %10.0f\n", width, t.Command, t.WallMS,
			fmt.Sprintf("%.1f–%.1f", t.WallMinMS, t.WallMaxMS), t.CPUMS, t.PeakRSSMiB, t.OutputKiB)
	}
	if len(r.Ratios) > 0 {
		b.WriteString("\nratios (median over median)\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, x := range r.Ratios {
			fmt.Fprintf(tw, "  %s / %s\twall %.3f\tCPU %.3f\n", r.Tool(x.Of).Label, r.Tool(x.To).Label, x.Wall, x.CPU)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("bench: write table: %w", err)
		}
	}
	if len(r.Targets) > 0 {
		b.WriteString("\ntargets\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, t := range r.Targets {
			verdict := "FAIL"
			if t.Pass {
				verdict = "PASS"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", verdict, t.Name, t.valueString())
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("bench: write table: %w", err)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("bench: write table: %w", err)
	}
	return nil
}

// num formats n with thousands separators.
func num(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
