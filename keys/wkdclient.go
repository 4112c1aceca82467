package keys

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ErrNoWKDKey: the recipient's domain publishes no key for it (or no Web Key Directory).
var ErrNoWKDKey = errors.New("keys: no key in the Web Key Directory")

// WKDClient looks up OpenPGP keys of remote recipients in their domain's Web Key Directory
// (draft-koch-openpgp-webkey-service): the advanced method first
// (https://openpgpkey.DOMAIN/.well-known/openpgpkey/DOMAIN/hu/HASH?l=LOCAL), then the direct
// one (https://DOMAIN/.well-known/openpgpkey/hu/HASH?l=LOCAL). Answers, found or not, are
// cached; every lookup has a deadline, so a slow directory delays a message by at most
// Timeout. Only HTTPS with a verified certificate is used.
type WKDClient struct {
	// HTTP does the requests [a client with Timeout]; tests give one that trusts their server.
	HTTP *http.Client
	// Timeout bounds one lookup, both methods together [5s].
	Timeout time.Duration
	// FoundTTL and MissTTL are how long an answer is cached [1h, 10m].
	FoundTTL, MissTTL time.Duration
	// URLs returns the URLs to try for a domain, hash and local part [the two methods above].
	URLs func(domain, hash, local string) []string
	// Now is the clock [time.Now].
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]wkdAnswer
}

type wkdAnswer struct {
	key     []byte
	expires time.Time
}

// maxWKDKey bounds a served key.
const maxWKDKey = 256 << 10

func (c *WKDClient) defaults() {
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.FoundTTL <= 0 {
		c.FoundTTL = time.Hour
	}
	if c.MissTTL <= 0 {
		c.MissTTL = 10 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.HTTP == nil {
		c.HTTP = &http.Client{Timeout: c.Timeout}
	}
	if c.URLs == nil {
		c.URLs = func(domain, hash, local string) []string {
			q := "?l=" + url.QueryEscape(local)
			return []string{
				"https://openpgpkey." + domain + "/.well-known/openpgpkey/" + domain + "/hu/" + hash + q,
				"https://" + domain + "/.well-known/openpgpkey/hu/" + hash + q,
			}
		}
	}
	if c.cache == nil {
		c.cache = map[string]wkdAnswer{}
	}
}

// Lookup returns the binary key the recipient's domain publishes for addr, or ErrNoWKDKey.
func (c *WKDClient) Lookup(ctx context.Context, addr string) ([]byte, error) {
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return nil, fmt.Errorf("keys: %q is not an address", addr)
	}
	local, domain := addr[:at], strings.ToLower(addr[at+1:])
	c.mu.Lock()
	c.defaults()
	key := strings.ToLower(local) + "@" + domain
	if a, ok := c.cache[key]; ok && c.Now().Before(a.expires) {
		c.mu.Unlock()
		if a.key == nil {
			return nil, ErrNoWKDKey
		}
		return a.key, nil
	}
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	var found []byte
	for _, u := range c.URLs(domain, WKDHash(local), local) {
		if b, err := c.get(ctx, u); err == nil {
			found = b
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cache) > 10000 {
		c.cache = map[string]wkdAnswer{} // bounded: start over rather than grow
	}
	ttl := c.MissTTL
	if found != nil {
		ttl = c.FoundTTL
	}
	c.cache[key] = wkdAnswer{key: found, expires: c.Now().Add(ttl)}
	if found == nil {
		return nil, ErrNoWKDKey
	}
	return found, nil
}

func (c *WKDClient) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("keys: WKD %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxWKDKey+1))
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || len(b) > maxWKDKey {
		return nil, fmt.Errorf("keys: WKD %s: bad size %d", u, len(b))
	}
	return b, nil
}
