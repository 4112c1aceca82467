package usermsg

import "testing"

// Every signature= value the gateway writes has its own badge; "unknown" is a warning, not
// the "invalid" of a failed check.
func TestSignatureBadges(t *testing.T) {
	for _, c := range []struct{ sig, kind, label string }{
		{"pass", "good", "Signature valid — a@example.test"},
		{"fail", "bad", "Signature INVALID — a@example.test"},
		{"untrusted", "warn", "Signature untrusted — a@example.test"},
		{"unknown", "warn", "Signature not checked — a@example.test"},
		{"none", "info", "Not signed"},
	} {
		s := ParseSecurity("received=plain; signature=" + c.sig + "; signer=a@example.test; stored=plain")
		bs := s.Badges()
		if len(bs) != 2 || bs[1].Kind != c.kind || bs[1].Label != c.label {
			t.Errorf("signature=%s: %+v", c.sig, bs)
		}
	}
}
