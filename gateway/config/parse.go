package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Key is the dotted TOML key the problem is about, like "listen.smtp"
	// or "tls"; empty for syntax errors and unknown keys, whose Message
	// says where they are.
	Key string
	// Message says what is wrong, without the key.
	Message string
}

// String returns "key: message", or the message alone when Key is empty.
func (p Problem) String() string {
	if p.Key == "" {
		return p.Message
	}
	return p.Key + ": " + p.Message
}

// Problems is the error Parse and Load return for a configuration that cannot
// be used: it holds every problem found, not only the first.
type Problems struct {
	// File is the configuration file, empty when the text came from Parse.
	File string
	// List holds the problems in the order of the configuration's fields.
	List []Problem
}

// Error returns one line: the file (when known) and every problem, joined by
// "; ".
func (e *Problems) Error() string {
	parts := make([]string, len(e.List))
	for i, p := range e.List {
		parts[i] = p.String()
	}
	s := strings.Join(parts, "; ")
	if e.File != "" {
		s = e.File + ": " + s
	}
	return s
}

// Load reads the configuration file at path with Parse, then makes relative
// paths in tls.cert, tls.key, keys.master_key_file and
// outbound.smarthost_password_file relative to the
// directory of path, and validates. A file that cannot be read gives the
// *os.PathError (errors.Is(err, fs.ErrNotExist) works); a file that can be
// read but not used gives a *Problems with File set to path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := parse(data, filepath.Dir(path))
	if err != nil {
		err.(*Problems).File = path
		return nil, err
	}
	return c, nil
}

// Parse reads a TOML configuration: it starts from Default, and every key in
// data replaces the default of that key (an array such as domains replaces
// the whole default list; routes are added to the empty default). Domains
// and route domains are lower-cased and duplicate domains dropped. Relative
// file paths are kept as written. On success the result has passed Validate;
// otherwise Parse returns a *Problems with every syntax error, unknown key,
// wrong type and failed check it found, and no Config.
func Parse(data []byte) (*Config, error) {
	return parse(data, "")
}

// parse decodes and validates data, making relative paths relative to dir
// unless dir is empty. The error is a *Problems.
func parse(data []byte, dir string) (*Config, error) {
	c, probs := decode(data)
	if c == nil {
		return nil, &Problems{List: probs}
	}
	if dir != "" {
		for _, p := range []*string{&c.TLS.Cert, &c.TLS.Key, &c.Keys.MasterKeyFile, &c.Outbound.SmarthostPasswordFile} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(dir, *p)
			}
		}
	}
	// A key that could not be decoded kept its default; checking that
	// default would only confuse.
	bad := map[string]bool{}
	for _, p := range probs {
		bad[p.Key] = true
	}
	for _, p := range c.Validate() {
		if !bad[p.Key] {
			probs = append(probs, p)
		}
	}
	if len(probs) > 0 {
		return nil, &Problems{List: probs}
	}
	return c, nil
}

// decode fills Default with data and normalizes it. It decodes field by field
// so that every wrong value is reported, not only the first: each table is
// first decoded into a mirror struct of toml.Primitive fields, which leaves
// keys that match no field undecoded for MetaData.Undecoded.
func decode(data []byte) (*Config, []Problem) {
	c := Default()
	top := reflect.New(mirror(reflect.TypeFor[Config]()))
	md, err := toml.Decode(string(data), top.Interface())
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, []Problem{{Message: fmt.Sprintf("%s: %s", position(data, pe.Position), pe.Message)}}
		}
		return nil, []Problem{{Message: strings.TrimPrefix(err.Error(), "toml: ")}}
	}
	var probs []Problem
	decodeTable(&md, top.Elem(), reflect.ValueOf(c).Elem(), "", &probs)
	probs = append(probs, unknownKeys(&md)...)
	probs = append(probs, c.normalize()...)
	return c, probs
}

// position returns "line L, column C" of p. It counts from p.Start because
// the parser gives the next line's number for an error at a line's end.
func position(data []byte, p toml.Position) string {
	if p.Start < 0 || p.Start > len(data) {
		return fmt.Sprintf("line %d", p.Line)
	}
	before := data[:p.Start]
	line := bytes.Count(before, []byte("\n")) + 1
	col := p.Start - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return fmt.Sprintf("line %d, column %d", line, col)
}

var primitiveType = reflect.TypeFor[toml.Primitive]()

// mirror returns a struct type with the fields and toml names of t, each of
// type toml.Primitive.
func mirror(t reflect.Type) reflect.Type {
	fields := make([]reflect.StructField, t.NumField())
	for i := range fields {
		f := t.Field(i)
		fields[i] = reflect.StructField{
			Name: f.Name,
			Type: primitiveType,
			Tag:  reflect.StructTag(`toml:"` + tomlName(f) + `"`),
		}
	}
	return reflect.StructOf(fields)
}

// decodeTable decodes the primitives in mv, a mirror of rv's type, into rv.
func decodeTable(md *toml.MetaData, mv, rv reflect.Value, prefix string, probs *[]Problem) {
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		if mv.Field(i).IsZero() {
			continue // not in the file
		}
		prim := mv.Field(i).Interface().(toml.Primitive)
		key := prefix + tomlName(rt.Field(i))
		fv := rv.Field(i)
		var raw any // decoding into any marks no key as decoded
		if err := md.PrimitiveDecode(prim, &raw); err != nil {
			*probs = append(*probs, Problem{Key: key, Message: err.Error()})
			continue
		}
		if isTable(fv.Type()) {
			if _, ok := raw.(map[string]any); !ok {
				*probs = append(*probs, Problem{Key: key, Message: fmt.Sprintf("must be a table, not %s", tomlTypeName(raw))})
				continue
			}
			if fv.Kind() == reflect.Struct {
				sub := reflect.New(mirror(fv.Type()))
				if err := md.PrimitiveDecode(prim, sub.Interface()); err != nil {
					*probs = append(*probs, Problem{Key: key, Message: err.Error()})
					continue
				}
				decodeTable(md, sub.Elem(), fv, key+".", probs)
				continue
			}
		}
		if err := md.PrimitiveDecode(prim, fv.Addr().Interface()); err != nil {
			*probs = append(*probs, Problem{Key: key, Message: decodeMessage(err, fv.Type(), raw)})
		}
	}
}

// decodeMessage turns a decoding error into a Problem's message.
func decodeMessage(err error, t reflect.Type, raw any) string {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return pe.Message // from our own UnmarshalTOML/UnmarshalText
	}
	want := "a " + t.Kind().String()
	switch t.Kind() {
	case reflect.String:
		want = "a string"
	case reflect.Int, reflect.Int64:
		want = "an integer"
	case reflect.Bool:
		want = "true or false"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			want = "an array of strings"
		}
	case reflect.Map:
		want = "a table of strings"
	}
	if _, isMap := raw.(map[string]any); t.Kind() == reflect.Map && isMap {
		return "every value must be a string"
	}
	if _, isArr := raw.([]any); t.Kind() == reflect.Slice && isArr {
		return "every element must be a string"
	}
	return fmt.Sprintf("must be %s, not %s", want, tomlTypeName(raw))
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// isTable reports whether values of t are TOML tables.
func isTable(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return false
	}
	return t.Kind() == reflect.Struct || t.Kind() == reflect.Map
}

func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "" {
		name = f.Name
	}
	return name
}

// unknownKeys reports the keys no field took (leaving out the keys inside an
// unknown table), and keys that match a field only when case is ignored, as
// BurntSushi/toml allows. It suggests a known key when one is close.
func unknownKeys(md *toml.MetaData) []Problem {
	known := map[string]bool{}
	list, maps := configKeys(reflect.TypeFor[Config](), "")
	for _, k := range list {
		known[k] = true
	}
	// The keys inside a table that is a map (outbound.routes, outbound.route_tls) are
	// free-form names; a value that does not decode is reported elsewhere.
	freeForm := map[string]bool{}
	for _, k := range maps {
		freeForm[k] = true
	}
	undecoded := map[string]bool{}
	for _, k := range md.Undecoded() {
		undecoded[k.String()] = true
	}
	reported := map[string]bool{}
	var probs []Problem
	for _, k := range md.Keys() {
		s := k.String()
		if len(k) > 1 && freeForm[k[:len(k)-1].String()] || known[s] && !undecoded[s] {
			continue
		}
		inside := false
		for i := 1; i < len(k); i++ {
			if reported[k[:i].String()] {
				inside = true
				break
			}
		}
		reported[s] = true
		if inside {
			continue
		}
		msg := fmt.Sprintf("unknown key %q", s)
		if near := nearest(s, list); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		probs = append(probs, Problem{Message: msg})
	}
	return probs
}

// configKeys lists the dotted keys of the fields of t, those of its sub-tables included, and
// among them the keys of map fields: tables whose keys are names the operator chooses.
func configKeys(t reflect.Type, prefix string) (keys, maps []string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := prefix + tomlName(f)
		keys = append(keys, key)
		switch {
		case f.Type.Kind() == reflect.Map:
			maps = append(maps, key)
		case isTable(f.Type) && f.Type.Kind() == reflect.Struct:
			k, m := configKeys(f.Type, key+".")
			keys, maps = append(keys, k...), append(maps, m...)
		}
	}
	return keys, maps
}

// nearest returns the known key closest to key, if one is at most two edits
// away.
func nearest(key string, known []string) string {
	best, bestDist := "", 3
	for _, k := range known {
		if d := editDistance(strings.ToLower(key), k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// normalize lower-cases domains and route domains and drops duplicate
// domains. Two routes for the same domain are a problem.
func (c *Config) normalize() []Problem {
	var probs []Problem
	seen := map[string]bool{}
	domains := c.Domains[:0:0]
	for _, d := range c.Domains {
		d = strings.ToLower(d)
		if !seen[d] {
			seen[d] = true
			domains = append(domains, d)
		}
	}
	c.Domains = domains
	c.Outbound.Routes = lowerDomainKeys(c.Outbound.Routes, "outbound.routes", &probs)
	c.Relay.Domains = lowerDomainKeys(c.Relay.Domains, "relay.domains", &probs)
	return probs
}

// lowerDomainKeys is the table m (named key in the file) with its domains lower-cased; a
// domain given twice is a problem, and the first of its spellings in sorted order is kept.
func lowerDomainKeys(m map[string]string, key string, probs *[]Problem) map[string]string {
	out := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		lk := strings.ToLower(k)
		if _, dup := out[lk]; dup {
			*probs = append(*probs, Problem{Key: key, Message: fmt.Sprintf("%q is given more than once", lk)})
			continue
		}
		out[lk] = m[k]
	}
	return out
}
