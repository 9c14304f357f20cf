package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/sluice-cdc/sluice/configs"
	"github.com/sluice-cdc/sluice/connect"
	"github.com/sluice-cdc/sluice/internal/engine"
)

// defaultConfigPath is the config file run and validate read without
// --config.
const defaultConfigPath = "sluice.yaml"

// loadConfig reads, fills and validates the config file at path. ${VAR}
// references take their values from the process environment.
func loadConfig(path string) (*configs.Config, error) {
	return configs.Load(path, configs.Options{Getenv: os.LookupEnv})
}

// loadConfigFor is loadConfig that also checks connector kinds and each
// connector's config block against the build's registry.
func loadConfigFor(path string, reg *connect.Registry) (*configs.Config, error) {
	opts := engine.ConfigOptions(reg)
	opts.Getenv = os.LookupEnv
	return configs.Load(path, opts)
}

// reportConfigError prints why the config file at path could not be
// loaded: one line per problem (FILE:LINE:COL: PATH: WHAT) and a count when
// it is a *configs.Error, else one line naming the file and the cause.
func reportConfigError(w io.Writer, path string, err error) {
	var ce *configs.Error
	switch {
	case errors.As(err, &ce) && len(ce.Problems) > 0:
		for _, p := range ce.Problems {
			fmt.Fprintln(w, p.String())
		}
		fmt.Fprintf(w, "%s: %s; fix them and run \"sluice validate --config %s\" again\n", path, plural(len(ce.Problems), "problem"), path)
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(w, "%s: no such config file; pass --config FILE, or start from one of configs/examples/ (minimal.yaml runs the log alone)\n", path)
	default:
		fmt.Fprintf(w, "%s: %v\n", path, err)
	}
}

// plural returns "1 problem", "2 problems".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
