// Package configs holds the annotated example configuration, embedded so
// that the binary and the tests can reach it without the source tree.
package configs

import _ "embed"

// Example is dcimd.example.yaml: every configuration key with its default
// value and a comment.
//
//go:embed dcimd.example.yaml
var Example []byte
