package netboot

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

func TestChoose(t *testing.T) {
	mac := net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}
	const base = "http://198.18.0.1:8080"
	custom := Files{EFI64: "custom.efi"}
	tests := []struct {
		name  string
		c     Client
		files Files
		base  string
		want  Choice
	}{
		{"bios pxe", Client{Arches: []uint16{0}, VendorClass: "PXEClient:Arch:00000:UNDI:002001"}, Files{}, base,
			Choice{Method: MethodTFTP, File: "undionly.kpxe", Firmware: FirmwareBIOS}},
		{"uefi x64", Client{Arches: []uint16{7}, VendorClass: "PXEClient:Arch:00007:UNDI:003016"}, Files{}, base,
			Choice{Method: MethodTFTP, File: "ipxe.efi", Firmware: FirmwareEFI64}},
		{"uefi bc is x64", Client{Arches: []uint16{9}, VendorClass: "PXEClient"}, Files{}, base,
			Choice{Method: MethodTFTP, File: "ipxe.efi", Firmware: FirmwareEFI64}},
		{"uefi ia32", Client{Arches: []uint16{6}, VendorClass: "PXEClient"}, Files{}, base,
			Choice{Method: MethodTFTP, File: "ipxe-i386.efi", Firmware: FirmwareEFI32}},
		{"arm64", Client{Arches: []uint16{11}, VendorClass: "PXEClient:Arch:00011:UNDI:003000"}, Files{}, base,
			Choice{Method: MethodTFTP, File: "ipxe-arm64.efi", Firmware: FirmwareARM64}},
		{"arm32", Client{Arches: []uint16{10}, VendorClass: "PXEClient"}, Files{}, base,
			Choice{Method: MethodTFTP, File: "ipxe-arm32.efi", Firmware: FirmwareARM32}},
		{"configured name", Client{Arches: []uint16{7}, VendorClass: "PXEClient"}, custom, base,
			Choice{Method: MethodTFTP, File: "custom.efi", Firmware: FirmwareEFI64}},
		{"http boot x64", Client{Arches: []uint16{16}, VendorClass: "HTTPClient:Arch:00016:UNDI:003001"}, Files{}, base,
			Choice{Method: MethodHTTP, File: base + "/boot/ipxe.efi", Firmware: FirmwareEFI64, HTTPClient: true}},
		{"http boot arm64", Client{Arches: []uint16{19}, VendorClass: "HTTPClient"}, Files{}, base + "/",
			Choice{Method: MethodHTTP, File: base + "/boot/ipxe-arm64.efi", Firmware: FirmwareARM64, HTTPClient: true}},
		{"http vendor class with pxe arch", Client{Arches: []uint16{7}, VendorClass: "HTTPClient"}, Files{}, base,
			Choice{Method: MethodHTTP, File: base + "/boot/ipxe.efi", Firmware: FirmwareEFI64, HTTPClient: true}},
		{"http boot without base", Client{Arches: []uint16{16}, VendorClass: "HTTPClient"}, Files{}, "", Choice{}},
		{"ipxe gets its script", Client{MAC: mac, Arches: []uint16{0}, VendorClass: "PXEClient:Arch:00000:UNDI:002001",
			UserClasses: []string{"iPXE"}}, Files{}, base,
			Choice{Method: MethodScript, File: base + "/boot/52:54:00:12:34:56.ipxe", Firmware: FirmwareBIOS}},
		{"ipxe efi gets its script", Client{MAC: mac, Arches: []uint16{7}, VendorClass: "PXEClient", UserClasses: []string{"other", "iPXE"}},
			Files{}, base, Choice{Method: MethodScript, File: base + "/boot/52:54:00:12:34:56.ipxe", Firmware: FirmwareEFI64}},
		{"ipxe without base", Client{MAC: mac, Arches: []uint16{0}, VendorClass: "PXEClient", UserClasses: []string{"iPXE"}},
			Files{}, "", Choice{}},
		{"arch from vendor class", Client{VendorClass: "PXEClient:Arch:00007:UNDI:003016"}, Files{}, base,
			Choice{Method: MethodTFTP, File: "ipxe.efi", Firmware: FirmwareEFI64}},
		{"first known arch wins", Client{Arches: []uint16{200, 11, 7}, VendorClass: "PXEClient"}, Files{}, base,
			Choice{Method: MethodTFTP, File: "ipxe-arm64.efi", Firmware: FirmwareARM64}},
		{"unknown arch", Client{Arches: []uint16{2}, VendorClass: "PXEClient:Arch:00007"}, Files{}, base, Choice{}},
		{"not pxe", Client{Arches: []uint16{7}, VendorClass: "udhcp 1.35.0"}, Files{}, base, Choice{}},
		{"no vendor class", Client{Arches: []uint16{0}}, Files{}, base, Choice{}},
		{"garbage vendor arch", Client{VendorClass: "PXEClient:Arch:xyz"}, Files{}, base, Choice{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Choose(tt.c, tt.files, tt.base); got != tt.want {
				t.Fatalf("Choose = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLeaseActive(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		state LeaseState
		exp   time.Duration
		want  bool
	}{
		{LeaseBound, time.Minute, true}, {LeaseOffered, time.Minute, true}, {LeaseBound, -time.Second, false},
		{LeaseReleased, time.Hour, false}, {LeaseDeclined, time.Hour, false},
	} {
		if got := (Lease{State: tt.state, ExpiresAt: now.Add(tt.exp)}).Active(now); got != tt.want {
			t.Errorf("%s expiring in %s: active %v, want %v", tt.state, tt.exp, got, tt.want)
		}
	}
}

func TestRange(t *testing.T) {
	r := Range{First: netip.MustParseAddr("198.18.0.100"), Last: netip.MustParseAddr("198.18.0.110")}
	if !r.Valid() || !r.Contains(netip.MustParseAddr("198.18.0.100")) || !r.Contains(netip.MustParseAddr("198.18.0.110")) ||
		r.Contains(netip.MustParseAddr("198.18.0.111")) || r.String() != "198.18.0.100-198.18.0.110" {
		t.Fatalf("range %v", r)
	}
	if (Range{First: r.Last, Last: r.First}).Valid() {
		t.Fatal("reversed range is valid")
	}
}
