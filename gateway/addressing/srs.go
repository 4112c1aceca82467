package addressing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/sealgate/sealgate/crypto/address"
)

// ErrBadSRS reports an SRS address that is malformed, forged or too old.
var ErrBadSRS = errors.New("addressing: invalid SRS address")

// SRSMaxAge is how long a forwarded message's bounce address stays valid.
const SRSMaxAge = 21 * 24 * time.Hour

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// SRS rewrites the envelope sender of forwarded mail (Sender Rewriting Scheme, SRS0 form):
//
//	SRS0=HASH=TT=orig-domain=orig-local@forwarding-domain
//
// so that SPF at the destination checks our domain, and a bounce comes back to us and can be
// routed to the original sender. HASH is a truncated HMAC-SHA256 over TT, domain and local
// part (compared without case, as some MTAs change case); TT is the day number mod 1024.
type SRS struct {
	secret []byte
	Now    func() time.Time
}

// LoadOrCreateSRS reads the secret from path (hex), creating it with mode 0600 when missing.
func LoadOrCreateSRS(path string) (*SRS, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateSRS(path)
		}
		if err != nil {
			return nil, err
		}
		_, err = f.WriteString(hex.EncodeToString(secret) + "\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		return &SRS{secret: secret, Now: time.Now}, nil
	}
	if err != nil {
		return nil, err
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(secret) < 16 {
		return nil, fmt.Errorf("addressing: SRS secret %s is not hex", path)
	}
	return &SRS{secret: secret, Now: time.Now}, nil
}

// NewSRS returns the signer for a secret kept elsewhere (nodes sharing a database keep
// one, sealed, in it). The secret must have at least 16 bytes.
func NewSRS(secret []byte) (*SRS, error) {
	if len(secret) < 16 {
		return nil, errors.New("addressing: the SRS secret is shorter than 16 bytes")
	}
	return &SRS{secret: secret, Now: time.Now}, nil
}

func (s *SRS) day(t time.Time) int { return int(t.Unix()/86400) % 1024 }

func (s *SRS) hash(tt, domain, local string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(strings.ToLower(tt + "=" + domain + "=" + local)))
	return strings.ToLower(b32.EncodeToString(m.Sum(nil)[:5]))
}

// Forward returns the envelope sender for mail from sender forwarded by forwardingDomain. The
// null sender stays null.
func (s *SRS) Forward(sender, forwardingDomain string) string {
	if sender == "" {
		return ""
	}
	a, err := address.Parse(sender)
	if err != nil {
		return ""
	}
	d := s.day(s.Now())
	tt := strings.ToLower(b32.EncodeToString([]byte{byte(d >> 8), byte(d)}))[:4]
	return fmt.Sprintf("SRS0=%s=%s=%s=%s@%s", s.hash(tt, a.Domain, a.Local), tt, a.Domain, a.Local, forwardingDomain)
}

// Reverse checks an SRS0 address and returns the original sender.
func (s *SRS) Reverse(a address.Address) (address.Address, error) {
	parts := strings.SplitN(a.Local, "=", 5)
	if len(parts) != 5 || !strings.EqualFold(parts[0], "SRS0") {
		return address.Address{}, ErrBadSRS
	}
	h, tt, domain, local := parts[1], parts[2], parts[3], parts[4]
	if !hmac.Equal([]byte(strings.ToLower(h)), []byte(s.hash(tt, domain, local))) {
		return address.Address{}, ErrBadSRS
	}
	raw, err := b32.DecodeString(strings.ToUpper(tt) + "")
	if err != nil || len(raw) != 2 {
		return address.Address{}, ErrBadSRS
	}
	sent := int(raw[0])<<8 | int(raw[1])
	age := (s.day(s.Now()) - sent + 1024) % 1024
	if time.Duration(age)*24*time.Hour > SRSMaxAge {
		return address.Address{}, ErrBadSRS
	}
	orig, err := address.Parse(local + "@" + domain)
	if err != nil {
		return address.Address{}, ErrBadSRS
	}
	return orig, nil
}
