package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/go-consolidate/consolidate"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed: not found, refused, unreachable
	exitUsage = 2 // the command line is wrong
)

// command is one subcommand.
type command struct {
	name    string
	args    string // positional arguments, for the usage line
	summary string
	run     func(ctx context.Context, c *cli, args []string) error
}

var commands = []command{
	{"migrate", "", "create the ledger or bring its schema up to date", runMigrate},
	{"account", "<id>", "an account's balances: available, current and held", runAccount},
	{"transfer", "<id> | -hash 0x…", "one transfer with its signed attempts", runTransfer},
	{"list", "", "transfers of every account (-status, -parked, -older-than, -limit, -cursor)", runList},
	{"dead-letters", "", "parked transfers: those whose check budget is spent", runDeadLetters},
	{"requeue", "<id>", "put a parked transfer back to work with a fresh check budget", runRequeue},
	{"cancel", "<id>", "void a pending transfer with a replacement (needs -rpc, the wallet key and -chain-id)", runCancel},
	{"stats", "", "open work: pending and parked transfers, the oldest one's age, wallets' nonces, queue", runStats},
}

// cli is one invocation: its options, environment and output.
type cli struct {
	opts   options
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// run runs the command line args (without the program name) and returns
// the process's exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, os.Getenv, stdout, stderr)
}

// runEnv is run with the environment read through getenv.
func runEnv(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c := &cli{opts: defaultOptions(), getenv: getenv, stdout: stdout, stderr: stderr}
	fs := c.flagSet("consolidate", "[flags] <command> [arguments]")
	fs.Usage = func() { c.usage(fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		c.usage(fs)
		return exitUsage
	}
	name := fs.Arg(0)
	if name == "help" {
		c.usage(fs)
		return exitOK
	}
	for _, cmd := range commands {
		if cmd.name == name {
			return c.exit(cmd.run(ctx, c, fs.Args()[1:]))
		}
	}
	fmt.Fprintf(stderr, "consolidate: unknown command %q; run 'consolidate help'\n", name)
	return exitUsage
}

// exit reports err and maps it to an exit code.
func (c *cli) exit(err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errParse):
		// The flag package has printed the problem and the usage.
		return exitUsage
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "consolidate: %v\n", err)
		return exitUsage
	case errors.Is(err, consolidate.ErrInvalidArgument):
		fmt.Fprintf(c.stderr, "%v\n", err)
		return exitUsage
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "consolidate: ") {
		msg = "consolidate: " + msg
	}
	fmt.Fprintln(c.stderr, msg)
	return exitError
}

func (c *cli) usage(fs *flag.FlagSet) {
	w := c.stderr
	fmt.Fprint(w, `consolidate inspects and repairs a consolidate ledger.

Usage:
  consolidate [flags] <command> [command flags] [arguments]

Commands:
`)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-13s %-17s %s\n", cmd.name, cmd.args, cmd.summary)
	}
	fmt.Fprint(w, `
Flags (accepted before or after the command):
`)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Exit codes: 0 success, 1 the command failed, 2 the command line is wrong.
Run 'consolidate <command> -h' for a command's own flags.
`)
}
