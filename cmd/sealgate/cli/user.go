package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/auth"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// readPasswordHash reads a password from standard input and hashes it for storage.
func (g *globals) readPasswordHash() (string, error) {
	pw, err := g.readPassword()
	if err != nil {
		return "", err
	}
	return auth.HashPassword(pw)
}

// accountOp is a user command on one account.
type accountOp struct {
	use, short string
	// password: the command takes a new password on standard input (--password-stdin),
	// hashed before run.
	password bool
	// run does the change and returns the verb printed before the address.
	run func(ctx context.Context, s adminStore, a address.Address, hash string) (string, error)
}

// accountCmd makes the command of op: ADDRESS is checked by admin.userAddress, the store's
// "exists" and "not found" become one-line messages.
func accountCmd(g *globals, op accountOp) *cobra.Command {
	var pwStdin bool
	password := op.password
	c := &cobra.Command{
		Use:   op.use,
		Short: op.short,
		Args:  exactArgs(1, "one ADDRESS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if password && !pwStdin {
				return fmt.Errorf("%s: give the password on standard input with --password-stdin", cmd.Parent().Name()+" "+cmd.Name())
			}
			return g.withStore(func(adm *admin, s adminStore) error {
				a, err := adm.userAddress(args[0])
				if err != nil {
					return err
				}
				var hash string
				if password {
					if hash, err = g.readPasswordHash(); err != nil {
						return err
					}
				}
				done, err := op.run(adm.ctx, s, a, hash)
				if errors.Is(err, mailstore.ErrExists) {
					return fmt.Errorf("user %s already exists", a)
				} else if err != nil {
					return notFound(err, "user "+a.String())
				}
				fmt.Fprintf(g.env.Stdout, "%s %s\n", done, a)
				return nil
			})
		},
	}
	if password {
		c.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input")
	}
	return c
}

// userJSON is one account in `user list --json`.
type userJSON struct {
	Address string `json:"address"`
	Created string `json:"created"`
}

func userCmd(g *globals) *cobra.Command {
	c := group("user", "Manage accounts")
	add := accountCmd(g, accountOp{use: "add ADDRESS --password-stdin", short: "Create an account with its default mailboxes", password: true,
		run: func(ctx context.Context, s adminStore, a address.Address, hash string) (string, error) {
			_, err := s.AddUser(ctx, a, hash)
			return "added", err
		}})
	passwd := accountCmd(g, accountOp{use: "passwd ADDRESS --password-stdin", short: "Change an account's password", password: true,
		run: func(ctx context.Context, s adminStore, a address.Address, hash string) (string, error) {
			return "password changed for", s.SetPasswordHash(ctx, a, hash)
		}})
	del := accountCmd(g, accountOp{use: "delete ADDRESS", short: "Delete an account with all its mail",
		run: func(ctx context.Context, s adminStore, a address.Address, _ string) (string, error) {
			return "deleted", s.DeleteUser(ctx, a)
		}})
	list := listCmd(g, listing[userJSON]{use: "list [--json]", short: "List accounts",
		rows: storeRows(g, func(a *admin, s adminStore, _ []string) ([]userJSON, error) {
			users, err := s.Users(a.ctx)
			return rowsOf(users, err, func(u mailstore.User) userJSON {
				return userJSON{Address: u.Address, Created: jsonTime(u.Created)}
			})
		}),
		line: func(u userJSON) string { return u.Address + "\tcreated " + u.Created }})
	c.AddCommand(add, passwd, list, del, userQuotaCmd(g))
	return c
}
