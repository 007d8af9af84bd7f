//go:build race

package e2e

// raceEnabled: the tests run under -race, so the daemon is built with it
// too; a data race then makes it exit 66 and fails the graceful-stop check.
const raceEnabled = true
