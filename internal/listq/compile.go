package listq

import (
	"strconv"
	"strings"
)

// FieldType is the type of the SQL expression behind a field; it decides how
// client values are converted before they become arguments.
type FieldType int

const (
	// TypeString fields take strings; numbers and booleans are converted to their text.
	TypeString FieldType = iota
	// TypeInt fields take integers, or strings holding an integer.
	TypeInt
	// TypeBool fields take true/false, the strings 'true'/'false' (or '1'/'0'), and 0/1.
	TypeBool
	// TypeTime fields take strings, passed through unchanged for the database to compare.
	TypeTime
)

// Field maps a client-visible name to an SQL expression that is trusted (written by us, never by clients).
type Field struct {
	Expr string
	Type FieldType
	// NullExpr, when set, is what IS NULL and IS NOT NULL test instead of
	// Expr. For a NOT NULL column of a LEFT JOINed row it is the key that
	// references that row (null exactly when the row is missing): the same
	// answer, estimated well by planners and needing no join.
	NullExpr string
}

// Fields is the whitelist of fields a list request may filter and sort on, keyed by client-visible name.
type Fields map[string]Field

// Dialect selects the SQL flavour Compile produces.
type Dialect int

const (
	// DialectSQLite produces SQL for SQLite: CP becomes LIKE (case-insensitive for ASCII).
	DialectSQLite Dialect = iota
	// DialectPostgres produces SQL for PostgreSQL: CP becomes ILIKE with no escape character.
	DialectPostgres
)

// maxCompileDepth bounds recursion over hand-built trees (parsed trees stay far below it).
const maxCompileDepth = 4096

// Compile turns a where AST into an SQL boolean expression with `?` placeholders
// (gorm style) and its args. Every client value goes into args, never into the
// SQL text; every sub-expression is parenthesised. A nil Node yields "", nil, nil.
//
// Comparisons compile to:
//
//	EQ           (expr = ?)
//	NE           (expr <> ?)
//	IS NULL      (expr IS NULL)
//	IS NOT NULL  (expr IS NOT NULL)
//	CP, SQLite   (expr LIKE ?)
//	CP, Postgres (expr ILIKE ? ESCAPE '')
//
// so that % and _ are the only special characters of CP on both databases.
// CP on a non-string field compares CAST(expr AS TEXT). Arguments are string,
// int64 or bool.
//
// Errors (all *Error with Param "where"): a field not in fields, a value that
// does not fit the field's type, an unknown operator or a malformed tree.
func Compile(n Node, fields Fields, d Dialect) (sql string, args []any, err error) {
	if n == nil {
		return "", nil, nil
	}
	if d != DialectSQLite && d != DialectPostgres {
		return "", nil, errorf("where", -1, "unsupported SQL dialect %d", int(d))
	}
	c := &compiler{fields: fields, d: d}
	if err := c.compile(n, 0); err != nil {
		return "", nil, err
	}
	return c.b.String(), c.args, nil
}

type compiler struct {
	fields Fields
	d      Dialect
	b      strings.Builder
	args   []any
}

func (c *compiler) compile(n Node, depth int) error {
	if depth > maxCompileDepth {
		return errorf("where", -1, "expression is nested too deeply")
	}
	switch n := n.(type) {
	case *Binary:
		if n == nil || n.Left == nil || n.Right == nil {
			return errorf("where", -1, "malformed expression: missing operand")
		}
		if n.Op != "AND" && n.Op != "OR" {
			return errorf("where", -1, "unknown logical operator %q", shorten(n.Op))
		}
		c.b.WriteByte('(')
		if err := c.compile(n.Left, depth+1); err != nil {
			return err
		}
		c.b.WriteString(" " + n.Op + " ")
		if err := c.compile(n.Right, depth+1); err != nil {
			return err
		}
		c.b.WriteByte(')')
		return nil
	case *Not:
		if n == nil || n.X == nil {
			return errorf("where", -1, "malformed expression: missing operand of NOT")
		}
		c.b.WriteString("(NOT ")
		if err := c.compile(n.X, depth+1); err != nil {
			return err
		}
		c.b.WriteByte(')')
		return nil
	case *Compare:
		if n == nil {
			return errorf("where", -1, "malformed expression: missing comparison")
		}
		return c.compare(n)
	default:
		return errorf("where", -1, "malformed expression: unsupported node %T", n)
	}
}

func (c *compiler) compare(n *Compare) error {
	f, ok := c.fields[n.Field]
	if !ok || f.Expr == "" {
		return fieldErr("where", n.Field, "unknown field %q", shorten(n.Field))
	}
	switch n.Op {
	case "IS NULL", "IS NOT NULL":
		e := f.Expr
		if f.NullExpr != "" {
			e = f.NullExpr
		}
		c.b.WriteString("(" + e + " " + n.Op + ")")
		return nil
	case "EQ", "NE":
		arg, err := convert(n.Field, f.Type, n.Value)
		if err != nil {
			return err
		}
		op := " = ?)"
		if n.Op == "NE" {
			op = " <> ?)"
		}
		c.b.WriteString("(" + f.Expr + op)
		c.args = append(c.args, arg)
		return nil
	case "CP":
		if n.Value.Kind == KindNone {
			return fieldErr("where", n.Field, "CP on field %q needs a value", shorten(n.Field))
		}
		expr := f.Expr
		if f.Type != TypeString {
			expr = "CAST(" + expr + " AS TEXT)"
		}
		if c.d == DialectPostgres {
			c.b.WriteString("(" + expr + " ILIKE ? ESCAPE '')")
		} else {
			c.b.WriteString("(" + expr + " LIKE ?)")
		}
		c.args = append(c.args, text(n.Value))
		return nil
	default:
		return fieldErr("where", n.Field, "unknown operator %q on field %q", shorten(n.Op), shorten(n.Field))
	}
}

func fieldErr(param, field, format string, args ...any) *Error {
	e := errorf(param, -1, format, args...)
	e.Field = field
	return e
}

// text is the string form of a value, as used by CP and TypeString fields.
func text(v Value) string {
	switch v.Kind {
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindBool:
		return strconv.FormatBool(v.Bool)
	default:
		return v.Str
	}
}

// convert checks v against the field type t and returns the SQL argument.
func convert(field string, t FieldType, v Value) (any, error) {
	bad := func(want string) error {
		return fieldErr("where", field, "field %q expects %s, got %s", shorten(field), want, describeValue(v))
	}
	if v.Kind == KindNone {
		return nil, fieldErr("where", field, "comparison on field %q needs a value (use IS NULL for null)", shorten(field))
	}
	switch t {
	case TypeString:
		return text(v), nil
	case TypeInt:
		switch v.Kind {
		case KindInt:
			return v.Int, nil
		case KindString:
			if n, err := strconv.ParseInt(v.Str, 10, 64); err == nil {
				return n, nil
			}
		}
		return nil, bad("an integer")
	case TypeBool:
		switch v.Kind {
		case KindBool:
			return v.Bool, nil
		case KindInt:
			if v.Int == 0 || v.Int == 1 {
				return v.Int == 1, nil
			}
		case KindString:
			switch strings.ToLower(v.Str) {
			case "true", "1":
				return true, nil
			case "false", "0":
				return false, nil
			}
		}
		return nil, bad("true or false")
	case TypeTime:
		if v.Kind == KindString {
			return v.Str, nil
		}
		return nil, bad("a time string in quotes")
	default:
		return nil, fieldErr("where", field, "field %q has an unsupported type %d", shorten(field), int(t))
	}
}

func describeValue(v Value) string {
	switch v.Kind {
	case KindString:
		return "string " + shorten(v.String())
	case KindInt:
		return "number " + v.String()
	default:
		return v.String()
	}
}

// OrderSQL returns "expr1 ASC, expr2 DESC" for the given orders, fields
// whitelisted; an unknown field is an *Error with Param "orderby". No orders
// yield "".
func OrderSQL(orders []Order, fields Fields) (string, error) {
	var b strings.Builder
	for i, o := range orders {
		f, ok := fields[o.Field]
		if !ok || f.Expr == "" {
			return "", fieldErr("orderby", o.Field, "unknown field %q", shorten(o.Field))
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Expr)
		if o.Desc {
			b.WriteString(" DESC")
		} else {
			b.WriteString(" ASC")
		}
	}
	return b.String(), nil
}
