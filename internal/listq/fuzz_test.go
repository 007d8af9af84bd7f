package listq

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// format renders a tree in the client syntax, with parentheses only where
// precedence needs them, so that ParseWhere(format(n)) reproduces n.
func format(n Node) string {
	switch n := n.(type) {
	case *Binary:
		if n == nil {
			return "<nil>"
		}
		l, r := format(n.Left), format(n.Right)
		if needParens(n.Left, n.Op, false) {
			l = "(" + l + ")"
		}
		if needParens(n.Right, n.Op, true) {
			r = "(" + r + ")"
		}
		return l + " " + n.Op + " " + r
	case *Not:
		if n == nil {
			return "<nil>"
		}
		if _, ok := n.X.(*Binary); ok {
			return "NOT (" + format(n.X) + ")"
		}
		return "NOT " + format(n.X)
	case *Compare:
		if n == nil {
			return "<nil>"
		}
		if n.Op == "IS NULL" || n.Op == "IS NOT NULL" {
			return n.Field + " " + n.Op
		}
		return n.Field + " " + n.Op + " " + n.Value.String()
	default:
		return "<nil>"
	}
}

func needParens(child Node, parentOp string, right bool) bool {
	b, ok := child.(*Binary)
	if !ok {
		return false
	}
	return (parentOp == "AND" && b.Op == "OR") || (right && b.Op == parentOp)
}

// sqlTokens splits generated SQL into words ([A-Za-z_][A-Za-z0-9_.]*), the
// two-character tokens <> and two single quotes, and single punctuation characters. ok is
// false when the SQL holds anything else (digits, other quotes, ...).
func sqlTokens(sql string) (toks []string, ok bool) {
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(sql) && isIdentChar(sql[j]) {
				j++
			}
			toks = append(toks, sql[i:j])
			i = j
		case strings.HasPrefix(sql[i:], "<>"), strings.HasPrefix(sql[i:], "''"):
			toks = append(toks, sql[i:i+2])
			i += 2
		case strings.IndexByte("()?=,", c) >= 0:
			toks = append(toks, sql[i:i+1])
			i++
		default:
			return nil, false
		}
	}
	return toks, true
}

var sqlKeywords = []string{"AND", "OR", "NOT", "IS", "NULL", "LIKE", "ILIKE", "ESCAPE", "CAST", "AS", "TEXT", "ASC", "DESC",
	"(", ")", "?", "=", "<>", "''", ","}

// checkSQL asserts that sql is built only from the fields' expressions, SQL
// keywords, operators and placeholders, and that placeholders match args.
func checkSQL(t *testing.T, sql string, args []any, fields Fields) {
	t.Helper()
	if msg := sqlProblem(sql, args, fields); msg != "" {
		t.Fatal(msg)
	}
}

// sqlProblem describes what is wrong with sql for checkSQL, or returns "".
func sqlProblem(sql string, args []any, fields Fields) string {
	allowed := map[string]bool{}
	for _, k := range sqlKeywords {
		allowed[k] = true
	}
	for _, f := range fields {
		toks, ok := sqlTokens(f.Expr)
		if !ok {
			return fmt.Sprintf("test field expression %q does not tokenise", f.Expr)
		}
		for _, tok := range toks {
			allowed[tok] = true
		}
	}
	toks, ok := sqlTokens(sql)
	if !ok {
		return fmt.Sprintf("SQL %q contains unexpected characters", sql)
	}
	q := 0
	for _, tok := range toks {
		if !allowed[tok] {
			return fmt.Sprintf("SQL %q contains unknown token %q", sql, tok)
		}
		if tok == "?" {
			q++
		}
	}
	if q != len(args) {
		return fmt.Sprintf("SQL %q has %d placeholders but %d args", sql, q, len(args))
	}
	for _, a := range args {
		switch a.(type) {
		case string, int64, bool:
		default:
			return fmt.Sprintf("arg %#v has unexpected type %T", a, a)
		}
	}
	return ""
}

// TestSQLChecker makes sure the fuzz oracle itself rejects leaked client text.
func TestSQLChecker(t *testing.T) {
	bad := []struct {
		sql  string
		args []any
	}{
		{"(s.name = 'x')", nil},
		{"(s.name = x)", nil},
		{"(s.id = 1)", nil},
		{"(s.id = ?) OR 1=1 --", []any{int64(1)}},
		{"(s.id = ?); DROP TABLE server", []any{int64(1)}},
		{"(s.id = ?)", nil},
		{"(s.id = ?)", []any{1.5}},
		{"(name = ?)", []any{"x"}},
	}
	for _, b := range bad {
		if sqlProblem(b.sql, b.args, testFields) == "" {
			t.Errorf("checker accepted %q %v", b.sql, b.args)
		}
	}
	if msg := sqlProblem("((s.id = ?) AND (COALESCE(s.title, '') ILIKE ? ESCAPE ''))", []any{int64(1), "x"}, testFields); msg != "" {
		t.Errorf("checker rejected good SQL: %s", msg)
	}
}

var fuzzFields = func() Fields {
	f := Fields{"a": {Expr: "t.col_a", Type: TypeString}, "b": {Expr: "t.col_b", Type: TypeInt},
		"c": {Expr: "t.col_c", Type: TypeBool}, "d": {Expr: "t.col_d", Type: TypeTime}}
	for k, v := range testFields {
		f[k] = v
	}
	return f
}()

func FuzzWhere(f *testing.F) {
	for _, s := range []string{
		"(owner_email IS null) AND is_new EQ false",
		"NOT domain CP '%extended.%' AND (ipnet EQ 12)",
		"((roles CP '%@admin%') AND (state EQ 'active'))",
		"name CP 'exact-name'",
		"id EQ 5 OR id EQ 6",
		"a EQ 1 OR b EQ 2 AND c EQ 3",
		"NOT NOT a IS NOT NULL",
		"name EQ 'O''Brien'+AND+created+NE+'2024-01-01'",
		"name EQ ''' OR 1=1 --'",
		"name CP 'x''); DROP TABLE server;--'",
		"b CP -12 OR c NE 'TRUE' OR d EQ '?'",
		// broken
		"(a EQ 1", "a EQ 1)", "a EQ", "a LIKE 'x'", "a EQ 'x", "a EQ 1 b", "()", "AND",
		"a EQ 1.5", "NOT", "a IS", "((((((((((", "a EQ '\xff'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseWhere(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Param != "where" || e.Pos < -1 || e.Pos > len(s) || e.Msg == "" {
				t.Fatalf("ParseWhere(%q): bad error %#v", s, err)
			}
			if n != nil {
				t.Fatalf("ParseWhere(%q): node with error", s)
			}
			return
		}
		if n == nil {
			if trimSpace(s) != "" {
				t.Fatalf("ParseWhere(%q) = nil for a non-blank input", s)
			}
			return
		}
		if text := format(n); len(text) <= MaxInputLen {
			n2, err := ParseWhere(text)
			if err != nil {
				t.Fatalf("re-parse of %q (from %q): %v", text, s, err)
			}
			if !reflect.DeepEqual(n, n2) {
				t.Fatalf("round trip of %q changed the tree: %q", s, format(n2))
			}
		}
		for _, d := range []Dialect{DialectSQLite, DialectPostgres} {
			sql, args, err := Compile(n, fuzzFields, d)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Param != "where" || sql != "" || args != nil {
					t.Fatalf("Compile(%q): bad error %#v", s, err)
				}
				continue
			}
			checkSQL(t, sql, args, fuzzFields)
		}
	})
}

func FuzzOrderByLimit(f *testing.F) {
	f.Add("name asc, id desc", "0,2")
	f.Add("created", "10")
	f.Add("name+DESC", " 5 , 7 ")
	f.Add("name asc desc", "-1")
	f.Add(",", "1,2,3")
	f.Add("na;me", "9999999999999999999999")
	f.Fuzz(func(t *testing.T, orderby, limit string) {
		orders, err := ParseOrderBy(orderby)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Param != "orderby" || e.Pos < -1 || e.Pos > len(orderby) || orders != nil {
				t.Fatalf("ParseOrderBy(%q): bad error %#v", orderby, err)
			}
		} else {
			parts := make([]string, len(orders))
			for i, o := range orders {
				if !isIdent(o.Field) {
					t.Fatalf("ParseOrderBy(%q): bad field %q", orderby, o.Field)
				}
				parts[i] = o.Field + map[bool]string{false: " asc", true: " desc"}[o.Desc]
			}
			if again, err := ParseOrderBy(strings.Join(parts, ",")); err != nil || !reflect.DeepEqual(again, orders) {
				t.Fatalf("ParseOrderBy round trip of %q: %v %v", orderby, again, err)
			}
			if sql, err := OrderSQL(orders, fuzzFields); err == nil {
				checkSQL(t, sql, nil, fuzzFields)
			} else if e := (*Error)(nil); !errors.As(err, &e) || e.Param != "orderby" || sql != "" {
				t.Fatalf("OrderSQL: bad error %#v", err)
			}
		}
		off, lim, err := ParseLimit(limit)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Param != "limit" {
				t.Fatalf("ParseLimit(%q): bad error %#v", limit, err)
			}
			return
		}
		if off < 0 || lim < -1 || (lim == -1 && (off != 0 || trimSpace(limit) != "")) {
			t.Fatalf("ParseLimit(%q) = %d, %d", limit, off, lim)
		}
		if lim >= 0 {
			again := strconv.Itoa(off) + "," + strconv.Itoa(lim)
			if o2, l2, err := ParseLimit(again); err != nil || o2 != off || l2 != lim {
				t.Fatalf("ParseLimit round trip of %q: %d %d %v", limit, o2, l2, err)
			}
		}
	})
}
