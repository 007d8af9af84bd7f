// Package systemd embeds the unit, sysusers and tmpfiles files so that
// packagers and `dcimd` itself can install them.
package systemd

import _ "embed"

// Unit is dcimd.service.
//
//go:embed dcimd.service
var Unit []byte

// Sysusers is the sysusers.d entry.
//
//go:embed dcimd.sysusers
var Sysusers []byte

// Tmpfiles is the tmpfiles.d entry.
//
//go:embed dcimd.tmpfiles
var Tmpfiles []byte
