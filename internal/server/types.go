// Package server is the inventory of a datacenter: locations, racks,
// platforms, chassis, switches, PDUs, BMCs, OS templates and the servers
// themselves, with their connections and ownership.
package server

import (
	"net"
	"time"

	"github.com/dcimd/dcimd/internal/secret"
)

// Server states, from seed 003.
const (
	StateOK           = "ok"
	StateSuspending   = "suspending"
	StateSuspended    = "suspended"
	StateSuspendError = "suspend_error"
	StateResuming     = "resuming"
	StateResumeError  = "resume_error"
)

// Location is a datacenter site.
type Location struct {
	ID          int64
	Name        string
	Geolocation string
	Userspace   int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Rack stands in a location.
type Rack struct {
	ID         int64
	Name       string
	Size       int
	LocationID int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Platform is a server model (form factor).
type Platform struct {
	ID        int64
	Name      string
	Size      int
	Type      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Chassis holds blade servers in slots.
type Chassis struct {
	ID              int64
	Name            string
	Size            int
	ServerSlotCount int
	LocationID      *int64
	RackID          *int64
	Unit            *int
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// SNMPAccess is how dcimd reaches a switch or PDU agent.
type SNMPAccess struct {
	Address      string
	Port         int
	Version      string // v1, v2c, v3
	Community    secret.String
	V3User       string
	AuthProtocol string // MD5, SHA, SHA224, SHA256, SHA384, SHA512
	AuthPass     secret.String
	PrivProtocol string // DES, AES, AES192, AES256
	PrivPass     secret.String
}

// Switch is a network switch managed over SNMP.
type Switch struct {
	ID         int64
	Name       string
	SNMP       SNMPAccess
	Profile    string
	ReadOnly   bool
	LocationID *int64
	RackID     *int64
	Unit       *int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Port statuses of switch ports and PDU outlets.
const (
	StatusUp      = "up"
	StatusDown    = "down"
	StatusTesting = "testing"
	StatusUnknown = "unknown"
)

// SwitchPort is one interface of a switch.
type SwitchPort struct {
	ID          int64
	SwitchID    int64
	Identity    string // ifIndex or name on the device
	Name        string
	Description string
	AdminStatus string
	OperStatus  string
	Speed       int64 // Mbit/s
	Vanished    bool
	Alias       string // ifAlias, from discovery
	IfType      int    // ifType, from discovery
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// PDUOIDs configure a PDU with the generic profile: where its outlet
// status is read and its commands written, and the values they use.
type PDUOIDs struct {
	StatusOID   string `json:"status_oid"`
	ControlOID  string `json:"control_oid"`
	OnOID       string `json:"on_oid,omitempty"`
	OffOID      string `json:"off_oid,omitempty"`
	RebootOID   string `json:"reboot_oid,omitempty"`
	OnValue     int    `json:"on_value"`
	OffValue    int    `json:"off_value"`
	RebootValue int    `json:"reboot_value"`
	StatusOn    int    `json:"status_on"`
	StatusOff   int    `json:"status_off"`
}

// PDU profiles.
const (
	PDUProfileAPCRack     = "apc-rpdu"
	PDUProfileAPCSwitched = "apc-spdu"
	PDUProfileGeneric     = "generic"
)

// PDU is a power distribution unit managed over SNMP.
type PDU struct {
	ID         int64
	Name       string
	SNMP       SNMPAccess
	Profile    string
	OIDs       PDUOIDs // for the generic profile
	LocationID *int64
	RackID     *int64
	Unit       *int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// PDUPort is one outlet of a PDU.
type PDUPort struct {
	ID          int64
	PDUID       int64
	Identity    string // outlet number on the device
	Name        string
	PowerStatus string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// BMC types, as DCImanager names them.
const (
	IPMIv15     = "IPMI v1.5/v2"
	IPMILanplus = "IPMI v2(lanplus)"
)

// BMC is a server's baseboard management controller.
type BMC struct {
	ID          int64
	ServerID    *int64
	Address     string
	Port        int
	Username    string
	Password    secret.String
	Type        string
	CipherSuite int
	Privilege   string
	WebURL      string
	Status      string
	StatusInfo  string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Macro is a name/value pair usable inside an install template.
type Macro struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// OSTemplate describes an installable OS or a diagnostics image.
type OSTemplate struct {
	ID        int64
	Name      string
	Tags      []string
	Kind      string
	Access    string // all or admin
	EFI       bool
	Legacy    bool
	Kernel    string
	Initrd    string
	Image     string
	Macros    []Macro
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Server is one physical machine as stored.
type Server struct {
	ID            int64
	Name          string
	Domain        string
	MAC           net.HardwareAddr
	Configuration string
	LocationID    *int64
	RackID        *int64
	Unit          *int
	PlatformID    *int64
	ChassisID     *int64
	Slot          *int
	EFI           bool
	State         string
	StateInfo     string
	IsNew         bool
	OwnerID       *int64
	OSTemplateID  *int64
	HardwareInfo  map[string]any
	PerformInfo   map[string]any
	DiagError     []DiagError
	MainIPv4      *int64
	MainIPv6      *int64
	PowerStatus   string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// DiagError is one problem found by diagnostics.
type DiagError struct {
	Type string `json:"type"`
	Info string `json:"info"`
}

// SwitchConnection links a server to a switch port.
type SwitchConnection struct {
	ID                  int64
	ServerID            int64
	SwitchPortID        int64
	IsIPMIConnection    bool
	DoNotCollectTraffic bool
}

// PDUConnection links a server to a PDU outlet.
type PDUConnection struct {
	ID        int64
	ServerID  int64
	PDUPortID int64
}
