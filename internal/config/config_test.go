package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/dcimd/dcimd/configs"
)

// env is a fake environment for Load.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// writeFile puts a config file in a temp dir and returns its path.
func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dcimd.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// oneLineErr fails unless err is set, names every want and is one line,
// as the daemon prints it.
func oneLineErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Load succeeded, want an error naming %q", want)
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not name %q", msg, w)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans several lines: %q", msg)
	}
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load("", env{}.get)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("Load with nothing set = %+v, want Default() %+v", cfg, Default())
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.Listen, "127.0.0.1:1500"},
		{"data_dir", cfg.DataDir, "./data"},
		{"database_url", cfg.DatabaseURL, ""},
		{"log.format", cfg.Log.Format, "text"},
		{"log.level", cfg.Log.Level, "info"},
		{"auth.token_ttl", cfg.Auth.TokenTTL, time.Hour},
		{"auth.login_failures_per_account", cfg.Auth.LoginFailuresPerAccount, 10},
		{"auth.login_failures_per_address", cfg.Auth.LoginFailuresPerAddress, 50},
		{"auth.login_window", cfg.Auth.LoginWindow, 15 * time.Minute},
		{"auth.secure_cookie", cfg.Auth.SecureCookie, false},
		{"http.read_timeout", cfg.HTTP.ReadTimeout, 30 * time.Second},
		{"http.write_timeout", cfg.HTTP.WriteTimeout, time.Minute},
		{"http.shutdown_timeout", cfg.HTTP.ShutdownTimeout, 20 * time.Second},
		{"db.max_open_conns", cfg.DB.MaxOpenConns, 20},
		{"db.sqlite_busy_timeout", cfg.DB.SQLiteBusyTimeout, 10 * time.Second},
	} {
		if c.got != c.want {
			t.Errorf("default %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if got := cfg.SQLitePath(); got != "./data/dcimd.db" {
		t.Errorf("SQLitePath = %q", got)
	}
	if got := cfg.KeyFile(); got != "./data/secret.key" {
		t.Errorf("KeyFile = %q", got)
	}
}

const fullFile = `
listen: 0.0.0.0:8080
data_dir: /var/lib/dcimd/
database_url: postgres://dcimd@db.example.com/dcimd?sslmode=disable
admin_email: root@example.com
admin_password: longpassword
secret_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
secret_key_file: /etc/dcimd/key
log:
  format: json
  level: debug
auth:
  token_ttl: 2h
  login_failures_per_account: 3
  login_failures_per_address: 7
  login_window: 90s
  secure_cookie: true
http:
  read_timeout: 5s
  write_timeout: 6s
  shutdown_timeout: 7s
  trusted_proxies: [10.0.0.0/8, "127.0.0.1/32"]
db:
  max_open_conns: 4
  sqlite_busy_timeout: 2s
`

func TestLoadFile(t *testing.T) {
	cfg, err := Load(writeFile(t, fullFile), env{}.get)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen: "0.0.0.0:8080", DataDir: "/var/lib/dcimd/", DatabaseURL: "postgres://dcimd@db.example.com/dcimd?sslmode=disable",
		AdminEmail: "root@example.com", AdminPassword: "longpassword",
		SecretKey: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", SecretKeyFile: "/etc/dcimd/key",
		Log: LogConfig{Format: "json", Level: "debug"},
		Auth: AuthConfig{TokenTTL: 2 * time.Hour, LoginFailuresPerAccount: 3, LoginFailuresPerAddress: 7,
			LoginWindow: 90 * time.Second, SecureCookie: true},
		HTTP: HTTPConfig{ReadTimeout: 5 * time.Second, WriteTimeout: 6 * time.Second, ShutdownTimeout: 7 * time.Second,
			TrustedProxies: []string{"10.0.0.0/8", "127.0.0.1/32"}},
		DB:    DBConfig{MaxOpenConns: 4, SQLiteBusyTimeout: 2 * time.Second},
		Tasks: Default().Tasks, Power: Default().Power, Switches: Default().Switches, Netboot: Default().Netboot,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("Load =\n%+v\nwant\n%+v", cfg, want)
	}
	if got := cfg.SQLitePath(); got != "/var/lib/dcimd/dcimd.db" {
		t.Errorf("SQLitePath = %q", got)
	}
	if got := cfg.KeyFile(); got != "/etc/dcimd/key" {
		t.Errorf("KeyFile = %q", got)
	}
}

func TestLoadPartialFileKeepsDefaults(t *testing.T) {
	cfg, err := Load(writeFile(t, "log:\n  level: warn\nauth:\ndb: {}\n"), env{}.get)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Log.Level = "warn"
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("Load =\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestLoadEmptyFile(t *testing.T) {
	for name, body := range map[string]string{
		"empty":         "",
		"blank lines":   "\n\n  \n",
		"comments only": "# nothing here yet\n# listen: 0.0.0.0:1\n",
		"document mark": "---\n",
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := Load(writeFile(t, body), env{}.get)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !reflect.DeepEqual(cfg, Default()) {
				t.Fatalf("Load = %+v, want the defaults", cfg)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := Load(p, env{}.get)
	oneLineErr(t, err, p)
}

func TestEnvOverridesFile(t *testing.T) {
	tests := []struct {
		env   string
		value string
		get   func(Config) any
		want  any
	}{
		{"DCIMD_LISTEN", "127.0.0.1:9999", func(c Config) any { return c.Listen }, "127.0.0.1:9999"},
		{"DCIMD_DATA_DIR", "/srv/dcimd", func(c Config) any { return c.DataDir }, "/srv/dcimd"},
		{"DCIMD_DATABASE_URL", "postgresql://other/db", func(c Config) any { return c.DatabaseURL }, "postgresql://other/db"},
		{"DCIMD_ADMIN_EMAIL", "boss@example.org", func(c Config) any { return c.AdminEmail }, "boss@example.org"},
		{"DCIMD_ADMIN_PASSWORD", "from-the-env", func(c Config) any { return c.AdminPassword }, "from-the-env"},
		{"DCIMD_SECRET_KEY", "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=", func(c Config) any { return c.SecretKey },
			"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="},
		{"DCIMD_SECRET_KEY_FILE", "/run/key", func(c Config) any { return c.SecretKeyFile }, "/run/key"},
		{"DCIMD_LOG_FORMAT", "text", func(c Config) any { return c.Log.Format }, "text"},
		{"DCIMD_LOG_LEVEL", "error", func(c Config) any { return c.Log.Level }, "error"},
		{"DCIMD_TOKEN_TTL", "45m", func(c Config) any { return c.Auth.TokenTTL }, 45 * time.Minute},
		{"DCIMD_SHUTDOWN_TIMEOUT", "3s", func(c Config) any { return c.HTTP.ShutdownTimeout }, 3 * time.Second},
		{"DCIMD_DB_MAX_OPEN_CONNS", "9", func(c Config) any { return c.DB.MaxOpenConns }, 9},
	}
	path := writeFile(t, fullFile)
	fromFile, err := Load(path, env{}.get)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			if tt.get(fromFile) == tt.want {
				t.Fatalf("test is void: the file already sets %v", tt.want)
			}
			cfg, err := Load(path, env{tt.env: tt.value}.get)
			if err != nil {
				t.Fatal(err)
			}
			if got := tt.get(cfg); got != tt.want {
				t.Errorf("%s=%s: got %v, want %v", tt.env, tt.value, got, tt.want)
			}
			// Everything else still comes from the file.
			cfg2, err := Load(path, env{}.get)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Listen != cfg2.Listen && tt.env != "DCIMD_LISTEN" {
				t.Errorf("listen changed to %q", cfg.Listen)
			}
		})
	}
	t.Run("empty variable is ignored", func(t *testing.T) {
		cfg, err := Load(path, env{"DCIMD_LISTEN": "", "DCIMD_DATABASE_URL": ""}.get)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(cfg, fromFile) {
			t.Errorf("empty variables changed the config: %+v", cfg)
		}
	})
	t.Run("os environment when getenv is nil", func(t *testing.T) {
		t.Setenv("DCIMD_LOG_LEVEL", "warn")
		cfg, err := Load(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Log.Level != "warn" {
			t.Errorf("log.level = %q, want warn from the environment", cfg.Log.Level)
		}
	})
}

func TestEnvBadValueNamesVariable(t *testing.T) {
	for _, tt := range []struct{ env, value string }{
		{"DCIMD_TOKEN_TTL", "5"},
		{"DCIMD_SHUTDOWN_TIMEOUT", "soon"},
		{"DCIMD_DB_MAX_OPEN_CONNS", "many"},
	} {
		t.Run(tt.env, func(t *testing.T) {
			_, err := Load("", env{tt.env: tt.value}.get)
			oneLineErr(t, err, tt.env, tt.value)
		})
	}
}

func TestValidationNamesKey(t *testing.T) {
	tests := []struct {
		name string
		file string // YAML, or empty
		env  env    // or environment
		key  string // the key the error must name
	}{
		{"listen without port", "listen: nonsense\n", nil, "listen"},
		{"listen from env", "", env{"DCIMD_LISTEN": "nonsense"}, "listen"},
		{"listen bad port", "listen: 127.0.0.1:http\n", nil, "listen"},
		{"listen port too big", "listen: 127.0.0.1:70000\n", nil, "listen"},
		{"data_dir empty", "data_dir: \"\"\n", nil, "data_dir"},
		{"data_dir blank", "data_dir: \"   \"\n", nil, "data_dir"},
		{"database_url mysql", "database_url: mysql://x/y\n", nil, "database_url"},
		{"database_url garbage", "database_url: \"%zz\"\n", nil, "database_url"},
		{"admin_email", "admin_email: admin\n", nil, "admin_email"},
		{"admin_password short", "admin_password: short\n", nil, "admin_password"},
		{"secret_key not base64", "secret_key: \"not base64!\"\n", nil, "secret_key"},
		{"secret_key wrong length", "secret_key: AAAA\n", nil, "secret_key"},
		{"log.format", "log:\n  format: xml\n", nil, "log.format"},
		{"log.level", "log:\n  level: loud\n", nil, "log.level"},
		{"log.level from env", "", env{"DCIMD_LOG_LEVEL": "trace"}, "log.level"},
		{"auth.token_ttl too short", "auth:\n  token_ttl: 30s\n", nil, "auth.token_ttl"},
		{"auth.login_failures_per_account", "auth:\n  login_failures_per_account: 0\n", nil, "auth.login_failures_per_account"},
		{"auth.login_failures_per_address", "auth:\n  login_failures_per_address: -1\n", nil, "auth.login_failures_per_address"},
		{"auth.login_window", "auth:\n  login_window: 10ms\n", nil, "auth.login_window"},
		{"http.shutdown_timeout", "http:\n  shutdown_timeout: 0s\n", nil, "http.shutdown_timeout"},
		{"http.trusted_proxies", "http:\n  trusted_proxies: [10.0.0.1]\n", nil, "http.trusted_proxies"},
		{"db.max_open_conns", "db:\n  max_open_conns: 0\n", nil, "db.max_open_conns"},
		{"db.max_open_conns from env", "", env{"DCIMD_DB_MAX_OPEN_CONNS": "0"}, "db.max_open_conns"},
		{"switches.poll_interval", "switches:\n  poll_interval: 10ms\n", nil, "switches.poll_interval"},
		{"netboot.http_base_url", "netboot:\n  http_base_url: ftp://x\n", nil, "netboot.http_base_url"},
		{"netboot.tftp.listen", "netboot:\n  tftp:\n    enabled: true\n    listen: nowhere\n", nil, "netboot.tftp.listen"},
		{"netboot.dhcp4.interfaces", "netboot:\n  dhcp4:\n    enabled: true\n", nil, "netboot.dhcp4.interfaces"},
		{"netboot.dhcp4 prefix", "netboot:\n  dhcp4:\n    enabled: true\n    interfaces: [{name: eth1}]\n    subnets:\n      - prefix: 10.0.0.1/24\n", nil, "netboot.dhcp4.subnets[0].prefix"},
		{"netboot.dhcp4 mode", "netboot:\n  dhcp4:\n    enabled: true\n    interfaces: [{name: eth1}]\n    subnets:\n      - {prefix: 10.0.0.0/24, mode: loud}\n", nil, "netboot.dhcp4.subnets[0].mode"},
		{"netboot.dhcp4 discovery", "netboot:\n  dhcp4:\n    enabled: true\n    interfaces: [{name: eth1}]\n    subnets:\n      - {prefix: 10.0.0.0/24, discovery: 10.0.1.1-10.0.1.9}\n", nil, "netboot.dhcp4.subnets[0].discovery"},
		{"netboot.dhcp4 dns", "netboot:\n  dhcp4:\n    enabled: true\n    interfaces: [{name: eth1}]\n    subnets:\n      - {prefix: 10.0.0.0/24, dns: [dns.example]}\n", nil, "netboot.dhcp4.subnets[0].dns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			e := tt.env
			if e == nil {
				e = env{}
			}
			_, err := Load(path, e.get)
			oneLineErr(t, err, "config: "+tt.key+":")
		})
	}
}

func TestValidateAcceptsEdges(t *testing.T) {
	for name, mod := range map[string]func(*Config){
		"port 0":             func(c *Config) { c.Listen = "127.0.0.1:0" },
		"any address":        func(c *Config) { c.Listen = ":1500" },
		"ipv6":               func(c *Config) { c.Listen = "[::1]:1500" },
		"postgresql scheme":  func(c *Config) { c.DatabaseURL = "postgresql://localhost/dcimd" },
		"password of 8":      func(c *Config) { c.AdminPassword = "12345678" },
		"token_ttl 1m":       func(c *Config) { c.Auth.TokenTTL = time.Minute },
		"ipv6 proxy":         func(c *Config) { c.HTTP.TrustedProxies = []string{"::1/128"} },
		"one connection":     func(c *Config) { c.DB.MaxOpenConns = 1 },
		"warn level, json":   func(c *Config) { c.Log.Level, c.Log.Format = "warn", "json" },
		"secure cookie":      func(c *Config) { c.Auth.SecureCookie = true },
		"login window of 1s": func(c *Config) { c.Auth.LoginWindow = time.Second },
	} {
		t.Run(name, func(t *testing.T) {
			c := Default()
			mod(&c)
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestUnknownOrMistypedKeyIsRefused(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"top level", "listen: 127.0.0.1:1\nbogus_key: 1\n", []string{`"bogus_key"`, "line 2", "unknown key"}},
		{"nested", "log:\n  level: info\n  fmt: json\n", []string{`"log.fmt"`, "line 3"}},
		{"section name typo", "htttp:\n  read_timeout: 1s\n", []string{`"htttp"`}},
		{"camel case", "dataDir: /x\n", []string{`"dataDir"`}},
		{"several: the first is named", "zzz: 1\nlog:\n  yyy: 2\n", []string{`"zzz"`}},
		{"duplicate key", "listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n", []string{`"listen"`, "twice"}},
		{"duration", "auth:\n  token_ttl: abc\n", []string{"auth.token_ttl", "duration", `"abc"`}},
		{"integer", "db:\n  max_open_conns: lots\n", []string{"db.max_open_conns", "integer"}},
		{"boolean", "auth:\n  secure_cookie: maybe\n", []string{"auth.secure_cookie", "true or false"}},
		{"list", "http:\n  trusted_proxies: {a: 1}\n", []string{"http.trusted_proxies", "list"}},
		{"list item key", "netboot:\n  dhcp4:\n    subnets:\n      - prefx: 10.0.0.0/24\n", []string{`"netboot.dhcp4.subnets[0].prefx"`, "unknown key"}},
		{"section is a scalar", "log: loud\n", []string{"log", "mapping"}},
		{"file is a list", "- listen\n", []string{"mapping"}},
		{"broken YAML", "listen: [1\n", []string{"line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.file)
			_, err := Load(path, env{}.get)
			oneLineErr(t, err, append(tt.want, path)...)
		})
	}
}

// yamlKeys lists the dotted yaml keys of a struct type, recursively.
func yamlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
			keys = append(keys, yamlKeys(f.Type, prefix+name+".")...)
			continue
		}
		keys = append(keys, prefix+name)
	}
	return keys
}

// nodeKeys lists the dotted leaf keys of a YAML mapping.
func nodeKeys(n *yaml.Node, prefix string) []string {
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind == yaml.MappingNode {
			keys = append(keys, nodeKeys(v, prefix+k.Value+".")...)
			continue
		}
		keys = append(keys, prefix+k.Value)
	}
	return keys
}

func TestExampleConfig(t *testing.T) {
	onDisk, err := os.ReadFile(filepath.Join("..", "..", "configs", "dcimd.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(onDisk) != string(configs.Example) {
		t.Fatal("configs.Example differs from configs/dcimd.example.yaml")
	}
	cfg, err := Load(filepath.Join("..", "..", "configs", "dcimd.example.yaml"), env{}.get)
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	// The example documents the defaults: loading it changes nothing.
	want := Default()
	want.HTTP.TrustedProxies = []string{} // written as [] in the example
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("the example's values differ from Default():\n got %+v\nwant %+v", cfg, want)
	}

	var doc yaml.Node
	if err := yaml.Unmarshal(configs.Example, &doc); err != nil {
		t.Fatal(err)
	}
	documented := nodeKeys(doc.Content[0], "")
	all := yamlKeys(reflect.TypeFor[Config](), "")
	if len(all) < 20 {
		t.Fatalf("found only %d keys in Config: %v", len(all), all)
	}
	for _, k := range all {
		if !slices.Contains(documented, k) {
			t.Errorf("key %s of config.Config is missing from configs/dcimd.example.yaml", k)
		}
	}
	for _, k := range documented {
		if !slices.Contains(all, k) {
			t.Errorf("configs/dcimd.example.yaml documents %s, which config.Config does not have", k)
		}
	}
	// Every key says what it does; admin_password shares admin_email's comment.
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.MappingNode {
				walk(v, prefix+k.Value+".")
				continue
			}
			key := prefix + k.Value
			if k.HeadComment == "" && k.LineComment == "" && v.LineComment == "" && key != "admin_password" {
				t.Errorf("key %s has no comment in the example", key)
			}
		}
	}
	walk(doc.Content[0], "")
}
