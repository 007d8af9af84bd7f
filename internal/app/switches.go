package app

import (
	"log/slog"

	"github.com/dcimd/dcimd/internal/config"
	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/netsw/snmpopen"
)

// switchOpener builds the SNMP driver of a switch record.
func switchOpener(cfg config.SwitchesConfig, log *slog.Logger) netsw.Opener {
	return snmpopen.Opener(snmpopen.Options{CallTimeout: cfg.CallTimeout, Retries: 1, Log: log})
}
