// Command sluice is the sluice daemon and its command line. Everything it
// does lives in internal/cli; this file only wires the process to it:
// arguments, standard streams, signals and the exit code.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sluice-cdc/sluice/internal/cli"
)

func main() {
	// The first SIGINT or SIGTERM starts a clean drain; once it has
	// started, signals get their default action again, so a second one
	// stops the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := cli.MainWith(ctx, cli.Options{Connectors: connectors()}, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
