package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway"
	"github.com/sealgate/sealgate/gateway/addressing"
	"github.com/sealgate/sealgate/gateway/config"
	"github.com/sealgate/sealgate/gateway/mailauth"
	"github.com/sealgate/sealgate/gateway/mailstore"
	"github.com/sealgate/sealgate/keys"
)

// adminStore is what the administrative commands need of the mail store: the contract's
// Admin role, which each [storage] backend implements.
type adminStore = mailstore.Admin

// admin is one run of an administrative command: the configuration in force and what the
// command opens of the server's state. Each part is opened on first use the way the server
// opens it ([storage] and the data directory, the master key the server uses) and closed when
// the command ends. Arguments that name an account or a domain are checked by its methods
// (userAddress, localDomain, aliasKey), so that every command accepts and refuses alike.
type admin struct {
	ctx context.Context
	g   *globals
	cfg *config.Config

	store   adminStore
	keyring *keys.Keyring
	files   gateway.SharedFiles
	master  *keys.MasterKey
	closers []io.Closer // in the order opened; closed in reverse
}

// withAdmin loads the configuration, runs f and closes what f opened.
func (g *globals) withAdmin(f func(a *admin) error) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	a := &admin{ctx: context.Background(), g: g, cfg: cfg}
	defer a.close()
	return f(a)
}

// withStore runs f with the mail store (see admin.Store).
func (g *globals) withStore(f func(a *admin, s adminStore) error) error {
	return g.withAdmin(func(a *admin) error {
		s, err := a.Store()
		if err != nil {
			return err
		}
		return f(a, s)
	})
}

// withKeyring runs f with the keyring (see admin.Keyring).
func (g *globals) withKeyring(f func(a *admin, kr *keys.Keyring) error) error {
	return g.withAdmin(func(a *admin) error {
		kr, err := a.Keyring()
		if err != nil {
			return err
		}
		return f(a, kr)
	})
}

func (a *admin) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i].Close()
	}
}

// opened is *v, opened by open on the first call; what can be closed is closed when the
// command ends.
func opened[T comparable](a *admin, v *T, open func() (T, error)) (T, error) {
	var zero T
	if *v != zero {
		return *v, nil
	}
	x, err := open()
	if err != nil {
		return zero, err
	}
	if c, ok := any(x).(io.Closer); ok {
		a.closers = append(a.closers, c)
	}
	*v = x
	return x, nil
}

// Store is the mail store [storage] names, opened with the server's default quota.
func (a *admin) Store() (adminStore, error) {
	return opened(a, &a.store, func() (adminStore, error) {
		st, err := gateway.OpenStorage(a.cfg.Storage, a.g.dataDir)
		if err != nil {
			return nil, err
		}
		return st.OpenStore(a.ctx, gateway.StoreOptions{DefaultQuota: int64(a.cfg.Limits.MailboxQuota)})
	})
}

// MasterKey is the master key in use (see globals.masterKeyPath); like the server, it makes
// the data directory and a new key when there is none.
func (a *admin) MasterKey() (*keys.MasterKey, error) {
	return opened(a, &a.master, func() (*keys.MasterKey, error) {
		if err := gateway.OpenDataDir(a.g.dataDir); err != nil {
			return nil, err
		}
		return keys.LoadOrCreateMasterKey(a.g.masterKeyPath(a.cfg))
	})
}

// Keyring is the keyring [storage] names, opened with the master key.
func (a *admin) Keyring() (*keys.Keyring, error) {
	return opened(a, &a.keyring, func() (*keys.Keyring, error) {
		mk, err := a.MasterKey()
		if err != nil {
			return nil, err
		}
		return gateway.OpenKeyring(a.ctx, a.cfg.Storage, a.g.dataDir, mk,
			keys.Options{CAName: "Sealgate S/MIME CA " + a.cfg.Hostname, Subaddressing: a.cfg.Subaddressing()})
	})
}

// Files is the shared files of [storage]: DKIM keys, the SRS secret, the TLS certificate.
func (a *admin) Files() (gateway.SharedFiles, error) {
	return opened(a, &a.files, func() (gateway.SharedFiles, error) {
		return gateway.OpenSharedFiles(a.ctx, a.cfg.Storage, a.g.dataDir)
	})
}

// DKIMKeys is the DKIM key store, sealed with the master key.
func (a *admin) DKIMKeys() (*mailauth.DKIMKeys, error) {
	mk, err := a.MasterKey()
	if err != nil {
		return nil, err
	}
	files, err := a.Files()
	if err != nil {
		return nil, err
	}
	return &mailauth.DKIMKeys{Files: files, MasterKey: mk}, nil
}

// localDomain is the one check of a domain argument: a valid domain name that is local.
func (a *admin) localDomain(s string) (string, error) {
	d, ok := address.Domain(s)
	if !ok || !a.cfg.IsLocalDomain(d) {
		return "", a.notLocal(s)
	}
	return d, nil
}

// userAddress is the one check of an account address: a valid address (no literal) in a
// local domain.
func (a *admin) userAddress(s string) (address.Address, error) {
	ad, err := address.Parse(s)
	if err != nil || ad.IsLiteral() {
		return address.Address{}, fmt.Errorf("%q is not a valid address", s)
	}
	if !a.cfg.IsLocalDomain(ad.Domain) {
		return address.Address{}, a.notLocal(ad.Domain)
	}
	return ad, nil
}

func (a *admin) notLocal(domain string) error {
	return fmt.Errorf("%s is not a local domain (local domains: %s)", domain, strings.Join(a.cfg.Domains, ", "))
}

// aliasKey is the store key and the shown form of an alias address: an account address (see
// userAddress), or "@DOMAIN" for a local domain's catch-all.
func (a *admin) aliasKey(s string) (key, shown string, err error) {
	if d, ok := strings.CutPrefix(s, "@"); ok {
		if d, err = a.localDomain(d); err != nil {
			return "", "", err
		}
		return addressing.CatchAllKey(d), "@" + d, nil
	}
	ad, err := a.userAddress(s)
	if err != nil {
		return "", "", err
	}
	return addressing.Key(ad), ad.String(), nil
}

// notFound turns the store's "not found" into the one-line message "no WHAT".
func notFound(err error, what string) error {
	if errors.Is(err, mailstore.ErrNotFound) {
		return fmt.Errorf("no %s", what)
	}
	return err
}
