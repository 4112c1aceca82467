package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// quotaJSON is `user quota --json`: sizes in bytes; limit is null when unlimited.
type quotaJSON struct {
	Address string `json:"address"`
	Used    int64  `json:"used"`
	Limit   *int64 `json:"limit"`
	// OwnLimit: the account has a limit of its own rather than [limits] mailbox_quota.
	OwnLimit bool `json:"own_limit"`
}

func userQuotaCmd(g *globals) *cobra.Command {
	var set string
	var unlimited, byDefault, asJSON bool
	c := &cobra.Command{
		Use:   "quota ADDRESS [--set SIZE | --unlimited | --default] [--json]",
		Short: "Show an account's storage used and its limit, or set the limit",
		Long: `Show the storage an account's messages take and its limit: its own, or [limits]
mailbox_quota. --set SIZE ("500MiB", "2GiB", bytes) gives the account a limit of its own,
--unlimited lifts it, --default makes it follow mailbox_quota again. Mail that would take an
account past its limit is refused; what is stored already stays when a limit is lowered.`,
		Args: exactArgs(1, "one ADDRESS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			limit, change, err := quotaChange(set, unlimited, byDefault)
			if err != nil {
				return err
			}
			return g.withStore(func(adm *admin, s adminStore) error {
				a, err := adm.userAddress(args[0])
				if err != nil {
					return err
				}
				if change {
					if err := s.SetQuota(adm.ctx, a, limit); err != nil {
						return notFound(err, "user "+a.String())
					}
				}
				u, err := s.UserByAddress(adm.ctx, a)
				if err != nil {
					return notFound(err, "user "+a.String())
				}
				q, err := s.Quota(adm.ctx, u.ID)
				if err != nil {
					return err
				}
				out := quotaJSON{Address: u.Address, Used: q.Used, OwnLimit: q.Own}
				if q.Limit > 0 {
					out.Limit = &q.Limit
				}
				if asJSON {
					return g.printJSON(out)
				}
				fmt.Fprintln(g.env.Stdout, quotaLine(out))
				return nil
			})
		},
	}
	c.Flags().StringVar(&set, "set", "", "give the account its own limit (\"2GiB\", \"500MB\", bytes)")
	c.Flags().BoolVar(&unlimited, "unlimited", false, "lift the account's limit")
	c.Flags().BoolVar(&byDefault, "default", false, "make the account follow [limits] mailbox_quota again")
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	return c
}

// quotaChange is the limit the flags set (see mailstore.SetQuota) and whether they set one.
func quotaChange(set string, unlimited, byDefault bool) (int64, bool, error) {
	n := 0
	for _, f := range []bool{set != "", unlimited, byDefault} {
		if f {
			n++
		}
	}
	switch {
	case n > 1:
		return 0, false, errors.New("user quota: give at most one of --set, --unlimited and --default")
	case unlimited:
		return mailstore.QuotaUnlimited, true, nil
	case byDefault:
		return mailstore.QuotaDefault, true, nil
	case set != "":
		size, err := config.ParseSize(set)
		if err != nil {
			return 0, false, fmt.Errorf("user quota --set: %v", err)
		}
		if size == 0 {
			return 0, false, errors.New("user quota --set: a limit of 0 would refuse all mail; use --unlimited to lift the limit")
		}
		return int64(size), true, nil
	}
	return 0, false, nil
}

// quotaLine is the text form of `user quota`.
func quotaLine(q quotaJSON) string {
	whose := "default"
	if q.OwnLimit {
		whose = "own limit"
	}
	if q.Limit == nil {
		return fmt.Sprintf("%s: %s used, unlimited (%s)", q.Address, humanBytes(q.Used), whose)
	}
	return fmt.Sprintf("%s: %s of %s used (%.0f%%, %s)", q.Address, humanBytes(q.Used), humanBytes(*q.Limit),
		100*float64(q.Used)/float64(*q.Limit), whose)
}

// humanBytes writes n with a binary unit: "512 B", "1.5 KiB", "2.0 GiB".
func humanBytes(n int64) string {
	const units = "KMGTPE"
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/1024, 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}
