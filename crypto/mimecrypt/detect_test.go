package mimecrypt

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sealgate/sealgate/crypto/internal/cryptotest"
)

// detectCorpus gives the classification of every message in the interop
// corpus, checked by hand against its README (EFAIL multipart/alternative
// and encryption behind multipart/mixed are not "encrypted"; the Exchange
// and Google manglings are repaired PGP/MIME; forwarded messages stay
// plain).
var detectCorpus = []struct {
	file     string
	layers   []Kind
	partial  bool
	repaired bool
	parts    []Kind
}{
	{"openpgp/eml/alice-broken-exchange.eml", []Kind{PGPEncrypted}, false, true, []Kind{}},
	{"openpgp/eml/alice-signed.eml", []Kind{PGPInlineSigned}, false, false, []Kind{}},
	{"openpgp/eml/alice-utf.eml", []Kind{PGPInlineSigned}, false, false, []Kind{}},
	{"openpgp/eml/bob-enc-html-nbsp.eml", []Kind{PGPInlineEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/bob-enc-inline-nbsp-qp.eml", []Kind{PGPInlineEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/bob-to-alice-signed-damaged-signature.eml", []Kind{PGPSigned}, false, false, []Kind{}},
	{"openpgp/eml/dual-signed-uncommon-content-type.eml", []Kind{SMIMESignedDetached, PGPSigned}, false, false, []Kind{}},
	{"openpgp/eml/enc-to-carol@pgp.icu-revoked.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/encrypted-and-signed-alice-to-bob-nonascii.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/encrypted-to-alice-as-hidden-recipient.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/encryptedNestedMessages.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/eve-duplicate.eml", []Kind{Plain}, false, false, []Kind{}},
	{"openpgp/eml/forwarded-eml-signed-by-alice.eml", []Kind{Plain}, false, false, []Kind{}},
	{"openpgp/eml/fwd-signed.eml", []Kind{Plain}, false, false, []Kind{}},
	{"openpgp/eml/fwd-unsigned-encrypted.eml", []Kind{Plain}, false, false, []Kind{}},
	{"openpgp/eml/inline-signed-latin1.eml", []Kind{PGPInlineSigned}, false, false, []Kind{}},
	{"openpgp/eml/inline-signed-utf8.eml", []Kind{PGPInlineSigned}, false, false, []Kind{}},
	{"openpgp/eml/inner-smime-sig-in-pgp-encrypted.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/msg-with-enc-openpgp-inline.eml", []Kind{PGPInlineEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/multiple-signatures.eml", []Kind{Plain}, false, false, []Kind{}},
	{"openpgp/eml/openpgp__stripped_sig.eml", []Kind{PGPSigned}, false, false, []Kind{}},
	{"openpgp/eml/outer-pgp-sig-inner-pgp-enc-sig.eml", []Kind{PGPSigned, PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/outer-pgp-sig-inner-pgp-enc-with-mixed.eml", []Kind{PGPSigned}, false, false, []Kind{PGPEncrypted}},
	{"openpgp/eml/outer-pgp-sig-inner-pgp-enc.eml", []Kind{PGPSigned, PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/outer-smime-bad-sig-inner-pgp-enc-sig-with-mixed.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{PGPEncrypted}},
	{"openpgp/eml/outer-smime-bad-sig-inner-pgp-enc-sig.eml", []Kind{SMIMESignedDetached, PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/outer-smime-bad-sig-inner-pgp-enc.eml", []Kind{SMIMESignedDetached, PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/partial-encrypt-for-alice-html.eml", []Kind{PGPInlineEncrypted}, true, false, []Kind{}},
	{"openpgp/eml/partial-encrypt-for-alice-plaintext.eml", []Kind{PGPInlineEncrypted}, true, false, []Kind{}},
	{"openpgp/eml/partial-encrypt-for-carol-html.eml", []Kind{PGPInlineEncrypted}, true, false, []Kind{}},
	{"openpgp/eml/partial-encrypt-for-carol-plaintext.eml", []Kind{PGPInlineEncrypted}, true, false, []Kind{}},
	{"openpgp/eml/signed-by-0x3099ff1238852b9f-encrypted-to-0xf231550c4f47e38e-with-key.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/signed-by-0x3099ff1238852b9f-encrypted-to-0xf231550c4f47e38e.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/signed-by-0x3099ff1238852b9f-to-0xf231550c4f47e38e-unencrypted-with-key.eml", []Kind{PGPSigned}, false, false, []Kind{}},
	{"openpgp/eml/signed-by-0x3099ff1238852b9f-to-0xf231550c4f47e38e-unencrypted.eml", []Kind{PGPSigned}, false, false, []Kind{}},
	{"openpgp/eml/signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e-multi-from.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e-with-key.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/signed-by-0xfbfcc82a015e7330-encrypted-to-0xf231550c4f47e38e.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/signed-by-0xfbfcc82a015e7330-to-0xf231550c4f47e38e-unencrypted-in-mixed.eml", []Kind{PGPSigned}, true, false, []Kind{}},
	{"openpgp/eml/signed-by-0xfbfcc82a015e7330-to-0xf231550c4f47e38e-unencrypted-with-key.eml", []Kind{PGPSigned}, false, false, []Kind{}},
	{"openpgp/eml/signed-by-0xfbfcc82a015e7330-to-0xf231550c4f47e38e-unencrypted.eml", []Kind{PGPSigned}, false, false, []Kind{}},
	{"openpgp/eml/signed-encrypted-autocrypt-gossip.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/signed-inline-indented.eml", []Kind{PGPInlineSigned}, false, false, []Kind{}},
	{"openpgp/eml/signed-mismatch-email-date.eml", []Kind{PGPSigned}, false, false, []Kind{}},
	{"openpgp/eml/signed-with-mailman-footer.eml", []Kind{PGPSigned}, true, false, []Kind{}},
	{"openpgp/eml/sigspoof-git-commit.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/unob-signed-by-0x3099ff1238852b9f-to-0xf231550c4f47e38e.eml", []Kind{Plain}, false, false, []Kind{}},
	{"openpgp/eml/unrelated-and-fake-keys-attached.eml", []Kind{Plain}, false, false, []Kind{}},
	{"openpgp/eml/unsigned-encrypted-to-0xf231550c4f47e38e-from-0x3099ff1238852b9f-with-key.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/unsigned-encrypted-to-0xf231550c4f47e38e-from-0x3099ff1238852b9f.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/unsigned-encrypted-to-0xf231550c4f47e38e-from-0xfbfcc82a015e7330-with-key.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/unsigned-encrypted-to-0xf231550c4f47e38e-from-0xfbfcc82a015e7330.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/unsigned-unencrypted-0x3099ff1238852b9f-autocrypt.eml", []Kind{Plain}, false, false, []Kind{}},
	{"openpgp/eml/unsigned-unencrypted-from-bob-to-alice.eml", []Kind{Plain}, false, false, []Kind{}},
	{"openpgp/eml/unsigned-unencrypted-key-0x1f10171bfb881b1c-attached.eml", []Kind{Plain}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/alice_to_bob_no_intended_recipient_fingerprint.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/encrypted-group-without-id.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/encrypted-signed.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/encrypted_with_received_headers.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/google-workspace-mixed-up.eml", []Kind{PGPEncrypted}, false, true, []Kind{}},
	{"openpgp/eml/deltachat/mailinglist_with_mimepart_footer_signed.eml", []Kind{PGPSigned}, true, false, []Kind{}},
	{"openpgp/eml/deltachat/protonmail-mixed-up.eml", []Kind{PGPEncrypted}, false, true, []Kind{}},
	{"openpgp/eml/deltachat/protonmail-repaired.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/rfc1847_encapsulation.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/schleuder.eml", []Kind{PGPSigned}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/text_from_alice_encrypted.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/text_symmetrically_encrypted.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/thunderbird_encrypted_signed.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/thunderbird_encrypted_signed_with_pubkey.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/thunderbird_encrypted_unsigned.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/thunderbird_encrypted_unsigned_with_unencrypted_subject.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/thunderbird_signed_unencrypted.eml", []Kind{PGPSigned}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/thunderbird_with_autocrypt.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/thunderbird_with_autocrypt_unencrypted.eml", []Kind{PGPSigned}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/thunderbird_with_multiple_autocrypts.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/unencrypted_signed_simple.eml", []Kind{PGPSigned}, false, false, []Kind{}},
	{"openpgp/eml/deltachat/verification-gossip-also-sent-to-from.eml", []Kind{PGPEncrypted}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA1.multipart.bad.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA1.multipart.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA1.multipart.env.eml", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA1.multipart.mismatch-econtent.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA256.multipart.bad.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA256.multipart.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA256.multipart.env.eml", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA256.multipart.mismatch-econtent.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA384.multipart.bad.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA384.multipart.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA384.multipart.env.eml", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA384.multipart.mismatch-econtent.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA512.multipart.bad.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA512.multipart.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA512.multipart.env.eml", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.dsig.SHA512.multipart.mismatch-econtent.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.env.dsig.SHA1.multipart.dave.sig.SHA1.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.env.dsig.SHA1.multipart.eml", []Kind{SMIMESignedDetached, SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.env.dsig.SHA256.multipart.dave.sig.SHA256.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.env.dsig.SHA256.multipart.eml", []Kind{SMIMESignedDetached, SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.env.dsig.SHA384.multipart.dave.sig.SHA384.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.env.dsig.SHA384.multipart.eml", []Kind{SMIMESignedDetached, SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.env.dsig.SHA512.multipart.dave.sig.SHA512.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.env.dsig.SHA512.multipart.eml", []Kind{SMIMESignedDetached, SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.env.eml", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.env.sig.SHA1.opaque.dave.sig.SHA1.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.env.sig.SHA1.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.env.sig.SHA256.opaque.dave.sig.SHA256.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.env.sig.SHA256.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.env.sig.SHA384.opaque.dave.sig.SHA384.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.env.sig.SHA384.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.env.sig.SHA512.opaque.dave.sig.SHA512.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.env.sig.SHA512.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.future.dsig.SHA256.multipart.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.html.sig.SHA1.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.html.sig.SHA1.opaque.env.eml", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.html.sig.SHA256.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.html.sig.SHA256.opaque.env.eml", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.html.sig.SHA384.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.html.sig.SHA384.opaque.env.eml", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.html.sig.SHA512.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.html.sig.SHA512.opaque.env.eml", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.plain.dsig.SHA1.multipart.dave.dsig.SHA1.multipart.eml", []Kind{SMIMESignedDetached, SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.plain.dsig.SHA1.multipart.dave.sig.SHA1.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.plain.dsig.SHA256.multipart.dave.dsig.SHA256.multipart.eml", []Kind{SMIMESignedDetached, SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.plain.dsig.SHA256.multipart.dave.sig.SHA256.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.plain.dsig.SHA384.multipart.dave.dsig.SHA384.multipart.eml", []Kind{SMIMESignedDetached, SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.plain.dsig.SHA384.multipart.dave.sig.SHA384.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.plain.dsig.SHA512.multipart.dave.dsig.SHA512.multipart.eml", []Kind{SMIMESignedDetached, SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/alice.plain.dsig.SHA512.multipart.dave.sig.SHA512.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.plain.sig.SHA1.opaque.dave.dsig.SHA1.multipart.eml", []Kind{SMIMESignedDetached, SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.plain.sig.SHA1.opaque.dave.sig.SHA1.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.plain.sig.SHA256.opaque.dave.dsig.SHA256.multipart.eml", []Kind{SMIMESignedDetached, SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.plain.sig.SHA256.opaque.dave.sig.SHA256.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.plain.sig.SHA384.opaque.dave.dsig.SHA384.multipart.eml", []Kind{SMIMESignedDetached, SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.plain.sig.SHA384.opaque.dave.sig.SHA384.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.plain.sig.SHA512.opaque.dave.dsig.SHA512.multipart.eml", []Kind{SMIMESignedDetached, SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.plain.sig.SHA512.opaque.dave.sig.SHA512.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.sig.SHA1.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.sig.SHA1.opaque.env.eml", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.sig.SHA256.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.sig.SHA256.opaque.env.eml", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.sig.SHA384.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.sig.SHA384.opaque.env.eml", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/alice.sig.SHA512.opaque.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/alice.sig.SHA512.opaque.env.eml", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/manual/alice.dsig.SHA256.multipart.env.dsig.eml", []Kind{SMIMESignedDetached, SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/manual/alice.env.mixed.dsig.SHA256.multipart.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{SMIMEEnveloped}},
	{"smime/manual/outer-pgp-sig-inner-smime-enc-sig.eml", []Kind{PGPSigned, SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/manual/outer-pgp-sig-inner-smime-enc.eml", []Kind{PGPSigned, SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/manual/outer-smime-bad-sig-inner-smime-enc-sig.eml", []Kind{SMIMESignedDetached, SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/manual/outer-smime-bad-sig-inner-smime-enc.eml", []Kind{SMIMESignedDetached, SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/mochitest/alice.dsig.SHA256.multipart.in.mixed.eml", []Kind{SMIMESignedDetached}, true, false, []Kind{}},
	{"smime/mochitest/alice.dsig.SHA256.multipart.in.mixed.with.header.eml", []Kind{Plain}, false, false, []Kind{SMIMESignedDetached}},
	{"smime/mochitest/alice.html.sig.SHA256.opaque.older-generation.eml", []Kind{SMIMESignedOpaque}, false, false, []Kind{}},
	{"smime/mochitest/multipart-alternative.eml", []Kind{Plain}, false, false, []Kind{SMIMEEnveloped, SMIMEEnveloped}},
	{"smime/mochitest/nested-sigs.eml", []Kind{SMIMESignedDetached}, false, false, []Kind{}},
	{"smime/openssl-interop/fran-ec_ossl-aes128-sha256.env", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/openssl-interop/fran-ec_ossl-aes256-sha512.env", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/openssl-interop/fran-oaep-label_ossl.env", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/openssl-interop/fran-oaep-sha256hash-sha256mgf_ossl.env", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/openssl-interop/fran-oaep-sha256hash_ossl.env", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
	{"smime/openssl-interop/fran-oaep_ossl.env", []Kind{SMIMEEnveloped}, false, false, []Kind{}},
}

func TestDetectCorpus(t *testing.T) {
	dir := cryptotest.Corpus(t)
	seen := map[string]bool{}
	for _, row := range detectCorpus {
		seen[row.file] = true
		t.Run(row.file, func(t *testing.T) {
			got := DetectBytes(cryptotest.ReadFile(t, filepath.Join(dir, row.file)))
			if !slices.Equal(got.Layers, row.layers) || got.Kind != row.layers[0] || got.Partial != row.partial ||
				got.Repaired != row.repaired || !slices.Equal(got.Parts, row.parts) && len(got.Parts)+len(row.parts) > 0 {
				t.Errorf("got %+v, want layers %v partial %v repaired %v parts %v", got, row.layers, row.partial, row.repaired, row.parts)
			}
		})
	}
	for _, g := range []string{"openpgp/eml/*.eml", "openpgp/eml/deltachat/*.eml", "smime/*.eml", "smime/*/*.eml", "smime/openssl-interop/*.env"} {
		files, _ := filepath.Glob(filepath.Join(dir, g))
		for _, f := range files {
			rel, _ := filepath.Rel(dir, f)
			if !seen[filepath.ToSlash(rel)] {
				t.Errorf("%s has no detection row", rel)
			}
		}
	}
}

func FuzzDetect(f *testing.F) {
	f.Add([]byte("Content-Type: multipart/signed; protocol=\"application/pgp-signature\"; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b\r\n\r\nsig\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: application/pkcs7-mime\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIAC\r\n"))
	f.Add([]byte("Content-Type: text/plain\r\n\r\n-----BEGIN PGP MESSAGE-----\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: application/pgp-encrypted\n\n--x\nContent-Type: application/octet-stream\n\n--x--\n"))
	if dir := filepath.Join(cryptotest.RepoRoot(f), "..", "shared", "interop-corpus"); dirExists(dir) {
		for _, row := range detectCorpus[:20] {
			if b, err := os.ReadFile(filepath.Join(dir, row.file)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := DetectBytes(b)
		if len(r.Layers) == 0 || r.Kind != r.Layers[0] {
			t.Fatalf("inconsistent result %+v", r)
		}
	})
}

func dirExists(d string) bool {
	st, err := os.Stat(d)
	return err == nil && st.IsDir()
}

// BenchmarkDetectCorpus classifies every message of the interop corpus (MIME parsing of
// PGP/MIME, S/MIME and plain messages from Thunderbird, OpenSSL and Delta Chat): the pipeline
// does this for every message it takes.
func BenchmarkDetectCorpus(b *testing.B) {
	dir := cryptotest.Corpus(b)
	var msgs [][]byte
	size := 0
	for _, row := range detectCorpus {
		m := cryptotest.ReadFile(b, filepath.Join(dir, row.file))
		msgs = append(msgs, m)
		size += len(m)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			DetectBytes(m)
		}
	}
}
