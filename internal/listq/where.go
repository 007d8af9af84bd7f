package listq

import "strings"

// ParseWhere parses a where= expression. An empty (or all-blank) string
// yields a nil Node and no error. Every error is an *Error with Param "where".
//
// Grammar (keywords case-insensitive, precedence NOT > AND > OR):
//
//	expr    = and { OR and }
//	and     = unary { AND unary }
//	unary   = NOT unary | "(" expr ")" | compare
//	compare = field (EQ | NE | CP) value | field IS [NOT] NULL
//	value   = 'string' | integer | true | false
func ParseWhere(s string) (Node, error) {
	if len(s) > MaxInputLen {
		return nil, errorf("where", -1, "expression is too long (%d bytes, at most %d allowed)", len(s), MaxInputLen)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	if toks[0].kind == tokEOF {
		return nil, nil
	}
	p := &parser{toks: toks}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tokEOF {
		if t.kind == tokRParen {
			return nil, errorf("where", t.pos, `unbalanced parentheses: unexpected ")"`)
		}
		return nil, errorf("where", t.pos, "unexpected %s after a complete condition (expected AND or OR)", t.describe())
	}
	return n, nil
}

type parser struct {
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tokEOF {
		p.i++
	}
	return t
}

// enter accounts one more level of nesting at t, failing past MaxDepth.
func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > MaxDepth {
		return errorf("where", t.pos, "expression is nested too deeply (at most %d levels)", MaxDepth)
	}
	return nil
}

func (p *parser) parseOr() (Node, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.peek().is("OR") {
		p.next()
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		left = &Binary{Op: "OR", Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseAnd() (Node, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.peek().is("AND") {
		p.next()
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		left = &Binary{Op: "AND", Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseUnary() (Node, error) {
	t := p.peek()
	switch {
	case t.is("NOT"):
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		x, err := p.parseUnary()
		p.depth--
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	case t.kind == tokLParen:
		p.next()
		if p.peek().kind == tokRParen {
			return nil, errorf("where", t.pos, "empty parentheses")
		}
		if err := p.enter(t); err != nil {
			return nil, err
		}
		x, err := p.parseOr()
		p.depth--
		if err != nil {
			return nil, err
		}
		switch c := p.next(); c.kind {
		case tokRParen:
			return x, nil
		case tokEOF:
			return nil, errorf("where", t.pos, `unbalanced parentheses: "(" is never closed`)
		default:
			return nil, errorf("where", c.pos, `unexpected %s (expected AND, OR or ")")`, c.describe())
		}
	case t.kind == tokWord && !isKeyword(t.text):
		return p.parseCompare()
	default:
		return nil, errorf("where", t.pos, "expected a condition (a field name, NOT or \"(\"), found %s", t.describe())
	}
}

func (p *parser) parseCompare() (Node, error) {
	f := p.next()
	op := p.next()
	switch {
	case op.is("EQ"), op.is("NE"), op.is("CP"):
		name := strings.ToUpper(op.text)
		v, err := p.parseValue(name)
		if err != nil {
			return nil, err
		}
		return &Compare{Field: f.text, Op: name, Value: v}, nil
	case op.is("IS"):
		not := false
		if p.peek().is("NOT") {
			p.next()
			not = true
		}
		if t := p.next(); !t.is("NULL") {
			return nil, errorf("where", t.pos, "expected NULL or NOT NULL after IS, found %s", t.describe())
		}
		if not {
			return &Compare{Field: f.text, Op: "IS NOT NULL"}, nil
		}
		return &Compare{Field: f.text, Op: "IS NULL"}, nil
	case op.kind == tokEOF:
		e := errorf("where", op.pos, "expected an operator (EQ, NE, CP or IS) after field %q", f.text)
		e.Field = f.text
		return nil, e
	case (op.kind == tokWord && !isKeyword(op.text)) || op.kind == tokOther:
		e := errorf("where", op.pos, "unknown operator %q after field %q (expected EQ, NE, CP or IS)", shorten(op.text), f.text)
		e.Field = f.text
		return nil, e
	default:
		e := errorf("where", op.pos, "expected an operator (EQ, NE, CP or IS) after field %q, found %s", f.text, op.describe())
		e.Field = f.text
		return nil, e
	}
}

// parseValue reads the literal after the operator op.
func (p *parser) parseValue(op string) (Value, error) {
	t := p.next()
	switch {
	case t.kind == tokString:
		return Value{Kind: KindString, Str: t.text}, nil
	case t.kind == tokNumber:
		return Value{Kind: KindInt, Int: t.num}, nil
	case t.is("TRUE"):
		return Value{Kind: KindBool, Bool: true}, nil
	case t.is("FALSE"):
		return Value{Kind: KindBool, Bool: false}, nil
	case t.is("NULL"):
		return Value{}, errorf("where", t.pos, "expected a value after %s, found NULL (use IS NULL or IS NOT NULL)", op)
	case t.kind == tokEOF:
		return Value{}, errorf("where", t.pos, "expected a value after %s", op)
	default:
		return Value{}, errorf("where", t.pos, "expected a value after %s ('string', integer, true or false), found %s", op, t.describe())
	}
}
