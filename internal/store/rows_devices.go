package store

import (
	"fmt"
	"time"

	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/server"
)

// snmpCols are the SNMP access columns shared by switches and PDUs.
type snmpCols struct {
	Address        string
	SNMPPort       int    `gorm:"column:snmp_port"`
	SNMPVersion    string `gorm:"column:snmp_version"`
	CommunityEnc   string `gorm:"column:community_enc"`
	V3User         string `gorm:"column:v3_user"`
	V3AuthProtocol string `gorm:"column:v3_auth_protocol"`
	V3AuthPassEnc  string `gorm:"column:v3_auth_pass_enc"`
	V3PrivProtocol string `gorm:"column:v3_priv_protocol"`
	V3PrivPassEnc  string `gorm:"column:v3_priv_pass_enc"`
}

func (d *DB) seal(s secret.String) (string, error) {
	if s == "" {
		return "", nil
	}
	if d.box == nil {
		return "", fmt.Errorf("no secret key configured to store credentials")
	}
	return d.box.Seal(s)
}

func (d *DB) open(s string) (secret.String, error) {
	if s == "" {
		return "", nil
	}
	if d.box == nil {
		return "", fmt.Errorf("no secret key configured to read credentials")
	}
	return d.box.Open(s)
}

func (d *DB) sealSNMP(a server.SNMPAccess) (snmpCols, error) {
	c := snmpCols{Address: a.Address, SNMPPort: a.Port, SNMPVersion: a.Version, V3User: a.V3User,
		V3AuthProtocol: a.AuthProtocol, V3PrivProtocol: a.PrivProtocol}
	var err error
	if c.CommunityEnc, err = d.seal(a.Community); err != nil {
		return c, err
	}
	if c.V3AuthPassEnc, err = d.seal(a.AuthPass); err != nil {
		return c, err
	}
	c.V3PrivPassEnc, err = d.seal(a.PrivPass)
	return c, err
}

func (d *DB) openSNMP(c snmpCols) (server.SNMPAccess, error) {
	a := server.SNMPAccess{Address: c.Address, Port: c.SNMPPort, Version: c.SNMPVersion, V3User: c.V3User,
		AuthProtocol: c.V3AuthProtocol, PrivProtocol: c.V3PrivProtocol}
	var err error
	if a.Community, err = d.open(c.CommunityEnc); err != nil {
		return a, err
	}
	if a.AuthPass, err = d.open(c.V3AuthPassEnc); err != nil {
		return a, err
	}
	a.PrivPass, err = d.open(c.V3PrivPassEnc)
	return a, err
}

type switchRow struct {
	ID         int64 `gorm:"column:id;primaryKey"`
	Name       string
	SNMP       snmpCols `gorm:"embedded"`
	Profile    string
	ReadOnly   bool   `gorm:"column:read_only"`
	LocationID *int64 `gorm:"column:location_id"`
	RackID     *int64 `gorm:"column:rack_id"`
	Unit       *int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (r *switchRow) rowID() int64 { return r.ID }

var switchFields = listq.Fields{"id": fInt("id"), "name": fStr("name"), "address": fStr("address"), "profile": fStr("profile"),
	"read_only": fBool("read_only"), "snmp_version": fStr("snmp_version"), "location_id": fInt("location_id"),
	"rack_id": fInt("rack_id"), "unit": fInt("unit"), "created_at": fTime("created_at")}

func newSwitches(d *DB) *table[server.Switch, switchRow] {
	return &table[server.Switch, switchRow]{db: d, name: "switches", what: "switch", fields: switchFields, defOrder: "id",
		toRow: func(d *DB, v *server.Switch) (switchRow, error) {
			c, err := d.sealSNMP(v.SNMP)
			return switchRow{ID: v.ID, Name: v.Name, SNMP: c, Profile: v.Profile, ReadOnly: v.ReadOnly, LocationID: v.LocationID,
				RackID: v.RackID, Unit: v.Unit, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}, err
		},
		fromRow: func(d *DB, r *switchRow) (server.Switch, error) {
			a, err := d.openSNMP(r.SNMP)
			return server.Switch{ID: r.ID, Name: r.Name, SNMP: a, Profile: r.Profile, ReadOnly: r.ReadOnly, LocationID: r.LocationID,
				RackID: r.RackID, Unit: r.Unit, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, err
		}}
}

type switchPortRow struct {
	ID          int64 `gorm:"column:id;primaryKey"`
	SwitchID    int64 `gorm:"column:switch_id"`
	Identity    string
	Name        string
	Description string
	AdminStatus string `gorm:"column:admin_status"`
	OperStatus  string `gorm:"column:oper_status"`
	Speed       int64
	Vanished    bool
	Alias       string
	IfType      int `gorm:"column:if_type"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (r *switchPortRow) rowID() int64 { return r.ID }

var switchPortFields = listq.Fields{"id": fInt("id"), "switch_id": fInt("switch_id"), "switch": fInt("switch_id"), "identity": fStr("identity"),
	"name": fStr("name"), "description": fStr("description"), "admin_status": fStr("admin_status"), "oper_status": fStr("oper_status"),
	"speed": fInt("speed"), "vanished": fBool("vanished"), "alias": fStr("alias"), "if_type": fInt("if_type")}

func newSwitchPorts(d *DB) *table[server.SwitchPort, switchPortRow] {
	return &table[server.SwitchPort, switchPortRow]{db: d, name: "switch_ports", what: "switch port", fields: switchPortFields, defOrder: "id",
		toRow: func(_ *DB, v *server.SwitchPort) (switchPortRow, error) {
			return switchPortRow{ID: v.ID, SwitchID: v.SwitchID, Identity: v.Identity, Name: v.Name, Description: v.Description,
				AdminStatus: v.AdminStatus, OperStatus: v.OperStatus, Speed: v.Speed, Vanished: v.Vanished, Alias: v.Alias, IfType: v.IfType,
				CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}, nil
		},
		fromRow: func(_ *DB, r *switchPortRow) (server.SwitchPort, error) {
			return server.SwitchPort{ID: r.ID, SwitchID: r.SwitchID, Identity: r.Identity, Name: r.Name, Description: r.Description,
				AdminStatus: r.AdminStatus, OperStatus: r.OperStatus, Speed: r.Speed, Vanished: r.Vanished, Alias: r.Alias, IfType: r.IfType,
				CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
		}}
}

type pduRow struct {
	ID         int64 `gorm:"column:id;primaryKey"`
	Name       string
	SNMP       snmpCols `gorm:"embedded"`
	Profile    string
	OIDs       string `gorm:"column:generic_oids"`
	LocationID *int64 `gorm:"column:location_id"`
	RackID     *int64 `gorm:"column:rack_id"`
	Unit       *int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (r *pduRow) rowID() int64 { return r.ID }

var pduFields = listq.Fields{"id": fInt("id"), "name": fStr("name"), "address": fStr("address"), "profile": fStr("profile"),
	"snmp_version": fStr("snmp_version"), "location_id": fInt("location_id"), "rack_id": fInt("rack_id"), "unit": fInt("unit"),
	"created_at": fTime("created_at")}

func newPDUs(d *DB) *table[server.PDU, pduRow] {
	return &table[server.PDU, pduRow]{db: d, name: "pdus", what: "pdu", fields: pduFields, defOrder: "id",
		toRow: func(d *DB, v *server.PDU) (pduRow, error) {
			c, err := d.sealSNMP(v.SNMP)
			if err != nil {
				return pduRow{}, err
			}
			oids, err := jsonText(v.OIDs)
			return pduRow{ID: v.ID, Name: v.Name, SNMP: c, Profile: v.Profile, OIDs: oids, LocationID: v.LocationID, RackID: v.RackID,
				Unit: v.Unit, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}, err
		},
		fromRow: func(d *DB, r *pduRow) (server.PDU, error) {
			a, err := d.openSNMP(r.SNMP)
			if err != nil {
				return server.PDU{}, err
			}
			v := server.PDU{ID: r.ID, Name: r.Name, SNMP: a, Profile: r.Profile, LocationID: r.LocationID, RackID: r.RackID,
				Unit: r.Unit, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
			return v, fromJSONText(r.OIDs, &v.OIDs)
		}}
}

type pduPortRow struct {
	ID          int64 `gorm:"column:id;primaryKey"`
	PDUID       int64 `gorm:"column:pdu_id"`
	Identity    string
	Name        string
	PowerStatus string `gorm:"column:power_status"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (r *pduPortRow) rowID() int64 { return r.ID }

var pduPortFields = listq.Fields{"id": fInt("id"), "pdu_id": fInt("pdu_id"), "pdu": fInt("pdu_id"), "identity": fStr("identity"),
	"name": fStr("name"), "power_status": fStr("power_status")}

func newPDUPorts(d *DB) *table[server.PDUPort, pduPortRow] {
	return &table[server.PDUPort, pduPortRow]{db: d, name: "pdu_ports", what: "pdu port", fields: pduPortFields, defOrder: "id",
		toRow: func(_ *DB, v *server.PDUPort) (pduPortRow, error) {
			return pduPortRow{ID: v.ID, PDUID: v.PDUID, Identity: v.Identity, Name: v.Name, PowerStatus: v.PowerStatus, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}, nil
		},
		fromRow: func(_ *DB, r *pduPortRow) (server.PDUPort, error) {
			return server.PDUPort{ID: r.ID, PDUID: r.PDUID, Identity: r.Identity, Name: r.Name, PowerStatus: r.PowerStatus, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, nil
		}}
}

type bmcRow struct {
	ID          int64  `gorm:"column:id;primaryKey"`
	ServerID    *int64 `gorm:"column:server_id"`
	Address     string
	Port        int
	Username    string
	PasswordEnc string `gorm:"column:password_enc"`
	Type        string
	CipherSuite int `gorm:"column:cipher_suite"`
	Privilege   string
	WebURL      string `gorm:"column:web_url"`
	Status      string
	StatusInfo  string `gorm:"column:status_info"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (r *bmcRow) rowID() int64 { return r.ID }

var bmcFields = listq.Fields{"id": fInt("id"), "server_id": fInt("server_id"), "server": fInt("server_id"), "address": fStr("address"),
	"port": fInt("port"), "type": fStr("type"), "status": fStr("status"), "created_at": fTime("created_at")}

func newBMCs(d *DB) *table[server.BMC, bmcRow] {
	return &table[server.BMC, bmcRow]{db: d, name: "ipmis", what: "ipmi", fields: bmcFields, defOrder: "id",
		toRow: func(d *DB, v *server.BMC) (bmcRow, error) {
			pw, err := d.seal(v.Password)
			return bmcRow{ID: v.ID, ServerID: v.ServerID, Address: v.Address, Port: v.Port, Username: v.Username, PasswordEnc: pw,
				Type: v.Type, CipherSuite: v.CipherSuite, Privilege: v.Privilege, WebURL: v.WebURL, Status: v.Status,
				StatusInfo: v.StatusInfo, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}, err
		},
		fromRow: func(d *DB, r *bmcRow) (server.BMC, error) {
			pw, err := d.open(r.PasswordEnc)
			return server.BMC{ID: r.ID, ServerID: r.ServerID, Address: r.Address, Port: r.Port, Username: r.Username, Password: pw,
				Type: r.Type, CipherSuite: r.CipherSuite, Privilege: r.Privilege, WebURL: r.WebURL, Status: r.Status,
				StatusInfo: r.StatusInfo, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}, err
		}}
}
