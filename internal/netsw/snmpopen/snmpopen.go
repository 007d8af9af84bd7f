// Package snmpopen turns switch records into SNMP drivers: the one place
// where an inventory switch (address, credentials, profile) becomes an
// snmpsw.Switch, used by the daemon and by the tests that build it.
package snmpopen

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/dcimd/dcimd/internal/netsw"
	"github.com/dcimd/dcimd/internal/netsw/snmpsw"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/snmpc"
)

// Options tune the drivers.
type Options struct {
	CallTimeout time.Duration // one SNMP request; 0 means 2 s
	Retries     int           // resends after a timeout
	Log         *slog.Logger
}

// Profiles the SNMP driver serves: every switch speaking IF-MIB.
var profiles = map[string]bool{"": true, "generic": true}

// Opener gives the SNMP driver of a switch record.
func Opener(o Options) netsw.Opener {
	return func(sw server.Switch) (netsw.Driver, error) {
		if !profiles[sw.Profile] {
			return nil, fmt.Errorf("switch profile %q is not supported (use generic)", sw.Profile)
		}
		a := snmpc.Access{Address: sw.SNMP.Address, Port: sw.SNMP.Port, Version: sw.SNMP.Version, Community: sw.SNMP.Community,
			V3User: sw.SNMP.V3User, AuthProtocol: sw.SNMP.AuthProtocol, AuthPass: sw.SNMP.AuthPass,
			PrivProtocol: sw.SNMP.PrivProtocol, PrivPass: sw.SNMP.PrivPass, Timeout: o.CallTimeout, Retries: o.Retries}
		opts := []snmpsw.Option{}
		if o.Log != nil {
			opts = append(opts, snmpsw.WithLogger(o.Log))
		}
		d := snmpsw.New(a, opts...)
		if err := d.Validate(); err != nil {
			return nil, err
		}
		return d, nil
	}
}
