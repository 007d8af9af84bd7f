// Package ipmi drives server power and boot devices through a BMC over IPMI
// v1.5 ("lan") or IPMI v2.0 RMCP+ ("lanplus"), on top of
// github.com/bougou/go-ipmi/pkg/client.
//
// A Pool keeps one session per BMC (address, port, user and interface) and
// reuses it across calls, re-establishing it when it dies; it caps the
// calls in flight per BMC, closes idle sessions and owns every goroutine it
// starts. Pool.BMC hands out a *BMC, which implements power.Controller and
// power.BootSetter. Every failure is a *power.DeviceError whose Transient
// flag tells the task engine whether retrying can help.
package ipmi

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/rmcpplus"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/dcimd/dcimd/internal/secret"
)

// Interfaces.
const (
	InterfaceLan     = "lan"     // IPMI v1.5 sessions (also served by v2.0 BMCs)
	InterfaceLanplus = "lanplus" // IPMI v2.0 RMCP+ sessions
)

// Defaults applied by Config.withDefaults.
const (
	DefaultPort        = 623
	DefaultCallTimeout = 5 * time.Second
	DefaultRetries     = 1
	DefaultPrivilege   = "administrator"
)

// DefaultCipherSuites is the lanplus fallback order: HMAC-SHA256/AES (17),
// then HMAC-SHA1/AES (3), the suite every IPMI v2.0 BMC must offer.
var DefaultCipherSuites = []int{17, 3}

// minPerTry keeps the per-packet wait sensible however small CallTimeout is.
const minPerTry = 50 * time.Millisecond

// Config says how to reach one BMC.
type Config struct {
	Address  string // IP address or host name
	Port     int    // UDP port; 0 means 623
	Username string
	Password secret.String
	// Interface is "lan" (IPMI v1.5) or "lanplus" (IPMI v2.0 RMCP+, the
	// default when empty).
	Interface string
	// CipherSuites is the lanplus fallback order; default [17, 3]. The
	// suite that worked is remembered per BMC and tried first next time.
	CipherSuites []int
	// Privilege is the session privilege: "administrator" (default),
	// "operator" or "user". Power control needs operator or above.
	Privilege string
	// CallTimeout bounds each call (State, On, ...) once it holds one of
	// the BMC's call slots; default 5s.
	CallTimeout time.Duration
	// Retries is how often a request the BMC did not answer is sent again
	// within a call; 0 means the default (1), a negative value means never.
	// Each wait lasts CallTimeout/(2*(Retries+1)), so a dead session is
	// noticed within half the call timeout and the other half is left to
	// reconnect.
	Retries int
}

// Validate reports a configuration no BMC can accept.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Address == "" {
		errs = append(errs, errors.New("address is empty"))
	}
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port %d is out of range", c.Port))
	}
	if len(c.Username) > rmcpplus.MaxUserNameLength {
		errs = append(errs, fmt.Errorf("user name is longer than %d characters", rmcpplus.MaxUserNameLength))
	}
	switch c.Interface {
	case InterfaceLan:
		if len(c.Password.Reveal()) > 16 {
			errs = append(errs, errors.New("password is longer than the 16 characters IPMI v1.5 allows"))
		}
	case InterfaceLanplus:
		if len(c.Password.Reveal()) > 20 {
			errs = append(errs, errors.New("password is longer than the 20 characters IPMI v2.0 allows"))
		}
	default:
		errs = append(errs, fmt.Errorf("interface %q is neither %q nor %q", c.Interface, InterfaceLan, InterfaceLanplus))
	}
	for _, id := range c.CipherSuites {
		if _, _, _, ok := types.GetCipherSuiteAlgorithms(types.CipherSuiteID(id)); !ok || id < 0 || id > 0xff {
			errs = append(errs, fmt.Errorf("cipher suite %d is not a known suite", id))
		}
	}
	if _, ok := privileges[c.Privilege]; !ok {
		errs = append(errs, fmt.Errorf("privilege %q is not administrator, operator or user", c.Privilege))
	}
	if c.CallTimeout <= 0 {
		errs = append(errs, errors.New("call timeout must be positive"))
	}
	return errors.Join(errs...)
}

var privileges = map[string]types.PrivilegeLevel{
	"administrator": types.PrivilegeLevelAdministrator,
	"operator":      types.PrivilegeLevelOperator,
	"user":          types.PrivilegeLevelUser,
}

func (c Config) withDefaults() Config {
	if c.Port == 0 {
		c.Port = DefaultPort
	}
	c.Interface = strings.ToLower(c.Interface)
	if c.Interface == "" {
		c.Interface = InterfaceLanplus
	}
	if len(c.CipherSuites) == 0 {
		c.CipherSuites = DefaultCipherSuites
	}
	seen := make(map[int]bool, len(c.CipherSuites))
	suites := make([]int, 0, len(c.CipherSuites))
	for _, s := range c.CipherSuites { // keep the first of duplicates: order is preference
		if !seen[s] {
			seen[s] = true
			suites = append(suites, s)
		}
	}
	c.CipherSuites = suites
	c.Privilege = strings.ToLower(c.Privilege)
	if c.Privilege == "" {
		c.Privilege = DefaultPrivilege
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	switch {
	case c.Retries == 0:
		c.Retries = DefaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	return c
}

// perTry is how long one request waits for its answer before it is resent.
func (c Config) perTry() time.Duration {
	d := c.CallTimeout / time.Duration(2*(c.Retries+1))
	return max(d, minPerTry)
}

// endpoint is host:port for messages and logs.
func (c Config) endpoint() string {
	return net.JoinHostPort(c.Address, strconv.Itoa(c.Port))
}

// key identifies a BMC session: sessions are per address, user and interface.
func (c Config) key() string {
	return c.endpoint() + "|" + c.Username + "|" + c.Interface
}

// newClient builds an unconnected go-ipmi client; suite < 0 leaves the
// cipher suite unset (lan).
func (c Config) newClient(suite int) (*client.Client, error) {
	cl, err := client.NewClient(c.Address, c.Port, c.Username, c.Password.Reveal())
	if err != nil {
		return nil, err
	}
	cl = cl.WithInterface(client.Interface(c.Interface)).
		WithTimeout(c.perTry()).
		WithRetry(c.Retries).
		WithMaxPrivilegeLevel(privileges[c.Privilege])
	if suite >= 0 {
		cl = cl.WithCipherSuiteID(types.CipherSuiteID(suite))
	}
	return cl, nil
}
