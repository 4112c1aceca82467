package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
)

func dbCmd(g *globals) *cobra.Command {
	c := group("db", "Manage the PostgreSQL database of the postgres storage backend")
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the schema of every store in the PostgreSQL database",
		Long: "Create the schema of every store the postgres backend keeps in [storage] dsn, or upgrade it to\n" +
			"this version of Sealgate. Run it once before the first start and after each upgrade; it is safe\n" +
			"to run again and from several nodes. The embedded backend needs no migration.",
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withAdmin(func(a *admin) error {
				if ps := a.cfg.Validate(); len(ps) > 0 {
					return &config.Problems{List: ps}
				}
				if err := gateway.MigrateStorage(a.ctx, a.cfg.Storage); err != nil {
					return err
				}
				fmt.Fprintln(g.env.Stdout, "the database schema is current")
				return nil
			})
		},
	}
	c.AddCommand(migrate)
	return c
}
