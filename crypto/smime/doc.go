// Package smime turns whole mail messages into their S/MIME forms and back
// (S/MIME 4.0, RFC 8551; CMS, RFC 5652).
//
// Produced formats:
//   - Encrypt: application/pkcs7-mime; smime-type=enveloped-data with
//     EnvelopedData and AES-256-CBC by default (AES-128-CBC optional), or
//     smime-type=authEnveloped-data with AuthEnvelopedData and AES-GCM (RFC
//     5083, RFC 5084). RSA recipients get PKCS#1 v1.5 key transport, or
//     RSAES-OAEP with SHA-256 (RFC 8017/4055); EC recipients get ECDH key
//     agreement, dhSinglePass-stdDH-sha256kdf with AES key wrap (RFC 5753).
//   - Sign: multipart/signed; protocol="application/pkcs7-signature";
//     micalg=sha-256 with a detached SignedData (default), or opaque
//     application/pkcs7-mime; smime-type=signed-data. SHA-256, RSA
//     (PKCS#1 v1.5; RSASSA-PSS when the key is PSS-restricted, RFC 4055)
//     or ECDSA keys, the signer certificate (and the given chain)
//     included, signingTime from the injected clock.
//
// Read formats: everything above plus what OpenSSL, NSS (Thunderbird) and
// Outlook produce: BER indefinite lengths, key transport with OAEP and its
// SHA-2/MGF/label variants, ECDH (standard and cofactor mode) with the
// SHA-1..SHA-512 KDFs, AES-CBC, 3DES-CBC and AES-GCM, RSASSA-PSS
// signatures, and the older application/x-pkcs7-* names.
//
// RSASSA-PSS keys: crypto/x509 leaves their certificates without a public
// key and refuses their PKCS #8 form; ParseCertificate, ParseCertificates
// and ParsePrivateKey read them, and every certificate of a message goes
// through the same repair. Such a key only signs: Encrypt refuses it
// (ErrBadCertificate), as OpenSSL does.
//
// Verify always checks the chain to caller-given trust roots at a given
// time (there is no verify without a trust store: ErrNoTrustStore), the
// signing time against the certificate validity, the key usage and
// extended key usage (emailProtection), and that the message's From
// address is one of the signer certificate's addresses. Detached
// signatures are checked over the canonical (CRLF) form of the signed part.
// SHA-1 signatures fail unless VerifyOptions.AllowSHA1 is set. A signature
// without its certificate is checked against VerifyOptions.Certificates
// (the keyring's); VerifyOptions.TrustedSigners are self-signed
// certificates trusted for their own signatures only. The outcome is a SignatureResult whose Status is a
// crypto/verdict outcome (pass, fail, untrusted, mismatch, or — when the
// signature could not be checked at all — unknown signer or unsupported,
// which are never fail), with a reason; errors are for input that cannot
// be processed.
//
// Size cap: CMS is processed in memory; messages above MaxMessageSize
// (64 MiB) are refused with ErrTooLarge.
//
// Byte-exactness: header fields that are not transformed are copied as
// they were; the signed part of a multipart/signed is hashed and kept as
// received; decryption and unwrapping write the inner entity as it was.
//
// Header protection (RFC 9788 with the legacy protected-headers="v1",
// crypto/internal/hdrprot): Encrypt and Sign copy the header into the
// protected entity when asked; decryption and unwrapping merge the
// protected header fields into the message header, each field once.
//
// Clocks are injectable: every options struct has a Now field.
package smime
