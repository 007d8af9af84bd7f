// Package migrations embeds the numbered SQL migrations, one folder per
// dialect. A released migration is frozen: change the schema with a new file.
package migrations

import "embed"

// FS holds sqlite/*.sql and postgres/*.sql.
//
//go:embed sqlite/*.sql postgres/*.sql
var FS embed.FS
