package pgpmime

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// VerifyOptions configures Verify.
type VerifyOptions struct {
	// Now is the clock for key validity; nil means time.Now.
	Now func() time.Time
	// MaxDateSkew bounds |Date header - signature time| before the result
	// is StatusMismatch; 0 means MaxDateSkew (the constant), negative
	// disables the check.
	MaxDateSkew time.Duration
}

// Verify checks the OpenPGP signature of a message: PGP/MIME
// multipart/signed (also as the first part of a multipart/mixed, as mailing
// lists produce; the result is then Partial), an inline cleartext
// signature in the text body, or an armored OpenPGP message in the text
// body that is signed but not encrypted (`sq sign`, `gpg --sign --armor`). The signed part is hashed in canonical CRLF
// form. keys holds the public keys of possible signers. The result says
// whether and why the signature is (not) valid; ErrNotSigned means there is
// no OpenPGP signature at all.
func Verify(msg io.Reader, keys KeyRing, opts VerifyOptions) (SignatureResult, error) {
	data, err := io.ReadAll(io.LimitReader(msg, MaxBufferedSize+1))
	if err != nil {
		return SignatureResult{}, err
	}
	if len(data) > MaxBufferedSize {
		return SignatureResult{}, ErrTooLarge
	}
	top := mimeutil.ParseEntity(data)
	res, err := verifyEntity(top, keys, opts, true)
	if err != nil {
		return res, err
	}
	date := top.Header.Get("Date")
	if opts.MaxDateSkew < 0 {
		date = ""
	}
	res.checkSender(top.Header.Values("From"), date, signerEmails(keys, res.Fingerprint), opts.MaxDateSkew)
	return res, nil
}

func signerEmails(keys KeyRing, fpr string) []string {
	for _, k := range keys {
		if k.Fingerprint() == fpr {
			return k.Emails()
		}
	}
	return nil
}

func verifyEntity(e *mimeutil.Entity, keys KeyRing, opts VerifyOptions, top bool) (SignatureResult, error) {
	switch {
	case e.MediaType == "multipart/signed" && strings.EqualFold(e.Params["protocol"], "application/pgp-signature"):
		parts, err := e.Parts()
		if err != nil || len(parts) < 2 {
			return SignatureResult{Signed: true, Status: StatusBad, Reason: "multipart/signed without a signature part"}, nil
		}
		sigData, err := parts[1].Decoded()
		if err != nil {
			return SignatureResult{Signed: true, Status: StatusBad, Reason: "undecodable signature part"}, nil
		}
		return verifyDetached(mimeutil.CanonicalCRLF(parts[0].Raw), sigData, keys, opts), nil
	case e.MediaType == "multipart/signed":
		// Another protocol's signature (S/MIME) around a PGP/MIME one.
		parts, err := e.Parts()
		if err == nil && len(parts) > 0 && parts[0].MediaType == "multipart/signed" {
			return verifyEntity(parts[0], keys, opts, false)
		}
	case e.MediaType == "multipart/mixed" && top:
		parts, err := e.Parts()
		if err != nil || len(parts) == 0 {
			return SignatureResult{}, ErrNotSigned
		}
		if parts[0].MediaType == "multipart/signed" {
			r, err := verifyEntity(parts[0], keys, opts, false)
			if err == nil && len(parts) > 1 {
				r.Partial = true
			}
			return r, err
		}
	case e.MediaType == "text/plain":
		text, err := e.Decoded()
		if err == nil && !bytes.Contains(text, []byte(beginSigned)) && bytes.Contains(text, []byte(beginMessage)) {
			return verifyInlineMessage(text, e.Header, keys, opts)
		}
		if err != nil || !bytes.Contains(text, []byte(beginSigned)) {
			return SignatureResult{}, ErrNotSigned
		}
		before, block, after, ok := cutBlock(text, beginSigned, endSignature)
		if !ok {
			return SignatureResult{Signed: true, Status: StatusBad, Reason: "truncated cleartext signature"}, nil
		}
		b, _ := clearsign.Decode(bytes.TrimLeft(block, " \t"))
		if b == nil {
			return SignatureResult{Signed: true, Status: StatusBad, Reason: "malformed cleartext signature"}, nil
		}
		sig, err := io.ReadAll(b.ArmoredSignature.Body)
		if err != nil {
			return SignatureResult{Signed: true, Status: StatusBad, Reason: "malformed signature armor"}, nil
		}
		r := verifyBinary(b.Bytes, sig, keys, opts)
		r.Partial = len(bytes.TrimSpace(before)) > 0 || len(bytes.TrimSpace(after)) > 0
		return r, nil
	}
	return SignatureResult{}, ErrNotSigned
}

// verifyDetached checks an armored (or binary) detached signature.
func verifyDetached(signed, sigData []byte, keys KeyRing, opts VerifyOptions) SignatureResult {
	bad := func(reason string) SignatureResult {
		return SignatureResult{Signed: true, Status: StatusBad, Reason: reason}
	}
	raw := sigData
	if t := bytes.TrimSpace(sigData); bytes.HasPrefix(t, []byte("-----BEGIN")) {
		if err := checkArmorCRC(t); err != nil {
			return bad(err.Error())
		}
		blk, err := armor.Decode(bytes.NewReader(t))
		if err != nil {
			return bad("malformed signature armor: " + err.Error())
		}
		if blk.Type != "PGP SIGNATURE" {
			return bad("signature part holds " + blk.Type)
		}
		raw, err = io.ReadAll(blk.Body)
		if err != nil {
			return bad("malformed signature armor: " + err.Error())
		}
	}
	return verifyBinary(signed, raw, keys, opts)
}

func verifyBinary(signed, sig []byte, keys KeyRing, opts VerifyOptions) SignatureResult {
	p, err := packet.Read(bytes.NewReader(sig))
	if errors.As(err, new(pgperrors.UnsupportedError)) {
		return SignatureResult{Signed: true, Status: StatusUnsupported, Reason: "cannot check: " + err.Error()}
	}
	if err != nil {
		return SignatureResult{Signed: true, Status: StatusBad, Reason: "no signature data: " + err.Error()}
	}
	sp, ok := p.(*packet.Signature)
	if !ok {
		return SignatureResult{Signed: true, Status: StatusBad, Reason: "signature part holds no signature packet"}
	}
	var issuer uint64
	if sp.IssuerKeyId != nil {
		issuer = *sp.IssuerKeyId
	}
	cfg := packetConfig(opts.Now)
	vsig, signer, err := openpgp.VerifyDetachedSignature(keys.entities(), bytes.NewReader(signed), bytes.NewReader(sig), cfg)
	if vsig == nil {
		vsig = sp
	}
	if signer == nil && issuer != 0 {
		if es := keys.entities().EntitiesById(issuer); len(es) > 0 {
			signer = es[0]
		}
	}
	return resultFromCheck(vsig, issuer, signer, err, keys)
}

// checkArmorCRC verifies the optional CRC-24 of an armored block; go-crypto
// ignores it, but a damaged checksum means a damaged signature.
func checkArmorCRC(armored []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(armored))
	sc.Buffer(make([]byte, 0, 64<<10), MaxBufferedSize)
	var b64 strings.Builder
	crc := ""
	state := 0 // 0 before begin, 1 headers, 2 body
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case state == 0 && strings.HasPrefix(l, "-----BEGIN"):
			state = 1
		case state == 1:
			if l == "" {
				state = 2
			} else if !strings.Contains(l, ": ") {
				state = 2
				b64.WriteString(l)
			}
		case state == 2 && strings.HasPrefix(l, "-----END"):
			state = 3
		case state == 2 && strings.HasPrefix(l, "=") && len(l) == 5:
			crc = l[1:]
		case state == 2:
			b64.WriteString(l)
		}
	}
	if crc == "" {
		return nil
	}
	data, err := base64.StdEncoding.DecodeString(b64.String())
	if err != nil {
		return fmt.Errorf("malformed signature armor: %v", err)
	}
	want, err := base64.StdEncoding.DecodeString(crc)
	if err != nil || len(want) != 3 {
		return fmt.Errorf("malformed armor checksum")
	}
	got := crc24(crc24Init, data)
	if byte(got>>16) != want[0] || byte(got>>8) != want[1] || byte(got) != want[2] {
		return fmt.Errorf("armor checksum mismatch: signature damaged")
	}
	return nil
}
