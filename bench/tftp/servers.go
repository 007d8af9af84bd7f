package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/dcimd/dcimd/internal/netboot/tftpd"
)

// server is one TFTP server under test, listening on host:port.
type server struct {
	name, host, port string
	stop             func()
	ours             *tftpd.Server // nil for the peers
}

// startOurs runs dcimd's server in this process with the options dcimd
// serve would use (defaults), plus the given window and block size cap.
func startOurs(name, dir string, window, blockMax int) (*server, error) {
	s := tftpd.New(tftpd.Options{Addr: "127.0.0.1:0", Roots: []string{dir}, Window: window,
		BlockSizeMax: blockMax, MaxTransfers: 64, Log: slog.New(slog.DiscardHandler)})
	if err := s.Start(context.Background()); err != nil {
		return nil, err
	}
	port := strconv.Itoa(s.Addr().(*net.UDPAddr).Port)
	return &server{name: name, host: "127.0.0.1", port: port, ours: s, stop: func() {
		// Clients killed mid-transfer leave transfers waiting for their
		// retries; they end on their own, the bench does not wait.
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		s.Shutdown(ctx)
	}}, nil
}

// startProcess starts a peer server in its own process group, so that the
// children tftpd-hpa forks per transfer stop with it, and waits until it
// answers a request.
func startProcess(name, host, port, logPath string, argv ...string) (*server, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(exited) }()
	stop := func() {
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(3 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-exited
		}
	}
	if err := waitAnswering(host, port, exited); err != nil {
		stop()
		b, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%s: %w (log: %.300s)", name, err, b)
	}
	return &server{name: name, host: host, port: port, stop: stop}, nil
}

// startHPA runs tftpd-hpa in the foreground: in.tftpd -L -s dir -a addr.
func startHPA(bin, dir, logDir string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	return startProcess("tftpd-hpa", "127.0.0.1", port, filepath.Join(logDir, "tftpd-hpa.log"),
		bin, "-L", "-s", dir, "-a", "127.0.0.1:"+port)
}

// dnsmasqHost is the loopback address dnsmasq's TFTP binds: its request
// port is always 69, so it gets an address of its own.
const dnsmasqHost = "127.0.0.69"

// startDnsmasq runs dnsmasq as a TFTP server only (no DNS, no DHCP), as
// the harness's netboot/dnsmasq-tftp.conf does, on 127.0.0.69:69.
func startDnsmasq(bin, dir, logDir string) (*server, error) {
	return startProcess("dnsmasq", dnsmasqHost, "69", filepath.Join(logDir, "dnsmasq.log"),
		bin, "--no-daemon", "--conf-file=/dev/null", "--port=0", "--no-resolv", "--no-hosts",
		"--enable-tftp", "--tftp-root="+dir, "--listen-address="+dnsmasqHost, "--bind-interfaces",
		"--pid-file=", "--tftp-max=100", "--log-facility=-")
}

func freePort() (string, error) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return "", err
	}
	defer c.Close()
	return strconv.Itoa(c.LocalAddr().(*net.UDPAddr).Port), nil
}

// waitAnswering asks for a missing file until an answer comes (3 s).
func waitAnswering(host, port string, exited <-chan struct{}) error {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	defer c.Close()
	to := &net.UDPAddr{IP: net.ParseIP(host), Port: atoi(port)}
	rrq := []byte("\x00\x01probe-missing-file\x00octet\x00")
	buf := make([]byte, 600)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			return errors.New("exited at start")
		default:
		}
		c.WriteToUDP(rrq, to)
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, _, err := c.ReadFromUDP(buf); err == nil {
			return nil
		}
	}
	return errors.New("no answer on " + net.JoinHostPort(host, port))
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
