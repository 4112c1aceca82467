package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway/config"
)

func configCmd(g *globals) *cobra.Command {
	c := group("config", "Print an example configuration or check one")
	c.AddCommand(&cobra.Command{
		Use:   "example",
		Short: "Print a fully commented configuration with every default",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprint(g.env.Stdout, config.Example())
			return nil
		},
	}, &cobra.Command{
		Use:   "check FILE",
		Short: "Check a configuration file and report every problem",
		Args:  exactArgs(1, "one FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := config.Load(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "%s: ok\n", args[0])
			return nil
		},
	})
	return c
}
