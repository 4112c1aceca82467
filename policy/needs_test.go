package policy

import (
	"fmt"
	"testing"
)

// One row per rule that makes a key worth looking up.
func TestNeeds(t *testing.T) {
	alice, bob, ext := sc("alice@example.test"), sc("bob@example.test"), sc("carol@partner.test")
	signs := Settings{"alice@example.test": {"outbound.sign": "auto"}}
	cases := []struct {
		name              string
		in                Input
		sender, recipient KeyNeed
	}{
		{"in: plain, defaults", Input{Sender: ext, Recipient: bob}, KeyNeed{}, KeyNeed{}},
		{"in: at-rest encryption", Input{Recipient: bob, Settings: Settings{"bob@example.test": {"inbound.encrypt": "auto"}}},
			KeyNeed{}, KeyNeed{Encrypt: true}},
		{"in: encrypted, decrypt on", Input{Recipient: bob, Arrival: Arrival{Encrypted: SMIME}}, KeyNeed{}, KeyNeed{Decrypt: SMIME}},
		{"in: encrypted, decrypt off", Input{Recipient: bob, Arrival: Arrival{Encrypted: PGP},
			Settings: Settings{"example.test": {"inbound.decrypt": "false"}}}, KeyNeed{}, KeyNeed{}},
		{"out: opportunistic default", Input{Direction: Outbound, Sender: alice, Recipient: ext, Submitted: true},
			KeyNeed{}, KeyNeed{Encrypt: true, Discover: true}},
		{"out: never on both sides", Input{Direction: Outbound, Sender: alice, Recipient: ext, Submitted: true,
			Settings: Settings{"global": {"outbound.encrypt": "never"}}}, KeyNeed{}, KeyNeed{}},
		{"out: sender never, recipient's domain required", Input{Direction: Outbound, Sender: alice, Recipient: ext, Submitted: true,
			Settings: Settings{"alice@example.test": {"outbound.encrypt": "never"}, "partner.test": {"outbound.encrypt": "required"}}},
			KeyNeed{}, KeyNeed{Encrypt: true, Discover: true}},
		{"out: already encrypted", Input{Direction: Outbound, Sender: alice, Recipient: ext, Submitted: true, Arrival: Arrival{Encrypted: PGP}},
			KeyNeed{}, KeyNeed{}},
		{"out: signing sender", Input{Direction: Outbound, Sender: alice, Recipient: ext, Submitted: true, Settings: signs},
			KeyNeed{Sign: true}, KeyNeed{Encrypt: true, Discover: true}},
		{"out: signing sender, signed by the client", Input{Direction: Outbound, Sender: alice, Recipient: ext, Submitted: true,
			Settings: signs, Arrival: Arrival{Signed: SMIME}}, KeyNeed{}, KeyNeed{Encrypt: true, Discover: true}},
		{"in: signing sender, not submitted", Input{Sender: alice, Recipient: bob, Settings: signs}, KeyNeed{}, KeyNeed{}},
		{"in: signing sender, submitted to a local recipient", Input{Sender: alice, Recipient: bob, Submitted: true, Settings: signs},
			KeyNeed{Sign: true}, KeyNeed{}},
		{"null sender never signs", Input{Sender: GlobalScope, Recipient: bob, Submitted: true, Settings: Settings{"global": {"outbound.sign": "auto"}}},
			KeyNeed{}, KeyNeed{}},
	}
	for _, c := range cases {
		s, r := Needs(c.in)
		if s != c.sender || r != c.recipient {
			t.Errorf("%s: Needs = %+v, %+v; want %+v, %+v", c.name, s, r, c.sender, c.recipient)
		}
	}
}

// Decide with only the keys Needs asks for decides as Decide with every key: over the rules'
// settings, arrivals and directions, nothing Decide uses is left unlooked-up.
func TestNeedsCoverDecide(t *testing.T) {
	all := Keys{PGPPublic: pgpPub, PGPSecret: pgpSec, SMIMECert: smimeCrt, SMIMESecret: smimeSec}
	alice, ext := sc("alice@example.test"), sc("carol@partner.test")
	arrivals := []Arrival{{}, {Encrypted: PGP}, {Encrypted: SMIME}, {Signed: PGP}, {Signed: SMIME, Encrypted: PGP}}
	n := 0
	for _, dir := range []Direction{Inbound, Outbound} {
		for _, submitted := range []bool{false, true} {
			for _, a := range arrivals {
				for _, sign := range []string{"none", "pgp", "smime", "auto"} {
					for _, atRest := range []string{"none", "pgp", "smime", "auto"} {
						for _, decrypt := range []string{"true", "false"} {
							for _, enc := range [][2]string{{"never", "never"}, {"never", "required"}, {"opportunistic", "never"}, {"required", "never"}} {
								settings := Settings{
									"alice@example.test": {"outbound.sign": sign, "outbound.encrypt": enc[0], "inbound.encrypt": atRest, "inbound.decrypt": decrypt},
									"partner.test":       {"outbound.encrypt": enc[1], "inbound.encrypt": atRest, "inbound.decrypt": decrypt},
								}
								in := Input{Direction: dir, Sender: alice, Recipient: ext, Submitted: submitted, Arrival: a, Settings: settings,
									SenderKeys: all, RecipientKeys: all}
								sn, rn := Needs(in)
								masked := in
								masked.SenderKeys, masked.RecipientKeys = only(all, sn), only(all, rn)
								want, got := Decide(in), Decide(masked)
								if want.Key() != got.Key() || want.Reject != got.Reject || want.Stored != got.Stored {
									t.Fatalf("%+v: with every key %s, with the needed ones %s", in, describe(want), describe(got))
								}
								n++
							}
						}
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no cases")
	}
}

// only keeps the keys need asks for, as a caller that looks up nothing else holds them.
func only(k Keys, need KeyNeed) Keys {
	var out Keys
	if need.Encrypt {
		out.PGPPublic, out.SMIMECert = k.PGPPublic, k.SMIMECert
	}
	switch need.Decrypt {
	case PGP:
		out.PGPSecret = k.PGPSecret
	case SMIME:
		out.SMIMESecret = k.SMIMESecret
	}
	if need.Sign {
		out.PGPSecret, out.SMIMESecret = k.PGPSecret, k.SMIMESecret
	}
	return out
}

func describe(d Decision) string { return fmt.Sprintf("%s (%s)", compact(d), d.RejectReason) }
