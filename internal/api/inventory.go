package api

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/server"
)

func set[T any](dst *T, p *T) {
	if p != nil {
		*dst = *p
	}
}

func getter[T any](r server.Repo[T]) func(context.Context, int64) error {
	return func(ctx context.Context, id int64) error { _, err := r.Get(ctx, id); return err }
}

func (a *API) inventoryRoutes(g *gin.RouterGroup) {
	inv := a.inv
	register(g, "/location", &resource[server.Location, locationBody]{what: "location", repo: inv.Locations,
		blank: func() server.Location { return server.Location{Userspace: 1} }, apply: (*locationBody).apply,
		check: func(ctx context.Context, v *server.Location) error { return v.Validate() }, out: locationJSON,
		id: func(v *server.Location) int64 { return v.ID }})
	register(g, "/rack", &resource[server.Rack, rackBody]{what: "rack", repo: inv.Racks,
		blank: func() server.Rack { return server.Rack{Size: 42} }, apply: (*rackBody).apply,
		check: inv.CheckRack, out: rackJSON, id: func(v *server.Rack) int64 { return v.ID }})
	register(g, "/platform", &resource[server.Platform, platformBody]{what: "platform", repo: inv.Platforms,
		blank: func() server.Platform { return server.Platform{Size: 1, Type: "server"} }, apply: (*platformBody).apply,
		check: func(ctx context.Context, v *server.Platform) error { return v.Validate() }, out: platformJSON,
		id: func(v *server.Platform) int64 { return v.ID }})
	register(g, "/chassis", &resource[server.Chassis, chassisBody]{what: "chassis", repo: inv.Chassis,
		blank: func() server.Chassis { return server.Chassis{Size: 1, ServerSlotCount: 1} }, apply: (*chassisBody).apply,
		check: func(ctx context.Context, v *server.Chassis) error {
			if err := v.Validate(); err != nil {
				return err
			}
			return inv.CheckPlaced(ctx, v.LocationID, v.RackID)
		}, out: chassisJSON, id: func(v *server.Chassis) int64 { return v.ID }})
	register(g, "/switch", &resource[server.Switch, switchBody]{what: "switch", repo: inv.Switches,
		blank: func() server.Switch {
			return server.Switch{Profile: "generic", SNMP: server.SNMPAccess{Port: 161, Version: "v2c"}}
		}, apply: (*switchBody).apply,
		check: func(ctx context.Context, v *server.Switch) error {
			if err := v.Validate(); err != nil {
				return err
			}
			return inv.CheckPlaced(ctx, v.LocationID, v.RackID)
		}, out: switchJSON, id: func(v *server.Switch) int64 { return v.ID }, created: a.switchCreated})
	register(g, "/switch/:id/port", &resource[server.SwitchPort, switchPortBody]{what: "switch port", repo: inv.SwitchPorts,
		blank: func() server.SwitchPort {
			return server.SwitchPort{AdminStatus: server.StatusUnknown, OperStatus: server.StatusUnknown}
		}, apply: (*switchPortBody).apply,
		check: func(ctx context.Context, v *server.SwitchPort) error { return v.Validate() }, out: switchPortJSON,
		id: func(v *server.SwitchPort) int64 { return v.ID }, parentField: "switch_id",
		parentOf:  func(v *server.SwitchPort) int64 { return v.SwitchID },
		setParent: func(v *server.SwitchPort, id int64) { v.SwitchID = id }, parentGet: getter(inv.Switches)})
	register(g, "/pdu", &resource[server.PDU, pduBody]{what: "pdu", repo: inv.PDUs,
		blank: func() server.PDU {
			return server.PDU{Profile: server.PDUProfileAPCRack, SNMP: server.SNMPAccess{Port: 161, Version: "v2c"}}
		}, apply: (*pduBody).apply,
		check: func(ctx context.Context, v *server.PDU) error {
			if err := v.Validate(); err != nil {
				return err
			}
			return inv.CheckPlaced(ctx, v.LocationID, v.RackID)
		}, out: pduJSON, id: func(v *server.PDU) int64 { return v.ID }})
	register(g, "/pdu/:id/port", &resource[server.PDUPort, pduPortBody]{what: "pdu port", repo: inv.PDUPorts,
		blank: func() server.PDUPort { return server.PDUPort{PowerStatus: server.StatusUnknown} }, apply: (*pduPortBody).apply,
		check: func(ctx context.Context, v *server.PDUPort) error { return v.Validate() }, out: pduPortJSON,
		id: func(v *server.PDUPort) int64 { return v.ID }, parentField: "pdu_id",
		parentOf:  func(v *server.PDUPort) int64 { return v.PDUID },
		setParent: func(v *server.PDUPort, id int64) { v.PDUID = id }, parentGet: getter(inv.PDUs)})
	register(g, "/ipmi", &resource[server.BMC, bmcBody]{what: "ipmi", repo: inv.BMCs,
		blank: func() server.BMC {
			return server.BMC{Port: 623, Type: server.IPMILanplus, CipherSuite: 17, Privilege: "administrator", Status: "unknown"}
		}, apply: (*bmcBody).apply, check: inv.CheckBMC, out: bmcJSON, id: func(v *server.BMC) int64 { return v.ID }})
	register(g, "/os_template", &resource[server.OSTemplate, osTemplateBody]{what: "os template", repo: inv.OSTemplates,
		blank: func() server.OSTemplate {
			return server.OSTemplate{Kind: "image", Access: "all", EFI: true, Legacy: true, Tags: []string{}, Macros: []server.Macro{}}
		}, apply: (*osTemplateBody).apply,
		check: func(ctx context.Context, v *server.OSTemplate) error { return v.Validate() }, out: osTemplateJSON,
		id: func(v *server.OSTemplate) int64 { return v.ID }})
}
