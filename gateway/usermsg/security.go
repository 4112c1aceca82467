// Package usermsg is what Sealgate's user agents (web mail and `sealgate mail`) do with a
// message: read its Sealgate-Security result, split it into text, HTML and attachments for
// display, and build new messages, replies and forwards as RFC 5322 + MIME.
//
// It never decides anything about security: the gateway's pipeline did that before the message
// was stored, and Security only reads the header it wrote (which the pipeline removes from mail
// that arrives from outside, so a sender cannot forge it).
package usermsg

import (
	"strings"
)

// SecurityHeader is the gateway's result header (see the pipeline).
const SecurityHeader = "Sealgate-Security"

// Security is a parsed Sealgate-Security header. Empty fields were absent.
type Security struct {
	Present   bool   // the message carries the header
	Received  string // plain, pgp or smime: the encryption the message arrived with
	Decrypted string // yes or no; only when Received is not plain
	Signature string // none, pass, fail, untrusted or unknown (could not be checked)
	Signer    string
	Key       string
	Stored    string // plain, pgp or smime
}

// ParseSecurity reads the value of a Sealgate-Security header.
func ParseSecurity(v string) Security {
	s := Security{Present: strings.TrimSpace(v) != ""}
	for _, part := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "received":
			s.Received = val
		case "decrypted":
			s.Decrypted = val
		case "signature":
			s.Signature = val
		case "signer":
			s.Signer = val
		case "key":
			s.Key = val
		case "stored":
			s.Stored = val
		}
	}
	return s
}

// Badge is one visible security fact. Kind is good, bad, warn or info (a CSS class).
type Badge struct {
	Kind  string
	Label string
	Title string // the detail, for a tooltip
}

func schemeName(s string) string {
	switch s {
	case "pgp":
		return "OpenPGP"
	case "smime":
		return "S/MIME"
	}
	return s
}

// Badges are the facts of s for display, most important first.
func (s Security) Badges() []Badge {
	if !s.Present {
		return []Badge{{Kind: "info", Label: "No security result", Title: "this message did not pass through the gateway's security stage"}}
	}
	var out []Badge
	if s.Received != "" && s.Received != "plain" {
		out = append(out, Badge{Kind: "good", Label: "Arrived encrypted (" + schemeName(s.Received) + ")"})
		if s.Decrypted == "yes" {
			out = append(out, Badge{Kind: "good", Label: "Decrypted by the gateway"})
		} else {
			out = append(out, Badge{Kind: "info", Label: "Not decrypted", Title: "the gateway holds no key for it, or the policy keeps it encrypted"})
		}
	} else {
		out = append(out, Badge{Kind: "warn", Label: "Arrived unencrypted"})
	}
	signer := s.Signer
	if s.Key != "" {
		signer = strings.TrimSpace(signer + " (key " + s.Key + ")")
	}
	switch s.Signature {
	case "pass":
		out = append(out, Badge{Kind: "good", Label: "Signature valid" + by(s.Signer), Title: signer})
	case "fail":
		out = append(out, Badge{Kind: "bad", Label: "Signature INVALID" + by(s.Signer), Title: "the message was changed after it was signed, or the signature is forged"})
	case "untrusted":
		out = append(out, Badge{Kind: "warn", Label: "Signature untrusted" + by(s.Signer), Title: "the signature is intact but the signer's key or certificate is not trusted: " + signer})
	case "unknown":
		out = append(out, Badge{Kind: "warn", Label: "Signature not checked" + by(s.Signer), Title: "the signer's key or certificate is not known here, or the signature uses an unsupported algorithm; this says nothing about forgery"})
	case "", "none":
		out = append(out, Badge{Kind: "info", Label: "Not signed"})
	}
	if s.Stored != "" && s.Stored != "plain" {
		out = append(out, Badge{Kind: "good", Label: "Stored encrypted (" + schemeName(s.Stored) + ")"})
	}
	return out
}

func by(signer string) string {
	if signer == "" {
		return ""
	}
	return " — " + signer
}

// Summary is the badges on one line, for a terminal.
func (s Security) Summary() string {
	var parts []string
	for _, b := range s.Badges() {
		parts = append(parts, b.Label)
	}
	return strings.Join(parts, "; ")
}
