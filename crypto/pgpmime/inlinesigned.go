package pgpmime

import (
	"bytes"
	"io"

	"github.com/sealgate/sealgate/crypto/mimeutil"
)

// verifyInlineMessage checks an armored OpenPGP message in a text body that
// is signed but not encrypted (one-pass signature and literal data, as
// `sq sign`, `rnp --sign --armor` and `gpg --sign --armor` make it). An
// encrypted or unsigned message is ErrNotSigned. The literal data is read
// to the end through readMessage, under the same limits as decryption.
func verifyInlineMessage(text []byte, outer mimeutil.Header, keys KeyRing, opts VerifyOptions) (SignatureResult, error) {
	before, block, after, ok := cutBlock(text, beginMessage, endMessage)
	if !ok {
		return SignatureResult{}, ErrNotSigned
	}
	body, err := openPayload(bytes.NewReader(normalizeArmor(block)))
	if err != nil {
		return SignatureResult{}, ErrNotSigned
	}
	dopts := DecryptOptions{Now: opts.Now}
	// A signed message may be compressed: its plaintext is bounded like a decrypted one's.
	budget := newBudget(dopts)
	md, all, err := readMessage(body, keys, dopts, budget)
	if err != nil || md.IsEncrypted || !md.IsSigned {
		return SignatureResult{}, ErrNotSigned
	}
	if _, err := io.Copy(io.Discard, budget.limit(md.UnverifiedBody)); err != nil && md.SignatureError == nil {
		return SignatureResult{Signed: true, Status: StatusBad, Reason: "damaged signed message: " + err.Error()}, nil
	}
	var res Result
	finishSignature(&res, md, all, outer, dopts)
	r := res.Signature
	r.Partial = r.Partial || len(bytes.TrimSpace(before)) > 0 || len(bytes.TrimSpace(after)) > 0
	return r, nil
}
