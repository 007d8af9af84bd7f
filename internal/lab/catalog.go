package lab

import (
	"fmt"
	"net"
)

// model is one kind of server the lab racks: its platform and what
// diagnostics would report about it.
type model struct {
	config   string // the configuration string billing systems sell by
	platform string
	size     int // rack units
	board    [2]string
	bios     [2]string // vendor, version
	cpu      cpu
	memory   []dimm
	disks    []disk
	nics     []nic
}

type cpu struct {
	model                   string
	sockets, cores, threads int
	mhz                     int
}

type dimm struct {
	sizeGiB, mhz int
	kind         string
	maker, part  string
}

type disk struct {
	model, kind string // kind: nvme, ssd or hdd
	sizeGB      int64
	serial      string // prefix; the index makes it unique
}

type nic struct {
	model     string
	speedMbps int
}

// models are what a small hosting provider racks; the i9 is the seed's own example.
var models = []model{
	{
		config: "Xeon-E2288G-64GB-2x960NVMe", platform: "Supermicro SYS-5019C-MR", size: 1,
		board: [2]string{"Supermicro", "X11SCW-F"}, bios: [2]string{"American Megatrends Inc.", "2.5"},
		cpu:    cpu{model: "Intel(R) Xeon(R) E-2288G CPU @ 3.70GHz", sockets: 1, cores: 8, threads: 16, mhz: 3700},
		memory: repeat(4, dimm{16, 2666, "DDR4 ECC", "Samsung", "M391A2K43BB1-CTD"}),
		disks:  []disk{{"SAMSUNG MZ1LB960HAJQ-00007", "nvme", 960, "S435NE0M"}, {"SAMSUNG MZ1LB960HAJQ-00007", "nvme", 960, "S435NE0M"}},
		nics:   []nic{{"Intel Corporation I210 Gigabit Network Connection", 1000}, {"Intel Corporation Ethernet Controller X710 for 10GbE SFP+", 10000}},
	},
	{
		config: "2xXeon-4314-256GB-2x480SSD-4x3840NVMe", platform: "Dell PowerEdge R650", size: 1,
		board: [2]string{"Dell Inc.", "0PYXKY"}, bios: [2]string{"Dell Inc.", "1.8.2"},
		cpu:    cpu{model: "Intel(R) Xeon(R) Silver 4314 CPU @ 2.40GHz", sockets: 2, cores: 32, threads: 64, mhz: 2400},
		memory: repeat(8, dimm{32, 3200, "DDR4 ECC Registered", "Hynix", "HMA84GR7DJR4N-XN"}),
		disks: []disk{{"MZ7KH480HAHQ0D3", "ssd", 480, "S47MNA0R"}, {"MZ7KH480HAHQ0D3", "ssd", 480, "S47MNA0R"},
			{"Dell Ent NVMe CM6 RI 3.84TB", "nvme", 3840, "Y0T0A0C7"}, {"Dell Ent NVMe CM6 RI 3.84TB", "nvme", 3840, "Y0T0A0C7"},
			{"Dell Ent NVMe CM6 RI 3.84TB", "nvme", 3840, "Y0T0A0C7"}, {"Dell Ent NVMe CM6 RI 3.84TB", "nvme", 3840, "Y0T0A0C7"}},
		nics: []nic{{"Mellanox Technologies MT27800 Family [ConnectX-5]", 25000}, {"Mellanox Technologies MT27800 Family [ConnectX-5]", 25000}},
	},
	{
		config: "EPYC-7443P-128GB-2x1920SSD-2x8TB", platform: "Supermicro AS-1114S-WN10RT", size: 1,
		board: [2]string{"Supermicro", "H12SSW-NT"}, bios: [2]string{"American Megatrends International, LLC.", "2.4"},
		cpu:    cpu{model: "AMD EPYC 7443P 24-Core Processor", sockets: 1, cores: 24, threads: 48, mhz: 2850},
		memory: repeat(8, dimm{16, 3200, "DDR4 ECC Registered", "Micron", "MTA18ASF2G72PZ-3G2R1"}),
		disks: []disk{{"SAMSUNG MZ7LH1T9HMLT-00005", "ssd", 1920, "S455NY0N"}, {"SAMSUNG MZ7LH1T9HMLT-00005", "ssd", 1920, "S455NY0N"},
			{"ST8000NM000A-2KE101", "hdd", 8000, "WKD0"}, {"ST8000NM000A-2KE101", "hdd", 8000, "WKD0"}},
		nics: []nic{{"Broadcom Inc. BCM57416 NetXtreme-E 10GBASE-T", 10000}, {"Broadcom Inc. BCM57416 NetXtreme-E 10GBASE-T", 10000}},
	},
	{
		config: "i9-9900K-64Gb-2x1024NVMe", platform: "ASRock Rack 1U2E-C246", size: 1,
		board: [2]string{"ASRockRack", "E3C246D4U2-2T"}, bios: [2]string{"American Megatrends Inc.", "L2.34"},
		cpu:    cpu{model: "Intel(R) Core(TM) i9-9900K CPU @ 3.60GHz", sockets: 1, cores: 8, threads: 16, mhz: 3600},
		memory: repeat(4, dimm{16, 2666, "DDR4", "Kingston", "KSM26ED8/16ME"}),
		disks:  []disk{{"Samsung SSD 970 PRO 1TB", "nvme", 1024, "S462NF0M"}, {"Samsung SSD 970 PRO 1TB", "nvme", 1024, "S462NF0M"}},
		nics:   []nic{{"Intel Corporation Ethernet Controller X550", 10000}, {"Intel Corporation Ethernet Controller X550", 10000}},
	},
}

func repeat(n int, d dimm) []dimm {
	out := make([]dimm, n)
	for i := range out {
		out[i] = d
	}
	return out
}

// modelFor spreads the models over the servers: mostly the small ones.
func modelFor(i int) model {
	return models[[]int{0, 0, 3, 2, 1, 0, 3, 2}[i%8]]
}

// macFor is the MAC of a server's NIC k (k=0 is the boot NIC): locally
// administered, so it cannot clash with real hardware on a demo network.
func macFor(server, k int) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0xdc, 0x1d, byte(server >> 8), byte(server), byte(k)}
}

// bmcMAC is the MAC of server i's BMC (i from 1).
func bmcMAC(i int) net.HardwareAddr { return macFor(i, 0xff) }

// hardwareInfo is what diagnostics would report for server i (1-based):
// cpu, memory (with modules), disks, nics, motherboard, bios.
func hardwareInfo(m model, i int) map[string]any {
	var memMiB int
	modules := make([]any, len(m.memory))
	for k, d := range m.memory {
		memMiB += d.sizeGiB * 1024
		modules[k] = map[string]any{"slot": fmt.Sprintf("DIMM%c%d", 'A'+k/2, k%2+1), "size_mib": d.sizeGiB * 1024,
			"type": d.kind, "speed_mhz": d.mhz, "manufacturer": d.maker, "part_number": d.part,
			"serial": fmt.Sprintf("%08X", 0x3A000000+i*64+k)}
	}
	disks := make([]any, len(m.disks))
	nvme, sd := 0, 0
	for k, d := range m.disks {
		name := ""
		if d.kind == "nvme" {
			name = fmt.Sprintf("nvme%dn1", nvme)
			nvme++
		} else {
			name = "sd" + string(rune('a'+sd))
			sd++
		}
		disks[k] = map[string]any{"name": name, "model": d.model, "serial": fmt.Sprintf("%s%05d", d.serial, i*10+k),
			"size_bytes": d.sizeGB * 1000 * 1000 * 1000, "size_gb": d.sizeGB, "type": d.kind, "rotational": d.kind == "hdd"}
	}
	nics := make([]any, len(m.nics))
	for k, n := range m.nics {
		nics[k] = map[string]any{"name": fmt.Sprintf("eno%d", k+1), "mac": macFor(i, k).String(), "model": n.model,
			"speed_mbps": n.speedMbps, "link": k == 0}
	}
	return map[string]any{
		"cpu": map[string]any{"model": m.cpu.model, "sockets": m.cpu.sockets, "cores": m.cpu.cores,
			"threads": m.cpu.threads, "mhz": m.cpu.mhz},
		"memory":      map[string]any{"size_mib": memMiB, "modules": modules},
		"disks":       disks,
		"nics":        nics,
		"motherboard": map[string]any{"manufacturer": m.board[0], "model": m.board[1], "serial": fmt.Sprintf("NM%09d", 190000000+i)},
		"bios":        map[string]any{"vendor": m.bios[0], "version": m.bios[1]},
		"bmc":         map[string]any{"mac": bmcMAC(i).String(), "firmware": "1.0 (dcimd lab simulator)"},
	}
}
