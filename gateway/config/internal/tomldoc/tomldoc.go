// Package tomldoc writes a commented TOML document from a Go struct value and
// the Go source that declares its types: each field's doc comment becomes the
// comment above its key, and the field's value in the struct becomes the
// key's value. The root type's doc comment heads the document.
//
// It serves gateway/config's generated example; it understands the kinds
// that package uses: strings, integers, booleans, slices, values that
// implement encoding.TextMarshaler (written as strings), nested structs and
// maps with string keys (written as tables).
package tomldoc

import (
	"bytes"
	"encoding"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Render returns the commented TOML for root, a pointer to a struct, with
// comments taken from src, the Go source file that declares root's type and
// the struct types of its fields. A field without a doc comment, or a struct
// type not declared in src, is an error: every key must be documented.
func Render(src []byte, root any) ([]byte, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	r := &renderer{structs: map[string]*ast.StructType{}, typeDocs: map[string]string{}}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			r.structs[ts.Name.Name] = st
			doc := ts.Doc
			if doc == nil && len(gd.Specs) == 1 {
				doc = gd.Doc
			}
			if doc != nil {
				r.typeDocs[ts.Name.Name] = doc.Text()
			}
		}
	}
	rv := reflect.ValueOf(root)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("tomldoc: root must be a pointer to a struct, not %T", root)
	}
	rv = rv.Elem()
	doc, ok := r.typeDocs[rv.Type().Name()]
	if !ok {
		return nil, fmt.Errorf("tomldoc: type %s has no doc comment", rv.Type().Name())
	}
	r.comment(doc)
	if err := r.table(rv, nil); err != nil {
		return nil, err
	}
	return r.buf.Bytes(), nil
}

type renderer struct {
	structs  map[string]*ast.StructType
	typeDocs map[string]string
	buf      bytes.Buffer
}

var textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()

// isTable reports whether values of t are written as TOML tables.
func isTable(t reflect.Type) bool {
	if t.Implements(textMarshaler) {
		return false
	}
	return t.Kind() == reflect.Struct || t.Kind() == reflect.Map
}

// table writes the keys of struct rv: first its plain keys, then its tables,
// as TOML requires.
func (r *renderer) table(rv reflect.Value, path []string) error {
	rt := rv.Type()
	docs, err := r.fieldDocs(rt)
	if err != nil {
		return err
	}
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			if !f.IsExported() || isTable(f.Type) != (pass == 1) {
				continue
			}
			name := tomlName(f)
			if pass == 0 {
				r.buf.WriteByte('\n')
				r.comment(docs[f.Name])
				line, err := keyValue(name, rv.Field(i).Interface())
				if err != nil {
					return fmt.Errorf("tomldoc: %s: %w", strings.Join(append(path, name), "."), err)
				}
				r.buf.WriteString(line)
				continue
			}
			sub := append(path[:len(path):len(path)], name)
			r.buf.WriteString("\n\n")
			r.comment(docs[f.Name])
			fmt.Fprintf(&r.buf, "[%s]\n", strings.Join(sub, "."))
			fv := rv.Field(i)
			if f.Type.Kind() == reflect.Map {
				if err := mapEntries(&r.buf, fv); err != nil {
					return fmt.Errorf("tomldoc: %s: %w", strings.Join(sub, "."), err)
				}
				continue
			}
			if err := r.table(fv, sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// fieldDocs returns the doc comment of every exported field of rt by name.
func (r *renderer) fieldDocs(rt reflect.Type) (map[string]string, error) {
	st, ok := r.structs[rt.Name()]
	if !ok {
		return nil, fmt.Errorf("tomldoc: struct type %s is not declared in the source", rt.Name())
	}
	docs := map[string]string{}
	for _, field := range st.Fields.List {
		cg := field.Doc
		if cg == nil {
			cg = field.Comment
		}
		for _, n := range field.Names {
			if cg != nil {
				docs[n.Name] = cg.Text()
			}
		}
	}
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if f.IsExported() && strings.TrimSpace(docs[f.Name]) == "" {
			return nil, fmt.Errorf("tomldoc: field %s.%s has no doc comment", rt.Name(), f.Name)
		}
	}
	return docs, nil
}

// comment writes text as TOML comment lines.
func (r *renderer) comment(text string) {
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if line == "" {
			r.buf.WriteString("#\n")
		} else {
			r.buf.WriteString("# " + line + "\n")
		}
	}
}

// keyValue encodes one "key = value" line with the TOML encoder.
func keyValue(key string, v any) (string, error) {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(map[string]any{key: v}); err != nil {
		return "", err
	}
	return b.String(), nil
}

// mapEntries writes the entries of a map with string keys, sorted by key.
func mapEntries(b *bytes.Buffer, m reflect.Value) error {
	keys := make([]string, 0, m.Len())
	for _, k := range m.MapKeys() {
		keys = append(keys, k.String())
	}
	sort.Strings(keys)
	for _, k := range keys {
		var kb bytes.Buffer
		err := toml.NewEncoder(&kb).Encode(map[string]any{k: m.MapIndex(reflect.ValueOf(k)).Interface()})
		if err != nil {
			return err
		}
		b.Write(kb.Bytes())
	}
	return nil
}

func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "" {
		name = f.Name
	}
	return name
}
