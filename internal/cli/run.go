package cli

import (
	"github.com/spf13/cobra"

	"github.com/sluice-cdc/sluice/internal/engine"
)

func runCmd(g *globals) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "run [--config FILE]",
		Short: "Run the daemon: the log, its topics and admin HTTP, until SIGTERM",
		Long: `Run loads the config file, opens the log in node.data_dir, creates the topics
the file declares, serves /healthz, /readyz and /metrics on node.admin_listen,
and runs until it receives SIGINT or SIGTERM. Then it drains (in-flight
requests finish, the log is closed cleanly) and exits 0.

A config with problems starts nothing: every problem is printed, as
"sluice validate" would, and run exits 1.`,
		Args: cobra.NoArgs,
		RunE: action(func(cmd *cobra.Command, _ []string) error {
			logger, err := g.logger()
			if err != nil {
				return err
			}
			reg := options(cmd.Context()).Connectors
			cfg, err := loadConfigFor(path, reg)
			if err != nil {
				reportConfigError(g.stderr, path, err)
				return &exitError{code: ExitFailure, err: errReported}
			}
			logger.Info("sluice starting", "version", Version, "config", path)
			eng, err := engine.New(cfg, engine.Options{Logger: logger, Connectors: reg, Version: Version})
			if err != nil {
				return err
			}
			runErr := eng.Run(cmd.Context())
			if err := eng.Close(); err != nil && runErr == nil {
				runErr = err
			}
			return runErr
		}),
	}
	cmd.Flags().StringVarP(&path, "config", "c", defaultConfigPath, "config file")
	return cmd
}
