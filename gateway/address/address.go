// Package address is the former home of package crypto/address, kept so that code written
// against the old import path still builds. It forwards to crypto/address: the types are
// aliases, so values pass between the two freely.
//
// Deprecated: import github.com/sealgate/sealgate/crypto/address (the package name is the same).
package address

import "github.com/sealgate/sealgate/crypto/address"

// ErrSyntax is address.ErrSyntax.
//
// Deprecated: use crypto/address.ErrSyntax.
var ErrSyntax = address.ErrSyntax

// Address is address.Address.
//
//go:fix inline
type Address = address.Address

// Subaddressing is address.Subaddressing.
//
//go:fix inline
type Subaddressing = address.Subaddressing

// Parse is address.Parse.
//
//go:fix inline
func Parse(s string) (Address, error) { return address.Parse(s) }

// Domain is address.Domain.
//
//go:fix inline
func Domain(s string) (string, bool) { return address.Domain(s) }
