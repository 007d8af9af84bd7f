package listq

import (
	"strconv"
	"strings"
)

// ParseOrderBy parses an orderby= value: one or more comma-separated
// "<field> [asc|desc]" items (direction case-insensitive, default asc), e.g.
// "name asc, id desc". An empty (or all-blank) string yields nil and no
// error. Field names are only checked for syntax here; OrderSQL whitelists them.
func ParseOrderBy(s string) ([]Order, error) {
	if len(s) > MaxInputLen {
		return nil, errorf("orderby", -1, "value is too long (%d bytes, at most %d allowed)", len(s), MaxInputLen)
	}
	if trimSpace(s) == "" {
		return nil, nil
	}
	var orders []Order
	start := 0
	for {
		end := strings.IndexByte(s[start:], ',')
		if end < 0 {
			end = len(s)
		} else {
			end += start
		}
		o, err := parseOrderItem(s[start:end], start)
		if err != nil {
			return nil, err
		}
		orders = append(orders, o)
		if end == len(s) {
			return orders, nil
		}
		start = end + 1
	}
}

// parseOrderItem parses one "<field> [asc|desc]" item found at byte offset base.
func parseOrderItem(item string, base int) (Order, error) {
	type word struct {
		text string
		pos  int
	}
	var words []word
	for i := 0; i < len(item); {
		if isSpace(item[i]) {
			i++
			continue
		}
		j := i
		for j < len(item) && !isSpace(item[j]) {
			j++
		}
		words = append(words, word{item[i:j], base + i})
		i = j
	}
	if len(words) == 0 {
		return Order{}, errorf("orderby", base+len(item), "expected a field name")
	}
	f := words[0]
	if !isIdent(f.text) {
		e := errorf("orderby", f.pos, "invalid field name %q", shorten(f.text))
		e.Field = f.text
		return Order{}, e
	}
	o := Order{Field: f.text}
	if len(words) > 1 {
		switch d := words[1]; strings.ToLower(d.text) {
		case "asc":
		case "desc":
			o.Desc = true
		default:
			e := errorf("orderby", d.pos, "unknown sort direction %q for field %q (expected asc or desc)", shorten(d.text), f.text)
			e.Field = f.text
			return Order{}, e
		}
	}
	if len(words) > 2 {
		return Order{}, errorf("orderby", words[2].pos, "unexpected %q after the sort direction (separate sort keys with commas)", shorten(words[2].text))
	}
	return o, nil
}

// ParseLimit parses a limit= value: "<offset>,<count>" or "<count>", both
// non-negative integers. A count of 0 is valid and means zero rows. An empty
// (or all-blank) string yields offset 0 and limit -1 (no limit).
func ParseLimit(s string) (offset, limit int, err error) {
	if len(s) > 64 {
		return 0, 0, errorf("limit", -1, "value is too long")
	}
	s = trimSpace(s)
	if s == "" {
		return 0, -1, nil
	}
	offStr, countStr, hasOffset := strings.Cut(s, ",")
	if !hasOffset {
		countStr, offStr = offStr, "0"
	}
	offset, ok := parseNonNegative(offStr)
	if !ok {
		return 0, 0, errorf("limit", -1, "offset must be a non-negative integer")
	}
	limit, ok = parseNonNegative(countStr)
	if !ok {
		return 0, 0, errorf("limit", -1, "count must be a non-negative integer")
	}
	return offset, limit, nil
}

// parseNonNegative parses a blank-trimmed string of decimal digits that fits in an int.
func parseNonNegative(s string) (int, bool) {
	s = trimSpace(s)
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}
