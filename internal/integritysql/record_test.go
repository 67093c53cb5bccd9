package integritysql

import (
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/integrity"
)

// fullEntry has every field set, most to extreme values.
func fullEntry() integrity.Entry {
	t0 := time.Date(2024, 6, 14, 3, 12, 0, 123456789, time.UTC)
	e := integrity.Entry{Key: integrity.Key{Root: "/r", Path: "p"}, Type: integrity.TypeFile, Size: 200,
		Mode: 0o4755, UID: 1<<32 - 1, GID: 7, MTime: t0, CTime: t0.Add(200), Inode: 1<<64 - 201, Device: 1 << 40,
		Target: "../t\xffp", ContentKept: true}
	e.Hash[0], e.Hash[31], e.MAC[0] = 200, 1, 201
	return e
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		e    integrity.Entry
	}{
		{"zero", integrity.Entry{}},
		{"full", fullEntry()},
		{"zero hash, content kept", integrity.Entry{Type: integrity.TypeFile, ContentKept: true, MAC: integrity.Hash{1}}},
		{"unknown type, negative size, old times", integrity.Entry{Type: "door", Size: -1,
			MTime: time.Unix(-1e9, 5).UTC(), CTime: time.Unix(0, 0).UTC()}},
		{"device", integrity.Entry{Type: integrity.TypeCharDevice, Device: 1<<64 - 1, Mode: 0o7777}},
		{"meta", metaEntry()},
		{"meta, nothing recorded", integrity.Entry{Meta: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := Append(nil, &c.e)
			var got integrity.Entry
			got.Key = c.e.Key
			require.NoError(t, Parse(rec, &got))
			assert.True(t, c.e.MTime.Equal(got.MTime) && c.e.CTime.Equal(got.CTime))
			got.MTime, got.CTime = c.e.MTime, c.e.CTime
			assert.Equal(t, c.e, got)
			for i := range rec { // every truncation is an error
				assert.ErrorIs(t, Parse(rec[:i], &integrity.Entry{}), ErrMalformed, "truncated at %d", i)
			}
			assert.ErrorIs(t, Parse(append(rec, 0), &integrity.Entry{}), ErrMalformed, "trailing byte")
		})
	}
}

// metaEntry has Meta, a link count and extended attributes.
func metaEntry() integrity.Entry {
	e := fullEntry()
	e.Meta, e.Links = true, 1<<64-1
	e.XAttrs = []integrity.XAttr{{Name: "security.capability", Value: "\x01\x00\x00\x02"},
		{Name: "user.\xff", Value: ""}, {Name: "user.long", Value: string(make([]byte, 32)), Digest: true}}
	return e
}

// A record written before version 2 (these bytes) reads as an entry
// without Meta; a version 2 record of the same entry differs.
func TestVersion1(t *testing.T) {
	e := fullEntry()
	rec := Append(nil, &e)
	if rec[0] != 1 {
		t.Fatalf("an entry without Meta is written as version %d", rec[0])
	}
	var got integrity.Entry
	require.NoError(t, Parse(rec, &got))
	assert.False(t, got.Meta)
	m := metaEntry()
	rec2 := Append(nil, &m)
	assert.Equal(t, byte(2), rec2[0])
	// Version 1's bytes with version 2's byte do not parse: the meta
	// fields are missing.
	rec[0] = 2
	assert.ErrorIs(t, Parse(rec, &got), ErrMalformed)
	// Bounds: an attribute count past them fails before anything is read.
	e.Meta, e.Links = true, 1
	rec = Append(nil, &e) // ... links (1), count (0), MAC
	require.Equal(t, []byte{1, 0}, rec[len(rec)-34:len(rec)-32])
	bad := binary.AppendUvarint(slices.Clone(rec[:len(rec)-33]), maxXAttrs+1)
	bad = append(bad, rec[len(rec)-32:]...)
	assert.ErrorIs(t, Parse(bad, &got), ErrMalformed)
}

func TestContent(t *testing.T) {
	e := fullEntry()
	assert.Equal(t, e.Hash[:], Content(&e))
	e.ContentKept = false
	assert.Nil(t, Content(&e))
}

// FuzzParse: parsing any bytes returns an entry or ErrMalformed, never
// panics, and what parses encodes to a record that parses the same.
func FuzzParse(f *testing.F) {
	full := fullEntry()
	f.Add(Append(nil, &full))
	meta := metaEntry()
	f.Add(Append(nil, &meta))
	f.Add(Append(nil, &integrity.Entry{}))
	f.Add([]byte{1, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e integrity.Entry
		if err := Parse(b, &e); err != nil {
			assert.ErrorIs(t, err, ErrMalformed)
			return
		}
		var again integrity.Entry
		require.NoError(t, Parse(Append(nil, &e), &again))
		assert.Equal(t, e, again)
	})
}
