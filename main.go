// Command fdscope shows what Linux processes are connected to: a live graph of
// processes → file descriptors → open file descriptions → sockets, pipes and
// inodes, served as a web dashboard, printed as a snapshot, or benchmarked
// against lsof and ss.
//
// Usage:
//
//	fdscope [serve] [flags]          run the dashboard (default http://127.0.0.1:8080)
//	fdscope snapshot [flags]         print one scan of the machine, or draw one process
//	fdscope bench [flags]            measure a scan against lsof and ss on a synthetic workload
//	fdscope hub [flags]              serve the merged graph of many hosts' fdscope serve
//	fdscope help [COMMAND]           print the usage: commands, flags, examples
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fdscope:", err)
		os.Exit(1)
	}
}

// errNeedsLinux is every command's error on other systems.
var errNeedsLinux = errors.New("needs Linux (it reads /proc and the kernel's sock_diag), and this is " + runtime.GOOS)

// command is one subcommand. run parses its own flags from args; given -h
// or --help it prints the command's usage on stdout and returns nil.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the dashboard (the default command)", runServe},
		{"snapshot", "print one scan of the machine, or draw one process", runSnapshot},
		{"bench", "measure a scan against lsof and ss on a synthetic workload", runBench},
		{"hub", "serve the merged graph of many hosts' fdscope serve (docs/hub.md)", runHub},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	find := func(name string) (command, error) {
		for _, c := range cmds {
			if c.name == name {
				return c, nil
			}
		}
		return command{}, fmt.Errorf("unknown command %q (want serve, snapshot, bench, hub or help; see fdscope help)", name)
	}
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			return usage(ctx, cmds, stdout)
		case "help":
			switch len(args) {
			case 1:
				return usage(ctx, cmds, stdout)
			case 2:
				c, err := find(args[1])
				if err != nil {
					return err
				}
				return c.run(ctx, []string{"--help"}, stdout, io.Discard)
			}
			return fmt.Errorf("help: one command at most, not %q", args[1:])
		}
	}
	name := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	c, err := find(name)
	if err != nil {
		return err
	}
	if runtime.GOOS != "linux" {
		return errNeedsLinux
	}
	return c.run(ctx, args, stdout, stderr)
}

// usage prints what fdscope does, its commands, and each command's usage.
func usage(ctx context.Context, cmds []command, w io.Writer) error {
	fmt.Fprint(w, `fdscope shows what Linux processes are connected to: the live graph of
processes → file descriptors → open file descriptions → sockets, pipes and inodes.

Usage:
  fdscope [COMMAND] [flags]

Commands:
`)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-10s %s\n", "help", "print this, or with a COMMAND its usage alone")
	for _, c := range cmds {
		fmt.Fprintln(w)
		if err := c.run(ctx, []string{"--help"}, w, io.Discard); err != nil {
			return err
		}
	}
	return nil
}

// flags is the flag set of one command, with what its usage shows.
type flags struct {
	*flag.FlagSet
	synopsis string   // "fdscope snapshot [flags]: what it does"
	examples []string // command lines, with a comment each
}

func newFlags(name, synopsis string, examples ...string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flags{FlagSet: fs, synopsis: synopsis, examples: examples}
}

// parse parses args. On -h or --help it prints the usage to stdout and
// returns flag.ErrHelp, which the command turns into success.
func (f *flags) parse(args []string, stdout io.Writer) error {
	err := f.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		f.usage(stdout)
		return flag.ErrHelp
	}
	if err != nil {
		return fmt.Errorf("%s: %w (see fdscope help %s)", f.Name(), err, f.Name())
	}
	return nil
}

func (f *flags) usage(w io.Writer) {
	fmt.Fprintf(w, "%s\n\nExamples:\n", f.synopsis)
	for _, e := range f.examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
	fmt.Fprintf(w, "\nFlags of %s (-flag or --flag):\n", f.Name())
	f.SetOutput(w)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
}

// set reports the flags given on the command line.
func (f *flags) set() map[string]bool {
	m := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { m[fl.Name] = true })
	return m
}

// helpOrErr is what a command returns for a parse error: nil after -h.
func helpOrErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}
