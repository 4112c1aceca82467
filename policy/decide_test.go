package policy

import (
	"strings"
	"testing"
)

func sc(s string) Scope {
	v, err := ParseScope(s)
	if err != nil {
		panic(err)
	}
	return v
}

var (
	pgpPub   = []KeyRef{{Fingerprint: "PGPPUB", Trust: "verified"}}
	pgpSec   = []KeyRef{{Fingerprint: "PGPSEC", Trust: "verified"}}
	smimeCrt = []KeyRef{{Fingerprint: "CERT", Trust: "harvested"}}
	smimeSec = []KeyRef{{Fingerprint: "CERTKEY", Trust: "verified"}}
	untrust  = []KeyRef{{Fingerprint: "BAD", Trust: "untrusted"}}
)

// One row per rule. want is a compact form of the decision:
// reject | decrypt=S | verify | sign=S | encrypt=S | stored=S.
func TestDecide(t *testing.T) {
	alice, bob, ext := sc("alice@example.test"), sc("bob@example.test"), sc("carol@partner.test")
	cases := []struct {
		name string
		in   Input
		want string
		rule string // a rule that must appear in the steps
	}{
		{"in: plain mail, defaults", Input{Recipient: bob}, "verify stored=none", "in.encrypt"},
		{"in: verify off", Input{Recipient: bob, Settings: Settings{"example.test": {"inbound.verify": "false"}}}, "stored=none", "in.encrypt"},
		{"in: decrypt with held key", Input{Recipient: bob, Arrival: Arrival{Encrypted: PGP}, RecipientKeys: Keys{PGPSecret: pgpSec}},
			"decrypt=pgp verify stored=none", "in.decrypt"},
		{"in: no secret key, stays encrypted", Input{Recipient: bob, Arrival: Arrival{Encrypted: SMIME}, RecipientKeys: Keys{PGPSecret: pgpSec}},
			"verify stored=smime", "in.decrypt"},
		{"in: decrypt off keeps ciphertext", Input{Recipient: bob, Arrival: Arrival{Encrypted: PGP}, RecipientKeys: Keys{PGPSecret: pgpSec},
			Settings: Settings{"bob@example.test": {"inbound.decrypt": "false"}}}, "verify stored=pgp", "in.decrypt"},
		{"in: untrusted secret is not used", Input{Recipient: bob, Arrival: Arrival{Encrypted: PGP}, RecipientKeys: Keys{PGPSecret: untrust}},
			"verify stored=pgp", "in.decrypt"},
		{"in: at-rest pgp", Input{Recipient: bob, RecipientKeys: Keys{PGPPublic: pgpPub}, Settings: Settings{"global": {"inbound.encrypt": "pgp"}}},
			"verify encrypt=pgp stored=pgp", "in.encrypt"},
		{"in: at-rest pgp without key fails closed", Input{Recipient: bob, RecipientKeys: Keys{SMIMECert: smimeCrt}, Settings: Settings{"global": {"inbound.encrypt": "pgp"}}},
			"reject", "in.encrypt"},
		{"in: at-rest auto falls back to smime", Input{Recipient: bob, RecipientKeys: Keys{SMIMECert: smimeCrt}, Settings: Settings{"global": {"inbound.encrypt": "auto"}}},
			"verify encrypt=smime stored=smime", "in.encrypt"},
		{"in: at-rest auto without key stores plain", Input{Recipient: bob, Settings: Settings{"global": {"inbound.encrypt": "auto"}}},
			"verify stored=none", "in.encrypt"},
		{"in: never double-encrypt", Input{Recipient: bob, Arrival: Arrival{Encrypted: PGP}, RecipientKeys: Keys{PGPPublic: pgpPub},
			Settings: Settings{"global": {"inbound.encrypt": "pgp"}}}, "verify stored=pgp", "in.encrypt"},
		{"in: decrypted then encrypted at rest", Input{Recipient: bob, Arrival: Arrival{Encrypted: SMIME}, RecipientKeys: Keys{SMIMESecret: smimeSec, PGPPublic: pgpPub},
			Settings: Settings{"global": {"inbound.encrypt": "pgp"}}}, "decrypt=smime verify encrypt=pgp stored=pgp", "in.encrypt"},
		{"out: sign none by default", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext}, "stored=none", "out.sign"},
		{"out: sign pgp", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext, SenderKeys: Keys{PGPSecret: pgpSec},
			Settings: Settings{"alice@example.test": {"outbound.sign": "pgp"}}}, "sign=pgp stored=none", "out.sign"},
		{"out: sign smime without key fails closed", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext, SenderKeys: Keys{PGPSecret: pgpSec},
			Settings: Settings{"example.test": {"outbound.sign": "smime"}}}, "reject", "out.sign"},
		{"out: sign auto picks smime when no pgp", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext, SenderKeys: Keys{SMIMESecret: smimeSec},
			Settings: Settings{"global": {"outbound.sign": "auto"}}}, "sign=smime stored=none", "out.sign"},
		{"out: opportunistic with key", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext, RecipientKeys: Keys{PGPPublic: pgpPub}},
			"encrypt=pgp stored=pgp", "out.encrypt"},
		{"out: opportunistic without key", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext}, "stored=none", "out.encrypt"},
		{"out: required without key rejects", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext,
			Settings: Settings{"example.test": {"outbound.encrypt": "required"}}}, "reject", "out.encrypt"},
		{"out: recipient domain requires", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext,
			Settings: Settings{"partner.test": {"outbound.encrypt": "required"}}}, "reject", "out.encrypt"},
		{"out: never", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext, RecipientKeys: Keys{PGPPublic: pgpPub},
			Settings: Settings{"global": {"outbound.encrypt": "never"}}}, "stored=none", "out.encrypt"},
		{"out: scheme preference smime", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext, RecipientKeys: Keys{PGPPublic: pgpPub, SMIMECert: smimeCrt},
			Settings: Settings{"alice@example.test": {"outbound.scheme": "smime"}}}, "encrypt=smime stored=smime", "out.encrypt"},
		{"out: scheme auto prefers pgp", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext, RecipientKeys: Keys{PGPPublic: pgpPub, SMIMECert: smimeCrt}},
			"encrypt=pgp stored=pgp", "out.encrypt"},
		{"out: untrusted key not used", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext, RecipientKeys: Keys{PGPPublic: untrust},
			Settings: Settings{"global": {"outbound.encrypt": "required"}}}, "reject", "out.encrypt"},
		{"out: client-encrypted passes", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext, Arrival: Arrival{Encrypted: PGP},
			SenderKeys: Keys{PGPSecret: pgpSec}, RecipientKeys: Keys{PGPPublic: pgpPub},
			Settings: Settings{"global": {"outbound.sign": "pgp", "outbound.encrypt": "required"}}}, "stored=pgp", "out.no-double-encrypt"},
		{"out: client-signed is not re-signed", Input{Direction: Outbound, Submitted: true, Sender: alice, Recipient: ext, Arrival: Arrival{Signed: SMIME},
			SenderKeys: Keys{PGPSecret: pgpSec}, Settings: Settings{"global": {"outbound.sign": "pgp", "outbound.encrypt": "never"}}}, "stored=none", "out.passthrough"},
		{"submitted to a local user: signed, then inbound rules", Input{Direction: Inbound, Submitted: true, Sender: alice, Recipient: bob,
			SenderKeys: Keys{PGPSecret: pgpSec}, RecipientKeys: Keys{PGPPublic: pgpPub},
			Settings: Settings{"global": {"outbound.sign": "pgp", "inbound.encrypt": "pgp"}}}, "verify sign=pgp encrypt=pgp stored=pgp", "in.encrypt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.in)
			if got := compact(d); got != c.want {
				t.Fatalf("got %q, want %q\n%s", got, c.want, Explain(d))
			}
			found := false
			for _, s := range d.Steps {
				found = found || s.Rule == c.rule
			}
			if !found {
				t.Fatalf("rule %s not in the explanation:\n%s", c.rule, Explain(d))
			}
			if d.Reject && (d.RejectReason == "" || strings.Contains(d.RejectReason, "PGP")) {
				t.Fatalf("reject reason %q", d.RejectReason)
			}
		})
	}
}

func compact(d Decision) string {
	if d.Reject {
		return "reject"
	}
	var w []string
	if d.Decrypt != None {
		w = append(w, "decrypt="+string(d.Decrypt))
	}
	if d.Verify {
		w = append(w, "verify")
	}
	if d.Sign != None {
		w = append(w, "sign="+string(d.Sign))
	}
	if d.Encrypt != None {
		w = append(w, "encrypt="+string(d.Encrypt))
	}
	w = append(w, "stored="+d.Stored.String())
	return strings.Join(w, " ")
}

func TestDecisionKeyGroupsEqualCopies(t *testing.T) {
	s := Settings{"global": {"inbound.encrypt": "pgp"}}
	a := Decide(Input{Recipient: sc("a@x.test"), Settings: s, RecipientKeys: Keys{PGPPublic: []KeyRef{{Fingerprint: "A", Trust: "verified"}}}})
	b := Decide(Input{Recipient: sc("b@x.test"), Settings: s, RecipientKeys: Keys{PGPPublic: []KeyRef{{Fingerprint: "B", Trust: "verified"}}}})
	c := Decide(Input{Recipient: sc("c@x.test")})
	e := Decide(Input{Recipient: sc("e@x.test")})
	if a.Key() == b.Key() {
		t.Fatal("copies encrypted to different keys share a key")
	}
	if c.Key() != e.Key() {
		t.Fatal("two plain copies do not share a key")
	}
}

func TestExplain(t *testing.T) {
	d := Decide(Input{Direction: Outbound, Submitted: true, Sender: sc("alice@example.test"), Recipient: sc("carol@partner.test"),
		Settings: Settings{"partner.test": {"outbound.encrypt": "required"}}})
	got := Explain(d)
	want := "REJECT: encryption to carol@partner.test is required (policy of partner.test) but no usable key is known\n" +
		"  [out.sign] outbound.sign is none for alice@example.test\n" +
		"  [out.encrypt] reject: encryption to carol@partner.test is required (policy of partner.test) but no usable key is known\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
