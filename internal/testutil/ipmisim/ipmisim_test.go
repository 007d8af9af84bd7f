package ipmisim

import (
	"strings"
	"testing"
)

func TestStartPowerAndRestart(t *testing.T) {
	s := Start(t, Options{})
	for _, intf := range []string{"lanplus", "lan"} {
		out, err := s.IPMIToolVia(intf, "chassis", "power", "status")
		if err != nil || !strings.Contains(out, "Chassis Power is off") {
			t.Fatalf("%s power status = %q, %v", intf, out, err)
		}
	}
	if _, err := s.IPMITool("chassis", "power", "on"); err != nil {
		t.Fatal(err)
	}
	if !s.PowerOn() {
		t.Fatal("power file does not say on after ipmitool chassis power on")
	}
	if n := s.CountCalls("set power 1"); n != 1 {
		t.Fatalf("chassis log has %d 'set power 1' lines, want 1: %q", n, s.ChassisLog())
	}
	port, pid := s.Port, s.PID()
	s.Restart()
	if s.Port != port || s.PID() == pid {
		t.Fatalf("restart: port %d→%d pid %d→%d", port, s.Port, pid, s.PID())
	}
	out, err := s.IPMITool("chassis", "power", "status")
	if err != nil || !strings.Contains(out, "Chassis Power is on") {
		t.Fatalf("power status after restart = %q, %v", out, err)
	}
}

func TestWrongPasswordFails(t *testing.T) {
	s := Start(t, Options{User: "root", Password: "calvin"})
	s.Password = "wrong"
	if _, err := s.IPMITool("-N", "1", "-R", "1", "chassis", "power", "status"); err == nil {
		t.Fatal("ipmitool with a wrong password succeeded")
	}
}
