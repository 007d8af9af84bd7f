// Package storetest is the storage contract suite: every repository of
// internal/store, exercised through the domain interfaces on a fresh SQLite
// and a fresh PostgreSQL database (dbtest.Each), so both dialects are held to
// one behaviour.
package storetest

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/auth"
	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/secret"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// fx builds fixtures on one database through the public repositories.
type fx struct {
	t    *testing.T
	ctx  context.Context
	db   *store.DB
	inv  server.Stores
	auth *store.Auth
}

func newFx(t *testing.T, db *store.DB) *fx {
	return &fx{t: t, ctx: context.Background(), db: db, inv: db.Inventory(), auth: db.Auth()}
}

func ptr[T any](v T) *T { return &v }

// must fails the test on a setup error.
func (f *fx) must(err error, what string) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("%s: %v", what, err)
	}
}

func (f *fx) location(name string) server.Location {
	f.t.Helper()
	v := server.Location{Name: name, Geolocation: "geo " + name, Userspace: 1}
	f.must(f.inv.Locations.Create(f.ctx, &v), "create location "+name)
	return v
}

func (f *fx) rack(name string, locationID int64) server.Rack {
	f.t.Helper()
	v := server.Rack{Name: name, Size: 42, LocationID: locationID}
	f.must(f.inv.Racks.Create(f.ctx, &v), "create rack "+name)
	return v
}

func (f *fx) platform(name string) server.Platform {
	f.t.Helper()
	v := server.Platform{Name: name, Size: 1, Type: "server"}
	f.must(f.inv.Platforms.Create(f.ctx, &v), "create platform "+name)
	return v
}

func (f *fx) chassis(name string) server.Chassis {
	f.t.Helper()
	v := server.Chassis{Name: name, Size: 10, ServerSlotCount: 16}
	f.must(f.inv.Chassis.Create(f.ctx, &v), "create chassis "+name)
	return v
}

func (f *fx) switchDev(name string) server.Switch {
	f.t.Helper()
	v := server.Switch{Name: name, SNMP: server.SNMPAccess{Address: "192.0.2.1", Port: 161, Version: "v2c", Community: "public"},
		Profile: "generic"}
	f.must(f.inv.Switches.Create(f.ctx, &v), "create switch "+name)
	return v
}

func (f *fx) switchPort(switchID int64, identity string) server.SwitchPort {
	f.t.Helper()
	v := server.SwitchPort{SwitchID: switchID, Identity: identity, Name: "Gi0/" + identity, Description: "port " + identity,
		AdminStatus: server.StatusUp, OperStatus: server.StatusDown, Speed: 1000}
	f.must(f.inv.SwitchPorts.Create(f.ctx, &v), "create switch port "+identity)
	return v
}

func (f *fx) pdu(name string) server.PDU {
	f.t.Helper()
	v := server.PDU{Name: name, SNMP: server.SNMPAccess{Address: "192.0.2.2", Port: 161, Version: "v2c", Community: "private"},
		Profile: "apc"}
	f.must(f.inv.PDUs.Create(f.ctx, &v), "create pdu "+name)
	return v
}

func (f *fx) pduPort(pduID int64, identity string) server.PDUPort {
	f.t.Helper()
	v := server.PDUPort{PDUID: pduID, Identity: identity, Name: "outlet " + identity, PowerStatus: server.StatusUp}
	f.must(f.inv.PDUPorts.Create(f.ctx, &v), "create pdu port "+identity)
	return v
}

func (f *fx) osTemplate(name string) server.OSTemplate {
	f.t.Helper()
	v := server.OSTemplate{Name: name, Tags: []string{"linux"}, Kind: "image", Access: "all", EFI: true, Legacy: true,
		Macros: []server.Macro{}}
	f.must(f.inv.OSTemplates.Create(f.ctx, &v), "create os template "+name)
	return v
}

// server creates a server named name; mods adjust it before the insert.
func (f *fx) server(name string, mods ...func(*server.Server)) server.Server {
	f.t.Helper()
	v := server.Server{Name: name, State: server.StateOK, PowerStatus: server.StatusUnknown}
	for _, m := range mods {
		m(&v)
	}
	f.must(f.inv.Servers.Create(f.ctx, &v), "create server "+name)
	return v
}

func (f *fx) bmc(serverID *int64, password string) server.BMC {
	f.t.Helper()
	v := server.BMC{ServerID: serverID, Address: "198.51.100.7", Port: 623, Username: "ADMIN", Password: secret.String(password),
		Type: server.IPMILanplus, CipherSuite: 17, Privilege: "administrator", Status: "unknown"}
	f.must(f.inv.BMCs.Create(f.ctx, &v), "create bmc")
	return v
}

func (f *fx) user(email, role string) auth.User {
	f.t.Helper()
	u := newUser(email, role)
	f.must(f.auth.CreateUser(f.ctx, &u), "create user "+email)
	return u
}

// newUser is an active user, not yet stored.
func newUser(email, role string) auth.User {
	now := time.Now().UTC()
	return auth.User{Email: email, PasswordHash: "x", Role: role, State: auth.StateActive, VlansPerUser: 5, CreatedAt: now, UpdatedAt: now}
}

// rebind turns ? placeholders into $n for PostgreSQL's database/sql driver.
func rebind(db *store.DB, q string) string {
	if !db.IsPostgres() {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// insertID runs an INSERT ... RETURNING id through the raw pool.
func (f *fx) insertID(q string, args ...any) int64 {
	f.t.Helper()
	var id int64
	f.must(f.db.SQL().QueryRowContext(f.ctx, rebind(f.db, q), args...).Scan(&id), q)
	return id
}

// ipnet inserts a network row; there is no IPAM repository yet.
func (f *fx) ipnet(name, gateway string) int64 {
	now := time.Now().UTC()
	return f.insertID(`INSERT INTO ipnets (name, family, prefix_len, gateway, created_at, updated_at)
		VALUES (?, 4, 24, ?, ?, ?) RETURNING id`, name, gateway, now, now)
}

// ip inserts an address row, assigned to serverID when it is not nil.
func (f *fx) ip(name string, ipnetID int64, serverID *int64) int64 {
	now := time.Now().UTC()
	return f.insertID(`INSERT INTO ips (name, family, ipnet_id, server_id, status, created_at, updated_at)
		VALUES (?, 4, ?, ?, 'ok', ?, ?) RETURNING id`, name, ipnetID, serverID, now, now)
}

func (f *fx) connectPort(serverID, portID int64) server.SwitchConnection {
	f.t.Helper()
	c := server.SwitchConnection{ServerID: serverID, SwitchPortID: portID}
	f.must(f.inv.Connections.AddSwitchConnection(f.ctx, &c), "connect switch port")
	return c
}

func mac(t *testing.T, s string) net.HardwareAddr {
	t.Helper()
	m, err := net.ParseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// where parses a where= expression into a query with no limit.
func where(t *testing.T, expr string) listq.Query {
	t.Helper()
	n, err := listq.ParseWhere(expr)
	if err != nil {
		t.Fatalf("parse where %q: %v", expr, err)
	}
	return listq.Query{Where: n, Limit: -1}
}

// order parses an orderby= value.
func (f *fx) order(s string) []listq.Order {
	f.t.Helper()
	o, err := listq.ParseOrderBy(s)
	f.must(err, "parse orderby "+s)
	return o
}

// all is the query with no filter, default order and no limit.
var all = listq.Query{Limit: -1}

// wantKind fails unless err is a *fault.Error matching sentinel.
func wantKind(t *testing.T, err error, sentinel *fault.Error, what string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("%s: got error %v, want kind %d", what, err, sentinel.Kind)
	}
}
