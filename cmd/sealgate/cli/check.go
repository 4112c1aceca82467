package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/keys"
)

func checkCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check the store's consistency (safe while the server runs)",
		Long: "Check the mail store: database integrity and foreign keys, body reference counts and\n" +
			"files, UIDNEXT above every UID, spool entries with a body and recipients; and that the\n" +
			"master key opens the sealed TLS and DKIM keys. Prints each problem and exits non-zero\n" +
			"when there is any.",
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(func(ctx context.Context, cfg *config.Config, s adminStore) error {
				probs, err := s.Check(ctx)
				if err != nil {
					return err
				}
				sp, err := g.checkSecrets(ctx, cfg)
				if err != nil {
					return err
				}
				probs = append(probs, sp...)
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

// checkSecrets runs gateway.CheckSecrets with the master key in use. Without a master key
// file there is nothing sealed to check (and check does not make one).
func (g *globals) checkSecrets(ctx context.Context, cfg *config.Config) ([]string, error) {
	path := g.masterKeyPath(cfg)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	mk, err := keys.LoadOrCreateMasterKey(path)
	if err != nil {
		return nil, err
	}
	files, err := gateway.OpenSharedFiles(ctx, cfg.Storage, g.dataDir)
	if err != nil {
		return nil, err
	}
	defer files.Close()
	return gateway.CheckSecrets(ctx, cfg, files, mk), nil
}
