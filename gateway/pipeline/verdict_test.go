package pipeline

import (
	"testing"

	"github.com/emersion/go-msgauth/authres"

	"github.com/sealgate/sealgate/crypto/verdict"
	"github.com/sealgate/sealgate/policy"
)

// One row per outcome: the Sealgate-Security signature= value and the RFC 7281 smime= result.
// A signature that could not be checked is never "fail".
func TestVerdictMapping(t *testing.T) {
	for _, c := range []struct {
		s         sigInfo
		header    string
		smimeAuth authres.ResultValue
	}{
		{sigInfo{status: verdict.None}, "none", ""},
		{sigInfo{status: verdict.Pass}, "pass", authres.ResultPass},
		{sigInfo{status: verdict.Fail}, "fail", authres.ResultFail},
		{sigInfo{status: verdict.Mismatch}, "fail", authres.ResultPolicy},
		{sigInfo{status: verdict.Untrusted}, "untrusted", authres.ResultPolicy},
		{sigInfo{status: verdict.UnknownKey}, "unknown", authres.ResultNeutral},
		{sigInfo{status: verdict.Unsupported}, "unknown", authres.ResultNeutral},
		{sigInfo{status: verdict.UnknownKey, checkErr: authres.ResultTempError}, "unknown", authres.ResultTempError},
		{sigInfo{status: verdict.Unsupported, checkErr: authres.ResultPermError}, "unknown", authres.ResultPermError},
	} {
		if got := c.s.signatureValue(); got != c.header {
			t.Errorf("%v: signature=%s, want %s", c.s.status, got, c.header)
		}
		c.s.scheme = policy.SMIME
		r := smimeAuthResult(c.s)
		if c.smimeAuth == "" {
			if r != nil {
				t.Errorf("%v: smime result %v for no signature", c.s.status, r)
			}
			continue
		}
		if g, ok := r.(*authres.GenericResult); !ok || g.Value != c.smimeAuth {
			t.Errorf("%v (%s): smime=%v, want %s", c.s.status, c.s.checkErr, r, c.smimeAuth)
		}
		c.s.scheme = policy.PGP
		if r := smimeAuthResult(c.s); r != nil {
			t.Errorf("%v: an OpenPGP signature gets an smime= result", c.s.status)
		}
	}
}
