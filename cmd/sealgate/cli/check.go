package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway"
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
			return g.withStore(func(a *admin, s adminStore) error {
				probs, err := s.Check(a.ctx)
				if err != nil {
					return err
				}
				sp, err := a.checkSecrets()
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
func (a *admin) checkSecrets() ([]string, error) {
	if _, err := os.Stat(a.g.masterKeyPath(a.cfg)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	k, err := a.DKIMKeys()
	if err != nil {
		return nil, err
	}
	return gateway.CheckSecrets(a.ctx, a.cfg, k.Files, k.MasterKey), nil
}
