package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

// Version is the release this binary was built from. Release builds set it
// with -ldflags "-X github.com/sluice-cdc/sluice/internal/cli.Version=v1.2.3".
var Version = "dev"

// versionString is what "sluice version" prints, e.g.
// "sluice dev go1.26.8 linux/amd64".
func versionString() string {
	return fmt.Sprintf("sluice %s %s %s/%s", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the sluice version and the Go version it was built with",
		Args:  cobra.NoArgs,
		RunE: action(func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(g.stdout, versionString())
			return err
		}),
	}
}
