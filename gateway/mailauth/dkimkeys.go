package mailauth

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/sealgate/sealgate/gateway/address"
	"github.com/sealgate/sealgate/keys"
)

// ErrNoDKIMKey reports a domain without a signing key.
var ErrNoDKIMKey = errors.New("mailauth: no DKIM key for this domain")

const dkimPurpose = "dkim-key"

var selectorRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// DKIMKeys keeps the domains' DKIM signing keys under DIR/dkim/DOMAIN/: SELECTOR.key (the
// PKCS#8 private key sealed with the master key), SELECTOR.txt (the DNS record), and ACTIVE
// (the selector used for signing: the last one generated).
type DKIMKeys struct {
	Dir       string // DIR/dkim
	MasterKey *keys.MasterKey
}

// DKIMRecord is a DNS TXT record to publish.
type DKIMRecord struct {
	Name  string // SELECTOR._domainkey.DOMAIN
	Value string // v=DKIM1; k=rsa; p=...
}

func (r DKIMRecord) String() string { return fmt.Sprintf("%s. IN TXT %q", r.Name, r.Value) }

func (k *DKIMKeys) domainDir(domain string) (string, error) {
	d, ok := address.Domain(domain)
	if !ok || strings.HasPrefix(d, "[") {
		return "", fmt.Errorf("mailauth: %q is not a domain", domain)
	}
	return filepath.Join(k.Dir, d), nil
}

// Generate makes an RSA-2048 key for domain and selector (the selector "sg" + date when empty),
// makes it the active one, and returns the record to publish. RSA-2048 is what every verifier
// reads (RFC 8301); Ed25519 (RFC 8463) is not yet universal.
func (k *DKIMKeys) Generate(domain, selector string) (DKIMRecord, error) {
	dir, err := k.domainDir(domain)
	if err != nil {
		return DKIMRecord{}, err
	}
	if !selectorRE.MatchString(selector) {
		return DKIMRecord{}, fmt.Errorf("mailauth: selector %q must be a DNS label", selector)
	}
	if _, err := os.Stat(filepath.Join(dir, selector+".key")); err == nil {
		return DKIMRecord{}, fmt.Errorf("mailauth: selector %s of %s exists already; choose another", selector, filepath.Base(dir))
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
	rec := DKIMRecord{Name: selector + "._domainkey." + filepath.Base(dir), Value: "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(pub)}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return DKIMRecord{}, err
	}
	if err := k.MasterKey.WriteSealedFile(filepath.Join(dir, selector+".key"), dkimPurpose, der); err != nil {
		return DKIMRecord{}, err
	}
	if err := os.WriteFile(filepath.Join(dir, selector+".txt"), []byte(rec.Value+"\n"), 0o600); err != nil {
		return DKIMRecord{}, err
	}
	return rec, os.WriteFile(filepath.Join(dir, "ACTIVE"), []byte(selector+"\n"), 0o600)
}

// Records lists a domain's published records, the active one first.
func (k *DKIMKeys) Records(domain string) ([]DKIMRecord, error) {
	dir, err := k.domainDir(domain)
	if err != nil {
		return nil, err
	}
	active, _ := k.active(dir)
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return nil, err
	}
	var out []DKIMRecord
	for _, f := range files {
		v, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sel := strings.TrimSuffix(filepath.Base(f), ".txt")
		out = append(out, DKIMRecord{Name: sel + "._domainkey." + filepath.Base(dir), Value: strings.TrimSpace(string(v))})
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
	b, err := os.ReadFile(filepath.Join(dir, "ACTIVE"))
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
	dir, err := k.domainDir(domain)
	if err != nil {
		return nil, err
	}
	sel, err := k.active(dir)
	if err != nil {
		return nil, err
	}
	der, err := k.MasterKey.ReadSealedFile(filepath.Join(dir, sel+".key"), dkimPurpose)
	if err != nil {
		return nil, fmt.Errorf("mailauth: DKIM key of %s: %w", domain, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	return &dkim.SignOptions{
		Domain:                 filepath.Base(dir),
		Selector:               sel,
		Signer:                 priv.(crypto.Signer),
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "In-Reply-To",
			"References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Autocrypt"},
	}, nil
}

// SignBytes is Sign for a message in memory.
func (k *DKIMKeys) SignBytes(msg []byte, domain string) ([]byte, error) {
	var out bytes.Buffer
	err := k.Sign(&out, bytes.NewReader(msg), domain)
	return out.Bytes(), err
}
