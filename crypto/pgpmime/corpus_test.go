package pgpmime

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// Key sets for the corpus (README "OpenPGP keys").
const (
	ksTB        = "tb"         // alice, bob, carol (passphrase x), carol@pgp.icu (revoked) secrets
	ksAliceOnly = "alice-only" // alice secret; bob and carol public only
	ksDC        = "dc"         // Delta Chat alice and bob secrets, TB-Alice public key
)

type pgpCorpusRow struct {
	file    string
	keys    string
	dec     string // "": not encrypted; "ok": decrypts; "fail": clean error
	text    string // expected in the decrypted text
	sig     Status // signature of the (decrypted) content
	signer  string
	outer   Status // when set: Verify of the undecrypted message
	partial bool
	// attached: check the first attached message/rfc822 instead of the
	// message itself (the outer message must be plain).
	attached bool
	pass     string
	note     string
}

var pgpCorpus = []pgpCorpusRow{
	{file: "alice-broken-exchange.eml", keys: ksTB, dec: "ok", text: "Test message"},
	{file: "alice-signed.eml", keys: ksTB, sig: StatusGood, signer: "alice@openpgp.example"},
	{file: "alice-utf.eml", keys: ksTB, sig: StatusGood, signer: "alice@openpgp.example"},
	{file: "bob-enc-html-nbsp.eml", keys: ksTB, dec: "ok", text: "My real name is not Bob."},
	{file: "bob-enc-inline-nbsp-qp.eml", keys: ksTB, dec: "ok", text: "My real name is not Bob."},
	{file: "bob-to-alice-signed-damaged-signature.eml", keys: ksTB, sig: StatusBad},
	{file: "dual-signed-uncommon-content-type.eml", keys: ksTB, sig: StatusBad, note: "S/MIME outer layer is crypto/smime's; inner PGP BADSIG"},
	{file: "enc-to-carol@pgp.icu-revoked.eml", keys: ksTB, dec: "ok", text: "billie-jean", sig: StatusUnknownSigner},
	{file: "encrypted-and-signed-alice-to-bob-nonascii.eml", keys: ksTB, dec: "ok", text: "Detta är krypterat!", sig: StatusGood, signer: "alice@openpgp.example"},
	{file: "encrypted-to-alice-as-hidden-recipient.eml", keys: ksTB, dec: "ok", text: "hidden recipient encryption"},
	{file: "encryptedNestedMessages.eml", keys: ksTB, dec: "ok"},
	{file: "eve-duplicate.eml", keys: ksTB},
	{file: "forwarded-eml-signed-by-alice.eml", keys: ksTB},
	{file: "forwarded-eml-signed-by-alice.eml", keys: ksTB, attached: true, sig: StatusGood, signer: "alice@openpgp.example"},
	{file: "fwd-signed.eml", keys: ksTB},
	{file: "fwd-signed.eml", keys: ksTB, attached: true, sig: StatusUnknownSigner},
	{file: "fwd-unsigned-encrypted.eml", keys: ksTB},
	{file: "fwd-unsigned-encrypted.eml", keys: ksTB, attached: true, dec: "ok", text: "Sundays are nothing without callaloo."},
	{file: "inline-signed-latin1.eml", keys: ksTB, sig: StatusUnknownSigner},
	{file: "inline-signed-utf8.eml", keys: ksTB, sig: StatusUnknownSigner},
	{file: "inner-smime-sig-in-pgp-encrypted.eml", keys: ksTB, dec: "ok", note: "inner S/MIME signature is checked in crypto/smime"},
	{file: "msg-with-enc-openpgp-inline.eml", keys: ksTB, dec: "ok", text: "Somewhere over the rainbow"},
	{file: "multiple-signatures.eml", keys: ksTB, note: "digest: no signature for the message"},
	{file: "openpgp__stripped_sig.eml", keys: ksTB, sig: StatusBad},
	{file: "outer-pgp-sig-inner-pgp-enc-sig.eml", keys: ksTB, dec: "ok", sig: StatusGood, signer: "carol@example.com", outer: StatusBad},
	{file: "outer-pgp-sig-inner-pgp-enc-with-mixed.eml", keys: ksTB, sig: StatusBad, note: "encryption behind mixed is not decrypted"},
	{file: "outer-pgp-sig-inner-pgp-enc.eml", keys: ksTB, dec: "ok", text: "Sundays are nothing without callaloo.", outer: StatusBad},
	{file: "outer-smime-bad-sig-inner-pgp-enc-sig-with-mixed.eml", keys: ksTB},
	{file: "outer-smime-bad-sig-inner-pgp-enc-sig.eml", keys: ksTB, dec: "ok", sig: StatusGood, signer: "carol@example.com"},
	{file: "outer-smime-bad-sig-inner-pgp-enc.eml", keys: ksTB, dec: "ok", text: "Sundays are nothing without callaloo."},
	{file: "partial-encrypt-for-alice-html.eml", keys: ksTB, dec: "ok", text: "Insert a coin to play your personal lucky melody.", partial: true},
	{file: "partial-encrypt-for-alice-plaintext.eml", keys: ksTB, dec: "ok", text: "Insert a coin to play your personal lucky melody.", partial: true},
	{file: "partial-encrypt-for-carol-html.eml", keys: ksAliceOnly, dec: "fail"},
	{file: "partial-encrypt-for-carol-html.eml", keys: ksTB, dec: "ok", text: "Insert a coin to play your personal lucky melody.", partial: true},
	{file: "partial-encrypt-for-carol-plaintext.eml", keys: ksAliceOnly, dec: "fail"},
	{file: "partial-encrypt-for-carol-plaintext.eml", keys: ksTB, dec: "ok", text: "Insert a coin to play your personal lucky melody.", partial: true},
	{file: "signed-by-0x3099ff1238852b9f-encrypted-to-0xf231550c4f47e38e-with-key.eml", keys: ksTB, dec: "ok", sig: StatusGood, signer: "carol@example.com"},
	{file: "signed-by-0x3099ff1238852b9f-encrypted-to-0xf231550c4f47e38e.eml", keys: ksTB, dec: "ok", sig: StatusGood, signer: "carol@example.com"},
	{file: "signed-by-0x3099ff1238852b9f-to-0xf231550c4f47e38e-unencrypted-with-key.eml", keys: ksTB, sig: StatusGood, signer: "carol@example.com"},
	{file: "signed-by-0x3099ff1238852b9f-to-0xf231550c4f47e38e-unencrypted.eml", keys: ksTB, sig: StatusGood, signer: "carol@example.com"},
	{file: "signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e-multi-from.eml", keys: ksTB, dec: "ok", sig: StatusMismatch, signer: "bob@openpgp.example"},
	{file: "signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e-with-key.eml", keys: ksTB, dec: "ok", sig: StatusGood, signer: "bob@openpgp.example"},
	{file: "signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e.eml", keys: ksTB, dec: "ok", text: "Sundays are nothing without callaloo.", sig: StatusGood, signer: "bob@openpgp.example"},
	{file: "signed-by-0xfbfcc82a015e7330-to-0xf231550c4f47e38e-unencrypted-in-mixed.eml", keys: ksTB, sig: StatusGood, signer: "bob@openpgp.example", partial: true},
	{file: "signed-by-0xfbfcc82a015e7330-to-0xf231550c4f47e38e-unencrypted-with-key.eml", keys: ksTB, sig: StatusGood, signer: "bob@openpgp.example"},
	{file: "signed-by-0xfbfcc82a015e7330-to-0xf231550c4f47e38e-unencrypted.eml", keys: ksTB, sig: StatusGood, signer: "bob@openpgp.example"},
	{file: "signed-encrypted-autocrypt-gossip.eml", keys: ksTB, dec: "ok", sig: StatusGood, signer: "bob@openpgp.example"},
	{file: "signed-inline-indented.eml", keys: ksTB, sig: StatusGood, signer: "alice@openpgp.example"},
	{file: "signed-mismatch-email-date.eml", keys: ksTB, sig: StatusMismatch, signer: "bob@openpgp.example"},
	{file: "signed-with-mailman-footer.eml", keys: ksTB, sig: StatusBad, partial: true},
	{file: "sigspoof-git-commit.eml", keys: ksTB, dec: "fail"},
	{file: "unob-signed-by-0x3099ff1238852b9f-to-0xf231550c4f47e38e.eml", keys: ksTB, note: "unobtrusive signatures unsupported: unsigned"},
	{file: "unrelated-and-fake-keys-attached.eml", keys: ksTB},
	{file: "unsigned-encrypted-to-0xf231550c4f47e38e-from-0x3099ff1238852b9f-with-key.eml", keys: ksTB, dec: "ok"},
	{file: "unsigned-encrypted-to-0xf231550c4f47e38e-from-0x3099ff1238852b9f.eml", keys: ksTB, dec: "ok", text: "Sundays are nothing without callaloo."},
	{file: "unsigned-encrypted-to-0xf231550c4f47e38e-from-0xfbfcc82a015e7330-with-key.eml", keys: ksTB, dec: "ok"},
	{file: "unsigned-encrypted-to-0xf231550c4f47e38e-from-0xfbfcc82a015e7330.eml", keys: ksTB, dec: "ok", text: "Sundays are nothing without callaloo."},
	{file: "unsigned-unencrypted-0x3099ff1238852b9f-autocrypt.eml", keys: ksTB},
	{file: "unsigned-unencrypted-from-bob-to-alice.eml", keys: ksTB},
	{file: "unsigned-unencrypted-key-0x1f10171bfb881b1c-attached.eml", keys: ksTB},

	{file: "deltachat/alice_to_bob_no_intended_recipient_fingerprint.eml", keys: ksDC, dec: "ok", text: "Hi", sig: StatusGood, signer: "alice@example.org"},
	{file: "deltachat/encrypted-group-without-id.eml", keys: ksDC, dec: "ok", sig: StatusGood, signer: "alice@example.org"},
	{file: "deltachat/encrypted-signed.eml", keys: ksDC, dec: "ok", text: "Hello!", sig: StatusGood, signer: "alice@example.org"},
	{file: "deltachat/encrypted_with_received_headers.eml", keys: ksDC, dec: "ok", sig: StatusGood, signer: "bob@example.net"},
	{file: "deltachat/google-workspace-mixed-up.eml", keys: ksDC, dec: "ok", sig: StatusMismatch, signer: "alice@example.org",
		note: "README: GOODSIG; the signature verifies (CryptoValid) but the Date header is 5 months after the signature time"},
	{file: "deltachat/mailinglist_with_mimepart_footer_signed.eml", keys: ksDC, sig: StatusBad, partial: true},
	{file: "deltachat/protonmail-mixed-up.eml", keys: ksDC, dec: "fail"},
	{file: "deltachat/protonmail-repaired.eml", keys: ksDC, dec: "fail"},
	{file: "deltachat/rfc1847_encapsulation.eml", keys: ksDC, dec: "ok", text: "Hello from Thunderbird!", sig: StatusGood, signer: "alice@example.org"},
	{file: "deltachat/schleuder.eml", keys: ksDC, sig: StatusBad},
	{file: "deltachat/text_from_alice_encrypted.eml", keys: ksDC, dec: "ok", text: "hi", sig: StatusGood, signer: "alice@example.org"},
	{file: "deltachat/text_symmetrically_encrypted.eml", keys: ksDC, dec: "fail"},
	{file: "deltachat/text_symmetrically_encrypted.eml", keys: ksDC, pass: "secret", dec: "ok", text: "Symmetrically encrypted message", sig: StatusGood, signer: "alice@example.org", note: "v6 SKESK + SEIPDv2; also signed by DC-Alice (README does not say)"},
	{file: "deltachat/thunderbird_encrypted_signed.eml", keys: ksDC, dec: "ok", sig: StatusGood, signer: "alice@example.org", note: "gpg 2.2 says EXPKEYSIG (32-bit expiry wrap); valid per RFC"},
	{file: "deltachat/thunderbird_encrypted_signed_with_pubkey.eml", keys: ksDC, dec: "ok", sig: StatusGood, signer: "alice@example.org"},
	{file: "deltachat/thunderbird_encrypted_unsigned.eml", keys: ksDC, dec: "ok", text: "Hi!"},
	{file: "deltachat/thunderbird_encrypted_unsigned_with_unencrypted_subject.eml", keys: ksDC, dec: "ok", text: "Hi!"},
	{file: "deltachat/thunderbird_signed_unencrypted.eml", keys: ksDC, sig: StatusGood, signer: "alice@example.org"},
	{file: "deltachat/thunderbird_with_autocrypt.eml", keys: ksDC, dec: "ok", sig: StatusGood, signer: "alice@example.org"},
	{file: "deltachat/thunderbird_with_autocrypt_unencrypted.eml", keys: ksDC, sig: StatusGood, signer: "alice@example.org"},
	{file: "deltachat/thunderbird_with_multiple_autocrypts.eml", keys: ksDC, dec: "ok", sig: StatusGood, signer: "alice@example.org"},
	{file: "deltachat/unencrypted_signed_simple.eml", keys: ksDC, sig: StatusBad},
	{file: "deltachat/verification-gossip-also-sent-to-from.eml", keys: ksDC, dec: "ok", sig: StatusGood, signer: "alice@example.org"},
}

func corpusKeyRings(t *testing.T, dir string) map[string]KeyRing {
	k := func(n string) string { return filepath.Join(dir, "openpgp", "keys", n) }
	tb := loadKeys(t, k("alice@openpgp.example-0xf231550c4f47e38e-secret.asc"), k("bob@openpgp.example-0xfbfcc82a015e7330-secret.asc"),
		k("carol@example.com-0x3099ff1238852b9f-secret.asc"), k("carol@pgp.icu-0xEF2FD01608AFD744-revoked-secret.asc"))
	if err := tb[2].Unlock([]byte("x")); err != nil {
		t.Fatal(err)
	}
	return map[string]KeyRing{
		ksTB: tb,
		ksAliceOnly: loadKeys(t, k("alice@openpgp.example-0xf231550c4f47e38e-secret.asc"), k("bob@openpgp.example-0xfbfcc82a015e7330-pub.asc"),
			k("carol@example.com-0x3099ff1238852b9f-pub.asc")),
		ksDC: loadKeys(t, k("deltachat/alice-secret.asc"), k("deltachat/bob-secret.asc"), k("deltachat/thunderbird-alice@example.org-0x25F0072459E47AE2-pub.asc")),
	}
}

// TestOpenPGPCorpus checks every OpenPGP message of the interop corpus
// against the outcome its README gives.
func TestOpenPGPCorpus(t *testing.T) {
	dir := cryptotest.Corpus(t)
	rings := corpusKeyRings(t, dir)
	files, _ := filepath.Glob(filepath.Join(dir, "openpgp", "eml", "*.eml"))
	more, _ := filepath.Glob(filepath.Join(dir, "openpgp", "eml", "deltachat", "*.eml"))
	covered := map[string]bool{}
	for _, row := range pgpCorpus {
		covered[row.file] = true
	}
	for _, f := range append(files, more...) {
		rel, _ := filepath.Rel(filepath.Join(dir, "openpgp", "eml"), f)
		if !covered[filepath.ToSlash(rel)] {
			t.Errorf("corpus file %s has no row", rel)
		}
	}
	for _, row := range pgpCorpus {
		name := row.file
		if row.attached {
			name += "/attached"
		}
		t.Run(name+"/"+row.keys+row.pass, func(t *testing.T) {
			data := cryptotest.ReadFile(t, filepath.Join(dir, "openpgp", "eml", row.file))
			if row.attached {
				data = attachedMessage(t, data)
			}
			keys := rings[row.keys]
			var out bytes.Buffer
			res, err := Decrypt(&out, bytes.NewReader(data), keys, DecryptOptions{Passphrase: []byte(row.pass)})
			switch row.dec {
			case "":
				if !errors.Is(err, ErrNotEncrypted) {
					t.Fatalf("Decrypt: %v, want ErrNotEncrypted", err)
				}
			case "fail":
				if err == nil || errors.Is(err, ErrNotEncrypted) {
					t.Fatalf("Decrypt: %v, want a decryption error", err)
				}
				return
			case "ok":
				if err != nil {
					t.Fatalf("Decrypt: %v", err)
				}
				if !res.Encrypted {
					t.Errorf("result not Encrypted: %+v", res)
				}
				if row.text != "" && !strings.Contains(allText(out.Bytes()), row.text) {
					t.Errorf("decrypted text lacks %q:\n%s", row.text, out.Bytes())
				}
				if res.Partial != row.partial {
					t.Errorf("Partial = %v", res.Partial)
				}
			}
			var sig SignatureResult
			var verr error
			switch {
			case row.dec == "ok" && res.Signature.Signed:
				sig = res.Signature
			case row.dec == "ok":
				sig, verr = Verify(bytes.NewReader(out.Bytes()), keys, VerifyOptions{})
			default:
				sig, verr = Verify(bytes.NewReader(data), keys, VerifyOptions{})
			}
			if errors.Is(verr, ErrNotSigned) {
				verr = nil
			} else if verr != nil {
				t.Fatalf("Verify: %v", verr)
			}
			if sig.Status != row.sig {
				t.Fatalf("signature %v, want %v: %+v", sig.Status, row.sig, sig)
			}
			if row.signer != "" && sig.Signer != row.signer {
				t.Errorf("signer %q, want %q", sig.Signer, row.signer)
			}
			if row.sig == StatusMismatch && !sig.CryptoValid {
				t.Errorf("mismatch without a cryptographically valid signature: %+v", sig)
			}
			if row.dec == "" && sig.Partial != row.partial {
				t.Errorf("signature Partial = %v", sig.Partial)
			}
			if row.outer != StatusNone {
				o, _ := Verify(bytes.NewReader(data), keys, VerifyOptions{})
				if o.Status != row.outer {
					t.Errorf("outer signature %v, want %v", o.Status, row.outer)
				}
				if !res.OuterSignatureIgnored {
					t.Errorf("OuterSignatureIgnored not set")
				}
			}
		})
	}
}

// attachedMessage returns the first message/rfc822 part of a multipart.
func attachedMessage(t *testing.T, data []byte) []byte {
	t.Helper()
	var find func(e *mimeutil.Entity) []byte
	find = func(e *mimeutil.Entity) []byte {
		if e.MediaType == "message/rfc822" {
			b, _ := e.Decoded()
			return b
		}
		parts, _ := e.Parts()
		for _, p := range parts {
			if b := find(p); b != nil {
				return b
			}
		}
		return nil
	}
	b := find(mimeutil.ParseEntity(data))
	if b == nil {
		t.Fatal("no attached message")
	}
	return b
}

// allText returns the decoded bodies of all leaf parts.
func allText(b []byte) string {
	var sb strings.Builder
	var walk func(e *mimeutil.Entity, depth int)
	walk = func(e *mimeutil.Entity, depth int) {
		if parts, err := e.Parts(); err == nil && depth < 10 {
			for _, p := range parts {
				walk(p, depth+1)
			}
			return
		}
		d, err := e.Decoded()
		if err != nil {
			d = e.Body
		}
		sb.Write(d)
		sb.WriteByte('\n')
	}
	walk(mimeutil.ParseEntity(b), 0)
	return sb.String()
}
