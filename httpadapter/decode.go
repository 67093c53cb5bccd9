package httpadapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/propops/propsec/security"
)

// object is a request body that has passed the structural checks of
// [parseObject]: exactly one JSON object, valid UTF-8, no two member names
// equal or equal but for case, nothing after it. Its members are still raw;
// [object.bind] decodes them against the fields an endpoint allows.
type object struct {
	names  []string // in the order they appear
	values map[string]json.RawMessage
}

// maxNameBytes bounds how much of a client-chosen member name is echoed in
// an error message.
const maxNameBytes = 64

// quoteName returns a client-chosen member name quoted for an error message,
// cleaned of control characters and cut short.
func quoteName(name string) string {
	return strconv.Quote(security.CleanText(name, maxNameBytes))
}

// parseObject checks the structure of body. encoding/json alone would accept
// a duplicate member (keeping the last) and match names case-insensitively,
// so the members are walked one token at a time and each value is kept as a
// RawMessage for [object.bind].
func parseObject(body []byte) (object, error) {
	if !utf8.Valid(body) {
		return object{}, security.Invalid("", "request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return object{}, syntaxError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return object{}, security.Invalid("", "request body must be a JSON object")
	}
	o := object{values: map[string]json.RawMessage{}}
	folded := map[string]string{} // case-folded name → name as sent
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return object{}, syntaxError(err)
		}
		name, ok := tok.(string)
		if !ok { // cannot happen: the decoder only yields strings as names
			return object{}, security.Invalid("", "request body is not valid JSON")
		}
		if _, dup := o.values[name]; dup {
			return object{}, security.Invalidf("", "field %s appears more than once", quoteName(name))
		}
		key := foldName(name)
		if prev, dup := folded[key]; dup {
			return object{}, security.Invalidf("", "fields %s and %s differ only in case", quoteName(prev), quoteName(name))
		}
		folded[key] = name
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return object{}, syntaxError(err)
		}
		o.names = append(o.names, name)
		o.values[name] = raw
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return object{}, syntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return object{}, security.Invalid("", "request body has data after the JSON object")
	}
	return o, nil
}

// syntaxError describes a JSON syntax error by its offset only: the
// decoder's own message quotes the offending character, which may belong to
// a password.
func syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return security.Invalidf("", "request body is not valid JSON (at byte %d)", se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return security.Invalid("", "request body is not valid JSON (unexpected end)")
	}
	return security.Invalid("", "request body is not valid JSON")
}

// foldName maps every name to one representative of its case-folding class,
// so two names get the same key exactly when strings.EqualFold says they are
// equal.
func foldName(s string) string {
	var b strings.Builder
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

// field is one member an endpoint accepts: its name, whether it must be
// present, and how to decode it into its destination.
type field struct {
	name     string
	required bool
	decode   func(raw json.RawMessage) error
}

// stringField accepts a JSON string (not null) into dst.
func stringField(name string, dst *string, required bool) field {
	return field{name: name, required: required, decode: func(raw json.RawMessage) error {
		if len(raw) == 0 || raw[0] != '"' {
			return security.Invalid(name, "must be a string")
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return security.Invalid(name, "must be a string")
		}
		return nil
	}}
}

// intField accepts a JSON integer literal (no fraction, no exponent, not
// null) that fits in an int64 into dst.
func intField(name string, dst *int64, required bool) field {
	return field{name: name, required: required, decode: func(raw json.RawMessage) error {
		if !integerLiteral(raw) {
			return security.Invalid(name, "must be an integer")
		}
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return security.Invalid(name, "is out of range")
		}
		*dst = n
		return nil
	}}
}

// integerLiteral reports whether b is a JSON number without fraction or
// exponent: -?(0|[1-9][0-9]*).
func integerLiteral(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || (b[0] == '0' && len(b) > 1) {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// bind decodes the object's members into fields. A member no field names,
// a member of the wrong type and a missing required field are errors naming
// the field; members are checked in the order they were sent.
func (o object) bind(fields ...field) error {
	byName := make(map[string]field, len(fields))
	for _, f := range fields {
		byName[f.name] = f
	}
	for _, name := range o.names {
		f, ok := byName[name]
		if !ok {
			for _, known := range fields {
				if strings.EqualFold(known.name, name) {
					return security.Invalidf(quoteName(name), "unknown field (field names are case-sensitive: use %q)", known.name)
				}
			}
			return security.Invalid(quoteName(name), "unknown field")
		}
		if err := f.decode(o.values[name]); err != nil {
			return err
		}
	}
	for _, f := range fields {
		if _, ok := o.values[f.name]; f.required && !ok {
			return security.Invalid(f.name, "is required")
		}
	}
	return nil
}

// peek decodes the one member f names, ignoring all others; endpoints whose
// fields depend on one member (the action) read it first, then bind.
func (o object) peek(f field) error {
	raw, ok := o.values[f.name]
	if !ok {
		if f.required {
			return security.Invalid(f.name, "is required")
		}
		return nil
	}
	return f.decode(raw)
}

// action reads the required "action" member of c's body ahead of the
// others, and returns it with the field that binds it again, to be passed
// to c.bind with the action's own fields.
func (c *call) action() (string, field, error) {
	var action string
	f := stringField("action", &action, true)
	if err := c.body.peek(f); err != nil {
		return "", f, err
	}
	return action, f, nil
}
