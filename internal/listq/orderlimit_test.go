package listq

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseOrderBy(t *testing.T) {
	tests := []struct {
		in   string
		want []Order
	}{
		{"", nil},
		{"  ", nil},
		{"name", []Order{{Field: "name"}}},
		{"name asc", []Order{{Field: "name"}}},
		{"name DESC", []Order{{Field: "name", Desc: true}}},
		{"name+desc", []Order{{Field: "name", Desc: true}}},
		{"name asc, id desc", []Order{{Field: "name"}, {Field: "id", Desc: true}}},
		{" a.b ,c Desc,d", []Order{{Field: "a.b"}, {Field: "c", Desc: true}, {Field: "d"}}},
	}
	for _, tt := range tests {
		got, err := ParseOrderBy(tt.in)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseOrderBy(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseOrderByErrors(t *testing.T) {
	tests := []struct {
		in  string
		pos int
		msg string
	}{
		{"name,", 5, "orderby: expected a field name at position 5"},
		{",name", 0, "expected a field name"},
		{"a,,b", 2, "expected a field name"},
		{"name up", 5, `unknown sort direction "up" for field "name" (expected asc or desc)`},
		{"name asc desc", 9, `unexpected "desc"`},
		{"9name", 0, `invalid field name "9name"`},
		{"name;DROP", 0, "invalid field name"},
		{"'name'", 0, "invalid field name"},
		{strings.Repeat("a", MaxInputLen+1), -1, "too long"},
	}
	for _, tt := range tests {
		_, err := ParseOrderBy(tt.in)
		var e *Error
		if !errors.As(err, &e) || e.Param != "orderby" || e.Pos != tt.pos || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseOrderBy(%q) error = %#v (%v), want pos %d and %q", tt.in, e, err, tt.pos, tt.msg)
		}
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		in       string
		off, lim int
	}{
		{"", 0, -1},
		{" ", 0, -1},
		{"10", 0, 10},
		{"0", 0, 0},
		{"0,2", 0, 2},
		{"5,0", 5, 0},
		{"20,10", 20, 10},
		{" 20 , 10 ", 20, 10},
		{"20,+10", 20, 10},
		{"007", 0, 7},
	}
	for _, tt := range tests {
		off, lim, err := ParseLimit(tt.in)
		if err != nil || off != tt.off || lim != tt.lim {
			t.Errorf("ParseLimit(%q) = %d, %d, %v; want %d, %d", tt.in, off, lim, err, tt.off, tt.lim)
		}
	}
}

func TestParseLimitErrors(t *testing.T) {
	tests := []struct{ in, msg string }{
		{"-1", "limit: count must be a non-negative integer"},
		{"-1,5", "limit: offset must be a non-negative integer"},
		{"5,-1", "limit: count must be a non-negative integer"},
		{"abc", "limit: count must be a non-negative integer"},
		{"1,2,3", "limit: count must be a non-negative integer"},
		{",5", "limit: offset must be a non-negative integer"},
		{"5,", "limit: count must be a non-negative integer"},
		{"1.5", "count must be"},
		{"0x10", "count must be"},
		{"1 2", "count must be"},
		{"99999999999999999999999", "count must be"},
		{strings.Repeat("1", 100), "too long"},
	}
	for _, tt := range tests {
		_, _, err := ParseLimit(tt.in)
		var e *Error
		if !errors.As(err, &e) || e.Param != "limit" || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ParseLimit(%q) error = %v, want %q", tt.in, err, tt.msg)
		}
	}
}

func TestParse(t *testing.T) {
	q, err := Parse("id EQ 5", "name desc", "10,20")
	want := Query{Where: cmp("id", "EQ", num(5)), OrderBy: []Order{{Field: "name", Desc: true}}, Offset: 10, Limit: 20}
	if err != nil || !reflect.DeepEqual(q, want) {
		t.Fatalf("Parse = %+v, %v", q, err)
	}
	q, err = Parse("", "", "")
	if err != nil || !reflect.DeepEqual(q, Query{Limit: -1}) {
		t.Fatalf("Parse of empty = %+v, %v", q, err)
	}
	for _, tt := range []struct{ w, o, l, param string }{
		{"id EQ", "name", "1", "where"},
		{"id EQ 1", "name sideways", "1", "orderby"},
		{"id EQ 1", "name", "x", "limit"},
	} {
		_, err := Parse(tt.w, tt.o, tt.l)
		var e *Error
		if !errors.As(err, &e) || e.Param != tt.param {
			t.Errorf("Parse(%q, %q, %q) error = %v, want param %s", tt.w, tt.o, tt.l, err, tt.param)
		}
	}
}
