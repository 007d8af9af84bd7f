package listq

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var testFields = Fields{
	"id":          {Expr: "s.id", Type: TypeInt},
	"name":        {Expr: "s.name", Type: TypeString},
	"owner_email": {Expr: "u.email", Type: TypeString},
	"is_new":      {Expr: "s.is_new", Type: TypeBool},
	"domain":      {Expr: "s.domain", Type: TypeString},
	"ipnet":       {Expr: "n.ipnet_id", Type: TypeInt},
	"roles":       {Expr: "u.roles", Type: TypeString},
	"state":       {Expr: "s.state", Type: TypeString},
	"created":     {Expr: "s.created_at", Type: TypeTime},
	"title":       {Expr: "COALESCE(s.title, '')", Type: TypeString},
}

func TestCompile(t *testing.T) {
	tests := []struct {
		where    string
		sqlite   string
		postgres string
		args     []any
	}{
		{"(owner_email IS null) AND is_new EQ false",
			"((u.email IS NULL) AND (s.is_new = ?))",
			"((u.email IS NULL) AND (s.is_new = ?))",
			[]any{false}},
		{"NOT domain CP '%extended.%' AND (ipnet EQ 12)",
			"((NOT (s.domain LIKE ?)) AND (n.ipnet_id = ?))",
			"((NOT (s.domain ILIKE ? ESCAPE '')) AND (n.ipnet_id = ?))",
			[]any{"%extended.%", int64(12)}},
		{"((roles CP '%@admin%') AND (state EQ 'active'))",
			"((u.roles LIKE ?) AND (s.state = ?))",
			"((u.roles ILIKE ? ESCAPE '') AND (s.state = ?))",
			[]any{"%@admin%", "active"}},
		{"name CP 'exact-name'", "(s.name LIKE ?)", "(s.name ILIKE ? ESCAPE '')", []any{"exact-name"}},
		{"id EQ 5 OR id EQ 6", "((s.id = ?) OR (s.id = ?))", "((s.id = ?) OR (s.id = ?))", []any{int64(5), int64(6)}},
		{"id NE '42' AND owner_email IS NOT NULL",
			"((s.id <> ?) AND (u.email IS NOT NULL))", "((s.id <> ?) AND (u.email IS NOT NULL))",
			[]any{int64(42)}},
		// CP on non-string fields compares the text form.
		{"id CP '1%'", "(CAST(s.id AS TEXT) LIKE ?)", "(CAST(s.id AS TEXT) ILIKE ? ESCAPE '')", []any{"1%"}},
		{"created CP '2024-%'", "(CAST(s.created_at AS TEXT) LIKE ?)", "(CAST(s.created_at AS TEXT) ILIKE ? ESCAPE '')", []any{"2024-%"}},
		{"name CP 12", "(s.name LIKE ?)", "(s.name ILIKE ? ESCAPE '')", []any{"12"}},
		// Conversions for string, bool and time fields.
		{"name EQ 12 OR name EQ true", "((s.name = ?) OR (s.name = ?))", "((s.name = ?) OR (s.name = ?))", []any{"12", "true"}},
		{"is_new EQ 1 AND is_new NE 'FALSE' AND is_new EQ '0'",
			"(((s.is_new = ?) AND (s.is_new <> ?)) AND (s.is_new = ?))",
			"(((s.is_new = ?) AND (s.is_new <> ?)) AND (s.is_new = ?))",
			[]any{true, false, false}},
		{"created EQ '2024-01-02 03:04:05'", "(s.created_at = ?)", "(s.created_at = ?)", []any{"2024-01-02 03:04:05"}},
		{"title EQ 'x'", "(COALESCE(s.title, '') = ?)", "(COALESCE(s.title, '') = ?)", []any{"x"}},
		// Injection attempts end up only in args.
		{"name EQ ''' OR 1=1 --'", "(s.name = ?)", "(s.name = ?)", []any{"' OR 1=1 --"}},
		{"name CP 'x''); DROP TABLE server;--'", "(s.name LIKE ?)", "(s.name ILIKE ? ESCAPE '')", []any{"x'); DROP TABLE server;--"}},
		{"name EQ '?' OR name EQ '$1'", "((s.name = ?) OR (s.name = ?))", "((s.name = ?) OR (s.name = ?))", []any{"?", "$1"}},
	}
	for _, tt := range tests {
		n, err := ParseWhere(tt.where)
		if err != nil {
			t.Fatalf("ParseWhere(%q): %v", tt.where, err)
		}
		for _, d := range []struct {
			d    Dialect
			want string
		}{{DialectSQLite, tt.sqlite}, {DialectPostgres, tt.postgres}} {
			sql, args, err := Compile(n, testFields, d.d)
			if err != nil {
				t.Fatalf("Compile(%q, %d): %v", tt.where, d.d, err)
			}
			if sql != d.want || !reflect.DeepEqual(args, tt.args) {
				t.Errorf("Compile(%q, %d)\n got %q %#v\nwant %q %#v", tt.where, d.d, sql, args, d.want, tt.args)
			}
			checkSQL(t, sql, args, testFields)
		}
	}
}

func TestCompileNil(t *testing.T) {
	sql, args, err := Compile(nil, testFields, DialectPostgres)
	if sql != "" || args != nil || err != nil {
		t.Fatalf("Compile(nil) = %q, %v, %v", sql, args, err)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		where string
		field string
		msg   string
	}{
		{"foo EQ 1", "foo", `where: unknown field "foo"`},
		{"id EQ 1 AND (NOT Name EQ 'x')", "Name", `where: unknown field "Name"`},
		{"s.id EQ 1", "s.id", "unknown field"},
		{"id EQ 'abc'", "id", `where: field "id" expects an integer, got string 'abc'`},
		{"id EQ ''", "id", "expects an integer"},
		{"id EQ true", "id", "expects an integer, got true"},
		{"is_new EQ 2", "is_new", `field "is_new" expects true or false, got number 2`},
		{"is_new EQ 'yes'", "is_new", "expects true or false"},
		{"created EQ 5", "created", "expects a time string"},
		{"created NE false", "created", "expects a time string"},
	}
	for _, tt := range tests {
		n, err := ParseWhere(tt.where)
		if err != nil {
			t.Fatalf("ParseWhere(%q): %v", tt.where, err)
		}
		for _, d := range []Dialect{DialectSQLite, DialectPostgres} {
			sql, args, err := Compile(n, testFields, d)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Compile(%q) = %q, %v, %v; want *Error", tt.where, sql, args, err)
			}
			if sql != "" || args != nil {
				t.Errorf("Compile(%q) returned SQL %q / args %v with an error", tt.where, sql, args)
			}
			if e.Param != "where" || e.Field != tt.field || e.Pos != -1 || !strings.Contains(e.Error(), tt.msg) {
				t.Errorf("Compile(%q) error %+v (%q), want field %q and %q", tt.where, e, e, tt.field, tt.msg)
			}
		}
	}
}

func TestCompileMalformedTrees(t *testing.T) {
	var nilCmp *Compare
	var nilBin *Binary
	var nilNot *Not
	tests := []Node{
		nilCmp, nilBin, nilNot,
		&Binary{Op: "XOR", Left: cmp("id", "EQ", num(1)), Right: cmp("id", "EQ", num(2))},
		&Binary{Op: "AND", Left: cmp("id", "EQ", num(1))},
		&Not{},
		&Compare{Field: "id", Op: "LIKE", Value: num(1)},
		&Compare{Field: "id", Op: "EQ"},
		&Compare{Field: "name", Op: "CP"},
		&Compare{Field: "id", Op: "eq", Value: num(1)},
	}
	for _, n := range tests {
		if sql, _, err := Compile(n, testFields, DialectSQLite); err == nil {
			t.Errorf("Compile(%s) = %q, want error", format(n), sql)
		}
	}
	if _, _, err := Compile(cmp("id", "EQ", num(1)), testFields, Dialect(7)); err == nil {
		t.Error("unknown dialect: want error")
	}
	if _, _, err := Compile(cmp("x", "EQ", num(1)), Fields{"x": {Expr: "x", Type: FieldType(9)}}, DialectSQLite); err == nil {
		t.Error("unknown field type: want error")
	}
	// A hand-built cycle must not recurse forever.
	b := &Binary{Op: "AND", Left: cmp("id", "EQ", num(1))}
	b.Right = b
	if _, _, err := Compile(b, testFields, DialectSQLite); err == nil {
		t.Error("cyclic tree: want error")
	}
}

func TestOrderSQL(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  string
	}{
		{"", "", ""},
		{"name", "s.name ASC", ""},
		{"name asc, id DESC", "s.name ASC, s.id DESC", ""},
		{"created desc,title", "s.created_at DESC, COALESCE(s.title, '') ASC", ""},
		{"name asc, foo desc", "", `orderby: unknown field "foo"`},
	}
	for _, tt := range tests {
		o, err := ParseOrderBy(tt.in)
		if err != nil {
			t.Fatalf("ParseOrderBy(%q): %v", tt.in, err)
		}
		got, err := OrderSQL(o, testFields)
		if tt.err != "" {
			var e *Error
			if !errors.As(err, &e) || err.Error() != tt.err || e.Field != "foo" {
				t.Errorf("OrderSQL(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("OrderSQL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
