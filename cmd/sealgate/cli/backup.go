package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/config"
)

func backupCmd(g *globals) *cobra.Command {
	var withoutKey bool
	c := &cobra.Command{
		Use:   "backup DIR [--without-master-key]",
		Short: "Copy the store, keyring and data files to DIR, consistently, while the server runs",
		Long: "Copy the embedded store (a snapshot of its database and every body file it references),\n" +
			"the keyring and the other files of the data directory to DIR (new or empty), then check the\n" +
			"copy as `sealgate check` does. Safe while `sealgate serve` runs: every message acknowledged\n" +
			"before the backup began is in it. The master key is copied when it is the data directory's\n" +
			"master.key (unless --without-master-key); a key kept elsewhere ([keys] master_key_file,\n" +
			"SEALGATE_MASTER_KEY_FILE) is not, and must be kept with the backup separately. PostgreSQL:\n" +
			"use pg_dump (docs/DEPLOY.md).",
		Args: exactArgs(1, "one DIR"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var m gateway.BackupManifest
			err := g.withAdmin(func(a *admin) (err error) {
				m, err = gateway.Backup(a.ctx, gateway.BackupOptions{
					Config: a.cfg, DataDir: g.dataDir, MasterKeyFile: g.masterKeyFile(), Dest: args[0],
					WithoutMasterKey: withoutKey, Version: buildVersion(),
				})
				return err
			})
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			fmt.Fprintf(g.env.Stdout, "backed up %s to %s: %d body files, %d other files; the copy is consistent\n", g.dataDir, args[0], m.Bodies, m.Files)
			switch m.MasterKey {
			case "included":
				fmt.Fprintf(g.env.Stdout, "the master key (id %s) is in the backup: keep it as secret as the data directory\n", m.MasterKeyID)
			case "separate":
				fmt.Fprintf(g.env.Stdout, "the master key (id %s) is NOT in the backup: restoring needs that key\n", m.MasterKeyID)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&withoutKey, "without-master-key", false, "leave the data directory's master.key out of the backup")
	return c
}

func restoreCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "restore DIR",
		Short: "Make the data directory (--data) from the backup in DIR, and check it",
		Long: "Make the data directory given with --data (new, or without a store) from the backup in DIR,\n" +
			"then check it as `sealgate check` does. The master key is the configured one ([keys]\n" +
			"master_key_file, SEALGATE_MASTER_KEY_FILE, else DATA/master.key); it must be the key the\n" +
			"backup was made with. When there is none there and the backup carries its key, that key is\n" +
			"put there. The configuration is --config, else the backup's sealgate.toml.",
		Args: exactArgs(1, "one DIR (the backup)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := g.restoreConfig(args[0])
			if err != nil {
				return err
			}
			if cfg.Storage.Backend != config.BackendEmbedded {
				return fmt.Errorf("restore: %w", gateway.ErrBackupPostgres)
			}
			mk := g.masterKeyFile()
			if mk == "" {
				mk = cfg.Keys.MasterKeyPath(g.dataDir)
			}
			m, probs, err := gateway.Restore(context.Background(), gateway.RestoreOptions{Source: args[0], DataDir: g.dataDir, MasterKeyFile: mk, Config: cfg})
			if err != nil {
				return fmt.Errorf("restore: %w", err)
			}
			for _, p := range probs {
				fmt.Fprintln(g.env.Stdout, p)
			}
			if len(probs) > 0 {
				return fmt.Errorf("restore: the restored store has %d problems", len(probs))
			}
			fmt.Fprintf(g.env.Stdout, "restored the backup of %s (%s) into %s: %d body files, %d other files; store is consistent\n",
				m.Hostname, m.Created.Format("2006-01-02T15:04:05Z"), g.dataDir, m.Bodies, m.Files)
			return nil
		},
	}
}

// restoreConfig is the configuration a restore works with: --config, else the backup's
// sealgate.toml, else the defaults.
func (g *globals) restoreConfig(backup string) (*config.Config, error) {
	if g.configFile != "" {
		return config.Load(g.configFile)
	}
	c, err := config.Load(filepath.Join(backup, "sealgate.toml"))
	if errors.Is(err, fs.ErrNotExist) {
		return config.Default(), nil
	}
	return c, err
}
