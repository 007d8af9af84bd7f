package dhcp4d_test

import (
	"github.com/dcimd/dcimd/internal/testutil/netns"

	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcimd/dcimd/internal/ipam"
	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/netboot"
	"github.com/dcimd/dcimd/internal/netboot/dhcp4d"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

// The tests below run dcimd's DHCP server in-process with its socket
// inside a network namespace the test made (srv, 198.18.0.1/24 on vs),
// and real clients in another (cli, on vc): busybox udhcpc, ISC dhclient,
// through ISC dhcrelay in a third (rly). Addresses live in 198.18.0.0/15
// inside those namespaces only.

var (
	srvIP   = netip.MustParseAddr("198.18.0.1")
	direct  = netip.MustParsePrefix("198.18.0.0/24")
	relayed = netip.MustParsePrefix("198.18.1.0/24")
)

const udhcpcScript = `#!/bin/sh
echo "udhcpc-env: event=$1 ip=$ip mask=$mask router=$router dns=$dns domain=$domain serverid=$serverid lease=$lease boot_file=$boot_file siaddr=$siaddr"
`

// dhclientScript configures the address (a RELEASE is unicast from it)
// and logs what dhclient learnt.
const dhclientScript = `#!/bin/sh
case "$reason" in
BOUND|RENEW|REBIND|REBOOT) ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
RELEASE|EXPIRE|FAIL|STOP) [ -n "$old_ip_address" ] && ip addr del "$old_ip_address/$old_subnet_mask" dev "$interface" ;;
esac
echo "dhclient-env: reason=$reason ip=$new_ip_address mask=$new_subnet_mask routers=$new_routers" >> "$(dirname "$0")/dhclient-env.log"
exit 0
`

// netLab is a server namespace and a client namespace on one veth.
type netLab struct {
	*lab
	srv, cli string
	mac      net.HardwareAddr
}

func newNetLab(t *testing.T) *netLab {
	l := newLab(t)
	n := &netLab{lab: l, srv: l.ns("srv"), cli: l.ns("cli"), mac: randMAC(t)}
	l.veth(n.srv, "vs", n.cli, "vc")
	l.ip(n.srv, "addr", "add", "198.18.0.1/24", "dev", "vs")
	l.ip(n.cli, "link", "set", "vc", "address", n.mac.String())
	return n
}

func (n *netLab) script(name, body string) string {
	n.t.Helper()
	p := filepath.Join(n.dir, name)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		n.t.Fatal(err)
	}
	return p
}

// udhcpc asks for a lease on dev in ns: 3 DISCOVERs, 1 s apart.
func (n *netLab) udhcpc(ns, dev string, extra ...string) (map[string]string, string, error) {
	args := append([]string{n.tl.busybox, "udhcpc", "-f", "-q", "-n", "-t", "3", "-T", "1", "-i", dev,
		"-s", n.script("udhcpc.sh", udhcpcScript)}, extra...)
	out, err := n.run(ns, 20*time.Second, args...)
	return env(out, "udhcpc-env: "), out, err
}

// dhclient gets one lease on vc; it forks into the background, stopped by
// its PID at cleanup.
func (n *netLab) dhclient() (leaseFile, out string, err error) {
	leaseFile, pidFile := filepath.Join(n.dir, "dhclient.leases"), filepath.Join(n.dir, "dhclient.pid")
	n.t.Cleanup(func() { netns.KillPIDFile(pidFile) })
	out, err = n.run(n.cli, 30*time.Second, n.tl.dhclient, "-1", "-v", "-sf", n.script("dhclient.sh", dhclientScript),
		"-lf", leaseFile, "-pf", pidFile, "vc")
	return leaseFile, out, err
}

// dhclientRelease sends a RELEASE for the lease and stops the client.
func (n *netLab) dhclientRelease() (string, error) {
	return n.run(n.cli, 30*time.Second, n.tl.dhclient, "-r", "-v", "-sf", filepath.Join(n.dir, "dhclient.sh"),
		"-lf", filepath.Join(n.dir, "dhclient.leases"), "-pf", filepath.Join(n.dir, "dhclient.pid"), "vc")
}

// fixture is a database with the direct and relayed networks.
type fixture struct {
	t    *testing.T
	ctx  context.Context
	db   *store.DB
	path string
}

func openDB(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{SQLitePath: path, Box: dbtest.Box(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

func newFixture(t *testing.T) *fixture {
	_, path := dbtest.URL(t, "sqlite")
	f := &fixture{t: t, ctx: context.Background(), db: openDB(t, path), path: path}
	t.Cleanup(func() { f.db.Close() })
	for _, n := range []ipam.Net{{Name: direct.String(), Gateway: "198.18.0.1"}, {Name: relayed.String(), Gateway: "198.18.1.1"}} {
		if err := f.db.IPAM().CreateNet(f.ctx, &n); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// host makes a server with mac holding the addresses.
func (f *fixture) host(name string, mac net.HardwareAddr, addrs ...string) int64 {
	f.t.Helper()
	s := server.Server{Name: name, MAC: mac, State: server.StateOK, PowerStatus: server.StatusUnknown}
	if err := f.db.Inventory().Servers.Create(f.ctx, &s); err != nil {
		f.t.Fatal(err)
	}
	for i, a := range addrs {
		if _, err := f.db.IPAM().Allocate(f.ctx, ipam.Alloc{Name: a, ServerID: &s.ID, SetMain: i == 0}); err != nil {
			f.t.Fatal(err)
		}
	}
	return s.ID
}

func listAll() listq.Query { return listq.Query{Limit: -1} }

func (f *fixture) leases(mac net.HardwareAddr) []netboot.Lease {
	f.t.Helper()
	ls, err := f.db.DHCP().Leases(f.ctx, mac)
	if err != nil {
		f.t.Fatal(err)
	}
	return ls
}

// waitLease polls until the MAC's lease reaches state (bounded).
func (f *fixture) waitLease(mac net.HardwareAddr, state netboot.LeaseState) netboot.Lease {
	f.t.Helper()
	var ls []netboot.Lease
	for range 100 {
		if ls = f.leases(mac); len(ls) == 1 && ls[0].State == state {
			return ls[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.t.Fatalf("lease of %s never became %s: %+v", mac, state, ls)
	return netboot.Lease{}
}

// startServer runs dcimd's DHCP server on vs inside ns until cleanup.
func startServer(t *testing.T, db *store.DB, ns string, subnets ...dhcp4d.Subnet) *dhcp4d.Server {
	t.Helper()
	s, err := dhcp4d.New(dhcp4d.Options{
		Interfaces:   []dhcp4d.Interface{{Name: "vs", Addr: srvIP}},
		Subnets:      subnets,
		Hosts:        db.DHCP(),
		Leases:       db.DHCP(),
		Log:          testLog(t),
		ListenPacket: listenIn(ns),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopServer(t, s) })
	return s
}

func stopServer(t *testing.T, s *dhcp4d.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

var directSubnet = dhcp4d.Subnet{Prefix: direct, DNS: []netip.Addr{netip.MustParseAddr("198.18.0.53")}, Domain: "lab.example",
	LeaseTime: time.Hour, HTTPBase: "http://198.18.0.1:8080"}

// TestRealClientsGetReservedAddress: udhcpc and dhclient get the address
// IPAM holds for their MAC, with its network's options; the lease is
// recorded bound; dhclient's RELEASE marks it released.
func TestRealClientsGetReservedAddress(t *testing.T) {
	n := newNetLab(t)
	f := newFixture(t)
	id := f.host("web1", n.mac, "198.18.0.10")
	s := startServer(t, f.db, n.srv, directSubnet)

	start := time.Now()
	got, out, err := n.udhcpc(n.cli, "vc")
	t.Logf("udhcpc: lease in %s", time.Since(start).Round(time.Millisecond))
	if err != nil || got["ip"] != "198.18.0.10" || got["mask"] != "24" || got["router"] != "198.18.0.1" || got["dns"] != "198.18.0.53" ||
		got["domain"] != "lab.example" || got["serverid"] != "198.18.0.1" || got["lease"] != "3600" || got["boot_file"] != "" {
		t.Fatalf("udhcpc: %v %v\n%s", got, err, out)
	}
	l := f.waitLease(n.mac, netboot.LeaseBound)
	if l.IP != netip.MustParseAddr("198.18.0.10") || l.ServerID == nil || *l.ServerID != id || l.Relay.IsValid() {
		t.Fatalf("lease after udhcpc %+v", l)
	}

	start = time.Now()
	leaseFile, out, err := n.dhclient()
	t.Logf("dhclient: lease in %s", time.Since(start).Round(time.Millisecond))
	lf, _ := os.ReadFile(leaseFile)
	if err != nil || !strings.Contains(string(lf), "fixed-address 198.18.0.10;") || !strings.Contains(string(lf), "option routers 198.18.0.1;") ||
		!strings.Contains(out, "DHCPACK of 198.18.0.10 from 198.18.0.1") {
		t.Fatalf("dhclient: %v\n%s\nlease file:\n%s", err, out, lf)
	}
	if l := f.waitLease(n.mac, netboot.LeaseBound); l.Hostname == "" {
		t.Logf("dhclient sent no host name (lease %+v)", l)
	}

	out, err = n.dhclientRelease()
	if err != nil {
		t.Fatalf("dhclient -r: %v\n%s", err, out)
	}
	if l := f.waitLease(n.mac, netboot.LeaseReleased); l.IP != netip.MustParseAddr("198.18.0.10") {
		t.Fatalf("released lease %+v", l)
	}
	// The reservation stays with the server.
	ip, err := f.db.IPAM().GetIP(f.ctx, l.IPID)
	if err != nil || ip.ServerID == nil || *ip.ServerID != id {
		t.Fatalf("address after release %+v %v", ip, err)
	}
	st := s.Stats()
	if st.Offers < 2 || st.Acks < 2 || st.Releases != 1 || st.Naks != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRealUnknownMACGetsNothing: in authoritative mode a MAC without an
// address gets no answer at all, and nothing is written.
func TestRealUnknownMACGetsNothing(t *testing.T) {
	n := newNetLab(t)
	f := newFixture(t)
	f.host("other", randMAC(t), "198.18.0.10")
	s := startServer(t, f.db, n.srv, directSubnet)
	got, out, err := n.udhcpc(n.cli, "vc")
	if err == nil || got["ip"] != "" || !strings.Contains(out, "no lease") {
		t.Fatalf("an unknown mac got a lease: %v %v\n%s", got, err, out)
	}
	st := s.Stats()
	if st.Offers != 0 || st.Acks != 0 || st.DropsBy["unknown_mac"] < 3 {
		t.Fatalf("stats %+v", st)
	}
	if ls := f.leases(nil); len(ls) != 0 {
		t.Fatalf("leases written: %+v", ls)
	}
	news, _, err := f.db.Inventory().Servers.List(f.ctx, listAll())
	if err != nil || len(news) != 1 {
		t.Fatalf("servers after an unknown mac: %d, %v", len(news), err)
	}
}

// TestRealDiscovery: an unknown PXE client in a subnet with a discovery
// range gets the range's first address and its boot loader, and becomes
// a new server with its MAC; a plain client does not.
func TestRealDiscovery(t *testing.T) {
	n := newNetLab(t)
	f := newFixture(t)
	sub := directSubnet
	sub.Discovery = netboot.Range{First: netip.MustParseAddr("198.18.0.100"), Last: netip.MustParseAddr("198.18.0.109")}
	startServer(t, f.db, n.srv, sub)

	got, out, err := n.udhcpc(n.cli, "vc")
	if err == nil || got["ip"] != "" {
		t.Fatalf("a plain unknown client was discovered: %v\n%s", got, out)
	}
	got, out, err = n.udhcpc(n.cli, "vc", "-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000")
	if err != nil || got["ip"] != "198.18.0.100" || got["boot_file"] != "undionly.kpxe" || got["siaddr"] != "198.18.0.1" {
		t.Fatalf("pxe discovery: %v %v\n%s", got, err, out)
	}
	l := f.waitLease(n.mac, netboot.LeaseBound)
	if !l.Dynamic || l.ServerID == nil {
		t.Fatalf("discovery lease %+v", l)
	}
	srv, err := f.db.Inventory().Servers.Get(f.ctx, *l.ServerID)
	if err != nil || !srv.IsNew || srv.MAC.String() != n.mac.String() || !strings.HasPrefix(srv.Name, "new-") {
		t.Fatalf("discovered server %+v %v", srv, err)
	}
}

// TestRealRelay: a request through ISC dhcrelay (with option 82) gets the
// address of the relay's subnet, not the server's own, and the lease
// records the relay and its circuit id.
func TestRealRelay(t *testing.T) {
	l := newLab(t)
	srv, rly, cli := l.ns("srv"), l.ns("rly"), l.ns("cli")
	l.veth(srv, "vs", rly, "rs")
	l.ip(srv, "addr", "add", "198.18.0.1/24", "dev", "vs")
	l.ip(rly, "addr", "add", "198.18.0.2/24", "dev", "rs")
	l.veth(cli, "vc", rly, "rc")
	l.ip(rly, "addr", "add", "198.18.1.1/24", "dev", "rc")
	l.ip(srv, "route", "add", "198.18.1.0/24", "via", "198.18.0.2", "dev", "vs")
	n := &netLab{lab: l, srv: srv, cli: cli, mac: randMAC(t)}
	l.ip(cli, "link", "set", "vc", "address", n.mac.String())

	f := newFixture(t)
	f.host("edge1", n.mac, "198.18.1.20", "198.18.0.20")
	startServer(t, f.db, srv, directSubnet, dhcp4d.Subnet{Prefix: relayed, LeaseTime: 30 * time.Minute})
	relay := l.start(rly, l.tl.dhcrelay, "-d", "-4", "-a", "-pf", filepath.Join(l.dir, "dhcrelay.pid"), "-id", "rc", "-iu", "rs", "198.18.0.1")

	var got map[string]string
	var out string
	var err error
	for range 5 { // dhcrelay needs a moment to open its sockets
		if got, out, err = n.udhcpc(cli, "vc"); err == nil {
			break
		}
	}
	if err != nil || got["ip"] != "198.18.1.20" || got["router"] != "198.18.1.1" || got["mask"] != "24" || got["lease"] != "1800" ||
		got["serverid"] != "198.18.0.1" {
		t.Fatalf("relayed udhcpc: %v %v\n%s\nrelay:\n%s", got, err, out, relay.log())
	}
	ls := f.waitLease(n.mac, netboot.LeaseBound)
	if ls.IP != netip.MustParseAddr("198.18.1.20") || ls.Relay != netip.MustParseAddr("198.18.1.1") || ls.CircuitID != "rc" {
		t.Fatalf("relayed lease %+v", ls)
	}
}

// TestRealRestartKeepsLease: leases live in the database: after a restart
// of the server (and of the database), the lease row is still there and
// the client gets the same address back.
func TestRealRestartKeepsLease(t *testing.T) {
	n := newNetLab(t)
	f := newFixture(t)
	sub := directSubnet
	sub.Discovery = netboot.Range{First: netip.MustParseAddr("198.18.0.100"), Last: netip.MustParseAddr("198.18.0.109")}
	pxe := []string{"-V", "PXEClient:Arch:00007:UNDI:003016", "-x", "0x5d:0007"}

	s := startServer(t, f.db, n.srv, sub)
	got, out, err := n.udhcpc(n.cli, "vc", pxe...)
	if err != nil || got["ip"] != "198.18.0.100" || got["boot_file"] != "ipxe.efi" {
		t.Fatalf("first lease: %v %v\n%s", got, err, out)
	}
	first := f.waitLease(n.mac, netboot.LeaseBound)
	stopServer(t, s)
	if err := f.db.Close(); err != nil {
		t.Fatal(err)
	}

	f.db = openDB(t, f.path)
	if ls := f.leases(n.mac); len(ls) != 1 || ls[0].IP != first.IP || ls[0].State != netboot.LeaseBound || !ls[0].ExpiresAt.Equal(first.ExpiresAt) {
		t.Fatalf("leases after the restart %+v, before %+v", ls, first)
	}
	startServer(t, f.db, n.srv, sub)
	got, out, err = n.udhcpc(n.cli, "vc", pxe...)
	if err != nil || got["ip"] != "198.18.0.100" {
		t.Fatalf("lease after the restart: %v %v\n%s", got, err, out)
	}
	if ls := f.leases(nil); len(ls) != 1 {
		t.Fatalf("a restart handed out another address: %+v", ls)
	}
}
