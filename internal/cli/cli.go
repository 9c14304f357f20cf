// Package cli is the sluice command line: every subcommand lives here as a
// library, so that cmd/sluice stays a few lines long and tests call Main
// directly with their own context, arguments and output streams.
//
// Exit codes: 0 success, 1 failure (the command ran and something went
// wrong, or the config has problems), 2 usage error (unknown command or
// flag, bad flag value, wrong number of arguments).
//
// Files:
//
//	cli.go       Main, the root command, exit codes, logging flags
//	run.go       sluice run: the daemon
//	validate.go  sluice validate: every config problem at once
//	version.go   sluice version
//	debug.go     sluice debug append|dump: the log without a daemon (hidden)
//	topics.go    sluice topics list|describe|create|delete|alter (Kafka API)
//	consume.go   sluice consume: records as JSON lines (Kafka API)
//	produce.go   sluice produce: stdin lines as records (Kafka API)
//	kafkaclient.go --bootstrap, the Kafka client, Kafka error codes in words
//	connectors.go  sluice connectors ...: the admin REST API of the connectors
//	connectors_snapshot.go  sluice connectors snapshot: an ad-hoc snapshot
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluice-cdc/sluice/connect"
)

// Exit codes returned by Main.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Main runs the sluice command line with args (without the program name)
// and returns the process exit code. It never calls os.Exit. ctx ends the
// long-running commands (run, debug append): cmd/sluice cancels it on
// SIGINT and SIGTERM.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return MainWith(ctx, Options{}, args, stdin, stdout, stderr)
}

// Options are what the program that embeds the command line decides.
type Options struct {
	// Connectors are the connector kinds compiled in (cmd/sluice fills
	// it). Default: none.
	Connectors *connect.Registry
}

// MainWith is Main with the build's options.
func MainWith(ctx context.Context, opts Options, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if opts.Connectors == nil {
		opts.Connectors = connect.NewRegistry()
	}
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(context.WithValue(ctx, optionsKey{}, opts))
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && !errors.Is(ee.err, errReported) {
			fmt.Fprintf(stderr, "sluice: %v\n", ee.err)
		}
		return ee.code
	}
	// Anything that did not come out of a command's own RunE is cobra
	// rejecting the command line.
	path := "sluice"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	fmt.Fprintf(stderr, "sluice: %v\nRun '%s --help' for usage.\n", err, path)
	return ExitUsage
}

type optionsKey struct{}

// options returns the Options MainWith was given.
func options(ctx context.Context) Options {
	o, _ := ctx.Value(optionsKey{}).(Options)
	if o.Connectors == nil {
		o.Connectors = connect.NewRegistry()
	}
	return o
}

// exitError carries the exit code of a failed command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errReported marks a failure whose details the command has already
// printed (validate's problem list): Main adds nothing.
var errReported = errors.New("reported")

// usageError is a bad command line found by a command itself, such as a
// flag value out of range.
func usageError(format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...)}
}

// action adapts a command body to cobra: an error it returns is a failure
// (exit 1) unless it already carries an exit code.
func action(f func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := f(cmd, args)
		if err == nil {
			return nil
		}
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		return &exitError{code: ExitFailure, err: err}
	}
}

// globals are the flags every command shares.
type globals struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	logFormat      string
	logLevel       string
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "sluice",
		Short: "Change data capture in one binary: sources, a replayable log, sinks",
		Long: `sluice captures every committed row change from MySQL/MariaDB and PostgreSQL,
keeps the changes in its own partitioned, compacted log, and delivers them to
sinks. Any topic can be replayed from offset 0.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		CompletionOptions: cobra.CompletionOptions{
			HiddenDefaultCmd: true,
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	pf := root.PersistentFlags()
	pf.StringVar(&g.logFormat, "log-format", "auto", "log format on stderr: json, text, or auto (json unless stderr is a terminal)")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	root.AddCommand(runCmd(g), validateCmd(g), versionCmd(g), debugCmd(g))
	root.AddCommand(topicsCmd(g), consumeCmd(g), produceCmd(g))
	root.AddCommand(connectorsCmd(g))
	return root
}

// logger builds the process logger from --log-format and --log-level. It
// writes to stderr; stdout stays for command output.
func (g *globals) logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return nil, usageError("--log-level %q: must be debug, info, warn or error", g.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	format := strings.ToLower(g.logFormat)
	if format == "auto" {
		format = "json"
		if isTerminal(g.stderr) {
			format = "text"
		}
	}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(g.stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(g.stderr, opts)), nil
	default:
		return nil, usageError("--log-format %q: must be json, text or auto", g.logFormat)
	}
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
