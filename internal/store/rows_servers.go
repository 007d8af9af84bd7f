package store

import (
	"encoding/json"
	"fmt"
	"net"
	"reflect"
	"time"

	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/server"
)

type osTemplateRow struct {
	ID        int64 `gorm:"column:id;primaryKey"`
	Name      string
	Tags      string
	Kind      string
	Access    string
	EFI       bool `gorm:"column:efi"`
	Legacy    bool
	Kernel    string
	Initrd    string
	Image     string
	Macros    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (r *osTemplateRow) rowID() int64 { return r.ID }

var osTemplateFields = listq.Fields{"id": fInt("id"), "name": fStr("name"), "kind": fStr("kind"), "access": fStr("access"),
	"tags": fStr("tags"), "efi": fBool("efi"), "legacy": fBool("legacy"), "created_at": fTime("created_at")}

func jsonText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func fromJSONText(s string, v any) error {
	if s == "" || emptyJSON(s, v) {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decode stored json: %w", err)
	}
	return nil
}

// emptyJSON decodes the empty object or list (most stored status_info,
// perform_info and diag_error values) into a map or slice as json.Unmarshal
// would, without the decoder: a full server list has tens of thousands.
func emptyJSON(s string, v any) bool {
	if s != "{}" && s != "[]" {
		return false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	switch e := rv.Elem(); {
	case s == "{}" && e.Kind() == reflect.Map:
		if e.IsNil() {
			e.Set(reflect.MakeMap(e.Type()))
		}
		return true
	case s == "[]" && e.Kind() == reflect.Slice:
		if e.IsNil() {
			e.Set(reflect.MakeSlice(e.Type(), 0, 0))
		} else {
			e.SetLen(0)
		}
		return true
	}
	return false
}

func newOSTemplates(d *DB) *table[server.OSTemplate, osTemplateRow] {
	return &table[server.OSTemplate, osTemplateRow]{db: d, name: "os_templates", what: "os template", fields: osTemplateFields, defOrder: "id",
		toRow: func(_ *DB, v *server.OSTemplate) (osTemplateRow, error) {
			tags := v.Tags
			if tags == nil {
				tags = []string{}
			}
			macros := v.Macros
			if macros == nil {
				macros = []server.Macro{}
			}
			t, err := jsonText(tags)
			if err != nil {
				return osTemplateRow{}, err
			}
			m, err := jsonText(macros)
			return osTemplateRow{ID: v.ID, Name: v.Name, Tags: t, Kind: v.Kind, Access: v.Access, EFI: v.EFI, Legacy: v.Legacy,
				Kernel: v.Kernel, Initrd: v.Initrd, Image: v.Image, Macros: m, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}, err
		},
		fromRow: func(_ *DB, r *osTemplateRow) (server.OSTemplate, error) {
			v := server.OSTemplate{ID: r.ID, Name: r.Name, Kind: r.Kind, Access: r.Access, EFI: r.EFI, Legacy: r.Legacy,
				Kernel: r.Kernel, Initrd: r.Initrd, Image: r.Image, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
			if err := fromJSONText(r.Tags, &v.Tags); err != nil {
				return v, err
			}
			return v, fromJSONText(r.Macros, &v.Macros)
		}}
}

type serverRow struct {
	ID            int64 `gorm:"column:id;primaryKey"`
	Name          string
	Domain        string
	MAC           string `gorm:"column:mac"`
	Configuration string
	LocationID    *int64 `gorm:"column:location_id"`
	RackID        *int64 `gorm:"column:rack_id"`
	Unit          *int
	PlatformID    *int64 `gorm:"column:platform_id"`
	ChassisID     *int64 `gorm:"column:chassis_id"`
	Slot          *int
	EFI           bool `gorm:"column:efi"`
	State         string
	StateInfo     string `gorm:"column:state_info"`
	IsNew         bool   `gorm:"column:is_new"`
	OwnerID       *int64 `gorm:"column:owner_id"`
	OSTemplateID  *int64 `gorm:"column:os_template_id"`
	HardwareInfo  string `gorm:"column:hardware_info"`
	PerformInfo   string `gorm:"column:perform_info"`
	DiagError     string `gorm:"column:diag_error"`
	MainIPv4      *int64 `gorm:"column:main_ipv4"`
	MainIPv6      *int64 `gorm:"column:main_ipv6"`
	PowerStatus   string `gorm:"column:power_status"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (r *serverRow) rowID() int64 { return r.ID }

// serverFields are the where/orderby names of servers; s is the servers
// table, o the owner (users) join. owner_email IS NULL tests s.owner_id
// (users.email is NOT NULL and owner_id a foreign key): no join, and a
// row estimate PostgreSQL gets right.
var serverFields = listq.Fields{
	"id": fInt("s.id"), "name": fStr("s.name"), "domain": fStr("s.domain"), "mac": fStr("s.mac"),
	"configuration": fStr("s.configuration"), "location_id": fInt("s.location_id"), "location": fInt("s.location_id"),
	"rack_id": fInt("s.rack_id"), "rack": fInt("s.rack_id"), "unit": fInt("s.unit"), "platform_id": fInt("s.platform_id"),
	"platform": fInt("s.platform_id"), "chassis_id": fInt("s.chassis_id"), "chassis": fInt("s.chassis_id"), "slot": fInt("s.slot"),
	"state": fStr("s.state"), "state_info": fStr("s.state_info"), "is_new": fBool("s.is_new"), "owner": fInt("s.owner_id"),
	"owner_id": fInt("s.owner_id"), "owner_email": {Expr: "o.email", Type: listq.TypeString, NullExpr: "s.owner_id"},
	"os_template_id": fInt("s.os_template_id"), "os_template": fInt("s.os_template_id"), "main_ipv4": fInt("s.main_ipv4"), "main_ipv6": fInt("s.main_ipv6"),
	"power_status": fStr("s.power_status"), "efi": fBool("s.efi"), "created_at": fTime("s.created_at"), "updated_at": fTime("s.updated_at"),
}

func serverToRow(_ *DB, v *server.Server) (serverRow, error) {
	r := serverRow{ID: v.ID, Name: v.Name, Domain: v.Domain, Configuration: v.Configuration, LocationID: v.LocationID,
		RackID: v.RackID, Unit: v.Unit, PlatformID: v.PlatformID, ChassisID: v.ChassisID, Slot: v.Slot, EFI: v.EFI,
		State: v.State, StateInfo: v.StateInfo, IsNew: v.IsNew, OwnerID: v.OwnerID, OSTemplateID: v.OSTemplateID,
		MainIPv4: v.MainIPv4, MainIPv6: v.MainIPv6, PowerStatus: v.PowerStatus, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
	if v.MAC != nil {
		r.MAC = v.MAC.String()
	}
	hw, pi, de := v.HardwareInfo, v.PerformInfo, v.DiagError
	if hw == nil {
		hw = map[string]any{}
	}
	if pi == nil {
		pi = map[string]any{}
	}
	if de == nil {
		de = []server.DiagError{}
	}
	var err error
	if r.HardwareInfo, err = jsonText(hw); err != nil {
		return r, err
	}
	if r.PerformInfo, err = jsonText(pi); err != nil {
		return r, err
	}
	r.DiagError, err = jsonText(de)
	return r, err
}

func serverFromRow(_ *DB, r *serverRow) (server.Server, error) {
	v := server.Server{ID: r.ID, Name: r.Name, Domain: r.Domain, Configuration: r.Configuration, LocationID: r.LocationID,
		RackID: r.RackID, Unit: r.Unit, PlatformID: r.PlatformID, ChassisID: r.ChassisID, Slot: r.Slot, EFI: r.EFI,
		State: r.State, StateInfo: r.StateInfo, IsNew: r.IsNew, OwnerID: r.OwnerID, OSTemplateID: r.OSTemplateID,
		MainIPv4: r.MainIPv4, MainIPv6: r.MainIPv6, PowerStatus: r.PowerStatus, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if r.MAC != "" {
		mac, err := net.ParseMAC(r.MAC)
		if err != nil {
			return v, fmt.Errorf("stored mac of server %d: %w", r.ID, err)
		}
		v.MAC = mac
	}
	if err := fromJSONText(r.HardwareInfo, &v.HardwareInfo); err != nil {
		return v, err
	}
	if err := fromJSONText(r.PerformInfo, &v.PerformInfo); err != nil {
		return v, err
	}
	return v, fromJSONText(r.DiagError, &v.DiagError)
}

func newServers(d *DB) *table[server.Server, serverRow] {
	f := listq.Fields{}
	for k, v := range serverFields {
		if k != "owner_email" {
			f[k] = listq.Field{Expr: v.Expr[2:], Type: v.Type}
		}
	}
	return &table[server.Server, serverRow]{db: d, name: "servers", what: "server", fields: f, defOrder: "id",
		toRow: serverToRow, fromRow: serverFromRow}
}
