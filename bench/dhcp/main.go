// Command dhcp measures DHCPv4 DORA exchanges per second with Kea's
// perfdhcp against dcimd's DHCPv4 server (internal/netboot/dhcp4d, in this
// process, on SQLite and on a throwaway PostgreSQL cluster), Kea memfile
// (kea-dhcp4) and dnsmasq, side by side in one run and in the same pair of
// network namespaces (the harness's netboot.md §2 baselines).
//
// Two namespaces dcd-bench-<id>-srv/-cli are joined by a veth pair
// (198.18.0.1/16 and 198.18.0.2/16); nothing is created in the root
// namespace and both are deleted at the end. perfdhcp acts as a relay from
// 198.18.0.2:67 (giaddr set) with the same -clients MACs (-M file) for
// every server:
//
//	perfdhcp -4 -l vc -r RATE -R CLIENTS -p PERIOD -W 1000000 -M macs 198.18.0.1
//
// For each server the rates are stepped up (-rates) and the step stops at
// the first rate with drops; the highest rate with zero drops is the
// server's result. Every run starts a fresh server with an empty lease
// database (dcimd: dhcp_leases emptied, the hosts kept). dcimd answers
// only known machines (authoritative, reserved addresses), so every MAC is
// stored as a server with an address from the network 198.18.0.0/16; Kea
// and dnsmasq hand out addresses from a pool in 198.18.1.0–198.18.255.254.
//
// Durability (dcimd): the sockets are wrapped to record every ACK sent
// (client MAC, address). After the server is shut down, the number of
// dhcp_leases rows must equal the number of distinct clients acked, and
// every acked (MAC, address) must be a row.
//
// Run it with `make bench` or `go run ./bench/dhcp [flags]` as root. The
// whole run stays under four minutes with the defaults (-budget).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
	"github.com/insomniacslk/dhcp/dhcpv4/server4"
	"golang.org/x/sys/unix"
)

const (
	srvDev, cliDev = "vs", "vc"
	srvAddr        = "198.18.0.1"
)

type config struct {
	rates   []int
	clients int
	period  int
	budget  time.Duration
	workers int
	only    map[string]bool
	verbose bool
	dir     string
	macFile string
	perf    string
	ns      *netns
}

func main() { os.Exit(run()) }

func run() int {
	rateList := flag.String("rates", "250,400,700,1000,1500,2000,3000,4000,6000", "offered rates (DORA/s) to step through")
	clients := flag.Int("clients", 2000, "perfdhcp clients (-R): distinct MACs, each reserved in dcimd")
	period := flag.Int("period", 5, "seconds of sending per run (perfdhcp -p)")
	budget := flag.Duration("budget", 200*time.Second, "start no run after this")
	workers := flag.Int("workers", 0, "dcimd's dhcp4d workers (0: its default)")
	only := flag.String("only", "", "measure only these servers (comma-separated: dcimd-sqlite,dcimd-postgres,kea,dnsmasq)")
	verbose := flag.Bool("v", false, "print perfdhcp's output")
	cpuProfile := flag.String("cpuprofile", "", "write this process's CPU profile (dcimd's server runs here)")
	flag.Parse()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	c := config{clients: *clients, period: *period, budget: *budget, workers: *workers, verbose: *verbose, only: map[string]bool{}}
	for _, f := range strings.Split(*rateList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "dhcp bench: rate %q\n", f)
			return 2
		}
		c.rates = append(c.rates, n)
	}
	for _, s := range strings.Split(*only, ",") {
		if s = strings.TrimSpace(s); s != "" {
			c.only[s] = true
		}
	}
	if c.clients < 1 || c.clients > 60000 {
		fmt.Fprintln(os.Stderr, "dhcp bench: -clients must be 1..60000")
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "dhcp bench: needs root (network namespaces)")
		return 1
	}
	var err error
	if c.perf, err = exec.LookPath("perfdhcp"); err != nil {
		fmt.Fprintln(os.Stderr, "dhcp bench: perfdhcp not installed (Debian package kea-admin; make deps)")
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	begin := time.Now()

	dir, err := os.MkdirTemp("", "dhcpbench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755) // dnsmasq drops privileges
	c.dir = dir
	c.macFile = filepath.Join(dir, "macs")
	var b strings.Builder
	for _, m := range macs(c.clients) {
		b.WriteString(m.String() + "\n")
	}
	if err := os.WriteFile(c.macFile, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	ns, err := newNetns()
	if err != nil {
		fmt.Fprintln(os.Stderr, "dhcp bench: namespaces:", err)
		return 1
	}
	defer ns.close()
	c.ns = ns

	fmt.Printf("DHCPv4 DORA/s with perfdhcp: %d clients, %d s per run, rates %v; %d CPUs, load %s\n",
		c.clients, c.period, c.rates, runtime.NumCPU(), benchkit.LoadAvg())

	var rows []*serverResult
	for _, s := range servers(&c) {
		if len(c.only) > 0 && !c.only[s.name] {
			continue
		}
		r := &serverResult{name: s.name}
		rows = append(rows, r)
		if s.skip != "" {
			r.note = s.skip
			fmt.Printf("\n== %s: skipped (%s)\n", s.name, s.skip)
			continue
		}
		fmt.Printf("\n== %s\n", s.name)
		if err := stepRates(ctx, &c, s, r, begin); err != nil {
			r.note = err.Error()
			fmt.Printf("%s: %v\n", s.name, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	report(&c, rows, time.Since(begin))
	return 0
}

// target is one server under test: prepare once, then start a fresh
// instance per run.
type target struct {
	name    string
	skip    string
	prepare func(ctx context.Context) (instance func(ctx context.Context) (*running, error), cleanup func(), err error)
}

// running is one started instance.
type running struct {
	stop   func() (cpu time.Duration, err error)
	verify func() string // dcimd: durability check after stop ("" when none)
	stats  func() string
}

// serverResult is what the step found.
type serverResult struct {
	name string
	runs []runResult
	best *runResult // highest offered rate with zero drops
	note string
}

type runResult struct {
	rate    int
	p       perfOut
	cpu     time.Duration
	durable string // dcimd: "ok N/N" or the mismatch
	stats   string
}

func stepRates(ctx context.Context, c *config, s target, r *serverResult, begin time.Time) error {
	t0 := time.Now()
	instance, cleanup, err := s.prepare(ctx)
	if cleanup != nil {
		defer cleanup()
	}
	if err != nil {
		return err
	}
	fmt.Printf("prepared in %v\n", time.Since(t0).Round(time.Millisecond))
	for _, rate := range c.rates {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(begin) > c.budget {
			r.note = fmt.Sprintf("stopped before %d/s: -budget %v spent", rate, c.budget)
			fmt.Println(r.note)
			return nil
		}
		inst, err := instance(ctx)
		if err != nil {
			return fmt.Errorf("start at %d/s: %w", rate, err)
		}
		time.Sleep(300 * time.Millisecond)
		out, perr := c.ns.run(ctx, time.Duration(c.period+20)*time.Second, c.perf, "-4", "-l", cliDev,
			"-r", strconv.Itoa(rate), "-R", strconv.Itoa(c.clients), "-p", strconv.Itoa(c.period), "-W", "1000000",
			"-M", c.macFile, srvAddr)
		cpu, serr := inst.stop()
		if c.verbose {
			fmt.Println(out)
		}
		p, ok := parsePerf(out)
		if !ok {
			return fmt.Errorf("perfdhcp at %d/s: %v: %s", rate, errors.Join(perr, serr), lastLines(out, 5))
		}
		rr := runResult{rate: rate, p: p, cpu: cpu}
		if inst.verify != nil {
			rr.durable = inst.verify()
		}
		if inst.stats != nil {
			rr.stats = inst.stats()
		}
		r.runs = append(r.runs, rr)
		fmt.Printf("%6d/s: ACK/s %7.1f  drops D-O %d R-A %d  avg %.2f / %.2f ms  max %.1f / %.1f ms  cpu %v%s%s\n",
			rate, float64(p.acks)/float64(c.period), p.dropsDO, p.dropsRA, p.avgDO, p.avgRA, p.maxDO, p.maxRA,
			cpu.Round(10*time.Millisecond), prefix("  durable: ", rr.durable), prefix("  server: ", rr.stats))
		if serr != nil {
			fmt.Printf("  stop: %v\n", serr)
		}
		if p.dropsDO+p.dropsRA > 0 || p.acks == 0 {
			break
		}
		if rr.durable != "" && !strings.HasPrefix(rr.durable, "ok") {
			break
		}
		last := r.runs[len(r.runs)-1]
		r.best = &last
	}
	return nil
}

func prefix(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

// perfOut is what perfdhcp printed.
type perfOut struct {
	sentDO, recvDO, dropsDO int
	sentRA, acks, dropsRA   int
	avgDO, avgRA            float64 // ms
	maxDO, maxRA            float64
}

func parsePerf(out string) (perfOut, bool) {
	var p perfOut
	sec := ""
	seen := false
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "***Statistics for:") || strings.HasPrefix(line, "Statistics for:") {
			switch {
			case strings.Contains(line, "DISCOVER-OFFER"):
				sec = "DO"
			case strings.Contains(line, "REQUEST-ACK"):
				sec = "RA"
			default:
				sec = ""
			}
			continue
		}
		f := strings.Fields(line)
		if sec == "" || len(f) < 2 {
			continue
		}
		num := func(s string) int { n, _ := strconv.Atoi(s); return n }
		fl := func(s string) float64 { x, _ := strconv.ParseFloat(s, 64); return x }
		do := sec == "DO"
		switch {
		case strings.HasPrefix(line, "sent packets:"):
			seen = true
			if do {
				p.sentDO = num(f[2])
			} else {
				p.sentRA = num(f[2])
			}
		case strings.HasPrefix(line, "received packets:"):
			if do {
				p.recvDO = num(f[2])
			} else {
				p.acks = num(f[2])
			}
		case strings.HasPrefix(line, "drops:"):
			if do {
				p.dropsDO = num(f[1])
			} else {
				p.dropsRA = num(f[1])
			}
		case strings.HasPrefix(line, "avg delay:"):
			if do {
				p.avgDO = fl(f[2])
			} else {
				p.avgRA = fl(f[2])
			}
		case strings.HasPrefix(line, "max delay:"):
			if do {
				p.maxDO = fl(f[2])
			} else {
				p.maxRA = fl(f[2])
			}
		}
	}
	return p, seen
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// macs are the perfdhcp clients' MACs (-M file), the same for every server.
func macs(n int) []net.HardwareAddr {
	out := make([]net.HardwareAddr, n)
	for i := range n {
		out[i] = net.HardwareAddr{0x52, 0x54, 0, 0x42, byte(i >> 8), byte(i)}
	}
	return out
}

// netns is the pair of namespaces of this run.
type netns struct {
	ip       string
	srv, cli string
}

func newNetns() (*netns, error) {
	ip, err := exec.LookPath("ip")
	if err != nil {
		return nil, err
	}
	b := make([]byte, 3)
	rand.Read(b)
	id := hex.EncodeToString(b)
	n := &netns{ip: ip, srv: "dcd-bench-" + id + "-srv", cli: "dcd-bench-" + id + "-cli"}
	steps := [][]string{
		{"netns", "add", n.srv},
		{"netns", "add", n.cli},
		{"-n", n.srv, "link", "set", "lo", "up"},
		{"-n", n.cli, "link", "set", "lo", "up"},
		{"-n", n.srv, "link", "add", srvDev, "type", "veth", "peer", "name", cliDev, "netns", n.cli},
		{"-n", n.srv, "addr", "add", srvAddr + "/16", "dev", srvDev},
		{"-n", n.cli, "addr", "add", "198.18.0.2/16", "dev", cliDev},
		{"-n", n.srv, "link", "set", srvDev, "up"},
		{"-n", n.cli, "link", "set", cliDev, "up"},
	}
	for _, s := range steps {
		if out, err := exec.Command(ip, s...).CombinedOutput(); err != nil {
			n.close()
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return n, nil
}

func (n *netns) close() {
	for _, ns := range []string{n.srv, n.cli} {
		_ = exec.Command(n.ip, "netns", "del", ns).Run()
	}
}

// run runs a command in the cli namespace, bounded by timeout.
func (n *netns) run(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.ip, append([]string{"netns", "exec", n.cli}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %v", args[0], timeout)
	}
	return string(out), err
}

// startIn starts a peer in the srv namespace (ip netns exec execs it, so
// the PID is the peer's own); stop ends it by that PID.
func (n *netns) startIn(logPath string, args ...string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(n.ip, append([]string{"netns", "exec", n.srv}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "KEA_PIDFILE_DIR="+filepath.Dir(logPath), "KEA_LOCKFILE_DIR="+filepath.Dir(logPath))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the peer by PID and returns its CPU time (user + system).
func (p *proc) stop() (time.Duration, error) {
	if p.exited() {
		b, _ := os.ReadFile(p.log)
		return 0, fmt.Errorf("%s exited early: %s", filepath.Base(p.cmd.Path), lastLines(string(b), 3))
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	if st := p.cmd.ProcessState; st != nil {
		return st.UserTime() + st.SystemTime(), nil
	}
	return 0, nil
}

// listenIn opens dcimd's sockets inside the srv namespace, on a thread
// that is never returned to the scheduler (it ends with its goroutine).
func listenIn(ns string, rec *ackRecorder) func(string, netip.AddrPort) (net.PacketConn, error) {
	return func(ifname string, addr netip.AddrPort) (net.PacketConn, error) {
		type res struct {
			c   net.PacketConn
			err error
		}
		ch := make(chan res, 1)
		go func() {
			runtime.LockOSThread()
			f, err := os.Open(filepath.Join("/var/run/netns", ns))
			if err != nil {
				ch <- res{err: err}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				ch <- res{err: fmt.Errorf("setns %s: %w", ns, err)}
				return
			}
			u, err := server4.NewIPv4UDPConn(ifname, net.UDPAddrFromAddrPort(addr))
			ch <- res{c: u, err: err}
		}()
		r := <-ch
		if r.err != nil {
			return nil, r.err
		}
		return &recConn{PacketConn: r.c, rec: rec}, nil
	}
}

// recConn records every DHCPACK the server sends.
type recConn struct {
	net.PacketConn
	rec *ackRecorder
}

func (c *recConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(b, addr)
	if err == nil {
		c.rec.saw(b)
	}
	return n, err
}

// ackRecorder is the set of (MAC, address) the server acked.
type ackRecorder struct {
	mu   sync.Mutex
	acks map[[6]byte][4]byte
	n    int
}

func newAckRecorder() *ackRecorder { return &ackRecorder{acks: map[[6]byte][4]byte{}} }

// saw reads a BOOTREPLY's chaddr, yiaddr and message type (option 53)
// without a full parse.
func (r *ackRecorder) saw(b []byte) {
	if len(b) < 240 || b[0] != 2 || b[2] != 6 {
		return
	}
	for i := 240; i < len(b); {
		code := b[i]
		if code == 255 {
			return
		}
		if code == 0 {
			i++
			continue
		}
		if i+1 >= len(b) {
			return
		}
		l := int(b[i+1])
		if code == 53 && l == 1 && i+2 < len(b) {
			if b[i+2] != 5 { // DHCPACK
				return
			}
			var mac [6]byte
			var ip [4]byte
			copy(mac[:], b[28:34])
			copy(ip[:], b[16:20])
			r.mu.Lock()
			r.acks[mac] = ip
			r.n++
			r.mu.Unlock()
			return
		}
		i += 2 + l
	}
}
