package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealgate/sealgate/keys"
)

// maxKeyFile bounds what keys import reads.
const maxKeyFile = 16 << 20

// actor names the operator in the audit log.
func (g *globals) actor() string {
	if u := g.env.Getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

// keysErr turns keyring errors into the one-line messages of the CLI.
func keysErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keys.ErrRefused):
		return errors.New(strings.TrimPrefix(err.Error(), keys.ErrRefused.Error()+": "))
	case errors.Is(err, keys.ErrNotFound) && err == keys.ErrNotFound:
		return fmt.Errorf("no key or certificate %s", what)
	case errors.Is(err, keys.ErrNotFound):
		return errors.New(strings.TrimPrefix(err.Error(), keys.ErrNotFound.Error()+": "))
	}
	return err
}

func keysCmd(g *globals) *cobra.Command {
	c := group("keys", "Manage OpenPGP keys and S/MIME certificates")
	c.AddCommand(keysGenerateCmd(g), keysImportCmd(g), keysExportCmd(g), keysListCmd(g),
		keysRevokeCmd(g), keysDeleteCmd(g), keysTrustCmd(g), keysPendingCmd(g), keysAuditCmd(g))
	return c
}

func keysGenerateCmd(g *globals) *cobra.Command {
	var pgp, smime, v6, pq bool
	var algo string
	cmd := &cobra.Command{
		Use:   "generate ADDRESS --pgp [--algo ed25519|rsa3072] [--v6] [--pq] | --smime",
		Short: "Make an OpenPGP key, or an S/MIME certificate from the built-in CA",
		Args:  exactArgs(1, "one ADDRESS"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pgp == smime {
				return errors.New("keys generate: give exactly one of --pgp and --smime")
			}
			if smime && (v6 || pq || algo != "") {
				return errors.New("keys generate: --algo, --v6 and --pq go with --pgp")
			}
			return g.withKeyring(func(a *admin, kr *keys.Keyring) error {
				var err error
				adm := kr.Admin(g.actor())
				var e keys.Entry
				if pgp {
					e, err = adm.GeneratePGP(a.ctx, args[0], keys.PGPOptions{Algorithm: algo, V6: v6, PQ: pq})
				} else {
					e, err = adm.GenerateSMIME(a.ctx, args[0])
				}
				if err != nil {
					return keysErr(err, "")
				}
				fmt.Fprintf(g.env.Stdout, "generated %s %s %s for %s\n", e.Scheme, e.Algorithm, e.Fingerprint, strings.Join(e.Addresses, ", "))
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&pgp, "pgp", false, "make an OpenPGP key (version 4 unless --v6)")
	cmd.Flags().BoolVar(&smime, "smime", false, "issue an S/MIME certificate from the built-in CA")
	cmd.Flags().StringVar(&algo, "algo", "", "OpenPGP algorithm: ed25519 (default) or rsa3072")
	cmd.Flags().BoolVar(&v6, "v6", false, "make an RFC 9580 version 6 key (GnuPG 2.2 cannot read it)")
	cmd.Flags().BoolVar(&pq, "pq", false, "add post-quantum encryption (RFC 9980 ML-KEM-768+X25519 subkey); with --v6 an ML-DSA-65+Ed25519 key")
	return cmd
}

func keysImportCmd(g *globals) *cobra.Command {
	var addr, passFile string
	var allowExpired, trust bool
	cmd := &cobra.Command{
		Use:   "import [--address ADDRESS] [--allow-expired] [--passphrase-file F] [--trust] FILE",
		Short: "Import OpenPGP keys, certificates, private keys, PKCS#12, or (--trust) a CA certificate",
		Args:  exactArgs(1, "one FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readLimited(args[0], g.env.Stdin)
			if err != nil {
				return err
			}
			pass, err := readPassphrase(passFile)
			if err != nil {
				return err
			}
			return g.withKeyring(func(a *admin, kr *keys.Keyring) error {
				es, err := kr.Admin(g.actor()).Import(a.ctx, data, keys.ImportOptions{
					Address: addr, AllowExpired: allowExpired, Passphrase: pass, TrustAnchor: trust})
				if err != nil {
					return keysErr(err, "")
				}
				for _, e := range es {
					secret := ""
					if e.Secret {
						secret = " with secret key"
					}
					fmt.Fprintf(g.env.Stdout, "imported %s %s %s%s %s\n", e.Scheme, e.Algorithm, e.Fingerprint, secret, strings.Join(e.Addresses, ", "))
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&addr, "address", "", "bind the key or certificate to this address")
	cmd.Flags().BoolVar(&allowExpired, "allow-expired", false, "keep an expired key (to decrypt old mail; never used to encrypt or sign)")
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "file with the passphrase of a secret key or PKCS#12 file")
	cmd.Flags().BoolVar(&trust, "trust", false, "the file is a CA certificate trusted for S/MIME signers")
	return cmd
}

// readPassphrase reads a passphrase file without its final line end ("": no file, empty).
func readPassphrase(name string) ([]byte, error) {
	if name == "" {
		return nil, nil
	}
	p, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("passphrase file: %w", err)
	}
	s := strings.TrimSuffix(string(p), "\n")
	return []byte(strings.TrimSuffix(s, "\r")), nil
}

// readLimited reads FILE ("-": standard input) up to maxKeyFile.
func readLimited(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s is larger than %d MiB", name, maxKeyFile>>20)
	}
	return data, nil
}

func keysExportCmd(g *globals) *cobra.Command {
	var pgp, smime, secret, ca, p12 bool
	var passFile, p12Cipher string
	cmd := &cobra.Command{
		Use:   "export ADDRESS --pgp|--smime [--secret [--pkcs12 [--pkcs12-cipher 3des|aes256] [--passphrase-file F]]] | export --ca",
		Short: "Print a public key or certificate (--secret: the secret key too; --pkcs12: as a PKCS#12 file; --ca: the built-in CA)",
		Args: func(cmd *cobra.Command, args []string) error {
			if ca {
				return exactArgs(0, "no ADDRESS with --ca")(cmd, args)
			}
			return exactArgs(1, "one ADDRESS or FINGERPRINT")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 0
			for _, b := range []bool{pgp, smime, ca} {
				if b {
					n++
				}
			}
			if n != 1 {
				return errors.New("keys export: give exactly one of --pgp, --smime and --ca")
			}
			if ca && secret {
				return errors.New("keys export: the built-in CA's key is not exported")
			}
			if p12 && !(smime && secret) {
				return errors.New("keys export: --pkcs12 needs --smime --secret")
			}
			if (passFile != "" || cmd.Flags().Changed("pkcs12-cipher")) && !p12 {
				return errors.New("keys export: --passphrase-file and --pkcs12-cipher go with --pkcs12")
			}
			cipher, ok := keys.ParsePKCS12Cipher(p12Cipher)
			if !ok {
				return fmt.Errorf("keys export: --pkcs12-cipher %q: want 3des or aes256", p12Cipher)
			}
			pass, err := readPassphrase(passFile)
			if err != nil {
				return err
			}
			return g.withKeyring(func(a *admin, kr *keys.Keyring) error {
				var err error
				adm := kr.Admin(g.actor())
				var out []byte
				switch {
				case ca:
					out, err = kr.ExportCA(a.ctx)
				case pgp:
					out, err = adm.ExportPGP(a.ctx, args[0], secret)
				case p12:
					out, err = adm.ExportSMIMEPKCS12(a.ctx, args[0], keys.PKCS12Options{Passphrase: pass, Cipher: cipher})
				default:
					out, err = adm.ExportSMIME(a.ctx, args[0], secret)
				}
				if err != nil {
					if len(args) > 0 {
						return keysErr(err, "for "+args[0])
					}
					return keysErr(err, "")
				}
				_, err = g.env.Stdout.Write(out)
				return err
			})
		},
	}
	cmd.Flags().BoolVar(&pgp, "pgp", false, "the OpenPGP key, armored")
	cmd.Flags().BoolVar(&smime, "smime", false, "the S/MIME certificate, PEM")
	cmd.Flags().BoolVar(&secret, "secret", false, "include the secret key (OpenPGP without passphrase; S/MIME as PKCS#8 PEM before the certificate)")
	cmd.Flags().BoolVar(&ca, "ca", false, "the built-in S/MIME CA certificate, PEM")
	cmd.Flags().BoolVar(&p12, "pkcs12", false, "with --smime --secret: a binary PKCS#12 file (certificate, key and chain) for mail clients and gpgsm")
	cmd.Flags().StringVar(&p12Cipher, "pkcs12-cipher", "3des", "PKCS#12 protection: 3des (read by GnuPG 2.2, OpenSSL, Thunderbird) or aes256 (PBES2; not read by GnuPG 2.2)")
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "with --pkcs12: file with the passphrase that protects it (absent: empty)")
	return cmd
}

// listRow is one line of keys list: an entry for one of its addresses.
type listRow struct {
	Address     string  `json:"address"`
	Scheme      string  `json:"scheme"`
	Fingerprint string  `json:"fingerprint"`
	Secret      bool    `json:"secret"`
	Trust       string  `json:"trust"`
	State       string  `json:"state"`
	Created     string  `json:"created"`
	Expires     *string `json:"expires"`
	Algorithm   string  `json:"algorithm"`
	Source      string  `json:"source"`
}

func keysListCmd(g *globals) *cobra.Command {
	return listCmd(g, listing[listRow]{use: "list [ADDRESS] [--json]", short: "List keys and certificates with their trust and state",
		args: cobra.MaximumNArgs(1), rows: keyringRows(g, keysList), text: keysTable})
}

// keysList is the entries of the keyring, of one address when args names one.
func keysList(a *admin, kr *keys.Keyring, args []string) ([]listRow, error) {
	var err error
	filter := ""
	if len(args) == 1 {
		if filter, err = kr.NormalizeAddress(args[0]); err != nil {
			return nil, err
		}
	}
	es, err := kr.List(a.ctx, filter)
	if err != nil {
		return nil, err
	}
	now := kr.Now()
	rows := []listRow{}
	for _, e := range es {
		addrs := e.Addresses
		if len(addrs) == 0 {
			addrs = []string{""}
		}
		for _, a := range addrs {
			if filter != "" && a != filter {
				continue
			}
			r := listRow{Address: a, Scheme: string(e.Scheme), Fingerprint: e.Fingerprint, Secret: e.Secret,
				Trust: string(e.Trust), State: string(e.State(now)), Created: e.Created.UTC().Format(time.RFC3339),
				Algorithm: e.Algorithm, Source: e.Source}
			if !e.Expires.IsZero() {
				s := e.Expires.UTC().Format(time.RFC3339)
				r.Expires = &s
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// keysTable is the text form of keys list: a table with a heading.
func keysTable(w io.Writer, rows []listRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tSCHEME\tFINGERPRINT\tALGORITHM\tSECRET\tEXPIRES\tTRUST\tSTATE")
	for _, r := range rows {
		addr, exp, sec := r.Address, "never", "no"
		if addr == "" {
			addr = "-"
		}
		if r.Expires != nil {
			exp = (*r.Expires)[:10]
		}
		if r.Secret {
			sec = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", addr, r.Scheme, r.Fingerprint, r.Algorithm, sec, exp, r.Trust, r.State)
	}
	return tw.Flush()
}

func fingerprintCmd(g *globals, use, short, done string, fn func(ctx context.Context, ka *keys.Admin, fpr string) (keys.Entry, error)) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  exactArgs(1, "one FINGERPRINT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withKeyring(func(a *admin, kr *keys.Keyring) error {
				e, err := fn(a.ctx, kr.Admin(g.actor()), args[0])
				if err != nil {
					return keysErr(err, "with fingerprint "+args[0])
				}
				fmt.Fprintf(g.env.Stdout, "%s %s %s %s\n", done, e.Scheme, e.Fingerprint, strings.Join(e.Addresses, ", "))
				return nil
			})
		},
	}
}

func keysRevokeCmd(g *globals) *cobra.Command {
	return fingerprintCmd(g, "revoke FINGERPRINT", "Revoke a key or certificate: it is never used again to encrypt or sign", "revoked",
		func(ctx context.Context, ka *keys.Admin, fpr string) (keys.Entry, error) { return ka.Revoke(ctx, fpr) })
}

func keysDeleteCmd(g *globals) *cobra.Command {
	return fingerprintCmd(g, "delete FINGERPRINT", "Delete a key or certificate with its secret part", "deleted",
		func(ctx context.Context, ka *keys.Admin, fpr string) (keys.Entry, error) { return ka.Delete(ctx, fpr) })
}

func keysTrustCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "trust FINGERPRINT verified|harvested|untrusted",
		Short: "Set the trust of a key (verified accepts a pending harvested key; untrusted is never used)",
		Args:  exactArgs(2, "FINGERPRINT and a trust level"),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, ok := keys.ParseTrust(args[1])
			if !ok {
				return fmt.Errorf("unknown trust level %q (verified, harvested, untrusted)", args[1])
			}
			return g.withKeyring(func(a *admin, kr *keys.Keyring) error {
				e, err := kr.Admin(g.actor()).SetTrust(a.ctx, args[0], t)
				if err != nil {
					return keysErr(err, "with fingerprint "+args[0])
				}
				fmt.Fprintf(g.env.Stdout, "%s %s is now %s\n", e.Scheme, e.Fingerprint, e.Trust)
				return nil
			})
		},
	}
}

// pendingJSON is one record of `keys pending --json`.
type pendingJSON struct {
	At                  string `json:"at"`
	Address             string `json:"address"`
	Scheme              string `json:"scheme"`
	VerifiedFingerprint string `json:"verified_fingerprint"`
	NewFingerprint      string `json:"new_fingerprint"`
	Source              string `json:"source"`
}

func keysPendingCmd(g *globals) *cobra.Command {
	return listCmd(g, listing[pendingJSON]{use: "pending [--json]", short: "List keys seen in mail that differ from an address's verified key",
		rows: keyringRows(g, func(a *admin, kr *keys.Keyring, _ []string) ([]pendingJSON, error) {
			ps, err := kr.Pending(a.ctx)
			return rowsOf(ps, err, func(p keys.PendingChange) pendingJSON {
				return pendingJSON{At: jsonTime(p.At), Address: p.Address, Scheme: string(p.Scheme),
					VerifiedFingerprint: p.OldFingerprint, NewFingerprint: p.NewFingerprint, Source: p.Source}
			})
		}),
		line: func(p pendingJSON) string {
			return fmt.Sprintf("%s\t%s\t%s\tverified %s\tnew %s\tfrom %s", p.At, p.Address, p.Scheme,
				p.VerifiedFingerprint, p.NewFingerprint, p.Source)
		}})
}

// auditJSON is one record of `keys audit --json`.
type auditJSON struct {
	At          string `json:"at"`
	Actor       string `json:"actor"`
	Action      string `json:"action"`
	Fingerprint string `json:"fingerprint"`
	Detail      string `json:"detail"`
}

func keysAuditCmd(g *globals) *cobra.Command {
	return listCmd(g, listing[auditJSON]{use: "audit [--json]", short: "Print the key audit log: who changed which key, and when",
		rows: keyringRows(g, func(a *admin, kr *keys.Keyring, _ []string) ([]auditJSON, error) {
			as, err := kr.Audit(a.ctx)
			return rowsOf(as, err, func(a keys.AuditEntry) auditJSON {
				return auditJSON{At: jsonTime(a.At), Actor: a.Actor, Action: a.Action, Fingerprint: a.Fingerprint, Detail: a.Detail}
			})
		}),
		line: func(a auditJSON) string {
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", a.At, a.Actor, a.Action, a.Fingerprint, a.Detail)
		}})
}
