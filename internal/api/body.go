package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/dcimd/dcimd/internal/fault"
)

// maxBody is the largest request body accepted.
const maxBody = 1 << 20

var errBodyTooLarge = errors.New("body too large")

// Opt is a body field that distinguishes absent, null and a value, so that
// an edit can clear a reference with null.
type Opt[T any] struct {
	Set  bool
	Null bool
	V    T
}

// UnmarshalJSON records that the field was present.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// Ptr gives the value as a pointer (nil for null), for applying.
func (o Opt[T]) Ptr() *T {
	if o.Null {
		return nil
	}
	v := o.V
	return &v
}

// decodeBody reads a JSON object into dst (a pointer to a struct whose
// fields have json tags). It refuses unknown fields and wrong types, naming
// the field, and bodies over 1 MiB. An empty body is {}. The Content-Type is
// not checked: real clients post JSON without one.
func decodeBody(c *gin.Context, dst any) error {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxBody+1))
	if err != nil {
		return &fault.Error{Kind: fault.KindInvalid, Msg: "could not read the request body"}
	}
	if len(body) > maxBody {
		return &fault.Error{Kind: fault.KindTooLarge, Msg: "request body is larger than 1 MiB"}
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &fault.Error{Kind: fault.KindInvalid, Msg: "malformed JSON at byte " + strconv.FormatInt(se.Offset, 10)}
		}
		return &fault.Error{Kind: fault.KindInvalid, Msg: "the body must be a JSON object"}
	}
	if raw == nil { // the body was null
		return nil
	}
	rv := reflect.ValueOf(dst).Elem()
	fields := map[string][]int{}
	collectFields(rv.Type(), nil, fields)
	for _, k := range sortedKeys(raw) {
		i, ok := fields[k]
		if !ok {
			return fault.Invalid(k, "unknown field")
		}
		fv := rv.FieldByIndex(i)
		v := raw[k]
		if isIntType(fv.Type()) && len(v) > 2 && v[0] == '"' { // "12" for 12: some clients quote ids
			if s, err := strconv.Unquote(string(v)); err == nil {
				if _, err := strconv.ParseInt(s, 10, 64); err == nil {
					v = json.RawMessage(s)
				}
			}
		}
		if hasNUL(v) { // PostgreSQL cannot store NUL in text
			return fault.Invalid(k, "must not contain NUL characters")
		}
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields() // inside objects too (settings, macros)
		if err := dec.Decode(fv.Addr().Interface()); err != nil {
			if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				return fault.Invalid(k, "has an unknown field %s", name)
			}
			return fault.Invalid(k, "must be %s", describe(fv.Type()))
		}
	}
	return nil
}

// hasNUL reports a \u0000 escape in a JSON value (a raw NUL byte is not
// valid JSON in the first place).
func hasNUL(v []byte) bool {
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' {
			continue
		}
		if i+5 < len(v) && v[i+1] == 'u' && string(v[i+2:i+6]) == "0000" {
			return true
		}
		i++ // skip the escaped character
	}
	return false
}

// screenRequest refuses, before any routing or lookup, a body declared
// larger than 1 MiB on any route (413; decodeBody also stops bodies of
// unknown length) and a path holding a NUL byte, which no object has (404).
func screenRequest(c *gin.Context) {
	if c.Request.ContentLength > maxBody {
		fail(c, &fault.Error{Kind: fault.KindTooLarge, Msg: "request body is larger than 1 MiB"})
		return
	}
	if strings.ContainsRune(c.Request.URL.Path, 0) {
		fail(c, &fault.Error{Kind: fault.KindNotFound, Msg: "no such object"})
		return
	}
	c.Next()
}

// collectFields maps json names to field index paths, flattening embedded
// structs (shared groups like SNMP access).
func collectFields(t reflect.Type, prefix []int, out map[string][]int) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		idx := append(append([]int{}, prefix...), i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			collectFields(f.Type, idx, out)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out[name] = idx
		}
	}
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ { // tiny maps: insertion sort keeps errors deterministic
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

func baseType(t reflect.Type) reflect.Type {
	for {
		switch {
		case t.Kind() == reflect.Pointer:
			t = t.Elem()
		case t.Kind() == reflect.Struct && strings.HasPrefix(t.Name(), "Opt["):
			t = t.Field(2).Type
		default:
			return t
		}
	}
}

func isIntType(t reflect.Type) bool {
	switch baseType(t).Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return true
	}
	return false
}

func describe(t reflect.Type) string {
	t = baseType(t)
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(describe(t.Elem()), "a ")
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a valid value"
}
