package listq

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func str(s string) Value { return Value{Kind: KindString, Str: s} }
func num(n int64) Value  { return Value{Kind: KindInt, Int: n} }
func boolean(b bool) Value {
	return Value{Kind: KindBool, Bool: b}
}
func cmp(f, op string, v Value) Node { return &Compare{Field: f, Op: op, Value: v} }
func isNull(f string) Node           { return &Compare{Field: f, Op: "IS NULL"} }
func notNull(f string) Node          { return &Compare{Field: f, Op: "IS NOT NULL"} }
func and(l, r Node) Node             { return &Binary{Op: "AND", Left: l, Right: r} }
func or(l, r Node) Node              { return &Binary{Op: "OR", Left: l, Right: r} }
func not(x Node) Node                { return &Not{X: x} }

func TestParseWhere(t *testing.T) {
	tests := []struct {
		in   string
		want Node
	}{
		{"", nil},
		{"   ", nil},
		{"+", nil},
		// Real examples.
		{"(owner_email IS null) AND is_new EQ false",
			and(isNull("owner_email"), cmp("is_new", "EQ", boolean(false)))},
		{"NOT domain CP '%extended.%' AND (ipnet EQ 12)",
			and(not(cmp("domain", "CP", str("%extended.%"))), cmp("ipnet", "EQ", num(12)))},
		{"((roles CP '%@admin%') AND (state EQ 'active'))",
			and(cmp("roles", "CP", str("%@admin%")), cmp("state", "EQ", str("active")))},
		{"name CP 'exact-name'", cmp("name", "CP", str("exact-name"))},
		{"id EQ 5 OR id EQ 6", or(cmp("id", "EQ", num(5)), cmp("id", "EQ", num(6)))},
		// Precedence: NOT > AND > OR, left associative.
		{"a EQ 1 OR b EQ 2 AND c EQ 3",
			or(cmp("a", "EQ", num(1)), and(cmp("b", "EQ", num(2)), cmp("c", "EQ", num(3))))},
		{"a EQ 1 AND b EQ 2 OR c EQ 3",
			or(and(cmp("a", "EQ", num(1)), cmp("b", "EQ", num(2))), cmp("c", "EQ", num(3)))},
		{"(a EQ 1 OR b EQ 2) AND c EQ 3",
			and(or(cmp("a", "EQ", num(1)), cmp("b", "EQ", num(2))), cmp("c", "EQ", num(3)))},
		{"a EQ 1 AND b EQ 2 AND c EQ 3",
			and(and(cmp("a", "EQ", num(1)), cmp("b", "EQ", num(2))), cmp("c", "EQ", num(3)))},
		{"a EQ 1 OR b EQ 2 OR c EQ 3",
			or(or(cmp("a", "EQ", num(1)), cmp("b", "EQ", num(2))), cmp("c", "EQ", num(3)))},
		{"NOT a EQ 1 OR b EQ 2", or(not(cmp("a", "EQ", num(1))), cmp("b", "EQ", num(2)))},
		{"NOT (a EQ 1 OR b EQ 2)", not(or(cmp("a", "EQ", num(1)), cmp("b", "EQ", num(2))))},
		{"NOT NOT a IS NOT NULL", not(not(notNull("a")))},
		// Nesting.
		{"(((a EQ 1)))", cmp("a", "EQ", num(1))},
		{"((a EQ 1) OR ((b NE 'x') AND (NOT (c CP 'y'))))",
			or(cmp("a", "EQ", num(1)), and(cmp("b", "NE", str("x")), not(cmp("c", "CP", str("y")))))},
		// Case-insensitivity of keywords; field names keep their case.
		{"Name eq 'x' and NOT ID ne -3 Or flag Eq TRUE",
			or(and(cmp("Name", "EQ", str("x")), not(cmp("ID", "NE", num(-3)))), cmp("flag", "EQ", boolean(true)))},
		{"a is Null or b iS nOt NULL", or(isNull("a"), notNull("b"))},
		// Strings.
		{"name EQ 'O''Brien'", cmp("name", "EQ", str("O'Brien"))},
		{"name EQ ''", cmp("name", "EQ", str(""))},
		{"name EQ ''''", cmp("name", "EQ", str("'"))},
		{"name EQ 'a+b c'", cmp("name", "EQ", str("a+b c"))},
		{"name EQ 'привет'", cmp("name", "EQ", str("привет"))},
		{"name EQ 'AND'", cmp("name", "EQ", str("AND"))},
		// '+' as space outside strings.
		{"name+CP+'%25a+b%25'+AND+id+EQ+5", and(cmp("name", "CP", str("%25a+b%25")), cmp("id", "EQ", num(5)))},
		{"(owner_email+IS+null)+AND+is_new+EQ+false",
			and(isNull("owner_email"), cmp("is_new", "EQ", boolean(false)))},
		// Tokens need no spaces around parens and quotes.
		{"(a EQ'x')OR(b EQ 2)", or(cmp("a", "EQ", str("x")), cmp("b", "EQ", num(2)))},
		// Numbers and field name syntax.
		{"a.b_c9 EQ -0", cmp("a.b_c9", "EQ", num(0))},
		{"_x EQ 9223372036854775807", cmp("_x", "EQ", num(9223372036854775807))},
		{"_x EQ -9223372036854775808", cmp("_x", "EQ", num(-9223372036854775808))},
		{"\ta\nEQ\r1 ", cmp("a", "EQ", num(1))},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseWhere(tt.in)
			if err != nil {
				t.Fatalf("ParseWhere(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseWhere(%q)\n got %s\nwant %s", tt.in, format(got), format(tt.want))
			}
		})
	}
}

func TestParseWhereErrors(t *testing.T) {
	tests := []struct {
		in    string
		pos   int
		msg   string // substring of Error()
		field string
	}{
		{"(a EQ 1", 0, `where: unbalanced parentheses: "(" is never closed at position 0`, ""},
		{"((a EQ 1)", 0, "never closed", ""},
		{"a EQ 1)", 6, `unbalanced parentheses: unexpected ")"`, ""},
		{"(a EQ 1))", 8, `unexpected ")"`, ""},
		{"(a EQ 1 b EQ 2)", 8, `unexpected "b" (expected AND, OR or ")")`, ""},
		{"a EQ", 4, "where: expected a value after EQ at position 4", ""},
		{"a EQ AND b EQ 1", 5, "expected a value after EQ", ""},
		{"a CP )", 5, "expected a value after CP", ""},
		{"a EQ null", 5, "use IS NULL", ""},
		{"a EQ abc", 5, `found "abc"`, ""},
		{"a LIKE 'x'", 2, `unknown operator "LIKE" after field "a"`, "a"},
		{"a = 'x'", 2, `unknown operator "="`, "a"},
		{"a != 1", 2, `unknown operator "!="`, "a"},
		{"a", 1, `expected an operator (EQ, NE, CP or IS) after field "a"`, "a"},
		{"a AND b", 2, "expected an operator", "a"},
		{"a IS 5", 5, "expected NULL or NOT NULL after IS", ""},
		{"a IS NOT", 8, "expected NULL or NOT NULL after IS, found end of input", ""},
		{"a IS NOT 'x'", 9, "expected NULL or NOT NULL", ""},
		{"name EQ 'abc", 8, "where: unterminated string at position 8", ""},
		{"'abc", 0, "unterminated string", ""},
		{"name EQ 'it''s", 8, "unterminated string", ""},
		{"a EQ 1 b", 7, `unexpected "b" after a complete condition (expected AND or OR)`, ""},
		{"a EQ 1 'x'", 7, "unexpected string 'x'", ""},
		{"a EQ 1 ;DROP TABLE x", 7, `unexpected ";"`, ""},
		{"()", 0, "where: empty parentheses at position 0", ""},
		{"a EQ 1 AND ( )", 11, "empty parentheses", ""},
		{"AND", 0, "expected a condition (a field name, NOT or \"(\"), found AND", ""},
		{"a EQ 1 AND", 10, "found end of input", ""},
		{"a EQ 1 OR OR b EQ 2", 10, "found OR", ""},
		{"NOT", 3, "expected a condition", ""},
		{"null IS NULL", 0, "found NULL", ""},
		{")", 0, "expected a condition", ""},
		{"a EQ 1.5", 5, `invalid number "1.5"`, ""},
		{"a EQ 12abc", 5, "invalid number", ""},
		{"a EQ 99999999999999999999", 5, "out of range", ""},
		{"a EQ - 1", 5, `found "-"`, ""},
		{"a EQ 'x\x00y'", 5, "NUL", ""},
		{"a EQ '\xff'", 5, "UTF-8", ""},
		{"\"a\" EQ 1", 0, `found "\""`, ""},
		{strings.Repeat("(", 65) + "a EQ 1" + strings.Repeat(")", 65), 64, "nested too deeply", ""},
		{strings.Repeat("NOT ", 65) + "a EQ 1", 256, "nested too deeply", ""},
		{"a EQ '" + strings.Repeat("x", MaxInputLen) + "'", -1, "too long", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			n, err := ParseWhere(tt.in)
			if err == nil {
				t.Fatalf("ParseWhere(%q) = %s, want error", tt.in, format(n))
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			if e.Param != "where" || e.Pos != tt.pos || e.Field != tt.field {
				t.Errorf("got Param=%q Pos=%d Field=%q, want where/%d/%q (%v)", e.Param, e.Pos, e.Field, tt.pos, tt.field, err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestDepthLimitBoundary(t *testing.T) {
	in := strings.Repeat("(", MaxDepth) + "a EQ 1" + strings.Repeat(")", MaxDepth)
	if _, err := ParseWhere(in); err != nil {
		t.Fatalf("depth %d should parse: %v", MaxDepth, err)
	}
	in = strings.Repeat("NOT (", MaxDepth/2) + "a EQ 1" + strings.Repeat(")", MaxDepth/2)
	if _, err := ParseWhere(in); err != nil {
		t.Fatalf("depth %d should parse: %v", MaxDepth, err)
	}
	// Long flat chains are not nesting.
	in = strings.TrimSuffix(strings.Repeat("a EQ 1 AND ", 300), " AND ")
	if _, err := ParseWhere(in); err != nil {
		t.Fatalf("flat chain should parse: %v", err)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    *Error
		want string
	}{
		{&Error{Param: "where", Field: "foo", Pos: -1, Msg: `unknown field "foo"`}, `where: unknown field "foo"`},
		{&Error{Param: "where", Pos: 12, Msg: "expected a value after EQ"}, "where: expected a value after EQ at position 12"},
		{&Error{Param: "where", Pos: 0, Msg: "x"}, "where: x at position 0"},
		{&Error{Msg: "x", Pos: -1}, "x"},
		{nil, "<nil>"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
