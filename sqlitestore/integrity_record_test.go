package sqlitestore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/propops/propsec/integrity"
)

func TestIntegrityRecordRoundTrip(t *testing.T) {
	full := testEntry("/r", "p", 200)
	full.ContentKept = true
	for _, c := range []struct {
		name string
		e    integrity.Entry
	}{
		{"zero", integrity.Entry{}},
		{"full", full},
		{"zero hash, content kept", integrity.Entry{Type: integrity.TypeFile, ContentKept: true, MAC: integrity.Hash{1}}},
		{"unknown type, negative size, old times", integrity.Entry{Type: "door", Size: -1,
			MTime: time.Unix(-1e9, 5).UTC(), CTime: time.Unix(0, 0).UTC()}},
		{"device", integrity.Entry{Type: integrity.TypeCharDevice, Device: 1<<64 - 1, Mode: 0o7777}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := appendRecord(nil, &c.e)
			var got integrity.Entry
			got.Key = c.e.Key
			require.NoError(t, parseRecord(rec, &got))
			assert.True(t, c.e.MTime.Equal(got.MTime) && c.e.CTime.Equal(got.CTime))
			got.MTime, got.CTime = c.e.MTime, c.e.CTime
			assert.Equal(t, c.e, got)
			for i := range rec { // every truncation is an error
				assert.ErrorIs(t, parseRecord(rec[:i], &integrity.Entry{}), errRecord, "truncated at %d", i)
			}
			assert.ErrorIs(t, parseRecord(append(rec, 0), &integrity.Entry{}), errRecord, "trailing byte")
		})
	}
}

// FuzzIntegrityRecord: parsing any bytes returns an entry or errRecord,
// never panics, and what parses encodes to a record that parses the same.
func FuzzIntegrityRecord(f *testing.F) {
	full := testEntry("/r", "p", 200)
	full.ContentKept = true
	f.Add(appendRecord(nil, &full))
	f.Add(appendRecord(nil, &integrity.Entry{}))
	f.Add([]byte{1, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var e integrity.Entry
		if err := parseRecord(b, &e); err != nil {
			assert.ErrorIs(t, err, errRecord)
			return
		}
		var again integrity.Entry
		require.NoError(t, parseRecord(appendRecord(nil, &e), &again))
		assert.Equal(t, e, again)
	})
}
