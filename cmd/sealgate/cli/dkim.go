package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/mailauth"
	"github.com/sealgate/sealgate/keys"
)

// dkimKeys opens the DKIM key store of [storage] (the data directory, or the shared
// database) and returns it with the function that closes it.
func (g *globals) dkimKeys() (*mailauth.DKIMKeys, func() error, error) {
	cfg, err := g.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if err := gateway.OpenDataDir(g.dataDir); err != nil {
		return nil, nil, err
	}
	path := g.masterKeyFile()
	if path == "" {
		path = cfg.Keys.MasterKeyPath(g.dataDir)
	}
	mk, err := keys.LoadOrCreateMasterKey(path)
	if err != nil {
		return nil, nil, err
	}
	files, err := gateway.OpenSharedFiles(context.Background(), cfg.Storage, g.dataDir)
	if err != nil {
		return nil, nil, err
	}
	return &mailauth.DKIMKeys{Files: files, MasterKey: mk}, files.Close, nil
}

func dkimCmd(g *globals) *cobra.Command {
	c := group("dkim", "Make and show the DKIM keys that sign outgoing mail")
	var selector string
	gen := &cobra.Command{
		Use:   "generate DOMAIN [--selector NAME]",
		Short: "Make a DKIM signing key for DOMAIN and print the DNS TXT record to publish",
		Args:  exactArgs(1, "one DOMAIN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, closeKeys, err := g.dkimKeys()
			if err != nil {
				return err
			}
			defer closeKeys()
			sel := selector
			if sel == "" {
				sel = "sg" + time.Now().UTC().Format("20060102")
			}
			rec, err := k.Generate(args[0], sel)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.env.Stdout, rec)
			return nil
		},
	}
	gen.Flags().StringVar(&selector, "selector", "", `selector (default "sg" and today's date)`)
	show := &cobra.Command{
		Use:   "show DOMAIN",
		Short: "Print DOMAIN's DKIM TXT records, the one used for signing first",
		Args:  exactArgs(1, "one DOMAIN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, closeKeys, err := g.dkimKeys()
			if err != nil {
				return err
			}
			defer closeKeys()
			recs, err := k.Records(args[0])
			if errors.Is(err, mailauth.ErrNoDKIMKey) {
				return fmt.Errorf("no DKIM key for %s; make one with: sealgate dkim generate %s", args[0], args[0])
			}
			if err != nil {
				return err
			}
			for _, r := range recs {
				fmt.Fprintln(g.env.Stdout, r)
			}
			return nil
		},
	}
	c.AddCommand(gen, show)
	return c
}
