package server

import (
	"regexp"
	"slices"
	"strings"

	"github.com/dcimd/dcimd/internal/fault"
)

const (
	maxName  = 255
	maxURL   = 2048
	maxInt32 = 1<<31 - 1 // INTEGER columns on PostgreSQL
)

// checkLen bounds a free-text field.
func checkLen(field, v string, max int) error {
	if len(v) > max {
		return fault.Invalid(field, "must be at most %d characters", max)
	}
	return nil
}

func checkName(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return fault.Invalid(field, "must not be empty")
	}
	if len(v) > maxName {
		return fault.Invalid(field, "must be at most %d characters", maxName)
	}
	return nil
}

func checkRange(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fault.Invalid(field, "must be between %d and %d", lo, hi)
	}
	return nil
}

func checkOptRange(field string, v *int, lo, hi int) error {
	if v == nil {
		return nil
	}
	return checkRange(field, *v, lo, hi)
}

func checkOneOf(field, v string, allowed ...string) error {
	if !slices.Contains(allowed, v) {
		return fault.Invalid(field, "must be one of %s", strings.Join(allowed, ", "))
	}
	return nil
}

// Validate checks a location.
func (l *Location) Validate() error {
	if err := checkName("name", l.Name); err != nil {
		return err
	}
	if err := checkLen("geolocation", l.Geolocation, maxName); err != nil {
		return err
	}
	if l.Userspace < 1 || l.Userspace > maxInt32 {
		return fault.Invalid("userspace", "must be a positive id")
	}
	return nil
}

// Validate checks a rack.
func (r *Rack) Validate() error {
	if err := checkName("name", r.Name); err != nil {
		return err
	}
	if r.LocationID == 0 {
		return fault.Invalid("location_id", "is required")
	}
	return checkRange("size", r.Size, 1, 100)
}

// Validate checks a platform.
func (p *Platform) Validate() error {
	if err := checkName("name", p.Name); err != nil {
		return err
	}
	if err := checkLen("type", p.Type, maxName); err != nil {
		return err
	}
	return checkRange("size", p.Size, 1, 100)
}

// Validate checks a chassis.
func (c *Chassis) Validate() error {
	if err := checkName("name", c.Name); err != nil {
		return err
	}
	if err := checkRange("size", c.Size, 1, 100); err != nil {
		return err
	}
	if err := checkRange("server_slot_count", c.ServerSlotCount, 1, 1024); err != nil {
		return err
	}
	return checkOptRange("unit", c.Unit, 1, 100)
}

func (a *SNMPAccess) validate() error {
	if err := checkName("address", a.Address); err != nil {
		return err
	}
	if err := checkRange("snmp_port", a.Port, 1, 65535); err != nil {
		return err
	}
	if err := checkOneOf("snmp_version", a.Version, "v1", "v2c", "v3"); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"snmp_community", string(a.Community)}, {"snmp_v3_user", a.V3User},
		{"snmp_auth_password", string(a.AuthPass)}, {"snmp_priv_password", string(a.PrivPass)}} {
		if err := checkLen(f.name, f.v, maxName); err != nil {
			return err
		}
	}
	if a.Version == "v3" {
		if a.V3User == "" {
			return fault.Invalid("snmp_v3_user", "is required for SNMP v3")
		}
		if a.AuthProtocol != "" {
			if err := checkOneOf("snmp_auth_protocol", a.AuthProtocol, "MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512"); err != nil {
				return err
			}
			if len(a.AuthPass) < 8 {
				return fault.Invalid("snmp_auth_password", "must be at least 8 characters")
			}
		}
		if a.PrivProtocol != "" {
			if a.AuthProtocol == "" {
				return fault.Invalid("snmp_priv_protocol", "needs an auth protocol too")
			}
			if err := checkOneOf("snmp_priv_protocol", a.PrivProtocol, "DES", "AES", "AES192", "AES256"); err != nil {
				return err
			}
			if len(a.PrivPass) < 8 {
				return fault.Invalid("snmp_priv_password", "must be at least 8 characters")
			}
		}
	}
	return nil
}

// Validate checks a switch.
func (s *Switch) Validate() error {
	if err := checkName("name", s.Name); err != nil {
		return err
	}
	if err := s.SNMP.validate(); err != nil {
		return err
	}
	if err := checkName("profile", s.Profile); err != nil {
		return err
	}
	return checkOptRange("unit", s.Unit, 1, 100)
}

func checkPortStatus(field, v string) error {
	return checkOneOf(field, v, StatusUp, StatusDown, StatusTesting, StatusUnknown)
}

// Validate checks a switch port.
func (p *SwitchPort) Validate() error {
	if err := checkName("identity", p.Identity); err != nil {
		return err
	}
	if err := checkPortStatus("admin_status", p.AdminStatus); err != nil {
		return err
	}
	if err := checkPortStatus("oper_status", p.OperStatus); err != nil {
		return err
	}
	if err := checkLen("name", p.Name, maxName); err != nil {
		return err
	}
	if err := checkLen("description", p.Description, maxName); err != nil {
		return err
	}
	if p.Speed < 0 || p.Speed > maxInt32 {
		return fault.Invalid("speed", "must be between 0 and %d (Mbit/s)", maxInt32)
	}
	return nil
}

// Validate checks a PDU.
func (p *PDU) Validate() error {
	if err := checkName("name", p.Name); err != nil {
		return err
	}
	if err := p.SNMP.validate(); err != nil {
		return err
	}
	if err := checkOneOf("profile", p.Profile, PDUProfileAPCRack, PDUProfileAPCSwitched, PDUProfileGeneric, "apc"); err != nil {
		return err
	}
	if p.Profile == PDUProfileGeneric {
		if err := p.OIDs.validate(); err != nil {
			return err
		}
	}
	return checkOptRange("unit", p.Unit, 1, 100)
}

var oidPattern = regexp.MustCompile(`^\.?[0-9]+(\.[0-9]+)*(\.%d)?$`)

// validate checks the OIDs of a generic PDU: a status column and a way to
// switch (one control column, or per-command objects).
func (o *PDUOIDs) validate() error {
	if o.StatusOID == "" {
		return fault.Invalid("generic_oids", "status_oid is required for the generic profile")
	}
	if o.ControlOID == "" && (o.OnOID == "" || o.OffOID == "") {
		return fault.Invalid("generic_oids", "control_oid (or on_oid and off_oid) is required for the generic profile")
	}
	for name, v := range map[string]string{"status_oid": o.StatusOID, "control_oid": o.ControlOID, "on_oid": o.OnOID,
		"off_oid": o.OffOID, "reboot_oid": o.RebootOID} {
		if v != "" && (len(v) > 255 || !oidPattern.MatchString(v)) {
			return fault.Invalid("generic_oids", "%s %q is not a numeric OID (like .1.3.6.1.4.1.318.1.1.12.3.3.1.1.4 or ...4.%%d)", name, v)
		}
	}
	if o.StatusOn == o.StatusOff {
		return fault.Invalid("generic_oids", "status_on and status_off must differ")
	}
	return nil
}

// Validate checks a PDU outlet.
func (p *PDUPort) Validate() error {
	if err := checkName("identity", p.Identity); err != nil {
		return err
	}
	if err := checkLen("name", p.Name, maxName); err != nil {
		return err
	}
	return checkOneOf("power_status", p.PowerStatus, StatusUp, StatusDown, StatusUnknown)
}

// Validate checks a BMC record.
func (b *BMC) Validate() error {
	if err := checkName("address", b.Address); err != nil {
		return err
	}
	if err := checkRange("port", b.Port, 1, 65535); err != nil {
		return err
	}
	if err := checkOneOf("type", b.Type, IPMIv15, IPMILanplus); err != nil {
		return err
	}
	if err := checkRange("cipher_suite", b.CipherSuite, 0, 17); err != nil {
		return err
	}
	if err := checkOneOf("privilege", b.Privilege, "callback", "user", "operator", "administrator"); err != nil {
		return err
	}
	if len(b.Username) > 16 {
		return fault.Invalid("user", "must be at most 16 characters (IPMI limit)")
	}
	if len(b.Password) > 20 {
		return fault.Invalid("password", "must be at most 20 characters (IPMI limit)")
	}
	return checkLen("web_url", b.WebURL, maxURL)
}

// Validate checks an OS template record.
func (t *OSTemplate) Validate() error {
	if err := checkName("name", t.Name); err != nil {
		return err
	}
	if err := checkOneOf("kind", t.Kind, "debian-preseed", "ubuntu-autoinstall", "kickstart", "image", "diag"); err != nil {
		return err
	}
	if err := checkOneOf("access", t.Access, "all", "admin"); err != nil {
		return err
	}
	if !t.EFI && !t.Legacy {
		return fault.Invalid("efi", "a template must support EFI, legacy boot or both")
	}
	for _, f := range []struct{ name, v string }{{"kernel", t.Kernel}, {"initrd", t.Initrd}, {"image", t.Image}} {
		if err := checkLen(f.name, f.v, maxURL); err != nil {
			return err
		}
	}
	for _, tag := range t.Tags {
		if err := checkLen("tags", tag, maxName); err != nil {
			return err
		}
	}
	for _, m := range t.Macros {
		if m.Name == "" {
			return fault.Invalid("macros", "every macro needs a name")
		}
	}
	return nil
}

// Validate checks a server record.
func (s *Server) Validate() error {
	if err := checkName("name", s.Name); err != nil {
		return err
	}
	if len(s.Domain) > maxName {
		return fault.Invalid("domain", "must be at most %d characters", maxName)
	}
	if len(s.Configuration) > maxName {
		return fault.Invalid("configuration", "must be at most %d characters", maxName)
	}
	if s.MAC != nil && len(s.MAC) != 6 {
		return fault.Invalid("mac", "must be a 48-bit MAC address")
	}
	if err := checkOptRange("unit", s.Unit, 1, 100); err != nil {
		return err
	}
	if err := checkOptRange("slot", s.Slot, 1, 1024); err != nil {
		return err
	}
	if s.Slot != nil && s.ChassisID == nil {
		return fault.Invalid("slot", "needs chassis_id")
	}
	if s.RackID != nil && s.LocationID == nil {
		return fault.Invalid("location_id", "is required when rack_id is set")
	}
	return nil
}
