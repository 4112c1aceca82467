package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway/config"
)

func checkCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check the store's consistency (safe while the server runs)",
		Long: "Check the mail store: database integrity and foreign keys, body reference counts and\n" +
			"files, UIDNEXT above every UID, spool entries with a body and recipients. Prints each\n" +
			"problem and exits non-zero when there is any.",
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(ctx context.Context, _ *config.Config, s adminStore) error {
				probs, err := s.Check(ctx)
				if err != nil {
					return err
				}
				for _, p := range probs {
					fmt.Fprintln(g.env.Stdout, p)
				}
				if len(probs) > 0 {
					return fmt.Errorf("check: %d problems found", len(probs))
				}
				fmt.Fprintln(g.env.Stdout, "store is consistent")
				return nil
			})
		},
	}
}
