package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway/address"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

func parseUserAddress(cfg *config.Config, s string) (address.Address, error) {
	a, err := address.Parse(s)
	if err != nil || a.IsLiteral() {
		return address.Address{}, fmt.Errorf("%q is not a valid address", s)
	}
	if !cfg.IsLocalDomain(a.Domain) {
		return address.Address{}, fmt.Errorf("%s is not a local domain (local domains: %s)", a.Domain, strings.Join(cfg.Domains, ", "))
	}
	return a, nil
}

// readPasswordHash reads a password from standard input and hashes it for storage.
func (g *globals) readPasswordHash() (string, error) {
	pw, err := g.readPassword()
	if err != nil {
		return "", err
	}
	return auth.HashPassword(pw)
}

func userCmd(g *globals) *cobra.Command {
	c := group("user", "Manage accounts")
	var pwStdin bool
	add := &cobra.Command{
		Use:   "add ADDRESS --password-stdin",
		Short: "Create an account with its default mailboxes",
		Args:  exactArgs(1, "one ADDRESS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !pwStdin {
				return errors.New("user add: give the password on standard input with --password-stdin")
			}
			cfg, s, err := g.openStore()
			if err != nil {
				return err
			}
			defer s.Close()
			a, err := parseUserAddress(cfg, args[0])
			if err != nil {
				return err
			}
			hash, err := g.readPasswordHash()
			if err != nil {
				return err
			}
			if _, err := s.AddUser(context.Background(), a, hash); errors.Is(err, mailstore.ErrExists) {
				return fmt.Errorf("user %s already exists", a)
			} else if err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "added %s\n", a)
			return nil
		},
	}
	add.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input")

	var pwStdin2 bool
	passwd := &cobra.Command{
		Use:   "passwd ADDRESS --password-stdin",
		Short: "Change an account's password",
		Args:  exactArgs(1, "one ADDRESS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !pwStdin2 {
				return errors.New("user passwd: give the password on standard input with --password-stdin")
			}
			_, s, err := g.openStore()
			if err != nil {
				return err
			}
			defer s.Close()
			a, err := address.Parse(args[0])
			if err != nil {
				return fmt.Errorf("%q is not a valid address", args[0])
			}
			hash, err := g.readPasswordHash()
			if err != nil {
				return err
			}
			if err := s.SetPasswordHash(context.Background(), a, hash); errors.Is(err, mailstore.ErrNotFound) {
				return fmt.Errorf("no user %s", a)
			} else if err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "password changed for %s\n", a)
			return nil
		},
	}
	passwd.Flags().BoolVar(&pwStdin2, "password-stdin", false, "read the password from standard input")

	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, s, err := g.openStore()
			if err != nil {
				return err
			}
			defer s.Close()
			users, err := s.Users(context.Background())
			if err != nil {
				return err
			}
			for _, u := range users {
				fmt.Fprintf(g.env.Stdout, "%s\tcreated %s\n", u.Address, u.Created.UTC().Format("2006-01-02T15:04:05Z"))
			}
			return nil
		},
	}
	del := &cobra.Command{
		Use:   "delete ADDRESS",
		Short: "Delete an account with all its mail",
		Args:  exactArgs(1, "one ADDRESS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, s, err := g.openStore()
			if err != nil {
				return err
			}
			defer s.Close()
			a, err := address.Parse(args[0])
			if err != nil {
				return fmt.Errorf("%q is not a valid address", args[0])
			}
			if err := s.DeleteUser(context.Background(), a); errors.Is(err, mailstore.ErrNotFound) {
				return fmt.Errorf("no user %s", a)
			} else if err != nil {
				return err
			}
			fmt.Fprintf(g.env.Stdout, "deleted %s\n", a)
			return nil
		},
	}
	c.AddCommand(add, passwd, list, del)
	return c
}
