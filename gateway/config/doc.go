// Package config is Sealgate's typed configuration: one struct tree (Config)
// with a doc comment on every field, built-in defaults, strict TOML loading
// and an example file generated from the structs.
//
// # Defaults and precedence
//
// Default returns the built-in configuration: every listener on a loopback
// development port (SMTP 127.0.0.1:2525, submission 2587, submissions 2465,
// IMAP 2143, IMAPS 2993, POP3 2110, POP3S 2995, HTTP 8080), hostname and
// domain "localhost", the embedded store, a self-signed certificate made in
// the data directory. Parse and Load start from Default and let each key
// present in the file replace that key's default; a key left out keeps it. An
// array replaces the whole default array; [outbound.routes] entries are added
// to the (empty) default map. Which file to read (--config FILE, else
// DIR/sealgate.toml if it exists, else none) is the command line's decision.
// Environment variables are not read here.
//
// # Checking
//
// Parse and Load refuse a file with anything wrong in it: syntax errors (with
// line and column), unknown keys (also keys that differ from a known key only
// in case), values of the wrong type, and everything Validate reports. They
// report every problem at once, as a *Problems whose Error is one line:
// "listen.smtp: \"abc\" is not host:port; unknown key \"listen.smpt\" ...".
// On success the Config has passed Validate, domains, [outbound.routes] and
// [relay.domains] domains are lower-case, and duplicate domains are gone.
// IsLocalDomain, IsRelayDomain and IsOurDomain (local or relay) are the
// predicates the rest of the gateway asks; a domain is never both. Load also makes
// the relative paths tls.cert, tls.key and keys.master_key_file relative to
// the file's directory; Parse leaves them as written. A Config built in Go
// should be checked with Validate before use.
//
// Durations (Duration) are Go durations with an optional leading day count,
// "90m" or "5d" or "1d12h", never negative. Sizes (Size) are bytes: a TOML
// integer or a string like "50MiB", "10MB", "512KiB".
//
// # The example
//
// Example returns the text of `sealgate config example`: example.toml,
// embedded in the binary. It is generated, never edited: `go generate
// ./gateway/config/` runs gen_example.go, which copies the doc comment of
// each field in config.go above its key and writes the key with its value
// from Default (live keys, not commented out), so Parse(Example()) equals
// Default(). The Config type's doc comment is the file's heading. Tests fail
// when example.toml is stale, when a field has no doc comment, and when
// Parse(Example()) differs from Default(). To add a setting: add the field
// with its doc comment and toml tag to config.go, its default to Default,
// its check to Validate, then run go generate.
package config
