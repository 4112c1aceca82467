// Package pgpmime turns whole mail messages into their OpenPGP forms and back.
//
// It implements PGP/MIME (RFC 3156) on top of OpenPGP (RFC 9580 and RFC
// 4880) as provided by github.com/ProtonMail/go-crypto/openpgp/v2, which
// is used only here (and in the keys package):
//
//   - Encrypt writes a multipart/encrypted message to one or more
//     recipients, optionally signed inside the same OpenPGP message (RFC
//     3156 §6.2 combined method) and optionally with protected headers (RFC
//     9788 and the legacy protected-headers="v1", crypto/internal/hdrprot):
//     the real Subject travels inside the encrypted part and the outer
//     Subject becomes "...". Decrypt reads both forms back.
//     The packet format follows the recipients: SEIPDv1 (MDC) unless every
//     recipient key advertises SEIPDv2/AEAD, so GnuPG 2.2 reads the output.
//     Post-quantum recipients (RFC 9980 ML-KEM-768+X25519 subkeys) are
//     encrypted to like any other, with AES-256.
//   - Sign writes multipart/signed; micalg=pgp-<hash>;
//     protocol="application/pgp-signature" with a detached signature over
//     the canonical (CRLF) form of the signed part.
//   - Decrypt reads PGP/MIME (also the Exchange-mangled multipart/mixed
//     variant and PGP/MIME wrapped in a multipart/signed or behind a trivial
//     text part) and inline PGP (armored blocks in text/plain or text/html).
//   - Verify checks multipart/signed detached signatures and inline
//     cleartext signatures. Signatures inside an encrypted message are
//     reported by Decrypt; a multipart/signed found after decryption is
//     checked by calling Verify on Decrypt's output.
//
// Results, not errors: a bad, unknown or mismatching signature is a
// SignatureResult; an error means the input could not be processed (for
// example ErrNotEncrypted, ErrNoKey, ErrMalformed). Decrypt writes the
// plaintext while it reads; when it returns an error the output must be
// discarded (an integrity failure of the ciphertext is only known at its end).
//
// Streaming and memory: Encrypt and Decrypt of PGP/MIME stream; memory does
// not grow with the message. Verify of multipart/signed and the inline forms
// buffer the message, up to MaxBufferedSize.
//
// Hostile input: the plaintext that decryption and decompression of one message produce,
// all inline blocks and nested compression layers together, is bounded by
// DecryptOptions.MaxPlaintext (ErrTooLarge beyond it; the decompressors are never read
// further), and at most MaxTrialDecryptions private-key operations (or, with
// DecryptOptions.Passphrase, key derivations) are spent on the session key packets of one
// message, wildcard recipients included: a message whose key is behind them is one that
// cannot be decrypted (ErrNoKey).
//
// Byte-exactness: header fields that are not transformed are copied as they
// were, the signed part of a multipart/signed is hashed and kept as
// received (only line endings are canonicalised for hashing), and the
// decrypted entity is written as it was inside the ciphertext.
//
// Clocks are injectable: every options struct has a Now field; nil means
// time.Now.
package pgpmime
