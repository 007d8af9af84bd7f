//go:build linux

package qemupxe

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Firmware and option ROM locations of Debian's qemu-system-x86,
// ipxe-qemu and ovmf packages.
const (
	ROMDir   = "/usr/lib/ipxe/qemu"
	OVMFCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	OVMFVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
	// BIOSROM is iPXE for the e1000 NIC: SeaBIOS runs it (it skips the
	// virtio one). UEFIROM is iPXE for virtio-net under OVMF.
	BIOSROM = ROMDir + "/pxe-e1000.rom"
	UEFIROM = ROMDir + "/efi-virtio.rom"

	debianPkgs = "qemu-system-x86, ipxe-qemu and ovmf (scripts/test-deps.sh)"
)

type tools struct{ ip, qemu string }

// requireTools finds what a boot needs, or skips the test (fails it when
// CI=true) saying what is missing.
func requireTools(t testing.TB, fw Firmware, withQEMU bool) tools {
	t.Helper()
	missing := func(why string) {
		msg := "qemupxe: " + why + "; PXE tests need root, iproute2, " + debianPkgs
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if os.Geteuid() != 0 {
		missing("not root (network namespaces and taps need CAP_NET_ADMIN and CAP_SYS_ADMIN)")
	}
	tl := tools{ip: findIP()}
	if _, err := exec.LookPath(tl.ip); err != nil {
		missing("ip not found")
	}
	if !withQEMU {
		return tl
	}
	q, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		missing("qemu-system-x86_64 not found")
	}
	tl.qemu = q
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		missing("/dev/net/tun is missing")
	}
	need := []string{BIOSROM}
	if fw == UEFI {
		need = []string{UEFIROM, OVMFCode, OVMFVars}
	}
	for _, f := range need {
		if _, err := os.Stat(f); err != nil {
			missing(f + " is missing")
		}
	}
	return tl
}

// Loader finds an iPXE loader (undionly.kpxe, ipxe.efi, snponly.efi):
// in the repository's netboot/ folder when `make netboot` filled it, else
// in /usr/lib/ipxe (Debian's ipxe package). It skips the test (fails it
// when CI=true) when neither has it.
func Loader(t testing.TB, name string) string {
	t.Helper()
	var dirs []string
	if wd, err := os.Getwd(); err == nil {
		for d := wd; d != filepath.Dir(d); d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dirs = append(dirs, filepath.Join(d, "netboot"))
				break
			}
		}
	}
	dirs = append(dirs, "/usr/lib/ipxe")
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	msg := "qemupxe: " + name + " not found in netboot/ (make netboot) or /usr/lib/ipxe (Debian's ipxe package)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
