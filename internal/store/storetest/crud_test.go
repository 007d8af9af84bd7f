package storetest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

// crudCase drives one repository through a full create/get/update/delete
// round trip.
type crudCase[T any] struct {
	repo server.Repo[T]
	// fresh is a new object with every field set, references included.
	fresh func() T
	// change alters every field; nullable references go back to nil.
	change func(*T)
	// meta exposes the id and the two timestamps of an object.
	meta func(*T) (id *int64, created, updated *time.Time)
	// fields are the where/orderby names the list API promises for T.
	fields []string
}

// stampSlack is the timestamp precision of PostgreSQL (microseconds);
// Create reports the nanosecond clock reading it wrote.
const stampSlack = time.Microsecond

func closeTimes(a, b time.Time) bool { return a.Sub(b).Abs() <= stampSlack }

// sameFields compares two objects on every field except the timestamps.
func (c crudCase[T]) sameFields(t *testing.T, step string, got, want T) {
	t.Helper()
	for _, v := range []*T{&got, &want} {
		_, cr, up := c.meta(v)
		*cr, *up = time.Time{}, time.Time{}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", step, got, want)
	}
}

func (c crudCase[T]) run(t *testing.T) {
	ctx := context.Background()
	v := c.fresh()
	if err := c.repo.Create(ctx, &v); err != nil {
		t.Fatalf("create: %v", err)
	}
	idp, cr, up := c.meta(&v)
	id, created := *idp, *cr
	if id == 0 || cr.IsZero() || up.IsZero() {
		t.Fatalf("create did not fill id and times: id=%d created=%v updated=%v", id, *cr, *up)
	}
	got, err := c.repo.Get(ctx, id)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if _, gc, gu := c.meta(&got); !closeTimes(*gc, *cr) || !closeTimes(*gu, *up) {
		t.Fatalf("get times %v/%v, create reported %v/%v", *gc, *gu, *cr, *up)
	}
	c.sameFields(t, "get after create", got, v)

	list, n, err := c.repo.List(ctx, where(t, fmt.Sprintf("id EQ %d", id)))
	if err != nil || n != 1 || len(list) != 1 {
		t.Fatalf("list by id: %d rows, total %d, err %v", len(list), n, err)
	}
	c.sameFields(t, "list by id", list[0], v)
	c.checkFields(t, ctx)

	c.change(&v)
	if err := c.repo.Update(ctx, &v); err != nil {
		t.Fatalf("update: %v", err)
	}
	got, err = c.repo.Get(ctx, id)
	if err != nil {
		t.Fatalf("get after update: %v", err)
	}
	if _, gc, gu := c.meta(&got); !closeTimes(*gc, created) || gu.IsZero() {
		t.Fatalf("update changed created_at (%v, was %v) or cleared updated_at (%v)", *gc, created, *gu)
	}
	c.sameFields(t, "get after update", got, v)

	if err := c.repo.Delete(ctx, id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	_, err = c.repo.Get(ctx, id)
	wantKind(t, err, fault.ErrNotFound, "get after delete")
	wantKind(t, c.repo.Update(ctx, &v), fault.ErrNotFound, "update of a missing id")
	wantKind(t, c.repo.Delete(ctx, id), fault.ErrNotFound, "delete of a missing id")
}

// checkFields filters and orders by every promised field, so a wrong
// column expression fails here on either dialect.
func (c crudCase[T]) checkFields(t *testing.T, ctx context.Context) {
	t.Helper()
	for _, name := range c.fields {
		q := where(t, name+" IS NOT NULL OR "+name+" IS NULL OR "+name+" CP '%'")
		q.OrderBy = []listq.Order{{Field: name, Desc: true}}
		if rows, n, err := c.repo.List(ctx, q); err != nil || n < 1 || len(rows) != n {
			t.Errorf("list on field %q: %d rows, total %d, err %v", name, len(rows), n, err)
		}
	}
}

// namedRun is one table row of TestCRUD.
type namedRun struct {
	name string
	run  func(t *testing.T)
}

// crudCases builds one case per inventory repository, with the objects the
// cases refer to already stored.
func crudCases(t *testing.T, db *store.DB) []namedRun {
	f := newFx(t, db)
	s := f.inv
	loc1, loc2 := f.location("crud-loc-1"), f.location("crud-loc-2")
	rack1 := f.rack("crud-rack-1", loc1.ID)
	plat, ch, tmpl := f.platform("crud-plat"), f.chassis("crud-chassis"), f.osTemplate("crud-tmpl")
	sw1, sw2 := f.switchDev("crud-sw-1"), f.switchDev("crud-sw-2")
	pdu1, pdu2 := f.pdu("crud-pdu-1"), f.pdu("crud-pdu-2")
	srv := f.server("crud-host")
	owner := f.user("crud-owner@example.com", "@user")
	snmp := server.SNMPAccess{Address: "192.0.2.10", Port: 161, Version: "v3", Community: "comm-1", V3User: "ops",
		AuthProtocol: "SHA", AuthPass: "auth-1", PrivProtocol: "AES", PrivPass: "priv-1"}
	snmp2 := server.SNMPAccess{Address: "192.0.2.11", Port: 1161, Version: "v2c", Community: "comm-2", V3User: "",
		AuthProtocol: "", AuthPass: "", PrivProtocol: "DES", PrivPass: "priv-2"}

	return []namedRun{
		{"Location", crudCase[server.Location]{repo: s.Locations,
			fresh:  func() server.Location { return server.Location{Name: "loc", Geolocation: "55.75,37.61", Userspace: 1} },
			change: func(v *server.Location) { v.Name, v.Geolocation, v.Userspace = "loc-renamed", "", 2 },
			meta:   func(v *server.Location) (*int64, *time.Time, *time.Time) { return &v.ID, &v.CreatedAt, &v.UpdatedAt },
			fields: []string{"id", "name", "geolocation", "userspace", "created_at"}}.run},
		{"Rack", crudCase[server.Rack]{repo: s.Racks,
			fresh:  func() server.Rack { return server.Rack{Name: "rack", Size: 42, LocationID: loc1.ID} },
			change: func(v *server.Rack) { v.Name, v.Size, v.LocationID = "rack-renamed", 48, loc2.ID },
			meta:   func(v *server.Rack) (*int64, *time.Time, *time.Time) { return &v.ID, &v.CreatedAt, &v.UpdatedAt },
			fields: []string{"id", "name", "size", "location_id", "location", "created_at"}}.run},
		{"Platform", crudCase[server.Platform]{repo: s.Platforms,
			fresh:  func() server.Platform { return server.Platform{Name: "plat", Size: 2, Type: "server"} },
			change: func(v *server.Platform) { v.Name, v.Size, v.Type = "plat-renamed", 1, "blade" },
			meta:   func(v *server.Platform) (*int64, *time.Time, *time.Time) { return &v.ID, &v.CreatedAt, &v.UpdatedAt },
			fields: []string{"id", "name", "size", "type", "created_at"}}.run},
		{"Chassis", crudCase[server.Chassis]{repo: s.Chassis,
			fresh: func() server.Chassis {
				return server.Chassis{Name: "chassis", Size: 10, ServerSlotCount: 16, LocationID: &loc1.ID, RackID: &rack1.ID, Unit: ptr(3)}
			},
			change: func(v *server.Chassis) {
				v.Name, v.Size, v.ServerSlotCount, v.LocationID, v.RackID, v.Unit = "chassis-renamed", 7, 8, nil, nil, nil
			},
			meta:   func(v *server.Chassis) (*int64, *time.Time, *time.Time) { return &v.ID, &v.CreatedAt, &v.UpdatedAt },
			fields: []string{"id", "name", "size", "server_slot_count", "location_id", "rack_id", "unit", "created_at"}}.run},
		{"Switch", crudCase[server.Switch]{repo: s.Switches,
			fresh: func() server.Switch {
				return server.Switch{Name: "switch", SNMP: snmp, Profile: "generic", ReadOnly: true, LocationID: &loc1.ID,
					RackID: &rack1.ID, Unit: ptr(40)}
			},
			change: func(v *server.Switch) {
				v.Name, v.SNMP, v.Profile, v.ReadOnly, v.LocationID, v.RackID, v.Unit = "switch-renamed", snmp2, "cisco", false, nil, nil, nil
			},
			meta: func(v *server.Switch) (*int64, *time.Time, *time.Time) { return &v.ID, &v.CreatedAt, &v.UpdatedAt },
			fields: []string{"id", "name", "address", "profile", "read_only", "snmp_version", "location_id", "rack_id", "unit",
				"created_at"}}.run},
		{"SwitchPort", crudCase[server.SwitchPort]{repo: s.SwitchPorts,
			fresh: func() server.SwitchPort {
				return server.SwitchPort{SwitchID: sw1.ID, Identity: "1", Name: "Gi0/1", Description: "uplink",
					AdminStatus: server.StatusUp, OperStatus: server.StatusDown, Speed: 1000}
			},
			change: func(v *server.SwitchPort) {
				*v = server.SwitchPort{ID: v.ID, SwitchID: sw2.ID, Identity: "2", Name: "Gi0/2", Description: "",
					AdminStatus: server.StatusDown, OperStatus: server.StatusTesting, Speed: 10000, Vanished: true,
					CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
			},
			meta: func(v *server.SwitchPort) (*int64, *time.Time, *time.Time) { return &v.ID, &v.CreatedAt, &v.UpdatedAt },
			fields: []string{"id", "switch_id", "switch", "identity", "name", "description", "admin_status", "oper_status",
				"speed", "vanished"}}.run},
		{"PDU", crudCase[server.PDU]{repo: s.PDUs,
			fresh: func() server.PDU {
				return server.PDU{Name: "pdu", SNMP: snmp, Profile: "apc", LocationID: &loc1.ID, RackID: &rack1.ID, Unit: ptr(1)}
			},
			change: func(v *server.PDU) {
				v.Name, v.SNMP, v.Profile, v.LocationID, v.RackID, v.Unit = "pdu-renamed", snmp2, "eaton", nil, nil, nil
			},
			meta: func(v *server.PDU) (*int64, *time.Time, *time.Time) { return &v.ID, &v.CreatedAt, &v.UpdatedAt },
			fields: []string{"id", "name", "address", "profile", "snmp_version", "location_id", "rack_id", "unit",
				"created_at"}}.run},
		{"PDUPort", crudCase[server.PDUPort]{repo: s.PDUPorts,
			fresh: func() server.PDUPort {
				return server.PDUPort{PDUID: pdu1.ID, Identity: "1", Name: "outlet 1", PowerStatus: server.StatusUp}
			},
			change: func(v *server.PDUPort) {
				v.PDUID, v.Identity, v.Name, v.PowerStatus = pdu2.ID, "8", "outlet 8", server.StatusDown
			},
			meta:   func(v *server.PDUPort) (*int64, *time.Time, *time.Time) { return &v.ID, &v.CreatedAt, &v.UpdatedAt },
			fields: []string{"id", "pdu_id", "pdu", "identity", "name", "power_status"}}.run},
		{"BMC", crudCase[server.BMC]{repo: s.BMCs,
			fresh: func() server.BMC {
				return server.BMC{ServerID: &srv.ID, Address: "198.51.100.7", Port: 623, Username: "ADMIN", Password: "bmc-pass-1",
					Type: server.IPMILanplus, CipherSuite: 17, Privilege: "administrator", WebURL: "https://198.51.100.7",
					Status: "ok", StatusInfo: "fine"}
			},
			change: func(v *server.BMC) {
				*v = server.BMC{ID: v.ID, ServerID: nil, Address: "198.51.100.8", Port: 6230, Username: "root",
					Password: "bmc-pass-2", Type: server.IPMIv15, CipherSuite: 3, Privilege: "operator", WebURL: "",
					Status: "error", StatusInfo: "timeout", CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
			},
			meta:   func(v *server.BMC) (*int64, *time.Time, *time.Time) { return &v.ID, &v.CreatedAt, &v.UpdatedAt },
			fields: []string{"id", "server_id", "server", "address", "port", "type", "status", "created_at"}}.run},
		{"OSTemplate", crudCase[server.OSTemplate]{repo: s.OSTemplates,
			fresh: func() server.OSTemplate {
				return server.OSTemplate{Name: "debian-12", Tags: []string{"linux", "debian"}, Kind: "image", Access: "all",
					EFI: true, Legacy: false, Kernel: "vmlinuz", Initrd: "initrd.gz", Image: "debian.iso",
					Macros: []server.Macro{{Name: "MIRROR", Value: "deb.debian.org"}}}
			},
			change: func(v *server.OSTemplate) {
				*v = server.OSTemplate{ID: v.ID, Name: "rescue", Tags: []string{"diag"}, Kind: "diag", Access: "admin",
					EFI: false, Legacy: true, Macros: []server.Macro{}, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
			},
			meta:   func(v *server.OSTemplate) (*int64, *time.Time, *time.Time) { return &v.ID, &v.CreatedAt, &v.UpdatedAt },
			fields: []string{"id", "name", "kind", "access", "tags", "efi", "legacy", "created_at"}}.run},
		{"Server", crudCase[server.Server]{repo: s.Servers,
			fresh: func() server.Server {
				return server.Server{Name: "node-1", Domain: "node-1.example.com", MAC: mac(t, "52:54:00:12:34:56"),
					Configuration: "2xE5/64G", LocationID: &loc1.ID, RackID: &rack1.ID, Unit: ptr(12), PlatformID: &plat.ID,
					ChassisID: &ch.ID, Slot: ptr(4), EFI: true, State: server.StateSuspended, StateInfo: "unpaid", IsNew: true,
					OwnerID: &owner.ID, OSTemplateID: &tmpl.ID, HardwareInfo: map[string]any{"cpu": "E5-2650", "ram_gb": 64.0},
					PerformInfo: map[string]any{"step": "done"}, DiagError: []server.DiagError{{Type: "disk", Info: "sda smart"}},
					MainIPv4: ptr(int64(5)), MainIPv6: ptr(int64(6)), PowerStatus: "on"}
			},
			change: func(v *server.Server) {
				*v = server.Server{ID: v.ID, Name: "node-2", Domain: "", MAC: nil, Configuration: "", EFI: false,
					State: server.StateOK, StateInfo: "", IsNew: false, HardwareInfo: map[string]any{}, PerformInfo: map[string]any{},
					DiagError: []server.DiagError{}, PowerStatus: "off", CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt}
			},
			meta: func(v *server.Server) (*int64, *time.Time, *time.Time) { return &v.ID, &v.CreatedAt, &v.UpdatedAt },
			fields: []string{"id", "name", "domain", "mac", "configuration", "location_id", "location", "rack_id", "rack", "unit",
				"platform_id", "platform", "chassis_id", "chassis", "slot", "state", "state_info", "is_new", "owner", "owner_id",
				"os_template_id", "os_template", "main_ipv4", "main_ipv6", "power_status", "efi", "created_at", "updated_at"}}.run},
	}
}

// TestCRUD runs the round trip for every inventory repository.
func TestCRUD(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		for _, c := range crudCases(t, db) {
			t.Run(c.name, c.run)
		}
	})
}
