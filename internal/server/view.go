package server

// View is the full server object that clients read: the stored server with
// every relation resolved. Absent relations are nil.
type View struct {
	Server
	Location    *Location
	Rack        *Rack
	Platform    *Platform
	Chassis     *Chassis
	Owner       *Owner
	OSTemplate  *OSTemplate
	BMC         *BMC
	IPs         []IP
	SwitchPorts []PortLink
	PDU         *OutletLink
	Operation   *Operation
}

// Owner is the user a server belongs to.
type Owner struct {
	ID    int64
	Email string
}

// IP is an address assigned to a server, as the server object shows it.
type IP struct {
	ID         int64
	Name       string
	Family     int
	Domain     string
	Gateway    string
	Network    string
	Status     string
	StatusInfo map[string]any
	ServerID   *int64
	ServerName string
	IPNetID    int64
	Note       string
	Reserved   bool // an admin's reservation, never handed out
	Permanent  bool // stays with its server when the server is released
}

// PortLink is a switch connection with its port's live status.
type PortLink struct {
	ConnectionID        int64
	PortID              int64
	SwitchID            int64
	Description         string
	AdminStatus         string
	OperStatus          string
	DoNotCollectTraffic bool
	IsIPMIConnection    bool
}

// OutletLink is a PDU connection with its outlet's power status.
type OutletLink struct {
	ConnectionID int64
	PortID       int64
	PortIdentity string
	PDUID        int64
	PDUName      string
	PowerStatus  string
}

// Operation is a server's current or last long operation.
type Operation struct {
	ID           int64
	Status       string
	StatusInfo   map[string]any
	ProgressInfo []map[string]any
}

// ConfigurationCount is one line of GET /server/configuration.
type ConfigurationCount struct {
	Configuration   string
	FreeServerCount int
}

// MACOwner is the server whose NIC has a MAC address.
type MACOwner struct {
	ServerID   int64
	ServerName string
}
