// Command fdscope shows what Linux processes are connected to: a live graph of
// processes → file descriptors → open file descriptions → sockets, pipes and
// inodes, served as a web dashboard, printed as a snapshot, or benchmarked
// against lsof and ss.
//
// Usage:
//
//	fdscope [serve] [flags]          run the dashboard (default http://127.0.0.1:8080)
//	fdscope snapshot [flags]         print one scan of the machine
//	fdscope bench [flags]            measure a scan against lsof and ss on a synthetic workload
package main

import (
	"context"
	"errors"
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

// command is one subcommand: it parses its own flags from args.
type command func(ctx context.Context, args []string, stdout, stderr io.Writer) error

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	commands := map[string]command{
		"serve":    runServe,
		"snapshot": runSnapshot,
		"bench":    runBench,
	}
	name := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	if name == "help" {
		fmt.Fprintln(stdout, "usage: fdscope [serve|snapshot|bench] [flags]; fdscope COMMAND -h for its flags")
		return nil
	}
	cmd, ok := commands[name]
	if !ok {
		return fmt.Errorf("unknown command %q (want serve, snapshot or bench)", name)
	}
	if runtime.GOOS != "linux" {
		return errNeedsLinux
	}
	return cmd(ctx, args, stdout, stderr)
}
