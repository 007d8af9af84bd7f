// Package snmpc is the SNMP client the device drivers share (PDU outlets,
// switch ports): credentials and their validation, one short-lived
// session per call on top of gosnmp, and failures already classified as
// transient (worth a retry) or permanent, with messages that never
// contain a community or a password.
//
// A Session belongs to the context it was opened with: when that context
// ends, its UDP socket is closed, so a pending request returns at once
// instead of waiting for its timeout (gosnmp alone only looks at the
// context between retries).
package snmpc

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/dcimd/dcimd/internal/secret"
)

// Access is how to reach an SNMP agent.
type Access struct {
	Address      string        // host name or IP
	Port         int           // 0 means 161
	Version      string        // v1, v2c, v3; "" means v2c
	Community    secret.String // v1/v2c; must have write access for SETs
	V3User       string        // v3 user name
	AuthProtocol string        // MD5, SHA, SHA224, SHA256, SHA384, SHA512; "" means no authentication
	AuthPass     secret.String // v3, 8 characters or more
	PrivProtocol string        // DES, AES, AES192, AES256; "" means no privacy
	PrivPass     secret.String // v3, 8 characters or more
	Timeout      time.Duration // per SNMP request; 0 means 2 s
	Retries      int           // resends after a timeout; negative means 0
	// MaxRepetitions is the GETBULK row count of a walk; 0 means 24, which
	// suits old management cards with small buffers. A walk halves it when
	// the agent answers tooBig.
	MaxRepetitions uint32
}

// Defaults for the zero values of Access.
const (
	DefaultPort           = 161
	DefaultTimeout        = 2 * time.Second
	DefaultMaxRepetitions = 24
)

// PortOrDefault is the UDP port, 161 when unset.
func (a Access) PortOrDefault() int {
	if a.Port == 0 {
		return DefaultPort
	}
	return a.Port
}

// Target is "address:port", for device names in messages.
func (a Access) Target() string {
	return net.JoinHostPort(a.Address, strconv.Itoa(a.PortOrDefault()))
}

// TimeoutOrDefault is the per-request timeout, 2 s when unset.
func (a Access) TimeoutOrDefault() time.Duration {
	if a.Timeout <= 0 {
		return DefaultTimeout
	}
	return a.Timeout
}

func (a Access) retries() int { return max(a.Retries, 0) }

// Attempts describes the request budget for messages: "2 attempts of 1s".
func (a Access) Attempts() string {
	if a.retries() == 0 {
		return "1 attempt of " + a.TimeoutOrDefault().String()
	}
	return fmt.Sprintf("%d attempts of %s", a.retries()+1, a.TimeoutOrDefault())
}

// Validate reports configuration that cannot work, without I/O. Its
// messages name fields, never their secret values.
func (a Access) Validate() error {
	_, err := a.config()
	return err
}

// config builds the gosnmp client settings, or says what is wrong with them.
func (a Access) config() (*gosnmp.GoSNMP, error) {
	if strings.TrimSpace(a.Address) == "" {
		return nil, errors.New("SNMP address is empty")
	}
	if a.Port < 0 || a.Port > 65535 {
		return nil, fmt.Errorf("SNMP port %d is out of range", a.Port)
	}
	reps := a.MaxRepetitions
	if reps == 0 {
		reps = DefaultMaxRepetitions
	}
	g := &gosnmp.GoSNMP{
		Target:         a.Address,
		Port:           uint16(a.PortOrDefault()),
		Timeout:        a.TimeoutOrDefault(),
		Retries:        a.retries(),
		MaxRepetitions: reps,
	}
	switch strings.ToLower(a.Version) {
	case "v1", "1":
		g.Version = gosnmp.Version1
	case "", "v2c", "2c", "v2":
		g.Version = gosnmp.Version2c
	case "v3", "3":
		g.Version = gosnmp.Version3
	default:
		return nil, fmt.Errorf("SNMP version %q is not v1, v2c or v3", a.Version)
	}
	if g.Version != gosnmp.Version3 {
		if a.Community.Reveal() == "" {
			return nil, errors.New("SNMP community is empty")
		}
		g.Community = a.Community.Reveal()
		return g, nil
	}
	if a.V3User == "" {
		return nil, errors.New("SNMPv3 user is empty")
	}
	usm := &gosnmp.UsmSecurityParameters{UserName: a.V3User, AuthenticationProtocol: gosnmp.NoAuth, PrivacyProtocol: gosnmp.NoPriv}
	g.MsgFlags = gosnmp.NoAuthNoPriv
	if a.AuthProtocol != "" {
		proto, ok := authProtocols[strings.ToUpper(a.AuthProtocol)]
		if !ok {
			return nil, fmt.Errorf("SNMPv3 auth protocol %q is not MD5, SHA, SHA224, SHA256, SHA384 or SHA512", a.AuthProtocol)
		}
		if len(a.AuthPass.Reveal()) < 8 {
			return nil, errors.New("SNMPv3 auth password must have at least 8 characters")
		}
		usm.AuthenticationProtocol, usm.AuthenticationPassphrase = proto, a.AuthPass.Reveal()
		g.MsgFlags = gosnmp.AuthNoPriv
	}
	if a.PrivProtocol != "" {
		if a.AuthProtocol == "" {
			return nil, errors.New("SNMPv3 privacy needs an auth protocol too")
		}
		proto, ok := privProtocols[strings.ToUpper(a.PrivProtocol)]
		if !ok {
			return nil, fmt.Errorf("SNMPv3 privacy protocol %q is not DES, AES, AES192 or AES256", a.PrivProtocol)
		}
		if len(a.PrivPass.Reveal()) < 8 {
			return nil, errors.New("SNMPv3 privacy password must have at least 8 characters")
		}
		usm.PrivacyProtocol, usm.PrivacyPassphrase = proto, a.PrivPass.Reveal()
		g.MsgFlags = gosnmp.AuthPriv
	}
	g.SecurityModel = gosnmp.UserSecurityModel
	g.SecurityParameters = usm
	return g, nil
}

var authProtocols = map[string]gosnmp.SnmpV3AuthProtocol{
	"MD5": gosnmp.MD5, "SHA": gosnmp.SHA, "SHA1": gosnmp.SHA, "SHA224": gosnmp.SHA224,
	"SHA256": gosnmp.SHA256, "SHA384": gosnmp.SHA384, "SHA512": gosnmp.SHA512,
}

var privProtocols = map[string]gosnmp.SnmpV3PrivProtocol{
	"DES": gosnmp.DES, "AES": gosnmp.AES, "AES128": gosnmp.AES, "AES192": gosnmp.AES192, "AES256": gosnmp.AES256,
}
