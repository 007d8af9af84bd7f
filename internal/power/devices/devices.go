// Package devices turns inventory records into power controllers: a
// server's BMC through the IPMI session pool and its PDU outlet through the
// SNMP driver, for power tasks and for the poller.
package devices

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/power"
	"github.com/dcimd/dcimd/internal/power/ipmi"
	"github.com/dcimd/dcimd/internal/power/pdu"
	"github.com/dcimd/dcimd/internal/server"
)

// Options are the device settings from the configuration.
type Options struct {
	CipherSuites []int         // lanplus order, after the record's own suite
	CallTimeout  time.Duration // one BMC or PDU call
	PDUResetWait time.Duration // off → on pause of an outlet reset
}

// Resolver builds a server's power controllers from the inventory; it
// implements power.Resolver and power.PollSource.
type Resolver struct {
	inv  *server.Service
	bmcs *ipmi.Pool
	cfg  Options
	log  *slog.Logger
}

// NewResolver reads records through inv and reaches BMCs through bmcs.
func NewResolver(inv *server.Service, bmcs *ipmi.Pool, o Options, log *slog.Logger) *Resolver {
	if log == nil {
		log = slog.Default()
	}
	return &Resolver{inv: inv, bmcs: bmcs, cfg: o, log: log}
}

// Paths implements power.Resolver.
func (r *Resolver) Paths(ctx context.Context, serverID int64) (power.Paths, error) {
	v, err := r.inv.GetView(ctx, server.Scope{}, serverID)
	if err != nil {
		return power.Paths{}, err
	}
	var p power.Paths
	if v.BMC != nil {
		b, err := r.inv.BMCs.Get(ctx, v.BMC.ID)
		if err != nil {
			return p, err
		}
		bmc := r.bmcs.BMC(bmcConfig(b, r.cfg))
		p.BMC, p.Boot = bmc, bmc
	}
	if v.PDU != nil {
		d, err := r.inv.PDUs.Get(ctx, v.PDU.PDUID)
		if err != nil {
			return p, err
		}
		dev, err := pduDevice(d, r.cfg, r.log)
		if err != nil {
			return p, err
		}
		n, err := strconv.Atoi(v.PDU.PortIdentity)
		if err != nil {
			return p, &power.DeviceError{Device: "pdu " + d.Name, Op: "outlet", Msg: fmt.Sprintf("outlet %q is not a number", v.PDU.PortIdentity)}
		}
		p.Outlet = dev.Outlet(n)
	}
	return p, nil
}

func bmcConfig(b server.BMC, cfg Options) ipmi.Config {
	iface := ipmi.InterfaceLanplus
	if b.Type == server.IPMIv15 {
		iface = ipmi.InterfaceLan
	}
	suites := cfg.CipherSuites
	if b.Type == server.IPMILanplus && b.CipherSuite != 0 && (len(suites) == 0 || b.CipherSuite != suites[0]) {
		suites = append([]int{b.CipherSuite}, suites...) // the record's suite first, then the configured order
	}
	return ipmi.Config{Address: b.Address, Port: b.Port, Username: b.Username, Password: b.Password, Interface: iface,
		CipherSuites: suites, Privilege: b.Privilege, CallTimeout: cfg.CallTimeout}
}

func pduDevice(d server.PDU, cfg Options, log *slog.Logger) (*pdu.PDU, error) {
	name := d.Profile
	if name == "apc" { // the short name of the first schema
		name = server.PDUProfileAPCRack
	}
	o := d.OIDs
	prof, err := pdu.ProfileByName(name, pdu.Generic{StatusOID: o.StatusOID, ControlOID: o.ControlOID, OnOID: o.OnOID,
		OffOID: o.OffOID, RebootOID: o.RebootOID, OnValue: o.OnValue, OffValue: o.OffValue, RebootValue: o.RebootValue,
		StatusOn: o.StatusOn, StatusOff: o.StatusOff})
	if err != nil {
		return nil, &power.DeviceError{Device: "pdu " + d.Name, Op: "profile", Msg: err.Error()}
	}
	a := pdu.Access{Address: d.SNMP.Address, Port: d.SNMP.Port, Version: d.SNMP.Version, Community: d.SNMP.Community,
		V3User: d.SNMP.V3User, AuthProtocol: d.SNMP.AuthProtocol, AuthPass: d.SNMP.AuthPass, PrivProtocol: d.SNMP.PrivProtocol,
		PrivPass: d.SNMP.PrivPass, Timeout: cfg.CallTimeout, Retries: 1}
	return pdu.New(a, prof, pdu.WithResetWait(cfg.PDUResetWait), pdu.WithLogger(log)), nil
}

// PollTargets implements power.PollSource: every BMC and every PDU, read
// in three queries.
func (r *Resolver) PollTargets(ctx context.Context) ([]power.BMCTarget, []power.PDUTarget, error) {
	all := listq.Query{Limit: -1}
	bmcs, _, err := r.inv.BMCs.List(ctx, all)
	if err != nil {
		return nil, nil, err
	}
	pdus, _, err := r.inv.PDUs.List(ctx, all)
	if err != nil {
		return nil, nil, err
	}
	bt := make([]power.BMCTarget, 0, len(bmcs))
	for _, b := range bmcs {
		bt = append(bt, power.BMCTarget{BMCID: b.ID, ServerID: b.ServerID, BMC: r.bmcs.BMC(bmcConfig(b, r.cfg))})
	}
	pt := make([]power.PDUTarget, 0, len(pdus))
	for _, d := range pdus {
		dev, err := pduDevice(d, r.cfg, r.log)
		if err != nil {
			r.log.Warn("pdu not polled", "pdu", d.Name, "err", err)
			continue
		}
		pt = append(pt, power.PDUTarget{PDUID: d.ID, Name: d.Name, Read: dev.Outlets})
	}
	return bt, pt, nil
}
