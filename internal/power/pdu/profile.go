package pdu

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Profile names as PDU records store them.
const (
	ProfileAPCRack     = "apc-rpdu" // PowerNet-MIB rPDU tables (AP79xx, AP89xx in rPDU mode)
	ProfileAPCSwitched = "apc-spdu" // PowerNet-MIB sPDU table (older AP9xxx MasterSwitch)
	ProfileGeneric     = "generic"  // OIDs and values from the PDU record
)

// Generic describes how to switch and read an outlet on any PDU that
// controls outlets through an integer object per outlet. OIDs are numeric
// and are either templates with one %d for the outlet number
// (".1.3.6.1.4.1.13742.6.4.1.2.1.2.1.%d") or the column itself, in which
// case the outlet number is appended as the last sub-identifier.
//
// Known values (from the vendors' MIBs; "unconfirmed" means the OIDs come
// from a single third-party source and have not been checked against the
// vendor's MIB file or a device):
//
//	Vendor / MIB                           StatusOID (on/off)                                  ControlOID (on/off/reboot)
//	APC rPDU2 (PowerNet-MIB, AP8xxx)       .1.3.6.1.4.1.318.1.1.26.9.2.3.1.5.%d  (2/1)         .1.3.6.1.4.1.318.1.1.26.9.2.4.1.5.%d  (1/2/3)
//	Raritan PX2/PX3 (PDU2-MIB), pduId 1    .1.3.6.1.4.1.13742.6.4.1.2.1.3.1.%d   (7/8)         .1.3.6.1.4.1.13742.6.4.1.2.1.2.1.%d   (1/0/2)
//	ServerTech Sentry3, tower A infeed A   .1.3.6.1.4.1.1718.3.2.3.1.5.1.1.%d    (1/0)         .1.3.6.1.4.1.1718.3.2.3.1.11.1.1.%d   (1/2/3)
//	ServerTech Sentry4, unit 1 (unconf.)   .1.3.6.1.4.1.1718.4.1.8.3.1.1.1.1.%d  (1/2 unconf.) .1.3.6.1.4.1.1718.4.1.8.5.1.2.1.1.%d  (1/2/3 unconf.)
//	CyberPower ePDU (CPS-MIB)              .1.3.6.1.4.1.3808.1.1.3.3.5.1.1.4.%d  (1/2)         .1.3.6.1.4.1.3808.1.1.3.3.3.1.1.4.%d  (1/2/3)
//	CyberPower ePDU2 (CPS-MIB, unconf.)    .1.3.6.1.4.1.3808.1.1.6.6.1.4.1.5.%d  (1/2)         .1.3.6.1.4.1.3808.1.1.6.6.1.5.1.5.%d  (1/2/3)
//	Eaton ePDU G2/G3 (EATON-EPDU-MIB),     .1.3.6.1.4.1.534.6.6.7.6.6.1.2.0.%d   (1/0)         OnOID  .1.3.6.1.4.1.534.6.6.7.6.6.1.4.0.%d (0)
//	  master unit (strapping index 0)                                                          OffOID .1.3.6.1.4.1.534.6.6.7.6.6.1.3.0.%d (0)
//	                                                                                           RebootOID .1.3.6.1.4.1.534.6.6.7.6.6.1.5.0.%d (0)
//
// Eaton has no command column: each of its three command objects takes a
// delay in seconds (0 = now, -1 = cancel), hence OnOID, OffOID and
// RebootOID with the value 0. Raritan reads on as 7 and off as 8
// (SensorStateEnumeration) while it writes 1 and 0. ServerTech Sentry3
// outletStatus also has transitional values (2 offWait, 3 onWait, ...),
// which read as unknown. Linked (daisy-chained) units use another unit
// index in the OID (Raritan pduId, Sentry tower/infeed, Eaton strapping
// index).
type Generic struct {
	StatusOID  string // read: the outlet's current state
	ControlOID string // written: OnValue, OffValue or RebootValue

	OnValue, OffValue int
	RebootValue       int // 0 = no reboot command: Reset does off, wait, on

	StatusOn, StatusOff int // what StatusOID reads when on and when off

	// Per-command objects for PDUs that have one writable object per
	// command instead of one command column (Eaton). Empty means
	// ControlOID. A RebootOID enables the reboot command even with
	// RebootValue 0.
	OnOID, OffOID, RebootOID string
}

// Profile is a named Generic: how one family of PDUs is driven.
type Profile struct {
	Name string
	Generic
}

var (
	apcRack = Profile{Name: ProfileAPCRack, Generic: Generic{
		StatusOID:   ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4", // rPDUOutletStatusOutletState
		StatusOn:    1,                                   // outletStatusOn
		StatusOff:   2,                                   // outletStatusOff
		ControlOID:  ".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4", // rPDUOutletControlOutletCommand
		OnValue:     1,                                   // immediateOn
		OffValue:    2,                                   // immediateOff
		RebootValue: 3,                                   // immediateReboot
	}}
	apcSwitched = Profile{Name: ProfileAPCSwitched, Generic: Generic{
		StatusOID:   ".1.3.6.1.4.1.318.1.1.4.4.2.1.3", // sPDUOutletCtl reads back the state
		StatusOn:    1,                                // outletOn
		StatusOff:   2,                                // outletOff
		ControlOID:  ".1.3.6.1.4.1.318.1.1.4.4.2.1.3", // sPDUOutletCtl
		OnValue:     1,                                // outletOn
		OffValue:    2,                                // outletOff
		RebootValue: 3,                                // outletReboot
	}}
)

// APCRack is the profile for PowerNet-MIB rPDU outlets.
func APCRack() Profile { return apcRack }

// APCSwitched is the profile for PowerNet-MIB sPDU (MasterSwitch) outlets.
func APCSwitched() Profile { return apcSwitched }

// GenericProfile wraps the OIDs and values of a PDU record.
func GenericProfile(g Generic) Profile { return Profile{Name: ProfileGeneric, Generic: g} }

// ProfileByName returns a built-in profile, or for "generic" the given
// settings (which the built-in profiles ignore). The result is validated.
func ProfileByName(name string, g Generic) (Profile, error) {
	var p Profile
	switch name {
	case ProfileAPCRack:
		p = apcRack
	case ProfileAPCSwitched:
		p = apcSwitched
	case ProfileGeneric:
		p = GenericProfile(g)
	default:
		return Profile{}, fmt.Errorf("unknown PDU profile %q (want %s, %s or %s)",
			name, ProfileAPCRack, ProfileAPCSwitched, ProfileGeneric)
	}
	return p, p.Validate()
}

// Validate reports settings that cannot work.
func (p Profile) Validate() error {
	var errs []error
	check := func(field, oid string, required bool) {
		if oid == "" {
			if required {
				errs = append(errs, fmt.Errorf("%s is empty", field))
			}
			return
		}
		if _, err := parseOIDTemplate(oid); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
		}
	}
	check("status OID", p.StatusOID, true)
	check("control OID", p.ControlOID, p.OnOID == "" || p.OffOID == "")
	check("on OID", p.OnOID, false)
	check("off OID", p.OffOID, false)
	check("reboot OID", p.RebootOID, false)
	if p.StatusOn == p.StatusOff {
		errs = append(errs, fmt.Errorf("status values for on and off are both %d", p.StatusOn))
	}
	on, off := p.command(cmdOn), p.command(cmdOff)
	if on.oid == off.oid && on.value == off.value {
		errs = append(errs, fmt.Errorf("on and off write the same value %d to the same OID", on.value))
	}
	if rb, ok := p.reboot(); ok {
		if (rb.oid == on.oid && rb.value == on.value) || (rb.oid == off.oid && rb.value == off.value) {
			errs = append(errs, fmt.Errorf("reboot writes the same value %d as on or off", rb.value))
		}
	}
	if err := errors.Join(errs...); err != nil {
		name := p.Name
		if name == "" {
			name = "unnamed"
		}
		return fmt.Errorf("PDU profile %s: %w", name, err)
	}
	return nil
}

type commandKind int

const (
	cmdOn commandKind = iota
	cmdOff
	cmdReboot
)

func (k commandKind) String() string {
	return [...]string{"on", "off", "reboot"}[k]
}

// command is one SET: an OID template and the value written to it.
type command struct {
	kind  commandKind
	oid   string
	value int
}

func (p Profile) command(k commandKind) command {
	pick := func(specific string) string {
		if specific != "" {
			return specific
		}
		return p.ControlOID
	}
	switch k {
	case cmdOn:
		return command{k, pick(p.OnOID), p.OnValue}
	case cmdOff:
		return command{k, pick(p.OffOID), p.OffValue}
	default:
		return command{k, pick(p.RebootOID), p.RebootValue}
	}
}

// reboot gives the reboot command when the profile has one.
func (p Profile) reboot() (command, bool) {
	if p.RebootOID == "" && p.RebootValue == 0 {
		return command{}, false
	}
	return p.command(cmdReboot), true
}

// oidTemplate is a numeric OID with the outlet number between prefix and
// suffix: prefix ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4." and suffix "".
type oidTemplate struct{ prefix, suffix string }

func parseOIDTemplate(s string) (oidTemplate, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, ".") {
		s = "." + s
	}
	var t oidTemplate
	switch strings.Count(s, "%d") {
	case 0:
		t = oidTemplate{prefix: strings.TrimSuffix(s, ".") + "."}
	case 1:
		before, after, _ := strings.Cut(s, "%d")
		t = oidTemplate{prefix: before, suffix: after}
		if !strings.HasSuffix(before, ".") || (after != "" && !strings.HasPrefix(after, ".")) {
			return oidTemplate{}, fmt.Errorf("%q: %%d must be a whole sub-identifier", s)
		}
	default:
		return oidTemplate{}, fmt.Errorf("%q: more than one %%d", s)
	}
	for _, part := range strings.Split(strings.Trim(t.prefix+"0"+t.suffix, "."), ".") {
		if _, err := strconv.ParseUint(part, 10, 32); err != nil {
			return oidTemplate{}, fmt.Errorf("%q is not a numeric OID", s)
		}
	}
	if strings.Count(t.prefix, ".") < 5 { // at least .1.3.6.1.x before the outlet
		return oidTemplate{}, fmt.Errorf("%q is too short for an outlet OID", s)
	}
	return t, nil
}

// oid is the instance for outlet n.
func (t oidTemplate) oid(n int) string { return t.prefix + strconv.Itoa(n) + t.suffix }

// walkRoot is the subtree that holds every outlet's instance.
func (t oidTemplate) walkRoot() string { return strings.TrimSuffix(t.prefix, ".") }

// outlet extracts the outlet number from an instance OID, if it is one.
func (t oidTemplate) outlet(name string) (int, bool) {
	if !strings.HasPrefix(name, ".") {
		name = "." + name
	}
	rest, ok := strings.CutPrefix(name, t.prefix)
	if !ok {
		return 0, false
	}
	if rest, ok = strings.CutSuffix(rest, t.suffix); !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
