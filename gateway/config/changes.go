package config

import (
	"bytes"
	"fmt"
	"reflect"
	"sort"

	"github.com/BurntSushi/toml"
)

// Changes returns the keys whose values differ between old and new, such as "listen.smtp" or
// "mtasts.mode", sorted. A table compared as a whole (relay.domains, outbound.routes) is named
// once.
func Changes(old, new *Config) []string {
	a, b := flatten(old), flatten(new)
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || !reflect.DeepEqual(v, w) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// flatten encodes c as TOML and reads it back as dotted keys. Tables of free-form keys (maps
// in Config) stay whole under their own key.
func flatten(c *Config) map[string]any {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		return map[string]any{"": fmt.Sprint(err)}
	}
	var tree map[string]any
	if _, err := toml.Decode(buf.String(), &tree); err != nil {
		return map[string]any{"": fmt.Sprint(err)}
	}
	out := map[string]any{}
	var walk func(prefix string, t reflect.Type, m map[string]any)
	walk = func(prefix string, t reflect.Type, m map[string]any) {
		for k, v := range m {
			key := prefix + k
			if sub, ok := v.(map[string]any); ok {
				if f, ok := fieldByTag(t, k); ok && f.Kind() == reflect.Struct {
					walk(key+".", f, sub)
					continue
				}
			}
			out[key] = v
		}
	}
	walk("", reflect.TypeOf(*c), tree)
	return out
}

func fieldByTag(t reflect.Type, tag string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Tag.Get("toml") == tag {
			return t.Field(i).Type, true
		}
	}
	return nil, false
}
