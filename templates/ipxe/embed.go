// Package ipxe embeds dcimd's default iPXE script templates. The HTTP boot
// handler renders <name>.ipxe.tmpl with text/template; a deployment may
// point it at a folder of its own instead.
package ipxe

import "embed"

// FS holds *.ipxe.tmpl.
//
//go:embed *.ipxe.tmpl
var FS embed.FS
