package storetest

import (
	"reflect"
	"testing"

	"github.com/dcimd/dcimd/internal/fault"
	"github.com/dcimd/dcimd/internal/listq"
	"github.com/dcimd/dcimd/internal/server"
	"github.com/dcimd/dcimd/internal/store"
	"github.com/dcimd/dcimd/internal/testutil/dbtest"
)

// injection is a server name that would break a query built by string
// concatenation; it must be stored and found like any other value.
const injection = "x'); DROP TABLE servers;--"

// TestListConventions: where, orderby, offset/limit and totals behave alike
// on both dialects.
func TestListConventions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		for _, s := range []struct {
			name, conf string
			unit       *int
		}{{"web-1", "small", ptr(1)}, {"web-2", "small", nil}, {"web-3", "small", nil}, {"DB-1", "big", nil},
			{"db-2", "big", nil}, {injection, "", nil}} {
			f.server(s.name, func(v *server.Server) { v.Configuration, v.Unit = s.conf, s.unit })
		}
		cases := []struct {
			name, where, orderby, limit string
			want                        []string // in order
			total                       int
		}{
			{"everything", "", "", "", []string{"web-1", "web-2", "web-3", "DB-1", "db-2", injection}, 6},
			{"EQ", "name EQ 'web-2'", "", "", []string{"web-2"}, 1},
			{"NE and AND", "configuration EQ 'small' AND name NE 'web-1'", "", "", []string{"web-2", "web-3"}, 2},
			{"OR", "name EQ 'web-1' OR name EQ 'db-2'", "", "", []string{"web-1", "db-2"}, 2},
			{"NOT and parentheses", "NOT (configuration EQ 'small' OR configuration EQ '')", "", "", []string{"DB-1", "db-2"}, 2},
			{"CP lower pattern matches upper case", "name CP 'db%'", "", "", []string{"DB-1", "db-2"}, 2},
			{"CP upper pattern matches lower case", "name CP 'WEB-%'", "", "", []string{"web-1", "web-2", "web-3"}, 3},
			{"CP on an integer", "unit CP '1'", "", "", []string{"web-1"}, 1},
			{"IS NULL", "unit IS NULL AND configuration EQ 'small'", "", "", []string{"web-2", "web-3"}, 2},
			{"IS NOT NULL", "unit IS NOT NULL", "", "", []string{"web-1"}, 1},
			{"orderby desc", "name CP 'web%'", "name desc", "", []string{"web-3", "web-2", "web-1"}, 3},
			{"orderby two keys", "configuration NE ''", "configuration asc, id desc", "", []string{"db-2", "DB-1", "web-3", "web-2", "web-1"}, 5},
			{"limit only", "", "", "2", []string{"web-1", "web-2"}, 6},
			{"offset and limit, total before limit", "name CP 'web%'", "name desc", "1,1", []string{"web-2"}, 3},
			{"offset past the end", "", "", "10,5", nil, 6},
			{"limit 0 counts only", "configuration EQ 'small'", "", "0", nil, 3},
			{"quoted SQL is a value (EQ)", "name EQ 'x''); DROP TABLE servers;--'", "", "", []string{injection}, 1},
			{"quoted SQL is a value (CP)", "name CP '%DROP TABLE%'", "", "", []string{injection}, 1},
		}
		for _, c := range cases {
			q, err := listq.Parse(c.where, c.orderby, c.limit)
			if err != nil {
				t.Fatalf("%s: parse: %v", c.name, err)
			}
			rows, total, err := f.inv.Servers.List(f.ctx, q)
			if err != nil {
				t.Fatalf("%s: list: %v", c.name, err)
			}
			var got []string
			for _, r := range rows {
				got = append(got, r.Name)
			}
			if !reflect.DeepEqual(got, c.want) || total != c.total {
				t.Errorf("%s: got %q total %d, want %q total %d", c.name, got, total, c.want, c.total)
			}
		}
		var n int
		f.must(db.SQL().QueryRowContext(f.ctx, `SELECT COUNT(*) FROM servers`).Scan(&n), "count servers")
		if n != 6 {
			t.Fatalf("servers table has %d rows after the injection attempts, want 6", n)
		}
	})
}

// TestListInvalid: a client mistake in a list query is a *fault.Error of
// kind invalid on every repository kind, never an internal error.
func TestListInvalid(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFx(t, db)
		f.server("inv-1")
		cases := []struct {
			name, where, orderby string
			serversOnly          bool // typed fields that only server lists have
		}{
			{"unknown where field", "nope EQ 1", "", false},
			{"unknown orderby field", "", "nope desc", false},
			{"string for an integer field", "unit EQ 'abc'", "", true},
			{"integer for a boolean field", "is_new EQ 3", "", true},
		}
		for _, c := range cases {
			q, err := listq.Parse(c.where, c.orderby, "")
			if err != nil {
				t.Fatalf("%s: parse: %v", c.name, err)
			}
			lists := map[string]func() error{
				"servers": func() error { _, _, err := f.inv.Servers.List(f.ctx, q); return err },
				"views":   func() error { _, _, err := f.inv.Views.ListViews(f.ctx, server.Scope{}, q); return err },
			}
			if !c.serversOnly {
				lists["locations"] = func() error { _, _, err := f.inv.Locations.List(f.ctx, q); return err }
				lists["users"] = func() error { _, _, err := f.auth.ListUsers(f.ctx, q); return err }
				lists["ips"] = func() error { _, _, err := db.IPs().ListIPs(f.ctx, server.Scope{}, q); return err }
			}
			for repo, list := range lists {
				err := list()
				fe, ok := fault.As(err)
				if !ok || fe.Kind != fault.KindInvalid {
					t.Errorf("%s on %s: got %v, want a *fault.Error of kind invalid", c.name, repo, err)
				}
			}
		}
	})
}
