package api

import (
	"net"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/server"
)

func zeroIfNil[T int | int64](p *T) T {
	if p == nil {
		return 0
	}
	return *p
}

func family(f int) string {
	if f == 6 {
		return "ipv6"
	}
	return "ipv4"
}

func statusInfo(s string) gin.H {
	if s == "" {
		return gin.H{}
	}
	return gin.H{"msg": s}
}

// ipJSON is an address as GET /ip shows it.
func ipJSON(ip *server.IP) gin.H {
	h := gin.H{"domain": ip.Domain, "family": family(ip.Family), "gateway": ip.Gateway, "id": ip.ID, "name": ip.Name,
		"network": ip.Network, "status": ip.Status, "status_info": ip.StatusInfo, "server": ip.ServerName}
	if ip.ServerID != nil {
		h["server_id"] = *ip.ServerID
	} else {
		h["server_id"] = 0
	}
	return h
}

// serverJSON is the server object of seed 003: absent relations are null
// (or [] for lists), absent ids and numbers 0, absent strings "".
func serverJSON(v *server.View) gin.H {
	s := &v.Server
	h := gin.H{
		"id": s.ID, "name": s.Name, "domain": s.Domain, "configuration": s.Configuration,
		"settings": gin.H{"efi": s.EFI}, "state": s.State, "state_info": s.StateInfo, "is_new": s.IsNew,
		"hardware_info": orEmpty(s.HardwareInfo), "perform_info": orEmpty(s.PerformInfo),
		"location_id": zeroIfNil(s.LocationID), "unit": zeroIfNil(s.Unit), "slot": zeroIfNil(s.Slot),
		"main_ipv4": zeroIfNil(s.MainIPv4), "main_ipv6": zeroIfNil(s.MainIPv6), "mac": macString(s.MAC),
		"power_status": s.PowerStatus, "intel_amt": nil, "operation": nil, "os_template": nil, "location": nil,
		"platform": nil, "rack": nil, "chassis": nil, "owner": nil, "owner_email": "", "ipmi": nil, "pdu_connection": nil,
	}
	diag := make([]gin.H, len(s.DiagError))
	for i, d := range s.DiagError {
		diag[i] = gin.H{"type": d.Type, "info": d.Info}
	}
	h["diag_error"] = diag
	ips := make([]gin.H, len(v.IPs))
	for i := range v.IPs {
		ip := ipJSON(&v.IPs[i])
		delete(ip, "server")
		delete(ip, "server_id")
		ips[i] = ip
	}
	h["ip"] = ips
	ports := make([]gin.H, len(v.SwitchPorts))
	for i, p := range v.SwitchPorts {
		ports[i] = gin.H{"id": p.PortID, "switch": p.SwitchID, "connection_id": p.ConnectionID, "description": p.Description,
			"admin_status": p.AdminStatus, "oper_status": p.OperStatus, "do_not_collect_traffic": p.DoNotCollectTraffic,
			"is_ipmi_connection": p.IsIPMIConnection}
	}
	h["switch_connection"] = ports
	if o := v.Operation; o != nil {
		h["operation"] = gin.H{"id": o.ID, "status": o.Status, "status_info": orEmpty(o.StatusInfo), "progress_info": o.ProgressInfo}
	}
	if t := v.OSTemplate; t != nil {
		h["os_template"] = gin.H{"id": t.ID, "name": t.Name, "tags": t.Tags}
	}
	if l := v.Location; l != nil {
		h["location"] = gin.H{"id": l.ID, "name": l.Name, "geolocation": l.Geolocation, "userspace": l.Userspace}
	}
	if p := v.Platform; p != nil {
		h["platform"] = gin.H{"id": p.ID, "name": p.Name, "size": p.Size, "type": p.Type}
	}
	if r := v.Rack; r != nil {
		h["rack"] = gin.H{"id": r.ID, "name": r.Name, "size": r.Size}
	}
	if ch := v.Chassis; ch != nil {
		h["chassis"] = gin.H{"id": ch.ID, "name": ch.Name, "size": ch.Size, "server_slot_count": ch.ServerSlotCount}
	}
	if o := v.Owner; o != nil {
		h["owner"] = gin.H{"id": o.ID, "email": o.Email}
		h["owner_email"] = o.Email
	}
	if b := v.BMC; b != nil {
		h["ipmi"] = gin.H{"id": b.ID, "address": b.Address, "status": b.Status, "status_info": statusInfo(b.StatusInfo),
			"type": b.Type, "web_url": b.WebURL}
	}
	if p := v.PDU; p != nil {
		h["pdu_connection"] = gin.H{"port_id": p.PortID, "port_identity": p.PortIdentity, "pdu_id": p.PDUID, "pdu_name": p.PDUName,
			"connection_id": p.ConnectionID, "power_status": p.PowerStatus}
	}
	return h
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func macString(m net.HardwareAddr) string {
	if m == nil {
		return ""
	}
	return m.String()
}

// serverBody is a server create or edit, in the server object's names.
type serverBody struct {
	Name          *string    `json:"name"`
	Domain        *string    `json:"domain"`
	MAC           *string    `json:"mac"`
	Configuration *string    `json:"configuration"`
	LocationID    Opt[int64] `json:"location_id"`
	RackID        Opt[int64] `json:"rack_id"`
	Unit          Opt[int]   `json:"unit"`
	PlatformID    Opt[int64] `json:"platform_id"`
	ChassisID     Opt[int64] `json:"chassis_id"`
	Slot          Opt[int]   `json:"slot"`
	OSTemplateID  Opt[int64] `json:"os_template_id"`
	IsNew         *bool      `json:"is_new"`
	Settings      *struct {
		EFI *bool `json:"efi"`
	} `json:"settings"`
	HardwareInfo map[string]any `json:"hardware_info"`
}

func setOpt[T any](dst **T, o Opt[T]) {
	if o.Set {
		*dst = o.Ptr()
	}
}

func (b *serverBody) apply(s *server.Server) error {
	if b.Name != nil {
		s.Name = strings.TrimSpace(*b.Name)
	}
	if b.Domain != nil {
		s.Domain = strings.TrimSpace(*b.Domain)
	}
	if b.Configuration != nil {
		s.Configuration = *b.Configuration
	}
	if b.MAC != nil {
		if *b.MAC == "" {
			s.MAC = nil
		} else {
			m, err := net.ParseMAC(*b.MAC)
			if err != nil || len(m) != 6 {
				return fault.Invalid("mac", "%q is not a MAC address like 52:54:00:12:34:56", *b.MAC)
			}
			s.MAC = m
		}
	}
	setOpt(&s.LocationID, b.LocationID)
	setOpt(&s.RackID, b.RackID)
	setOpt(&s.Unit, b.Unit)
	setOpt(&s.PlatformID, b.PlatformID)
	setOpt(&s.ChassisID, b.ChassisID)
	setOpt(&s.Slot, b.Slot)
	setOpt(&s.OSTemplateID, b.OSTemplateID)
	if b.IsNew != nil {
		s.IsNew = *b.IsNew
	}
	if b.Settings != nil && b.Settings.EFI != nil {
		s.EFI = *b.Settings.EFI
	}
	if b.HardwareInfo != nil {
		s.HardwareInfo = b.HardwareInfo
	}
	return nil
}
