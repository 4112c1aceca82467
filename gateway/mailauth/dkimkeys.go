package mailauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/keys"
)

// ErrNoDKIMKey reports a domain without a signing key.
var ErrNoDKIMKey = errors.New("mailauth: no DKIM key for this domain")

const dkimPurpose = "dkim-key"

var selectorRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// DKIMKeys keeps the domains' DKIM signing keys in Files under dkim/DOMAIN/: SELECTOR.key
// (the PKCS#8 private key sealed with the master key), SELECTOR.txt (the DNS record), and
// ACTIVE (the selector used for signing: the last one generated). With keys.DirFiles on the
// data directory they are the files DIR/dkim/DOMAIN/...; with the shared database's Files, a
// key generated on one node signs on every node from its next message.
type DKIMKeys struct {
	Files     keys.Files
	MasterKey *keys.MasterKey

	mu      sync.Mutex
	signers map[string]crypto.Signer // by "DOMAIN/SELECTOR": a selector's key never changes
}

// dkimTimeout bounds each read or write of the key files (a database round trip with the
// postgres backend), as signing has no context of its own.
const dkimTimeout = 30 * time.Second

func (k *DKIMKeys) read(name string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dkimTimeout)
	defer cancel()
	return k.Files.ReadFile(ctx, name)
}

// DKIMRecord is a DNS TXT record to publish.
type DKIMRecord struct {
	Name  string // SELECTOR._domainkey.DOMAIN
	Value string // v=DKIM1; k=rsa; p=...
}

func (r DKIMRecord) String() string { return fmt.Sprintf("%s. IN TXT %q", r.Name, r.Value) }

// domainDir returns the normalized domain and the name of its directory in Files.
func (k *DKIMKeys) domainDir(domain string) (string, string, error) {
	d, ok := address.Domain(domain)
	if !ok || strings.HasPrefix(d, "[") || strings.ContainsAny(d, "/\\") {
		return "", "", fmt.Errorf("mailauth: %q is not a domain", domain)
	}
	return d, path.Join("dkim", d), nil
}

// Generate makes an RSA-2048 key for domain and selector (the selector "sg" + date when empty),
// makes it the active one, and returns the record to publish. RSA-2048 is what every verifier
// reads (RFC 8301); Ed25519 (RFC 8463) is not yet universal.
func (k *DKIMKeys) Generate(domain, selector string) (DKIMRecord, error) {
	d, dir, err := k.domainDir(domain)
	if err != nil {
		return DKIMRecord{}, err
	}
	if !selectorRE.MatchString(selector) {
		return DKIMRecord{}, fmt.Errorf("mailauth: selector %q must be a DNS label", selector)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dkimTimeout)
	defer cancel()
	exists := fmt.Errorf("mailauth: selector %s of %s exists already; choose another", selector, d)
	if _, err := k.Files.ReadFile(ctx, path.Join(dir, selector+".key")); err == nil {
		return DKIMRecord{}, exists
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return DKIMRecord{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return DKIMRecord{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return DKIMRecord{}, err
	}
	rec := DKIMRecord{Name: selector + "._domainkey." + d, Value: "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)}
	sealed, err := k.MasterKey.Seal(dkimPurpose, der)
	if err != nil {
		return DKIMRecord{}, err
	}
	// The key first (of two racing to make one selector, one wins), then its record, then
	// ACTIVE: whoever reads ACTIVE finds both.
	if err := k.Files.CreateFile(ctx, path.Join(dir, selector+".key"), sealed); errors.Is(err, fs.ErrExist) {
		return DKIMRecord{}, exists
	} else if err != nil {
		return DKIMRecord{}, err
	}
	if err := k.Files.WriteFile(ctx, path.Join(dir, selector+".txt"), []byte(rec.Value+"\n")); err != nil {
		return DKIMRecord{}, err
	}
	return rec, k.Files.WriteFile(ctx, path.Join(dir, "ACTIVE"), []byte(selector+"\n"))
}

// Records lists a domain's published records, the active one first.
func (k *DKIMKeys) Records(domain string) ([]DKIMRecord, error) {
	d, dir, err := k.domainDir(domain)
	if err != nil {
		return nil, err
	}
	active, _ := k.active(dir)
	ctx, cancel := context.WithTimeout(context.Background(), dkimTimeout)
	defer cancel()
	names, err := k.Files.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	var out []DKIMRecord
	for _, f := range names {
		sel, ok := strings.CutSuffix(path.Base(f), ".txt")
		if !ok {
			continue
		}
		v, err := k.Files.ReadFile(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, DKIMRecord{Name: sel + "._domainkey." + d, Value: strings.TrimSpace(string(v))})
	}
	sort.SliceStable(out, func(i, j int) bool {
		return strings.HasPrefix(out[i].Name, active+".") && !strings.HasPrefix(out[j].Name, active+".")
	})
	if len(out) == 0 {
		return nil, ErrNoDKIMKey
	}
	return out, nil
}

func (k *DKIMKeys) active(dir string) (string, error) {
	b, err := k.read(path.Join(dir, "ACTIVE"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNoDKIMKey
	}
	return strings.TrimSpace(string(b)), err
}

// Sign writes msg with a DKIM-Signature of the domain's active key prepended. It returns
// ErrNoDKIMKey when the domain has none. It holds msg in memory; Signature does not.
func (k *DKIMKeys) Sign(w io.Writer, msg io.Reader, domain string) error {
	opts, err := k.signOptions(domain)
	if err != nil {
		return err
	}
	return dkim.Sign(w, msg, opts)
}

// Signature reads msg once and returns the DKIM-Signature header field (with its CRLF) to
// prepend to it, without holding the message in memory. It returns ErrNoDKIMKey when the
// domain has none.
func (k *DKIMKeys) Signature(msg io.Reader, domain string) (string, error) {
	opts, err := k.signOptions(domain)
	if err != nil {
		return "", err
	}
	s, err := dkim.NewSigner(opts)
	if err != nil {
		return "", err
	}
	defer s.Close()
	if _, err := io.Copy(s, msg); err != nil {
		return "", err
	}
	if err := s.Close(); err != nil {
		return "", err
	}
	return s.Signature(), nil
}

func (k *DKIMKeys) signOptions(domain string) (*dkim.SignOptions, error) {
	d, dir, err := k.domainDir(domain)
	if err != nil {
		return nil, err
	}
	sel, err := k.active(dir)
	if err != nil {
		return nil, err
	}
	signer, err := k.signer(dir, sel)
	if err != nil {
		return nil, fmt.Errorf("mailauth: DKIM key of %s: %w", domain, err)
	}
	return &dkim.SignOptions{
		Domain:                 d,
		Selector:               sel,
		Signer:                 signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "In-Reply-To",
			"References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Autocrypt"},
	}, nil
}

// signer returns the private key of selector sel in dir, opened once and kept: Generate
// never replaces the key of an existing selector.
func (k *DKIMKeys) signer(dir, sel string) (crypto.Signer, error) {
	id := dir + "/" + sel
	k.mu.Lock()
	s, ok := k.signers[id]
	k.mu.Unlock()
	if ok {
		return s, nil
	}
	sealed, err := k.read(path.Join(dir, sel+".key"))
	if err != nil {
		return nil, err
	}
	der, err := k.MasterKey.Open(dkimPurpose, sealed)
	if err != nil {
		return nil, err
	}
	if s, err = keys.ParseSigner(der); err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.signers == nil {
		k.signers = map[string]crypto.Signer{}
	}
	k.signers[id] = s
	k.mu.Unlock()
	return s, nil
}

// SignBytes is Sign for a message in memory.
func (k *DKIMKeys) SignBytes(msg []byte, domain string) ([]byte, error) {
	var out bytes.Buffer
	err := k.Sign(&out, bytes.NewReader(msg), domain)
	return out.Bytes(), err
}
