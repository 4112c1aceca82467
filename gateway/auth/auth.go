// Package auth holds accounts' credentials and checks them for every protocol (SMTP AUTH,
// IMAP, POP3, web mail).
//
// Passwords are stored as argon2id hashes in PHC string form
// ($argon2id$v=19$m=19456,t=2,p=1$salt$hash, the OWASP baseline). Checking one costs about
// 19 MiB for tens of milliseconds, so at most MaxConcurrentHashes checks run at once: memory
// stays bounded under a login flood. Failed logins are throttled per client network, per
// network and account, and per account, without ever locking an account out (see Throttle).
// An unknown account costs the same hash work as a wrong password, so timing does not tell
// which accounts exist.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Errors of Authenticate. ErrInvalidCredentials means the credentials are wrong; ErrThrottled
// means they were not checked because the client's network has failed too often, so
// protocol servers answer it as a temporary refusal (IMAP [UNAVAILABLE], SMTP 454 4.7.0,
// POP3 [LOGIN-DELAY]), never as wrong credentials: clients would ask the user for a new
// password.
var (
	ErrInvalidCredentials = errors.New("auth: invalid credentials")
	ErrThrottled          = errors.New("auth: too many failed attempts from this network, try later")
)

// Argon2id parameters for new hashes.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
	// MaxPasswordLength bounds the work one attempt can cause.
	MaxPasswordLength = 1024
)

// HashPassword returns an argon2id PHC string for password.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("auth: empty password")
	}
	if len(password) > MaxPasswordLength {
		return "", fmt.Errorf("auth: password longer than %d bytes", MaxPasswordLength)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// VerifyPassword reports whether password matches a PHC argon2id hash.
func VerifyPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || len(password) > MaxPasswordLength {
		return false
	}
	var version int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 16 || p == 0 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when the account does not exist.
var dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c2VhbGdhdGVkdW1teXNhbHQ$QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY"

// Accounts is what Authenticator needs of the account store.
type Accounts interface {
	mailstore.AccountLookup
}

// Options configure an Authenticator.
type Options struct {
	Accounts Accounts
	// Throttle slows down and refuses repeated failures; nil means a default Throttle.
	Throttle *Throttle
	// MaxConcurrentHashes bounds simultaneous password checks; 0 means 4.
	MaxConcurrentHashes int
}

// Authenticator checks credentials.
type Authenticator struct {
	accounts Accounts
	throttle *Throttle
	sem      chan struct{}
}

// New returns an Authenticator.
func New(opts Options) *Authenticator {
	if opts.Throttle == nil {
		opts.Throttle = NewThrottle(ThrottleOptions{})
	}
	if opts.MaxConcurrentHashes <= 0 {
		opts.MaxConcurrentHashes = 4
	}
	return &Authenticator{accounts: opts.Accounts, throttle: opts.Throttle, sem: make(chan struct{}, opts.MaxConcurrentHashes)}
}

// Authenticate checks a login from client. It returns the account, ErrInvalidCredentials,
// ErrThrottled, or an error of the account store. A failed attempt waits the throttle's delay
// before returning, so a client cannot guess fast.
func (a *Authenticator) Authenticate(ctx context.Context, username, password string, client netip.Addr) (mailstore.User, error) {
	addr, perr := address.Parse(username)
	account := strings.ToLower(username)
	if perr == nil {
		account = addr.Key()
	}
	if err := a.throttle.Allow(ctx, client, account); err != nil {
		if errors.Is(err, ErrThrottled) {
			// Slowed, not checked: guessing from this network gets nowhere and gets it slowly.
			if serr := sleepCtx(ctx, a.throttle.ThrottledDelay()); serr != nil {
				return mailstore.User{}, serr
			}
		}
		return mailstore.User{}, err
	}
	var u mailstore.User
	var err error
	hash := dummyHash
	if perr == nil {
		u, err = a.accounts.UserByAddress(ctx, addr)
		switch {
		case err == nil:
			hash = u.PasswordHash
		case !errors.Is(err, mailstore.ErrNotFound):
			return mailstore.User{}, err
		}
	}
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return mailstore.User{}, ctx.Err()
	}
	ok := VerifyPassword(hash, password)
	<-a.sem
	if !ok || perr != nil || err != nil {
		delay := a.throttle.Fail(ctx, client, account)
		if err := sleepCtx(ctx, delay); err != nil {
			return mailstore.User{}, err
		}
		return mailstore.User{}, ErrInvalidCredentials
	}
	a.throttle.Succeed(ctx, client, account)
	return u, nil
}
