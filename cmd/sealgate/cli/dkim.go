package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway/mailauth"
)

// withDKIMKeys runs f with the DKIM key store (see admin.DKIMKeys).
func (g *globals) withDKIMKeys(f func(k *mailauth.DKIMKeys) error) error {
	return g.withAdmin(func(a *admin) error {
		k, err := a.DKIMKeys()
		if err != nil {
			return err
		}
		return f(k)
	})
}

// dkimJSON is one record of `dkim show --json`; the active one (used for signing) is first.
type dkimJSON struct {
	Domain   string `json:"domain"`
	Selector string `json:"selector"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Value    string `json:"value"`
	Active   bool   `json:"active"`
}

func dkimCmd(g *globals) *cobra.Command {
	c := group("dkim", "Make and show the DKIM keys that sign outgoing mail")
	var selector string
	gen := &cobra.Command{
		Use:   "generate DOMAIN [--selector NAME]",
		Short: "Make a DKIM signing key for DOMAIN and print the DNS TXT record to publish",
		Args:  exactArgs(1, "one DOMAIN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sel := selector
			if sel == "" {
				sel = "sg" + time.Now().UTC().Format("20060102")
			}
			return g.withDKIMKeys(func(k *mailauth.DKIMKeys) error {
				rec, err := k.Generate(args[0], sel)
				if err != nil {
					return err
				}
				fmt.Fprintln(g.env.Stdout, dkimZone(rec))
				return nil
			})
		},
	}
	gen.Flags().StringVar(&selector, "selector", "", `selector (default "sg" and today's date)`)
	var asJSON bool
	show := &cobra.Command{
		Use:   "show DOMAIN [--json]",
		Short: "Print DOMAIN's DKIM TXT records, the one used for signing first",
		Args:  exactArgs(1, "one DOMAIN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withDKIMKeys(func(k *mailauth.DKIMKeys) error {
				recs, err := k.Records(args[0])
				switch {
				case errors.Is(err, mailauth.ErrNoDKIMKey) && asJSON:
					recs, err = nil, nil
				case errors.Is(err, mailauth.ErrNoDKIMKey):
					return fmt.Errorf("no DKIM key for %s; make one with: sealgate dkim generate %s", args[0], args[0])
				}
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]dkimJSON, 0, len(recs))
					for i, r := range recs {
						sel, dom, _ := strings.Cut(r.Name, "._domainkey.")
						out = append(out, dkimJSON{Domain: dom, Selector: sel, Name: r.Name, Type: "TXT", Value: r.Value, Active: i == 0})
					}
					return g.printJSON(out)
				}
				for _, r := range recs {
					fmt.Fprintln(g.env.Stdout, dkimZone(r))
				}
				return nil
			})
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	c.AddCommand(gen, show)
	return c
}
