package listq

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind int

const (
	tokEOF    tokKind = iota
	tokLParen         // (
	tokRParen         // )
	tokWord           // identifier or keyword
	tokString         // 'quoted'; text holds the decoded value
	tokNumber         // integer; num holds the value
	tokOther          // anything else, e.g. "=" or ";"
)

type token struct {
	kind tokKind
	pos  int    // byte offset in the input
	text string // source text; the decoded value for tokString
	num  int64
}

// keywords of the where language (compared case-insensitively).
var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true,
	"EQ": true, "NE": true, "CP": true, "IS": true,
	"NULL": true, "TRUE": true, "FALSE": true,
}

func isKeyword(w string) bool { return keywords[strings.ToUpper(w)] }

// is reports whether t is the keyword kw (given in upper case).
func (t token) is(kw string) bool { return t.kind == tokWord && strings.EqualFold(t.text, kw) }

// describe names the token for an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokLParen:
		return `"("`
	case tokRParen:
		return `")"`
	case tokWord:
		if isKeyword(t.text) {
			return strings.ToUpper(t.text)
		}
		return strconv.Quote(shorten(t.text))
	case tokString:
		return "string " + shorten(quoteString(t.text))
	case tokNumber:
		return "number " + t.text
	default:
		return strconv.Quote(shorten(t.text))
	}
}

// isSpace reports whether c separates tokens; a literal '+' outside a quoted
// string is a space that escaped URL decoding.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', '+':
		return true
	}
	return false
}

func isIdentStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) || c == '.' }

// isIdent reports whether s is a field name: [A-Za-z_][A-Za-z0-9_.]*.
func isIdent(s string) bool {
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdentChar(s[i]) {
			return false
		}
	}
	return true
}

// lex splits a where expression into tokens, ending with a tokEOF.
func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case isSpace(c):
			i++
		case c == '(':
			toks = append(toks, token{kind: tokLParen, pos: i, text: "("})
			i++
		case c == ')':
			toks = append(toks, token{kind: tokRParen, pos: i, text: ")"})
			i++
		case c == '\'':
			str, end, err := lexString(s, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tokString, pos: i, text: str})
			i = end
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			toks = append(toks, token{kind: tokWord, pos: i, text: s[i:j]})
			i = j
		case isDigit(c) || (c == '-' && i+1 < len(s) && isDigit(s[i+1])):
			j := i + 1
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			text := s[i:j]
			n, err := strconv.ParseInt(text, 10, 64)
			if err != nil {
				if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
					return nil, errorf("where", i, "number %s is out of range", shorten(text))
				}
				return nil, errorf("where", i, "invalid number %q (only integers are supported)", shorten(text))
			}
			toks = append(toks, token{kind: tokNumber, pos: i, text: text, num: n})
			i = j
		default:
			j := i + 1
			for j < len(s) && !isSpace(s[j]) && !isIdentChar(s[j]) &&
				s[j] != '(' && s[j] != ')' && s[j] != '\'' && s[j] != '-' {
				j++
			}
			toks = append(toks, token{kind: tokOther, pos: i, text: s[i:j]})
			i = j
		}
	}
	return append(toks, token{kind: tokEOF, pos: len(s)}), nil
}

// lexString decodes the quoted string whose opening quote is at s[start] and
// returns it with the offset just past the closing quote.
func lexString(s string, start int) (string, int, error) {
	var b strings.Builder
	i := start + 1
	for {
		j := strings.IndexByte(s[i:], '\'')
		if j < 0 {
			return "", 0, errorf("where", start, "unterminated string")
		}
		b.WriteString(s[i : i+j])
		i += j + 1
		if i < len(s) && s[i] == '\'' { // '' is one quote
			b.WriteByte('\'')
			i++
			continue
		}
		break
	}
	str := b.String()
	if !utf8.ValidString(str) {
		return "", 0, errorf("where", start, "string is not valid UTF-8")
	}
	if strings.IndexByte(str, 0) >= 0 {
		return "", 0, errorf("where", start, "string contains a NUL character")
	}
	return str, i, nil
}
