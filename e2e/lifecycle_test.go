package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dcimd/dcimd/internal/testutil/pgtest"
)

// bothDatabases runs f as subtests on SQLite and on PostgreSQL; f gets the
// database URL (empty for SQLite).
func bothDatabases(t *testing.T, f func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, "")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		f(t, pgtest.URL(t))
	})
}

// generatedLogin matches the one line showing a generated admin password.
var generatedLogin = regexp.MustCompile(`(?m)^created admin login: (\S+)  password: (\S+)  \(`)

func TestRestartKeepsSessions(t *testing.T) {
	t.Parallel()
	bothDatabases(t, func(t *testing.T, dbURL string) {
		cfg := config{dataDir: t.TempDir(), databaseURL: dbURL}
		first := startDaemon(t, cfg)
		m := generatedLogin.FindStringSubmatch(first.stdout())
		if m == nil {
			t.Fatalf("first start printed no generated admin login:\n%s", first.stdout())
		}
		email, password := m[1], m[2]
		token, adminID := newClient(t, first).login(email, password)
		first.stopOK()

		second := startDaemon(t, cfg)
		c := newClient(t, second)
		who := c.as(token).expect(http.MethodGet, "/auth/v4/whoami", nil, http.StatusOK)
		checkShape(t, "whoami", who, obj{"id": isInt, "email": isStr, "roles": listOf{isStr}, "state": isStr})
		field(t, "whoami", who, "email", email)
		field(t, "whoami", who, "roles", []any{"@admin"})
		if got := num(t, "whoami.id", who["id"]); adminID != strconv.FormatInt(got, 10) {
			t.Errorf("whoami id %d, want %s", got, adminID)
		}
		// The session still does admin work, and the password still works.
		c.as(token).expect(http.MethodGet, "/api/dci/v3/server", nil, http.StatusOK)
		c.login(email, password)

		out := second.stdout()
		if strings.Contains(out, "created admin login") || strings.Contains(out, password) {
			t.Errorf("the admin was created again, or its password shown again, on restart:\n%s", out)
		}
		users, size := list(t, "GET /user", c.as(token).expect(http.MethodGet, "/api/dci/v3/user", nil, http.StatusOK), userShape)
		if size != 1 || len(users) != 1 {
			t.Errorf("after a restart there are %d users, want the one admin", size)
		}
		second.stopOK()
	})
}

func TestGeneratedAdminPassword(t *testing.T) {
	t.Parallel()
	d := startDaemon(t, config{dataDir: t.TempDir()})
	out := d.stdout()
	all := generatedLogin.FindAllStringSubmatch(out, -1)
	if len(all) != 1 {
		t.Fatalf("want one generated admin login line on stdout, got %d:\n%s", len(all), out)
	}
	email, password := all[0][1], all[0][2]
	if email != adminEmail {
		t.Errorf("generated admin is %q, want the default %s", email, adminEmail)
	}
	if len(password) < 12 {
		t.Errorf("generated password %q is short", password)
	}
	if strings.Count(out, password) != 1 {
		t.Errorf("the password is printed %d times, want once", strings.Count(out, password))
	}
	c := newClient(t, d)
	token, _ := c.login(email, password)
	c.as(token).expect(http.MethodGet, "/api/dci/v3/user", nil, http.StatusOK)

	// A wrong password is refused the same way as an unknown email.
	status, body := c.call(http.MethodPost, "/auth/v4/public/token", map[string]string{"email": email, "password": password + "x"})
	if status != http.StatusUnauthorized {
		t.Errorf("wrong password: status %d, want 401; %s", status, body)
	} else {
		errorBody(t, "wrong password", body)
	}
	d.stopOK()
	if strings.Contains(d.stderr(), password) {
		t.Error("the generated password appears in the logs")
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	writeConfig := func(t *testing.T, body string) string {
		p := filepath.Join(t.TempDir(), "dcimd.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		env  []string
		file string // config file body, passed with --config; empty: none
		want []string
	}{
		{name: "listen", env: []string{"DCIMD_LISTEN=nonsense"}, want: []string{"listen", "nonsense"}},
		{name: "database_url", env: []string{"DCIMD_DATABASE_URL=mysql://db/dcimd"}, want: []string{"database_url"}},
		{name: "unknown key", file: "listen: 127.0.0.1:0\nbogus_key: 1\n", want: []string{"bogus_key"}},
		{name: "unknown nested key", file: "log:\n  colour: true\n", want: []string{"log.colour"}},
		{name: "log.format", file: "log:\n  format: xml\n", want: []string{"log.format", "xml"}},
		{name: "unknown key and bad log.format", file: "log:\n  format: xml\nbogus_key: 1\n", want: []string{"bogus_key"}},
		{name: "wrong type", file: "auth:\n  token_ttl: forever\n", want: []string{"auth.token_ttl"}},
		{name: "missing file", file: "-", want: []string{"no-such-file.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config{dataDir: t.TempDir(), env: tt.env}
			args := []string{"serve"}
			switch tt.file {
			case "":
			case "-":
				args = append(args, "--config", filepath.Join(t.TempDir(), "no-such-file.yaml"))
			default:
				args = append(args, "--config", writeConfig(t, tt.file))
			}
			r := runDcimd(t, cfg, args...)
			if r.code == 0 {
				t.Fatalf("dcimd serve accepted a bad config\n%s", r)
			}
			msg := strings.TrimSuffix(r.stderr, "\n")
			if msg == "" || strings.Contains(msg, "\n") {
				t.Errorf("want exactly one line on stderr\n%s", r)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr %q does not name %q", msg, w)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout is not empty: %q", r.stdout)
			}
			if entries, _ := os.ReadDir(cfg.dataDir); len(entries) != 0 {
				t.Errorf("a refused config still wrote into the data dir: %v", entries)
			}
		})
	}
}

func TestMigrateCommands(t *testing.T) {
	t.Parallel()
	bothDatabases(t, func(t *testing.T, dbURL string) {
		cfg := config{dataDir: t.TempDir(), databaseURL: dbURL}

		r := runDcimd(t, cfg, "migrate", "status")
		if r.code != 0 || !strings.Contains(r.stdout, "pending") || strings.Contains(r.stdout, "applied") {
			t.Errorf("migrate status on a fresh database: want exit 0 and pending migrations\n%s", r)
		}
		r = runDcimd(t, cfg, "migrate")
		if r.code != 0 || !strings.Contains(r.stdout, "up to date") {
			t.Fatalf("migrate: \n%s", r)
		}
		r = runDcimd(t, cfg, "migrate")
		if r.code != 0 {
			t.Fatalf("migrate again: \n%s", r)
		}
		r = runDcimd(t, cfg, "migrate", "status")
		if r.code != 0 {
			t.Fatalf("migrate status: \n%s", r)
		}
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) < 2 || !strings.Contains(lines[0], "VERSION") {
			t.Fatalf("migrate status: want a header and a line per migration\n%s", r)
		}
		for _, l := range lines[1:] {
			if !strings.Contains(l, "applied") || strings.Contains(l, "pending") || !strings.Contains(l, ".sql") {
				t.Errorf("migrate status: line %q is not an applied migration", l)
			}
		}

		const email, password = "x@example.com", "longpass1"
		r = runDcimd(t, cfg, "user", "create", "--email", email, "--password", password, "--role", "@admin")
		if r.code != 0 || !strings.Contains(r.stdout, email) {
			t.Fatalf("user create: \n%s", r)
		}
		r = runDcimd(t, cfg, "user", "create", "--email", email, "--password", password, "--role", "@admin")
		if r.code == 0 || strings.Contains(strings.TrimSuffix(r.stderr, "\n"), "\n") {
			t.Errorf("creating the same user twice: want a failure in one line\n%s", r)
		}
		r = runDcimd(t, cfg, "user", "create", "--email", "short@example.com", "--password", "short")
		if r.code == 0 || !strings.Contains(r.stderr, "password") {
			t.Errorf("user create with a short password: want a failure naming the password\n%s", r)
		}

		// The daemon on that database: the command-line admin logs in, and no
		// other admin is created since one exists.
		d := startDaemon(t, cfg)
		if out := d.stdout(); strings.Contains(out, "created admin login") {
			t.Errorf("an admin was created although one exists:\n%s", out)
		}
		c := newClient(t, d)
		token, _ := c.login(email, password)
		who := c.as(token).expect(http.MethodGet, "/auth/v4/whoami", nil, http.StatusOK)
		field(t, "whoami", who, "email", email)
		field(t, "whoami", who, "roles", []any{"@admin"})
		d.stopOK()
	})

	t.Run("version", func(t *testing.T) {
		r := runDcimd(t, config{dataDir: t.TempDir()}, "version")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "dcimd ") {
			t.Fatalf("version: \n%s", r)
		}
		if got := strings.TrimSpace(r.stdout); got != "dcimd "+testVersion {
			t.Errorf("version printed %q, want %q", got, "dcimd "+testVersion)
		}
	})
}
