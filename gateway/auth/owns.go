package auth

import (
	"github.com/sealgate/sealgate/crypto/address"
	"github.com/sealgate/sealgate/gateway/mailstore"
)

// Owns reports whether the account may use addr as a sender: its own address, or a
// sub-address of it under the gateway's sub-address rule, compared case-insensitively.
func Owns(u mailstore.User, addr address.Address, rule address.Subaddressing) bool {
	own, err := address.Parse(u.Address)
	if err != nil {
		return false
	}
	return rule.Owns(own, addr)
}
