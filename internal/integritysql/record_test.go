package integritysql

import (
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
