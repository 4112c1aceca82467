package config

import _ "embed"

//go:embed example.toml
var example string

// Example returns the fully commented configuration printed by
// `sealgate config example`. It is generated from the doc comments of the
// fields in config.go and the values of Default (go generate writes
// example.toml; a test fails when it is stale). Every key is present and set
// to its default, so Parse(Example()) equals Default().
func Example() string { return example }
