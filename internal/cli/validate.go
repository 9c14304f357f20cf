package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluice-cdc/sluice/internal/engine"
)

func validateCmd(g *globals) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "validate [--config FILE]",
		Short: "Check a config file and print every problem, each with file:line:col",
		Long: `Validate reads the config file, substitutes ${VAR} references from the
environment, fills defaults and checks everything, without starting anything.
It prints every problem it finds, one per line as FILE:LINE:COL: PATH: WHAT,
and exits 1; for a valid file it prints a summary and exits 0. A valid file
that this build cannot run (a connector kind not compiled in) is a problem too.`,
		Args: cobra.NoArgs,
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			reg := options(cmd.Context()).Connectors
			cfg, err := loadConfigFor(path, reg)
			if err != nil {
				reportConfigError(g.stderr, path, err)
				return &exitError{code: ExitFailure, err: errReported}
			}
			if problems := engine.Unsupported(cfg, reg); len(problems) > 0 {
				for _, p := range problems {
					fmt.Fprintf(g.stderr, "%s: %s\n", path, p)
				}
				fmt.Fprintf(g.stderr, "%s: the file is valid, but this build cannot run it (%s)\n", path, plural(len(problems), "problem"))
				return &exitError{code: ExitFailure, err: errReported}
			}
			_, err = fmt.Fprintf(g.stdout, "config OK: %s, %s\n", plural(len(cfg.Topics), "topic"), plural(len(cfg.Connectors), "connector"))
			return err
		}),
	}
	cmd.Flags().StringVarP(&path, "config", "c", defaultConfigPath, "config file")
	return cmd
}
