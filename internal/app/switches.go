package app

import (
	"errors"

	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/server"
)

// switchOpener builds the SNMP driver of a switch record.
func switchOpener(cfg config.SwitchesConfig) netsw.Opener {
	return func(sw server.Switch) (netsw.Driver, error) {
		return nil, errors.New("no SNMP switch driver yet")
	}
}
