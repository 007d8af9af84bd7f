// Command tftp benchmarks dcimd's TFTP server (internal/netboot/tftpd)
// against tftpd-hpa and dnsmasq's TFTP, in the same run, with the same
// client (atftp) for every server.
//
// A 64 MiB file of random bytes is downloaded at block sizes 512 (no
// option: plain RFC 1350), 1468 and 65464:
//
//   - one client: -runs downloads per server (servers take turns), each
//     checked byte for byte; the table shows the median MiB/s and the
//     range;
//   - 20 concurrent clients: all start at once and are measured for at
//     most -box; the rate is the bytes all clients received by then (or by
//     the time they all finished) over that time, and every partial copy
//     must be a prefix of the file. Clients still running are killed by
//     PID, and each server gets a fresh instance for this run.
//
// Servers: dcimd's tftpd in this process with its defaults (lock-step);
// the same with -window (pin/tftp's experimental anticipate mode, not RFC
// 7440; capped by tftpd at 64 KiB in flight, so BlockSizeMax 1468 and only
// at 512 and 1468); tftpd-hpa (`in.tftpd -L -s <dir> -a 127.0.0.1:<port>`);
// dnsmasq's TFTP (`dnsmasq --no-daemon --port=0 --enable-tftp ...` on
// 127.0.0.69:69) when installed. Everything runs over loopback (MTU
// 65536), not over the harness's veth, so no server is held to 1500 bytes
// and 65464-byte blocks are not fragmented.
//
// Run it with `make bench` or `go run ./bench/tftp [flags]`. It stops
// starting measurements after -budget (the default keeps it under three
// minutes) and says what it skipped.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dcimd/dcimd/bench/internal/benchkit"
)

type bench struct {
	atftp         string
	fileName      string
	content       []byte
	dir, outDir   string
	clientTimeout time.Duration
}

// starter starts a fresh instance of one server under test.
type starter struct {
	name  string
	skip  string // why it is not measured at all
	maxBS int    // larger block sizes are not measured
	start func() (*server, error)
}

// result is what one server did at one block size.
type result struct {
	single   []float64 // MiB/s per download
	conc     float64   // aggregate MiB/s of the concurrent run
	concDone int       // clients that finished inside the box
	concRan  bool
	errs     []string
}

func main() { os.Exit(run()) }

func run() int {
	sizeMiB := flag.Int("size", 64, "file size in MiB")
	blockList := flag.String("blocks", "512,1468,65464", "block sizes")
	runs := flag.Int("runs", 3, "single-client downloads per server and block size")
	clients := flag.Int("clients", 20, "concurrent clients")
	box := flag.Duration("box", 3*time.Second, "time box of a concurrent run")
	window := flag.Int("window", 8, "window of the extra dcimd row (0: no such row)")
	budget := flag.Duration("budget", 150*time.Second, "start no measurement after this")
	useDnsmasq := flag.Bool("dnsmasq", true, "include dnsmasq's TFTP when installed")
	only := flag.String("only", "", "measure only these servers (comma-separated names)")
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	begin := time.Now()
	atftp, err := exec.LookPath("atftp")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tftp bench: atftp not installed (make deps)")
		return 1
	}
	hpa, hpaErr := exec.LookPath("in.tftpd")
	dnsmasq, dnsErr := exec.LookPath("dnsmasq")
	if !*useDnsmasq {
		dnsErr = fmt.Errorf("disabled by -dnsmasq=false")
	}
	var blocks []int
	for _, f := range strings.Split(*blockList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			fmt.Fprintf(os.Stderr, "tftp bench: block size %q: %v\n", f, err)
			return 2
		}
		blocks = append(blocks, n)
	}

	// Files live on tmpfs when there is one: the servers read from the
	// page cache either way, and 20 copies are not written to disk.
	base := os.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "tftpbench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	b := &bench{atftp: atftp, fileName: "big.bin", dir: dir + "/root", outDir: dir + "/out", clientTimeout: 90 * time.Second}
	b.content = make([]byte, *sizeMiB<<20)
	rand.Read(b.content)
	// The peers drop privileges (tftp, nobody): world-readable tree.
	for _, d := range []string{dir, b.dir, b.outDir} {
		os.MkdirAll(d, 0o755)
		os.Chmod(d, 0o755)
	}
	if err := os.WriteFile(b.dir+"/"+b.fileName, b.content, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	var oursStats []func() string
	ours := func(name string, window, blockMax int) func() (*server, error) {
		return func() (*server, error) {
			s, err := startOurs(name, b.dir, window, blockMax)
			if err == nil {
				oursStats = append(oursStats, func() string { return fmt.Sprintf("%s %+v", name, s.ours.Stats()) })
			}
			return s, err
		}
	}
	wname := fmt.Sprintf("dcimd w%d", *window)
	starters := []starter{{name: "dcimd", maxBS: 65464, start: ours("dcimd", 0, 65464)}}
	if *window > 1 {
		starters = append(starters, starter{name: wname, maxBS: 1468, start: ours(wname, *window, 1468)})
	}
	starters = append(starters,
		starter{name: "tftpd-hpa", maxBS: 65464, start: func() (*server, error) { return startHPA(hpa, b.dir, dir) }},
		starter{name: "dnsmasq", maxBS: 65464, start: func() (*server, error) { return startDnsmasq(dnsmasq, b.dir, dir) }})
	if hpaErr != nil {
		starters[len(starters)-2].skip = "in.tftpd not installed"
	}
	if dnsErr != nil {
		starters[len(starters)-1].skip = "dnsmasq: " + dnsErr.Error()
	}
	if *only != "" {
		for i := range starters {
			if !slices.Contains(strings.Split(*only, ","), starters[i].name) {
				starters[i].skip = "not in -only"
			}
		}
	}

	fmt.Printf("TFTP bench: %d MiB file, atftp client, loopback 127.0.0.1 (MTU 65536), %d CPUs, GOMAXPROCS %d\n",
		*sizeMiB, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Printf("versions: %s\n", versions(atftp, hpa, dnsmasq))
	fmt.Printf("load average at start: %s\n\n", benchkit.LoadAvg())
	cpu := benchkit.SampleCPU()

	res := map[string]map[int]*result{}
	get := func(name string, bs int) *result {
		if res[name] == nil {
			res[name] = map[int]*result{}
		}
		if res[name][bs] == nil {
			res[name][bs] = &result{}
		}
		return res[name][bs]
	}
	var skipped []string
	over := func(what string) bool {
		if ctx.Err() != nil || time.Since(begin) > *budget {
			skipped = append(skipped, what)
			return true
		}
		return false
	}
	note := func(r *result, format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		r.errs = append(r.errs, msg)
		fmt.Fprintln(os.Stderr, "  "+msg)
	}

	for _, bs := range blocks {
		// One client: every server up, taking turns.
		var up []*server
		for _, st := range starters {
			if st.skip != "" || bs > st.maxBS {
				continue
			}
			s, err := st.start()
			if err != nil {
				note(get(st.name, bs), "start: %v", err)
				continue
			}
			up = append(up, s)
		}
		for r := range *runs {
			for i := range up {
				s := up[(i+r)%len(up)]
				if over(fmt.Sprintf("%s blksize %d single run %d", s.name, bs, r+1)) {
					continue
				}
				rate, err := single(ctx, b, s, bs)
				if err != nil {
					note(get(s.name, bs), "single: %v", err)
					continue
				}
				get(s.name, bs).single = append(get(s.name, bs).single, rate)
			}
		}
		for _, s := range up {
			s.stop()
		}
		fmt.Printf("blksize %5d, 1 client: %s\n", bs, progress(res, up, bs))

		// Concurrent clients: a fresh instance each.
		for _, st := range starters {
			if st.skip != "" || bs > st.maxBS || over(fmt.Sprintf("%s blksize %d, %d clients", st.name, bs, *clients)) {
				continue
			}
			s, err := st.start()
			if err != nil {
				note(get(st.name, bs), "start: %v", err)
				continue
			}
			rate, done, err := concurrent(ctx, b, s, bs, *clients, *box)
			s.stop()
			r := get(st.name, bs)
			r.conc, r.concDone, r.concRan = rate, done, true
			if err != nil {
				note(r, "%d clients: %v", *clients, err)
			}
		}
	}
	use := cpu.Since()

	fmt.Println()
	printTable(res, starterNames(starters), blocks, *runs, *clients, *box, wname)
	fmt.Printf("\nmachine CPU busy during the bench: %.0f%% of %d CPUs (this process: %.2f CPUs); load average at end: %s; took %v\n",
		use.Machine*100, runtime.NumCPU(), use.Self, benchkit.LoadAvg(), time.Since(begin).Round(time.Second))
	for _, st := range starters {
		if st.skip != "" {
			fmt.Printf("not measured: %s (%s)\n", st.name, st.skip)
		}
	}
	if len(skipped) > 0 {
		fmt.Printf("skipped after the %v budget: %s\n", *budget, strings.Join(skipped, "; "))
	}
	for _, f := range oursStats {
		fmt.Println("stats:", f())
	}
	return 0
}

func progress(res map[string]map[int]*result, up []*server, bs int) string {
	var parts []string
	for _, s := range up {
		if r := res[s.name][bs]; r != nil && len(r.single) > 0 {
			parts = append(parts, fmt.Sprintf("%s %.1f", s.name, median(r.single)))
		}
	}
	return strings.Join(parts, ", ") + " MiB/s"
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// versions names the peers' versions for the record.
func versions(atftp, hpa, dnsmasq string) string {
	first := func(bin string, args ...string) string {
		if bin == "" {
			return "absent"
		}
		out, _ := exec.Command(bin, args...).CombinedOutput()
		l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
		return l
	}
	return fmt.Sprintf("atftp %q; tftpd-hpa %q; dnsmasq %q", first(atftp, "--version"), first(hpa, "-V"), first(dnsmasq, "--version"))
}
