package api

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/server"
)

func trimmed(dst *string, p *string) {
	if p != nil {
		*dst = strings.TrimSpace(*p)
	}
}

type locationBody struct {
	Name        *string `json:"name"`
	Geolocation *string `json:"geolocation"`
	Userspace   *int64  `json:"userspace"`
}

func (b *locationBody) apply(v *server.Location) error {
	trimmed(&v.Name, b.Name)
	set(&v.Geolocation, b.Geolocation)
	set(&v.Userspace, b.Userspace)
	return nil
}

func locationJSON(v *server.Location) gin.H {
	return gin.H{"id": v.ID, "name": v.Name, "geolocation": v.Geolocation, "userspace": v.Userspace}
}

type rackBody struct {
	Name       *string `json:"name"`
	Size       *int    `json:"size"`
	LocationID *int64  `json:"location_id"`
}

func (b *rackBody) apply(v *server.Rack) error {
	trimmed(&v.Name, b.Name)
	set(&v.Size, b.Size)
	set(&v.LocationID, b.LocationID)
	return nil
}

func rackJSON(v *server.Rack) gin.H {
	return gin.H{"id": v.ID, "name": v.Name, "size": v.Size, "location_id": v.LocationID}
}

type platformBody struct {
	Name *string `json:"name"`
	Size *int    `json:"size"`
	Type *string `json:"type"`
}

func (b *platformBody) apply(v *server.Platform) error {
	trimmed(&v.Name, b.Name)
	set(&v.Size, b.Size)
	set(&v.Type, b.Type)
	return nil
}

func platformJSON(v *server.Platform) gin.H {
	return gin.H{"id": v.ID, "name": v.Name, "size": v.Size, "type": v.Type}
}

// placeBody is where a device stands.
type placeBody struct {
	LocationID Opt[int64] `json:"location_id"`
	RackID     Opt[int64] `json:"rack_id"`
	Unit       Opt[int]   `json:"unit"`
}

type chassisBody struct {
	Name            *string    `json:"name"`
	Size            *int       `json:"size"`
	ServerSlotCount *int       `json:"server_slot_count"`
	LocationID      Opt[int64] `json:"location_id"`
	RackID          Opt[int64] `json:"rack_id"`
	Unit            Opt[int]   `json:"unit"`
}

func (b *chassisBody) apply(v *server.Chassis) error {
	trimmed(&v.Name, b.Name)
	set(&v.Size, b.Size)
	set(&v.ServerSlotCount, b.ServerSlotCount)
	setOpt(&v.LocationID, b.LocationID)
	setOpt(&v.RackID, b.RackID)
	setOpt(&v.Unit, b.Unit)
	return nil
}

func chassisJSON(v *server.Chassis) gin.H {
	return gin.H{"id": v.ID, "name": v.Name, "size": v.Size, "server_slot_count": v.ServerSlotCount,
		"location_id": zeroIfNil(v.LocationID), "rack_id": zeroIfNil(v.RackID), "unit": zeroIfNil(v.Unit)}
}

// snmpBody is SNMP access as clients send it; secrets are write-only.
type snmpBody struct {
	Address      *string `json:"address"`
	Port         *int    `json:"snmp_port"`
	Version      *string `json:"snmp_version"`
	Community    *string `json:"snmp_community"`
	V3User       *string `json:"snmp_v3_user"`
	AuthProtocol *string `json:"snmp_auth_protocol"`
	AuthPass     *string `json:"snmp_auth_password"`
	PrivProtocol *string `json:"snmp_priv_protocol"`
	PrivPass     *string `json:"snmp_priv_password"`
}

func setSecret(dst *secret.String, p *string) {
	if p != nil {
		*dst = secret.String(*p)
	}
}

func (b *snmpBody) apply(a *server.SNMPAccess) {
	trimmed(&a.Address, b.Address)
	set(&a.Port, b.Port)
	set(&a.Version, b.Version)
	setSecret(&a.Community, b.Community)
	set(&a.V3User, b.V3User)
	if b.AuthProtocol != nil {
		a.AuthProtocol = strings.ToUpper(*b.AuthProtocol)
	}
	setSecret(&a.AuthPass, b.AuthPass)
	if b.PrivProtocol != nil {
		a.PrivProtocol = strings.ToUpper(*b.PrivProtocol)
	}
	setSecret(&a.PrivPass, b.PrivPass)
}

func snmpJSON(h gin.H, a *server.SNMPAccess) gin.H {
	h["address"], h["snmp_port"], h["snmp_version"] = a.Address, a.Port, a.Version
	h["snmp_v3_user"], h["snmp_auth_protocol"], h["snmp_priv_protocol"] = a.V3User, a.AuthProtocol, a.PrivProtocol
	h["has_snmp_community"], h["has_snmp_auth_password"], h["has_snmp_priv_password"] = a.Community != "", a.AuthPass != "", a.PrivPass != ""
	return h
}

type switchBody struct {
	Name     *string `json:"name"`
	Profile  *string `json:"profile"`
	ReadOnly *bool   `json:"read_only"`
	snmpFields
	placeFields
}

// snmpFields and placeFields are embedded in device bodies; decodeBody
// flattens embedded structs.
type snmpFields = snmpBody
type placeFields = placeBody

func (b *switchBody) apply(v *server.Switch) error {
	trimmed(&v.Name, b.Name)
	set(&v.Profile, b.Profile)
	set(&v.ReadOnly, b.ReadOnly)
	b.snmpFields.apply(&v.SNMP)
	setOpt(&v.LocationID, b.LocationID)
	setOpt(&v.RackID, b.RackID)
	setOpt(&v.Unit, b.Unit)
	return nil
}

func switchJSON(v *server.Switch) gin.H {
	return snmpJSON(gin.H{"id": v.ID, "name": v.Name, "profile": v.Profile, "read_only": v.ReadOnly,
		"location_id": zeroIfNil(v.LocationID), "rack_id": zeroIfNil(v.RackID), "unit": zeroIfNil(v.Unit)}, &v.SNMP)
}

type switchPortBody struct {
	Identity    *string `json:"identity"`
	Name        *string `json:"name"`
	Description *string `json:"description"`
	AdminStatus *string `json:"admin_status"`
	OperStatus  *string `json:"oper_status"`
	Speed       *int64  `json:"speed"`
}

func (b *switchPortBody) apply(v *server.SwitchPort) error {
	trimmed(&v.Identity, b.Identity)
	set(&v.Name, b.Name)
	set(&v.Description, b.Description)
	set(&v.AdminStatus, b.AdminStatus)
	set(&v.OperStatus, b.OperStatus)
	set(&v.Speed, b.Speed)
	if v.Name == "" {
		v.Name = v.Identity
	}
	return nil
}

func switchPortJSON(v *server.SwitchPort) gin.H {
	return gin.H{"id": v.ID, "switch": v.SwitchID, "identity": v.Identity, "name": v.Name, "description": v.Description,
		"admin_status": v.AdminStatus, "oper_status": v.OperStatus, "speed": v.Speed, "vanished": v.Vanished, "alias": v.Alias,
		"if_type": v.IfType}
}

type pduBody struct {
	Name    *string         `json:"name"`
	Profile *string         `json:"profile"`
	OIDs    *server.PDUOIDs `json:"generic_oids"`
	snmpFields
	placeFields
}

func (b *pduBody) apply(v *server.PDU) error {
	trimmed(&v.Name, b.Name)
	set(&v.Profile, b.Profile)
	set(&v.OIDs, b.OIDs)
	b.snmpFields.apply(&v.SNMP)
	setOpt(&v.LocationID, b.LocationID)
	setOpt(&v.RackID, b.RackID)
	setOpt(&v.Unit, b.Unit)
	return nil
}

func pduJSON(v *server.PDU) gin.H {
	return snmpJSON(gin.H{"id": v.ID, "name": v.Name, "profile": v.Profile, "generic_oids": v.OIDs,
		"location_id": zeroIfNil(v.LocationID), "rack_id": zeroIfNil(v.RackID), "unit": zeroIfNil(v.Unit)}, &v.SNMP)
}

type pduPortBody struct {
	Identity *string `json:"identity"`
	Name     *string `json:"name"`
}

func (b *pduPortBody) apply(v *server.PDUPort) error {
	trimmed(&v.Identity, b.Identity)
	set(&v.Name, b.Name)
	return nil
}

func pduPortJSON(v *server.PDUPort) gin.H {
	return gin.H{"id": v.ID, "pdu": v.PDUID, "identity": v.Identity, "name": v.Name, "power_status": v.PowerStatus}
}

type bmcBody struct {
	ServerID    Opt[int64] `json:"server_id"`
	Address     *string    `json:"address"`
	Port        *int       `json:"port"`
	User        *string    `json:"user"`
	Password    *string    `json:"password"`
	Type        *string    `json:"type"`
	CipherSuite *int       `json:"cipher_suite"`
	Privilege   *string    `json:"privilege"`
	WebURL      *string    `json:"web_url"`
}

func (b *bmcBody) apply(v *server.BMC) error {
	setOpt(&v.ServerID, b.ServerID)
	trimmed(&v.Address, b.Address)
	set(&v.Port, b.Port)
	set(&v.Username, b.User)
	setSecret(&v.Password, b.Password)
	set(&v.Type, b.Type)
	set(&v.CipherSuite, b.CipherSuite)
	if b.Privilege != nil {
		v.Privilege = strings.ToLower(*b.Privilege)
	}
	set(&v.WebURL, b.WebURL)
	return nil
}

func bmcJSON(v *server.BMC) gin.H {
	return gin.H{"id": v.ID, "server_id": zeroIfNil(v.ServerID), "address": v.Address, "port": v.Port, "user": v.Username,
		"has_password": v.Password != "", "type": v.Type, "cipher_suite": v.CipherSuite, "privilege": v.Privilege,
		"web_url": v.WebURL, "status": v.Status, "status_info": statusInfo(v.StatusInfo)}
}

type osTemplateBody struct {
	Name   *string         `json:"name"`
	Tags   *[]string       `json:"tags"`
	Kind   *string         `json:"kind"`
	Access *string         `json:"access"`
	EFI    *bool           `json:"efi"`
	Legacy *bool           `json:"legacy"`
	Kernel *string         `json:"kernel"`
	Initrd *string         `json:"initrd"`
	Image  *string         `json:"image"`
	Macros *[]server.Macro `json:"macros"`
}

func (b *osTemplateBody) apply(v *server.OSTemplate) error {
	trimmed(&v.Name, b.Name)
	set(&v.Tags, b.Tags)
	set(&v.Kind, b.Kind)
	set(&v.Access, b.Access)
	set(&v.EFI, b.EFI)
	set(&v.Legacy, b.Legacy)
	set(&v.Kernel, b.Kernel)
	set(&v.Initrd, b.Initrd)
	set(&v.Image, b.Image)
	set(&v.Macros, b.Macros)
	if v.Tags == nil {
		v.Tags = []string{}
	}
	for _, t := range v.Tags {
		if strings.TrimSpace(t) == "" {
			return fault.Invalid("tags", "must not contain empty tags")
		}
	}
	if v.Macros == nil {
		v.Macros = []server.Macro{}
	}
	return nil
}

func osTemplateJSON(v *server.OSTemplate) gin.H {
	return gin.H{"id": v.ID, "name": v.Name, "tags": v.Tags, "kind": v.Kind, "access": v.Access, "efi": v.EFI,
		"legacy": v.Legacy, "kernel": v.Kernel, "initrd": v.Initrd, "image": v.Image, "macros": v.Macros}
}
