package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decodeYAML reads a configuration file over cfg. It walks the document
// itself instead of relying on yaml.v3's KnownFields, whose errors span
// several lines and name neither the dotted key (log.format) nor the key of
// a wrongly typed value; the daemon prints exactly one line on a bad config.
// An empty file (or one holding only comments) changes nothing.
func decodeYAML(b []byte, cfg *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return errors.New(oneLine(strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return decodeStruct(doc.Content[0], reflect.ValueOf(cfg).Elem(), "")
}

func decodeStruct(n *yaml.Node, v reflect.Value, prefix string) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // "log:" with nothing under it keeps the defaults
	}
	if n.Kind != yaml.MappingNode {
		what := "the file"
		if prefix != "" {
			what = strings.TrimSuffix(prefix, ".")
		}
		return fmt.Errorf("line %d: %s must be a mapping of keys", n.Line, what)
	}
	fields := map[string]int{}
	for i := 0; i < v.NumField(); i++ {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = i
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		idx, ok := fields[k.Value]
		if !ok {
			return fmt.Errorf("line %d: unknown key %q", k.Line, key)
		}
		if seen[k.Value] {
			return fmt.Errorf("line %d: key %q is given twice", k.Line, key)
		}
		seen[k.Value] = true
		f := v.Field(idx)
		if f.Kind() == reflect.Struct && f.Type() != reflect.TypeFor[time.Duration]() {
			if err := decodeStruct(val, f, key+"."); err != nil {
				return err
			}
			continue
		}
		if f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct {
			if val.Kind != yaml.SequenceNode {
				return fmt.Errorf("line %d: %s: must be a list", val.Line, key)
			}
			items := reflect.MakeSlice(f.Type(), len(val.Content), len(val.Content))
			for j, item := range val.Content {
				if err := decodeStruct(item, items.Index(j), fmt.Sprintf("%s[%d].", key, j)); err != nil {
					return err
				}
			}
			f.Set(items)
			continue
		}
		if err := val.Decode(f.Addr().Interface()); err != nil {
			if val.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: %s: must be %s", val.Line, key, describe(f.Type()))
			}
			return fmt.Errorf("line %d: %s: must be %s, not %q", val.Line, key, describe(f.Type()), val.Value)
		}
	}
	return nil
}

// describe names the kind of value a key takes, for error messages.
func describe(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration (like 30s or 15m)"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.Int:
		return "an integer"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "a list of " + strings.TrimPrefix(describe(t.Elem()), "a ") + "s"
	}
	return "a valid value"
}

// oneLine folds a multi-line parser message into one line.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}
