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
//
// It is a struct, not a gin.H: a full list encodes 10,000 of them, and a map
// costs an allocation per key and a key sort per object. The fields are in
// alphabetical order of their JSON names, the order a map encodes in, so the
// bytes are the same.
func serverJSON(v *server.View) serverDTO {
	s := &v.Server
	h := serverDTO{
		ID: s.ID, Name: s.Name, Domain: s.Domain, Configuration: s.Configuration,
		Settings: settingsDTO{EFI: s.EFI}, State: s.State, StateInfo: s.StateInfo, IsNew: s.IsNew,
		HardwareInfo: orEmpty(s.HardwareInfo), PerformInfo: orEmpty(s.PerformInfo),
		LocationID: zeroIfNil(s.LocationID), Unit: zeroIfNil(s.Unit), Slot: zeroIfNil(s.Slot),
		MainIPv4: zeroIfNil(s.MainIPv4), MainIPv6: zeroIfNil(s.MainIPv6), MAC: macString(s.MAC), PowerStatus: s.PowerStatus,
	}
	h.DiagError = make([]diagDTO, len(s.DiagError))
	for i, d := range s.DiagError {
		h.DiagError[i] = diagDTO{Type: d.Type, Info: d.Info}
	}
	h.IP = make([]serverIPDTO, len(v.IPs))
	for i := range v.IPs {
		ip := &v.IPs[i]
		h.IP[i] = serverIPDTO{Domain: ip.Domain, Family: family(ip.Family), Gateway: ip.Gateway, ID: ip.ID, Name: ip.Name,
			Network: ip.Network, Status: ip.Status, StatusInfo: ip.StatusInfo}
	}
	h.SwitchConnection = make([]portDTO, len(v.SwitchPorts))
	for i, p := range v.SwitchPorts {
		h.SwitchConnection[i] = portDTO{ID: p.PortID, Switch: p.SwitchID, ConnectionID: p.ConnectionID, Description: p.Description,
			AdminStatus: p.AdminStatus, OperStatus: p.OperStatus, DoNotCollectTraffic: p.DoNotCollectTraffic,
			IsIPMIConnection: p.IsIPMIConnection}
	}
	if o := v.Operation; o != nil {
		h.Operation = &operationDTO{ID: o.ID, Status: o.Status, StatusInfo: orEmpty(o.StatusInfo), ProgressInfo: o.ProgressInfo}
	}
	if t := v.OSTemplate; t != nil {
		h.OSTemplate = &osTemplateDTO{ID: t.ID, Name: t.Name, Tags: t.Tags}
	}
	if l := v.Location; l != nil {
		h.Location = &locationDTO{ID: l.ID, Name: l.Name, Geolocation: l.Geolocation, Userspace: l.Userspace}
	}
	if p := v.Platform; p != nil {
		h.Platform = &platformDTO{ID: p.ID, Name: p.Name, Size: p.Size, Type: p.Type}
	}
	if r := v.Rack; r != nil {
		h.Rack = &rackDTO{ID: r.ID, Name: r.Name, Size: r.Size}
	}
	if ch := v.Chassis; ch != nil {
		h.Chassis = &chassisDTO{ID: ch.ID, Name: ch.Name, Size: ch.Size, ServerSlotCount: ch.ServerSlotCount}
	}
	if o := v.Owner; o != nil {
		h.Owner = &ownerDTO{ID: o.ID, Email: o.Email}
		h.OwnerEmail = o.Email
	}
	if b := v.BMC; b != nil {
		h.IPMI = &bmcDTO{ID: b.ID, Address: b.Address, Status: b.Status, StatusInfo: statusInfo(b.StatusInfo), Type: b.Type,
			WebURL: b.WebURL}
	}
	if p := v.PDU; p != nil {
		h.PDUConnection = &outletDTO{PortID: p.PortID, PortIdentity: p.PortIdentity, PDUID: p.PDUID, PDUName: p.PDUName,
			ConnectionID: p.ConnectionID, PowerStatus: p.PowerStatus}
	}
	return h
}

// The server object and its parts; fields in alphabetical order of their
// JSON names (see serverJSON).
type (
	serverDTO struct {
		Chassis          *chassisDTO    `json:"chassis"`
		Configuration    string         `json:"configuration"`
		DiagError        []diagDTO      `json:"diag_error"`
		Domain           string         `json:"domain"`
		HardwareInfo     map[string]any `json:"hardware_info"`
		ID               int64          `json:"id"`
		IntelAMT         *struct{}      `json:"intel_amt"` // always null
		IP               []serverIPDTO  `json:"ip"`
		IPMI             *bmcDTO        `json:"ipmi"`
		IsNew            bool           `json:"is_new"`
		Location         *locationDTO   `json:"location"`
		LocationID       int64          `json:"location_id"`
		MAC              string         `json:"mac"`
		MainIPv4         int64          `json:"main_ipv4"`
		MainIPv6         int64          `json:"main_ipv6"`
		Name             string         `json:"name"`
		Operation        *operationDTO  `json:"operation"`
		OSTemplate       *osTemplateDTO `json:"os_template"`
		Owner            *ownerDTO      `json:"owner"`
		OwnerEmail       string         `json:"owner_email"`
		PDUConnection    *outletDTO     `json:"pdu_connection"`
		PerformInfo      map[string]any `json:"perform_info"`
		Platform         *platformDTO   `json:"platform"`
		PowerStatus      string         `json:"power_status"`
		Rack             *rackDTO       `json:"rack"`
		Settings         settingsDTO    `json:"settings"`
		Slot             int            `json:"slot"`
		State            string         `json:"state"`
		StateInfo        string         `json:"state_info"`
		SwitchConnection []portDTO      `json:"switch_connection"`
		Unit             int            `json:"unit"`
	}
	settingsDTO struct {
		EFI bool `json:"efi"`
	}
	diagDTO struct {
		Info string `json:"info"`
		Type string `json:"type"`
	}
	// serverIPDTO is ipJSON without server and server_id.
	serverIPDTO struct {
		Domain     string         `json:"domain"`
		Family     string         `json:"family"`
		Gateway    string         `json:"gateway"`
		ID         int64          `json:"id"`
		Name       string         `json:"name"`
		Network    string         `json:"network"`
		Status     string         `json:"status"`
		StatusInfo map[string]any `json:"status_info"`
	}
	portDTO struct {
		AdminStatus         string `json:"admin_status"`
		ConnectionID        int64  `json:"connection_id"`
		Description         string `json:"description"`
		DoNotCollectTraffic bool   `json:"do_not_collect_traffic"`
		ID                  int64  `json:"id"`
		IsIPMIConnection    bool   `json:"is_ipmi_connection"`
		OperStatus          string `json:"oper_status"`
		Switch              int64  `json:"switch"`
	}
	operationDTO struct {
		ID           int64            `json:"id"`
		ProgressInfo []map[string]any `json:"progress_info"`
		Status       string           `json:"status"`
		StatusInfo   map[string]any   `json:"status_info"`
	}
	osTemplateDTO struct {
		ID   int64    `json:"id"`
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	locationDTO struct {
		Geolocation string `json:"geolocation"`
		ID          int64  `json:"id"`
		Name        string `json:"name"`
		Userspace   int64  `json:"userspace"`
	}
	platformDTO struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
		Size int    `json:"size"`
		Type string `json:"type"`
	}
	rackDTO struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
		Size int    `json:"size"`
	}
	chassisDTO struct {
		ID              int64  `json:"id"`
		Name            string `json:"name"`
		ServerSlotCount int    `json:"server_slot_count"`
		Size            int    `json:"size"`
	}
	ownerDTO struct {
		Email string `json:"email"`
		ID    int64  `json:"id"`
	}
	bmcDTO struct {
		Address    string `json:"address"`
		ID         int64  `json:"id"`
		Status     string `json:"status"`
		StatusInfo gin.H  `json:"status_info"`
		Type       string `json:"type"`
		WebURL     string `json:"web_url"`
	}
	outletDTO struct {
		ConnectionID int64  `json:"connection_id"`
		PDUID        int64  `json:"pdu_id"`
		PDUName      string `json:"pdu_name"`
		PortID       int64  `json:"port_id"`
		PortIdentity string `json:"port_identity"`
		PowerStatus  string `json:"power_status"`
	}
)

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
