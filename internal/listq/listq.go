// Package listq parses the list query language of the DCImanager-6-compatible
// HTTP API (the where=, orderby= and limit= query parameters) and compiles it
// into parameterised SQL.
//
// Client text never reaches the SQL text: field names are whitelisted through
// a Fields map whose SQL expressions are written by us, and every client value
// is passed as a placeholder argument.
package listq

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxInputLen is the longest where= or orderby= value accepted, in bytes.
const MaxInputLen = 4096

// MaxDepth is the deepest nesting of parentheses and NOT accepted in a where= expression.
const MaxDepth = 64

// Node is a parsed where expression (an AST). Implementations: *Binary (AND/OR), *Not, *Compare.
type Node interface{ node() }

// Binary is a logical AND or OR of two sub-expressions.
type Binary struct {
	Op          string // "AND" or "OR"
	Left, Right Node
}

// Not is a logical negation of a sub-expression.
type Not struct {
	X Node
}

// Compare is a single condition on a field.
type Compare struct {
	Field string
	Op    string // "EQ", "NE", "CP", "IS NULL", "IS NOT NULL"
	Value Value  // KindNone for IS NULL and IS NOT NULL
}

func (*Binary) node()  {}
func (*Not) node()     {}
func (*Compare) node() {}

// ValueKind tells which member of a Value is set.
type ValueKind int

const (
	// KindNone is the kind of the value of IS NULL and IS NOT NULL comparisons.
	KindNone ValueKind = iota
	// KindString is a quoted string; Value.Str holds it with '' unescaped.
	KindString
	// KindInt is a bare integer; Value.Int holds it.
	KindInt
	// KindBool is a bare true or false; Value.Bool holds it.
	KindBool
)

// Value is a literal written by the client on the right of a comparison.
type Value struct {
	Kind ValueKind
	Str  string
	Int  int64
	Bool bool
}

// Order is one sort key of an orderby= parameter.
type Order struct {
	Field string
	Desc  bool
}

// Query is everything a list request asked for.
type Query struct {
	Where   Node // nil: no filter
	OrderBy []Order
	Offset  int
	Limit   int // -1: no limit
}

// Error is every error this package returns: a client mistake, to be answered with HTTP 400.
type Error struct {
	Param string // "where", "orderby" or "limit"
	Field string // offending field name, if any
	Pos   int    // byte offset in the parameter value, or -1
	Msg   string
}

// Error formats the error as "param: message at position N" (the position only when known).
func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	var b strings.Builder
	if e.Param != "" {
		b.WriteString(e.Param)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Pos >= 0 {
		b.WriteString(" at position ")
		b.WriteString(strconv.Itoa(e.Pos))
	}
	return b.String()
}

func errorf(param string, pos int, format string, args ...any) *Error {
	return &Error{Param: param, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// quoteString renders s in the client syntax: single quotes, a quote doubled.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// String renders the value in the client syntax, e.g. 'abc', 12, true or NULL.
func (v Value) String() string {
	switch v.Kind {
	case KindString:
		return quoteString(v.Str)
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindBool:
		return strconv.FormatBool(v.Bool)
	default:
		return "NULL"
	}
}

// shorten cuts s for use inside an error message.
func shorten(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// Parse parses all three list parameters. An empty parameter means: no
// filter, default order, no limit. On error the Query is the zero value and
// the error is an *Error naming the offending parameter.
func Parse(where, orderby, limit string) (Query, error) {
	w, err := ParseWhere(where)
	if err != nil {
		return Query{}, err
	}
	o, err := ParseOrderBy(orderby)
	if err != nil {
		return Query{}, err
	}
	off, lim, err := ParseLimit(limit)
	if err != nil {
		return Query{}, err
	}
	return Query{Where: w, OrderBy: o, Offset: off, Limit: lim}, nil
}
