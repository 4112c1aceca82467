package keys

import (
	"bytes"
	"context"
	"crypto/sha1"
	"net"
	"net/http"
	"strings"
	"time"
)

// WKD serves the Web Key Directory (draft-koch-openpgp-webkey-service) for local domains:
//
//	GET /.well-known/openpgpkey/hu/<hash>?l=<local>              direct method (domain from Host)
//	GET /.well-known/openpgpkey/<domain>/hu/<hash>?l=<local>     advanced method
//	GET /.well-known/openpgpkey/policy, /.well-known/openpgpkey/<domain>/policy
//
// where hash is the z-base-32 SHA-1 of the lower-cased local part. The answer is the binary
// public key (application/octet-stream) of every valid, verified OpenPGP key of that address;
// 404 when there is none or the domain is not local. Mount it at "/.well-known/openpgpkey/".
type WKD struct {
	k             *Keyring
	isLocalDomain func(string) bool
}

// NewWKD returns the WKD handler for the keyring; isLocalDomain says which domains it
// answers for.
func NewWKD(k *Keyring, isLocalDomain func(string) bool) *WKD {
	return &WKD{k: k, isLocalDomain: isLocalDomain}
}

const wkdPrefix = "/.well-known/openpgpkey/"

func (h *WKD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, wkdPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	parts := strings.Split(rest, "/")
	var domain, hash string
	switch {
	case len(parts) == 1 && parts[0] == "policy":
		h.policy(w)
		return
	case len(parts) == 2 && parts[0] == "hu":
		domain, hash = requestHost(r), parts[1]
	case len(parts) == 2 && parts[1] == "policy":
		if !h.isLocal(parts[0]) {
			http.NotFound(w, r)
			return
		}
		h.policy(w)
		return
	case len(parts) == 3 && parts[1] == "hu":
		domain, hash = parts[0], parts[2]
	default:
		http.NotFound(w, r)
		return
	}
	domain = strings.ToLower(domain)
	if !h.isLocal(domain) || len(hash) != 32 {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	body, err := h.k.wkdKeys(ctx, domain, strings.ToLower(hash))
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if len(body) == 0 {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(body)
}

func (h *WKD) isLocal(domain string) bool {
	return h.isLocalDomain != nil && domain != "" && h.isLocalDomain(strings.ToLower(domain))
}

func (h *WKD) policy(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
}

func requestHost(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(host, ".")
}

// wkdKeys returns the concatenated binary public keys of the valid verified OpenPGP keys of
// the address at domain whose local part hashes to hash.
func (k *Keyring) wkdKeys(ctx context.Context, domain, hash string) ([]byte, error) {
	rs, err := k.find(ctx, Query{Scheme: SchemePGP, Domain: domain})
	if err != nil {
		return nil, err
	}
	now := k.now()
	var out bytes.Buffer
	for _, r := range rs {
		if r.Trust != TrustVerified || r.State(now) != StateValid {
			continue
		}
		for _, a := range r.Addresses {
			local, d, _ := strings.Cut(a, "@")
			if d == domain && WKDHash(local) == hash {
				out.Write(r.Public)
				break
			}
		}
	}
	return out.Bytes(), nil
}

// WKDHash is the z-base-32 encoded SHA-1 of the lower-cased local part.
func WKDHash(local string) string {
	sum := sha1.Sum([]byte(strings.ToLower(local)))
	return zbase32(sum[:])
}

const zbase32Alphabet = "ybndrfg8ejkmcpqxot1uwisza345h769"

func zbase32(b []byte) string {
	var sb strings.Builder
	var acc uint32
	bits := 0
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 5 {
			sb.WriteByte(zbase32Alphabet[(acc>>(bits-5))&31])
			bits -= 5
		}
	}
	if bits > 0 {
		sb.WriteByte(zbase32Alphabet[(acc<<(5-bits))&31])
	}
	return sb.String()
}
