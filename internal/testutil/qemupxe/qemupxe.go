//go:build linux

// Package qemupxe boots a diskless qemu VM that network-boots, for tests
// of dcimd's DHCP, TFTP and HTTP boot servers against real firmware.
//
// The VM runs qemu-system-x86_64 with TCG (nested KVM does not work on the
// machines these tests run on), 256 MiB, no display, its serial console in
// a file. BIOS boots SeaBIOS with an e1000 NIC and iPXE as its option ROM
// (pxe-e1000.rom from ipxe-qemu); UEFI boots OVMF with virtio-net and
// efi-virtio.rom, or with no option ROM at all (ROM: NoROM), when OVMF's own
// PXE client fetches a loader over TFTP.
//
// The VM's NIC is a tap on a bridge in a network namespace; the servers
// listen in a second namespace on the other end of a veth (see Net). Start
// builds such a network unless the caller passes its own (Options.Net, or
// Options.NS and Options.Tap). Everything is removed at the end of the
// test: qemu is killed by the PID Start started, the namespaces deleted.
// Traffic never leaves the namespaces (198.18.x.0/24).
//
// dcimd's own servers listen on the servers' side by opening their sockets
// inside its namespace, with Side.Do (or Side.Listen, Side.ListenPacket,
// Side.ServeHTTP):
//
//	n := qemupxe.NewNet(t)
//	side := n.Server() // side.NS, side.Iface ("srv0"), side.Addr (198.18.x.1)
//	base := side.ServeHTTP(t, httpboot.New(...), 0)
//	err := side.Do(func() (err error) {
//		dhcp, err = server4.NewServer(side.Iface, nil, handler) // the socket is made in side.NS
//		return err
//	})
//	vm := qemupxe.Start(t, qemupxe.Options{Firmware: qemupxe.BIOS, Net: n})
//
// Side.Dnsmasq starts dnsmasq as a stand-in DHCP and TFTP server.
//
// A boot takes 15–30 s of CPU on TCG, so Start skips the test under
// `go test -short`; without root, qemu, the ROMs or OVMF it skips the test
// too, or fails it when CI=true.
package qemupxe

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Firmware is the VM's firmware.
type Firmware int

// The firmwares.
const (
	BIOS Firmware = iota // SeaBIOS
	UEFI                 // OVMF (q35)
)

// String names the firmware for logs and subtest names.
func (f Firmware) String() string {
	if f == UEFI {
		return "uefi"
	}
	return "bios"
}

// NoROM as Options.ROM gives the NIC no option ROM: OVMF PXE-boots with
// its own virtio-net driver (UEFI only; SeaBIOS has no PXE of its own).
const NoROM = "none"

// Options shape a VM. Zero values take the defaults shown.
type Options struct {
	Firmware Firmware
	// MAC of the NIC; a random 52:54:00:xx:xx:xx.
	MAC string
	// NIC is the qemu device: e1000 (BIOS), virtio-net-pci (UEFI).
	NIC string
	// ROM is the NIC's option ROM: BIOSROM or UEFIROM; NoROM for none.
	ROM string
	// Net is the boot network to attach to; nil builds one (or uses NS
	// and Tap when set).
	Net *Net
	// NS and Tap name a namespace and a tap in it that the caller made;
	// the servers then listen wherever the caller put them.
	NS, Tap string
	// Timeout kills qemu after this long; 3 minutes.
	Timeout time.Duration
	// MemoryMiB is the VM's memory; 256.
	MemoryMiB int
	// Args are extra qemu arguments.
	Args []string
}

// VM is a running qemu.
type VM struct {
	Options
	Net     *Net   // nil when the caller gave NS and Tap
	Dir     string // serial.log, firmware.log, qemu.log, the monitor socket
	Started time.Time
	PID     int

	cmd      *exec.Cmd
	done     chan struct{}
	mu       sync.Mutex
	waitErr  error
	cancel   context.CancelFunc
	keepDirs bool
}

// Start boots a VM for the rest of the test. It returns once qemu runs;
// the firmware then DHCPs on its own. t.Cleanup kills qemu and, on
// failure, keeps Dir (with a screenshot of the VGA console, where BIOS
// iPXE writes) and logs where it is.
func Start(t testing.TB, o Options) *VM {
	t.Helper()
	if testing.Short() {
		t.Skip("qemupxe: a PXE boot under TCG takes 15-30 s; skipped with -short")
	}
	tl := requireTools(t, o.Firmware, true)
	if err := o.defaults(); err != nil {
		t.Fatalf("qemupxe: %v", err)
	}
	vm := &VM{Options: o, done: make(chan struct{})}
	switch {
	case o.Net != nil:
		vm.Net, vm.NS, vm.Tap = o.Net, o.Net.VMNS, o.Net.Tap
	case o.NS != "" && o.Tap != "":
	case o.NS != "" || o.Tap != "":
		t.Fatal("qemupxe: Options.NS and Options.Tap go together")
	default:
		vm.Net = NewNet(t)
		vm.NS, vm.Tap = vm.Net.VMNS, vm.Net.Tap
	}
	dir, err := os.MkdirTemp("", "qemupxe-")
	if err != nil {
		t.Fatalf("qemupxe: %v", err)
	}
	vm.Dir = dir
	t.Cleanup(func() { vm.cleanup(t) })

	args, err := vm.args()
	if err != nil {
		t.Fatalf("qemupxe: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	vm.cancel = cancel
	vm.cmd = exec.CommandContext(ctx, tl.ip, append([]string{"netns", "exec", vm.NS, tl.qemu}, args...)...)
	vm.cmd.WaitDelay = 5 * time.Second
	logf, err := os.Create(filepath.Join(dir, "qemu.log"))
	if err != nil {
		t.Fatalf("qemupxe: %v", err)
	}
	defer logf.Close()
	vm.cmd.Stdout, vm.cmd.Stderr = logf, logf
	vm.Started = time.Now()
	if err := vm.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("qemupxe: start qemu: %v", err)
	}
	vm.PID = vm.cmd.Process.Pid
	go func() {
		err := vm.cmd.Wait()
		vm.mu.Lock()
		vm.waitErr = err
		vm.mu.Unlock()
		close(vm.done)
	}()
	return vm
}

func (o *Options) defaults() error {
	if o.MAC == "" {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		o.MAC = fmt.Sprintf("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2])
	}
	mac, err := net.ParseMAC(o.MAC)
	if err != nil || len(mac) != 6 {
		return fmt.Errorf("MAC %q: want a 48-bit MAC", o.MAC)
	}
	o.MAC = mac.String()
	if o.NIC == "" {
		o.NIC = "e1000"
		if o.Firmware == UEFI {
			o.NIC = "virtio-net-pci"
		}
	}
	if o.ROM == "" {
		o.ROM = BIOSROM
		if o.Firmware == UEFI {
			o.ROM = UEFIROM
		}
	}
	if o.ROM == NoROM && o.Firmware == BIOS {
		return errors.New("BIOS needs an iPXE option ROM: SeaBIOS has no PXE client")
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Minute
	}
	if o.MemoryMiB <= 0 {
		o.MemoryMiB = 256
	}
	return nil
}

func (vm *VM) args() ([]string, error) {
	d := vm.Dir
	a := []string{"-accel", "tcg", "-m", fmt.Sprint(vm.MemoryMiB), "-nographic",
		"-serial", "file:" + filepath.Join(d, "serial.log"),
		"-monitor", "unix:" + filepath.Join(d, "mon.sock") + ",server,nowait",
		// SeaBIOS (and OVMF, when built to) log to the debug port.
		"-chardev", "file,id=fwlog,path=" + filepath.Join(d, "firmware.log"),
		"-device", "isa-debugcon,iobase=0x402,chardev=fwlog",
		"-no-reboot", "-boot", "n",
		"-netdev", "tap,id=n0,ifname=" + vm.Tap + ",script=no,downscript=no"}
	dev := vm.NIC + ",netdev=n0,mac=" + vm.MAC
	if vm.ROM == NoROM {
		dev += ",romfile="
	} else {
		dev += ",romfile=" + vm.ROM
	}
	a = append(a, "-device", dev)
	if vm.Firmware == UEFI {
		vars := filepath.Join(d, "OVMF_VARS.fd")
		if err := copyFile(OVMFVars, vars, 0o600); err != nil {
			return nil, err
		}
		a = append(a, "-machine", "q35",
			"-drive", "if=pflash,format=raw,readonly=on,file="+OVMFCode,
			"-drive", "if=pflash,format=raw,file="+vars)
	}
	return append(a, vm.Args...), nil
}

// Done is closed when qemu has exited.
func (vm *VM) Done() <-chan struct{} { return vm.done }

// Err is how qemu ended (nil while it runs or after a clean exit).
func (vm *VM) Err() error {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return vm.waitErr
}

// Elapsed is the time since qemu started.
func (vm *VM) Elapsed() time.Duration { return time.Since(vm.Started) }

// ServerSide is where the VM's DHCP, TFTP and HTTP servers must listen.
// It is the zero Side when the caller gave its own NS and Tap.
func (vm *VM) ServerSide() Side {
	if vm.Net == nil {
		return Side{}
	}
	return vm.Net.Server()
}

// Serial is what the VM wrote to its serial console so far (OVMF and
// UEFI iPXE write there; BIOS iPXE writes to VGA only, see Screenshot).
func (vm *VM) Serial() string { return readTail(filepath.Join(vm.Dir, "serial.log"), 1<<20) }

// FirmwareLog is what the firmware wrote to the debug port (SeaBIOS).
func (vm *VM) FirmwareLog() string { return readTail(filepath.Join(vm.Dir, "firmware.log"), 1<<20) }

// Stop kills qemu (by its PID) and waits for it.
func (vm *VM) Stop() {
	if vm.cmd == nil || vm.cmd.Process == nil {
		return
	}
	select {
	case <-vm.done:
	default:
		_ = vm.cmd.Process.Kill()
		<-vm.done
	}
	vm.cancel()
}

// KeepDir keeps Dir after the test, even when it passes.
func (vm *VM) KeepDir() { vm.keepDirs = true }

func (vm *VM) cleanup(t testing.TB) {
	if vm.cmd != nil && vm.cmd.Process != nil && t.Failed() {
		select {
		case <-vm.done:
		default:
			if err := vm.Screenshot(filepath.Join(vm.Dir, "screen.png")); err != nil {
				t.Logf("qemupxe: screenshot: %v", err)
			}
		}
	}
	vm.Stop()
	if t.Failed() || vm.keepDirs {
		t.Logf("qemupxe: VM files kept in %s (serial.log, firmware.log, qemu.log, screen.png); serial tail:\n%s",
			vm.Dir, tailLines(vm.Serial(), 15))
		return
	}
	_ = os.RemoveAll(vm.Dir)
}

func copyFile(from, to string, mode os.FileMode) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

func readTail(p string, max int64) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(-max, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
