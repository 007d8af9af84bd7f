// Package config loads dcimd's configuration from a YAML file and DCIMD_*
// environment variables. No other package reads the environment.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of one dcimd process.
type Config struct {
	// Listen is the HTTP API address, host:port.
	Listen string `yaml:"listen"`
	// DataDir holds the embedded SQLite database and the secret key file.
	DataDir string `yaml:"data_dir"`
	// DatabaseURL selects PostgreSQL (postgres://...); empty means SQLite in DataDir.
	DatabaseURL string `yaml:"database_url"`
	// AdminEmail and AdminPassword create the first admin when none exists.
	AdminEmail    string `yaml:"admin_email"`
	AdminPassword string `yaml:"admin_password"`
	// SecretKey is a base64 32-byte AES key for credentials at rest; empty
	// means SecretKeyFile, created on first start.
	SecretKey     string `yaml:"secret_key"`
	SecretKeyFile string `yaml:"secret_key_file"`

	Log   LogConfig   `yaml:"log"`
	Auth  AuthConfig  `yaml:"auth"`
	HTTP  HTTPConfig  `yaml:"http"`
	DB    DBConfig    `yaml:"db"`
	Tasks TasksConfig `yaml:"tasks"`
	Power PowerConfig `yaml:"power"`
	// Switches tunes switch port control over SNMP.
	Switches SwitchesConfig `yaml:"switches"`
	// Netboot is dcimd's own DHCP, TFTP and HTTP boot.
	Netboot NetbootConfig `yaml:"netboot"`
}

// SwitchesConfig tunes switch port control, the port status poller and
// traffic collection.
type SwitchesConfig struct {
	// PollInterval is how often the connected ports' status and traffic
	// counters are read; 0 turns the poller off.
	PollInterval time.Duration `yaml:"poll_interval"`
	// PollConcurrency bounds the switches read at once.
	PollConcurrency int `yaml:"poll_concurrency"`
	// CallTimeout bounds one SNMP request.
	CallTimeout time.Duration `yaml:"call_timeout"`
	// SwitchTimeout bounds everything done on one switch in one poll or
	// one task step, so a slow switch cannot hold up the others.
	SwitchTimeout time.Duration `yaml:"switch_timeout"`
}

// TasksConfig tunes the durable task engine.
type TasksConfig struct {
	// Workers is how many tasks one process runs at once.
	Workers int `yaml:"workers"`
	// AttemptTimeout bounds one run of a task; a longer one is canceled and retried.
	AttemptTimeout time.Duration `yaml:"attempt_timeout"`
	// RescueAfter: a task left running this long by a process that died is
	// run again (PostgreSQL; SQLite resumes at once on the next start).
	// Must exceed attempt_timeout.
	RescueAfter time.Duration `yaml:"rescue_after"`
	// PollInterval is how often idle workers look for new tasks.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Retention: finished tasks older than this leave the task list.
	Retention time.Duration `yaml:"retention"`
	// MaxAttempts: runs of a task before a transient device error is final.
	MaxAttempts int `yaml:"max_attempts"`
}

// PowerConfig tunes power control and the power poller.
type PowerConfig struct {
	// PollInterval is how often every BMC and PDU outlet is read; 0 turns the poller off.
	PollInterval time.Duration `yaml:"poll_interval"`
	// PollConcurrency bounds the devices read at once.
	PollConcurrency int `yaml:"poll_concurrency"`
	// CallTimeout bounds one BMC or PDU call.
	CallTimeout time.Duration `yaml:"call_timeout"`
	// StepTimeout bounds one power action, fallback included.
	StepTimeout time.Duration `yaml:"step_timeout"`
	// CipherSuites is the lanplus cipher suite order tried on a BMC.
	CipherSuites []int `yaml:"cipher_suites"`
	// MaxPerBMC caps concurrent calls to one BMC.
	MaxPerBMC int `yaml:"max_per_bmc"`
	// FallbackToPDU uses the PDU outlet when the BMC does not answer.
	FallbackToPDU bool `yaml:"fallback_to_pdu"`
	// PDUResetWait is the pause between off and on of an outlet reset.
	PDUResetWait time.Duration `yaml:"pdu_reset_wait"`
}

// LogConfig selects the log format and level.
type LogConfig struct {
	Format string `yaml:"format"` // json or text
	Level  string `yaml:"level"`  // debug, info, warn, error
}

// AuthConfig tunes sessions and login throttling.
type AuthConfig struct {
	// TokenTTL is the default session inactivity timeout, until an admin
	// changes it through the API (setting token_ttl).
	TokenTTL time.Duration `yaml:"token_ttl"`
	// LoginFailuresPerAccount wrong passwords for one email within
	// LoginWindow lock that email out until the window passes.
	LoginFailuresPerAccount int `yaml:"login_failures_per_account"`
	// LoginFailuresPerAddress is the same limit for one client address.
	LoginFailuresPerAddress int           `yaml:"login_failures_per_address"`
	LoginWindow             time.Duration `yaml:"login_window"`
	// SecureCookie marks the browser session cookie Secure (behind TLS).
	SecureCookie bool `yaml:"secure_cookie"`
}

// HTTPConfig tunes the API server.
type HTTPConfig struct {
	ReadTimeout     time.Duration `yaml:"read_timeout"`
	WriteTimeout    time.Duration `yaml:"write_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// TrustedProxies may set X-Forwarded-For (CIDRs); empty trusts none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// MetricsToken, when set, is the bearer token GET /metrics requires.
	MetricsToken string `yaml:"metrics_token"`
}

// DBConfig tunes the connection pool.
type DBConfig struct {
	MaxOpenConns int `yaml:"max_open_conns"`
	// SQLiteBusyTimeout is how long a writer waits for the SQLite lock.
	SQLiteBusyTimeout time.Duration `yaml:"sqlite_busy_timeout"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Listen:  "127.0.0.1:1500",
		DataDir: "./data",
		Log:     LogConfig{Format: "text", Level: "info"},
		Auth: AuthConfig{
			TokenTTL:                60 * time.Minute,
			LoginFailuresPerAccount: 10,
			LoginFailuresPerAddress: 50,
			LoginWindow:             15 * time.Minute,
		},
		HTTP: HTTPConfig{
			ReadTimeout:     30 * time.Second,
			WriteTimeout:    60 * time.Second,
			ShutdownTimeout: 20 * time.Second,
		},
		DB: DBConfig{MaxOpenConns: 20, SQLiteBusyTimeout: 10 * time.Second},
		Tasks: TasksConfig{Workers: 50, AttemptTimeout: 30 * time.Minute, RescueAfter: 40 * time.Minute,
			PollInterval: 200 * time.Millisecond, Retention: 30 * 24 * time.Hour, MaxAttempts: 5},
		Power: PowerConfig{PollInterval: time.Minute, PollConcurrency: 32, CallTimeout: 5 * time.Second, StepTimeout: 2 * time.Minute,
			CipherSuites: []int{17, 3}, MaxPerBMC: 1, FallbackToPDU: true, PDUResetWait: 5 * time.Second},
		Switches: SwitchesConfig{PollInterval: time.Minute, PollConcurrency: 16, CallTimeout: 2 * time.Second, SwitchTimeout: time.Minute},
		Netboot: NetbootConfig{ImageDir: "./images", TFTP: TFTPConfig{Listen: ":69", Root: "./netboot", MaxTransfers: 64},
			DHCP4: DHCP4Config{Interfaces: []DHCPInterface{}, Subnets: []DHCPSubnet{}},
			DHCP6: DHCP6Config{Interfaces: []DHCPInterface{}, Subnets: []DHCP6Subnet{}}},
	}
}

// Load reads the YAML file at path (if path is not empty) over the defaults,
// then applies environment overrides from getenv (os.Getenv when nil), then
// validates. Errors name the offending key.
func Load(path string, getenv func(string) string) (Config, error) {
	cfg := Default()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: read %s: %w", path, err)
		}
		if err := decodeYAML(b, &cfg); err != nil {
			return cfg, fmt.Errorf("config: %s: %w", path, err)
		}
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	if err := applyEnv(&cfg, getenv); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

type envVar struct {
	name string
	set  func(*Config, string) error
}

func str(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

func dur(dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("not a duration (like 30s or 15m)")
		}
		*dst(c) = d
		return nil
	}
}

func integer(dst func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not an integer")
		}
		*dst(c) = n
		return nil
	}
}

var envVars = []envVar{
	{"DCIMD_LISTEN", str(func(c *Config) *string { return &c.Listen })},
	{"DCIMD_DATA_DIR", str(func(c *Config) *string { return &c.DataDir })},
	{"DCIMD_DATABASE_URL", str(func(c *Config) *string { return &c.DatabaseURL })},
	{"DCIMD_ADMIN_EMAIL", str(func(c *Config) *string { return &c.AdminEmail })},
	{"DCIMD_ADMIN_PASSWORD", str(func(c *Config) *string { return &c.AdminPassword })},
	{"DCIMD_SECRET_KEY", str(func(c *Config) *string { return &c.SecretKey })},
	{"DCIMD_SECRET_KEY_FILE", str(func(c *Config) *string { return &c.SecretKeyFile })},
	{"DCIMD_LOG_FORMAT", str(func(c *Config) *string { return &c.Log.Format })},
	{"DCIMD_LOG_LEVEL", str(func(c *Config) *string { return &c.Log.Level })},
	{"DCIMD_TOKEN_TTL", dur(func(c *Config) *time.Duration { return &c.Auth.TokenTTL })},
	{"DCIMD_SHUTDOWN_TIMEOUT", dur(func(c *Config) *time.Duration { return &c.HTTP.ShutdownTimeout })},
	{"DCIMD_DB_MAX_OPEN_CONNS", integer(func(c *Config) *int { return &c.DB.MaxOpenConns })},
	{"DCIMD_TASKS_ATTEMPT_TIMEOUT", dur(func(c *Config) *time.Duration { return &c.Tasks.AttemptTimeout })},
	{"DCIMD_TASKS_RESCUE_AFTER", dur(func(c *Config) *time.Duration { return &c.Tasks.RescueAfter })},
	{"DCIMD_POWER_POLL_INTERVAL", dur(func(c *Config) *time.Duration { return &c.Power.PollInterval })},
	{"DCIMD_POWER_CALL_TIMEOUT", dur(func(c *Config) *time.Duration { return &c.Power.CallTimeout })},
	{"DCIMD_METRICS_TOKEN", str(func(c *Config) *string { return &c.HTTP.MetricsToken })},
	{"DCIMD_NETBOOT_HTTP_BASE_URL", str(func(c *Config) *string { return &c.Netboot.HTTPBaseURL })},
	{"DCIMD_SWITCHES_POLL_INTERVAL", dur(func(c *Config) *time.Duration { return &c.Switches.PollInterval })},
}

func applyEnv(cfg *Config, getenv func(string) string) error {
	for _, ev := range envVars {
		v, ok := lookup(getenv, ev.name)
		if !ok {
			continue
		}
		if err := ev.set(cfg, v); err != nil {
			return fmt.Errorf("config: %s=%q: %w", ev.name, v, err)
		}
	}
	return nil
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

// Validate checks every key and names the first bad one.
func (c Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...))
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		return bad("listen", "%q is not host:port", c.Listen)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return bad("listen", "port %q is not a number from 0 to 65535", port)
	}
	if strings.TrimSpace(c.DataDir) == "" {
		return bad("data_dir", "must not be empty")
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return bad("database_url", "must be empty (embedded SQLite) or a postgres:// URL")
		}
	}
	if c.AdminEmail != "" && !strings.Contains(c.AdminEmail, "@") {
		return bad("admin_email", "%q is not an email address", c.AdminEmail)
	}
	if c.AdminPassword != "" && len(c.AdminPassword) < 8 {
		return bad("admin_password", "must be at least 8 characters")
	}
	if c.SecretKey != "" {
		k, err := base64.StdEncoding.DecodeString(c.SecretKey)
		if err != nil || len(k) != 32 {
			return bad("secret_key", "must be 32 bytes in base64 (openssl rand -base64 32)")
		}
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		return bad("log.format", "%q is not json or text", c.Log.Format)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	if c.Auth.TokenTTL < time.Minute {
		return bad("auth.token_ttl", "must be at least 1m")
	}
	if c.Auth.LoginFailuresPerAccount < 1 {
		return bad("auth.login_failures_per_account", "must be at least 1")
	}
	if c.Auth.LoginFailuresPerAddress < 1 {
		return bad("auth.login_failures_per_address", "must be at least 1")
	}
	if c.Auth.LoginWindow < time.Second {
		return bad("auth.login_window", "must be at least 1s")
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		return bad("http.shutdown_timeout", "must be positive")
	}
	for _, p := range c.HTTP.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil {
			return bad("http.trusted_proxies", "%q is not a CIDR", p)
		}
	}
	if c.DB.MaxOpenConns < 1 {
		return bad("db.max_open_conns", "must be at least 1")
	}
	if err := c.validateTasks(bad); err != nil {
		return err
	}
	return c.validateNetboot(bad)
}

// SQLitePath is the embedded database file.
func (c Config) SQLitePath() string { return strings.TrimRight(c.DataDir, "/") + "/dcimd.db" }

// KeyFile is where the credentials key lives when not given inline.
func (c Config) KeyFile() string {
	if c.SecretKeyFile != "" {
		return c.SecretKeyFile
	}
	return strings.TrimRight(c.DataDir, "/") + "/secret.key"
}

func (c Config) validateTasks(bad func(key, format string, args ...any) error) error {
	t, p := c.Tasks, c.Power
	switch {
	case t.Workers < 1:
		return bad("tasks.workers", "must be at least 1")
	case t.AttemptTimeout < time.Second:
		return bad("tasks.attempt_timeout", "must be at least 1s")
	case t.RescueAfter <= t.AttemptTimeout:
		return bad("tasks.rescue_after", "must be longer than tasks.attempt_timeout (%s)", t.AttemptTimeout)
	case t.PollInterval < 10*time.Millisecond:
		return bad("tasks.poll_interval", "must be at least 10ms")
	case t.Retention < time.Minute:
		return bad("tasks.retention", "must be at least 1m")
	case t.MaxAttempts < 1 || t.MaxAttempts > 100:
		return bad("tasks.max_attempts", "must be between 1 and 100")
	case p.PollInterval != 0 && p.PollInterval < time.Second:
		return bad("power.poll_interval", "must be 0 (off) or at least 1s")
	case p.PollConcurrency < 1:
		return bad("power.poll_concurrency", "must be at least 1")
	case p.CallTimeout < 100*time.Millisecond:
		return bad("power.call_timeout", "must be at least 100ms")
	case p.StepTimeout < p.CallTimeout:
		return bad("power.step_timeout", "must be at least power.call_timeout")
	case len(p.CipherSuites) == 0:
		return bad("power.cipher_suites", "must name at least one cipher suite")
	case p.MaxPerBMC < 1:
		return bad("power.max_per_bmc", "must be at least 1")
	case p.PDUResetWait < 0:
		return bad("power.pdu_reset_wait", "must not be negative")
	}
	for _, cs := range p.CipherSuites {
		if cs < 0 || cs > 17 {
			return bad("power.cipher_suites", "%d is not an IPMI cipher suite (0-17)", cs)
		}
	}
	s := c.Switches
	switch {
	case s.PollInterval != 0 && s.PollInterval < time.Second:
		return bad("switches.poll_interval", "must be 0 (off) or at least 1s")
	case s.PollConcurrency < 1:
		return bad("switches.poll_concurrency", "must be at least 1")
	case s.CallTimeout < 100*time.Millisecond:
		return bad("switches.call_timeout", "must be at least 100ms")
	case s.SwitchTimeout < s.CallTimeout:
		return bad("switches.switch_timeout", "must be at least switches.call_timeout")
	}
	return nil
}
