// Package netboot holds the boot policy of dcimd's own boot infrastructure:
// which loader a network-booting machine gets, and the lease and host
// records the DHCP server reads and writes. It knows no protocol library;
// the DHCP adapter (netboot/dhcp4d) turns packets into a Client and a
// Choice back into options.
package netboot

import (
	"net"
	"strconv"
	"strings"
)

// Firmware is the kind of boot firmware a client runs, read from DHCP
// option 93 (RFC 4578, IANA "Processor Architecture Types").
type Firmware int

// The firmware kinds dcimd boots. Every other architecture gets nothing.
const (
	FirmwareUnknown Firmware = iota
	FirmwareBIOS             // 0: x86 BIOS PXE
	FirmwareEFI32            // 6: x86 UEFI, 32-bit
	FirmwareEFI64            // 7, 9: x86-64 UEFI (9 is "EFI BC", sent by x86-64 firmware)
	FirmwareARM32            // 10: ARM 32-bit UEFI
	FirmwareARM64            // 11: ARM 64-bit UEFI
)

// String names the firmware for logs.
func (f Firmware) String() string {
	switch f {
	case FirmwareBIOS:
		return "bios"
	case FirmwareEFI32:
		return "efi32"
	case FirmwareEFI64:
		return "efi64"
	case FirmwareARM32:
		return "arm32-efi"
	case FirmwareARM64:
		return "arm64-efi"
	}
	return "unknown"
}

// archFirmware maps option 93 values to a firmware and whether the value
// means UEFI HTTP boot (RFC 4578 registry: 15 x86, 16 x64, 18 arm32,
// 19 arm64 over HTTP).
func archFirmware(a uint16) (Firmware, bool) {
	switch a {
	case 0:
		return FirmwareBIOS, false
	case 6:
		return FirmwareEFI32, false
	case 7, 9:
		return FirmwareEFI64, false
	case 10:
		return FirmwareARM32, false
	case 11:
		return FirmwareARM64, false
	case 15:
		return FirmwareEFI32, true
	case 16:
		return FirmwareEFI64, true
	case 18:
		return FirmwareARM32, true
	case 19:
		return FirmwareARM64, true
	}
	return FirmwareUnknown, false
}

// Vendor classes (option 60 prefixes) of network-booting firmware, and the
// user class (option 77) iPXE sends.
const (
	VendorPXE  = "PXEClient"
	VendorHTTP = "HTTPClient"
	UserIPXE   = "iPXE"
)

// Client is what a DHCP request says about its booting firmware.
type Client struct {
	MAC         net.HardwareAddr
	Arches      []uint16 // option 93, in the client's order of preference
	VendorClass string   // option 60
	UserClasses []string // option 77
}

// IsPXE reports a client that announces network-boot firmware in its
// vendor class (PXEClient or HTTPClient). iPXE sends PXEClient too.
func (c Client) IsPXE() bool {
	return strings.HasPrefix(c.VendorClass, VendorPXE) || strings.HasPrefix(c.VendorClass, VendorHTTP)
}

// IsIPXE reports a client already running iPXE.
func (c Client) IsIPXE() bool {
	for _, u := range c.UserClasses {
		if u == UserIPXE {
			return true
		}
	}
	return false
}

// firmware reads the first known architecture of option 93, falling back to
// the "PXEClient:Arch:00007:UNDI:003016" form of the vendor class when the
// option is missing (some old ROMs).
func (c Client) firmware() (Firmware, bool) {
	for _, a := range c.Arches {
		if f, http := archFirmware(a); f != FirmwareUnknown {
			return f, http
		}
	}
	if len(c.Arches) > 0 {
		return FirmwareUnknown, false
	}
	parts := strings.Split(c.VendorClass, ":")
	if len(parts) >= 3 && parts[1] == "Arch" {
		if n, err := strconv.ParseUint(parts[2], 10, 16); err == nil {
			return archFirmware(uint16(n))
		}
	}
	return FirmwareUnknown, false
}

// Files are the boot loader names per firmware. They are TFTP file names,
// and for UEFI HTTP boot the last path element of an HTTP URL.
type Files struct {
	BIOS  string // undionly.kpxe: iPXE chained through the NIC's UNDI driver
	EFI32 string
	EFI64 string
	ARM32 string
	ARM64 string
}

// DefaultFiles are iPXE's usual build names.
var DefaultFiles = Files{
	BIOS:  "undionly.kpxe",
	EFI32: "ipxe-i386.efi",
	EFI64: "ipxe.efi",
	ARM32: "ipxe-arm32.efi",
	ARM64: "ipxe-arm64.efi",
}

// WithDefaults fills empty names from DefaultFiles.
func (f Files) WithDefaults() Files {
	for _, p := range []struct {
		v *string
		d string
	}{
		{&f.BIOS, DefaultFiles.BIOS}, {&f.EFI32, DefaultFiles.EFI32}, {&f.EFI64, DefaultFiles.EFI64},
		{&f.ARM32, DefaultFiles.ARM32}, {&f.ARM64, DefaultFiles.ARM64},
	} {
		if *p.v == "" {
			*p.v = p.d
		}
	}
	return f
}

func (f Files) name(fw Firmware) string {
	switch fw {
	case FirmwareBIOS:
		return f.BIOS
	case FirmwareEFI32:
		return f.EFI32
	case FirmwareEFI64:
		return f.EFI64
	case FirmwareARM32:
		return f.ARM32
	case FirmwareARM64:
		return f.ARM64
	}
	return ""
}

// How a Choice is fetched.
type Method int

// The ways a client loads what it is given.
const (
	MethodNone   Method = iota // not a network-boot client, or one dcimd cannot boot
	MethodTFTP                 // File is a TFTP file name on the next server
	MethodHTTP                 // File is an HTTP URL of a loader (UEFI HTTP boot)
	MethodScript               // File is the HTTP URL of the client's iPXE script
)

// Choice is what the DHCP reply tells a network-booting client to load.
type Choice struct {
	Method   Method
	File     string   // TFTP name or URL
	Firmware Firmware // for logs
	// HTTPClient: the reply must carry vendor class "HTTPClient", or UEFI
	// HTTP boot firmware ignores it.
	HTTPClient bool
}

// ScriptURL is the iPXE script of one machine: <base>/boot/<mac>.ipxe.
func ScriptURL(httpBase string, mac net.HardwareAddr) string {
	return strings.TrimRight(httpBase, "/") + "/boot/" + mac.String() + ".ipxe"
}

// LoaderURL is a boot loader served over HTTP: <base>/boot/<name>.
func LoaderURL(httpBase, name string) string {
	return strings.TrimRight(httpBase, "/") + "/boot/" + name
}

// Choose picks the boot file of a client. iPXE (user class iPXE) gets its
// own script over HTTP, whatever its architecture, so a chained iPXE never
// loads iPXE again; UEFI HTTP boot (vendor class HTTPClient or an HTTP
// architecture) gets the loader's HTTP URL; PXE firmware gets the loader
// over TFTP. A client that is not a network-boot client, or whose
// architecture dcimd has no loader for, gets MethodNone. Without an HTTP
// base URL, iPXE and HTTP boot clients get nothing: there is no script to
// send them to.
func Choose(c Client, files Files, httpBase string) Choice {
	if c.IsIPXE() {
		if httpBase == "" || len(c.MAC) == 0 {
			return Choice{}
		}
		fw, _ := c.firmware()
		return Choice{Method: MethodScript, File: ScriptURL(httpBase, c.MAC), Firmware: fw}
	}
	if !c.IsPXE() {
		return Choice{}
	}
	fw, httpArch := c.firmware()
	name := files.WithDefaults().name(fw)
	if name == "" {
		return Choice{}
	}
	if httpArch || strings.HasPrefix(c.VendorClass, VendorHTTP) {
		if httpBase == "" || fw == FirmwareBIOS {
			return Choice{}
		}
		return Choice{Method: MethodHTTP, File: LoaderURL(httpBase, name), Firmware: fw, HTTPClient: true}
	}
	return Choice{Method: MethodTFTP, File: name, Firmware: fw}
}
