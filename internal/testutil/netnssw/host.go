package netnssw

// Root-namespace address bookkeeping and the command runners.

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// usedPrefixes are the root namespace's IPv4 addresses and routes
// (without the default route).
func usedPrefixes(ip string) ([]netip.Prefix, error) {
	var used []netip.Prefix
	out, err := ipOutput(ip, "", "-j", "-4", "addr", "show")
	if err != nil {
		return nil, err
	}
	var addrs []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &addrs); err != nil {
		return nil, fmt.Errorf("parse ip -j addr show: %w", err)
	}
	for _, a := range addrs {
		for _, ai := range a.AddrInfo {
			if p, err := netip.ParsePrefix(fmt.Sprintf("%s/%d", ai.Local, ai.PrefixLen)); err == nil {
				used = append(used, p.Masked())
			}
		}
	}
	out, err = ipOutput(ip, "", "-j", "-4", "route", "show", "table", "all")
	if err != nil {
		return nil, err
	}
	var routes []struct {
		Dst string `json:"dst"`
	}
	if err := json.Unmarshal(out, &routes); err != nil {
		return nil, fmt.Errorf("parse ip -j route show: %w", err)
	}
	for _, r := range routes {
		if p, err := netip.ParsePrefix(r.Dst); err == nil {
			used = append(used, p)
		} else if a, err := netip.ParseAddr(r.Dst); err == nil {
			used = append(used, netip.PrefixFrom(a, 32))
		}
	}
	return used, nil
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if u.Bits() > 0 && u.Overlaps(p) {
			return true
		}
	}
	return false
}

// randomPrefix is a random subnet of the given size inside within.
func randomPrefix(within netip.Prefix, bits int) (netip.Prefix, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<(bits-within.Bits())))
	if err != nil {
		return netip.Prefix{}, err
	}
	base := within.Addr().As4()
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	v += uint32(n.Int64()) << (32 - bits)
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), bits), nil
}

func lockDir() string {
	if st, err := os.Stat("/run/lock"); err == nil && st.IsDir() {
		return "/run/lock"
	}
	return os.TempDir()
}

// lockFile takes an exclusive flock, shared by every process on the host.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// ipCmd runs `ip [-n ns] args...`.
func ipCmd(ip, ns string, args ...string) error {
	_, err := ipOutput(ip, ns, args...)
	return err
}

func ipOutput(ip, ns string, args ...string) ([]byte, error) {
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	return run(exec.Command(ip, args...), "")
}

// ipBatch runs several ip commands in one process.
func ipBatch(ip, ns string, cmds []string) error {
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	_, err := run(exec.Command(ip, args...), strings.Join(cmds, "\n")+"\n")
	return err
}

// nsExec runs a program inside a namespace.
func nsExec(ip, ns string, args ...string) error {
	_, err := run(exec.Command(ip, append([]string{"netns", "exec", ns}, args...)...), "")
	return err
}

func run(cmd *exec.Cmd, stdin string) ([]byte, error) {
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
