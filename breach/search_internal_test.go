package breach

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// searchRecs guesses a position from the key, so check it on inputs that
// are far from uniform as well as on uniform ones.
func TestSearchRecs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const size = 20
	shapes := map[string]func() []byte{
		"uniform": func() []byte {
			r := make([]byte, size)
			for i := range r {
				r[i] = byte(rng.Uint32())
			}
			return r
		},
		"all low": func() []byte { // every key below the first guess of most
			r := make([]byte, size)
			r[3], r[4] = byte(rng.Uint32()), byte(rng.Uint32())
			return r
		},
		"all high": func() []byte {
			r := bytes.Repeat([]byte{0xff}, size)
			r[5], r[6] = byte(rng.Uint32()), byte(rng.Uint32())
			return r
		},
		"two clusters": func() []byte {
			r := make([]byte, size)
			if rng.IntN(2) == 0 {
				r[0] = 0xff
			}
			for i := 8; i < size-3; i++ {
				r[i] = byte(rng.Uint32())
			}
			return r
		},
	}
	for name, gen := range shapes {
		for _, n := range []int{0, 1, 2, 3, 7, 64, 1000, 5000} {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				var recs [][]byte
				seen := map[string]bool{}
				for len(recs) < n {
					r := gen()
					r[size-3] &= 0xf0
					r[size-2], r[size-1] = 0, 0
					if seen[string(r)] {
						continue
					}
					seen[string(r)] = true
					recs = append(recs, r)
				}
				slices.SortFunc(recs, bytes.Compare)
				var packed []byte
				for _, r := range recs {
					c := slices.Clone(r)
					c[size-1] = 1 // a count, which the search ignores
					packed = append(packed, c...)
				}
				for i, r := range recs {
					if got := searchRecs(packed, size, r); got != i {
						t.Fatalf("record %d found at %d", i, got)
					}
				}
				for range 200 {
					k := gen()
					k[size-3] &= 0xf0
					k[size-2], k[size-1] = 0, 0
					if !seen[string(k)] && searchRecs(packed, size, k) != -1 {
						t.Fatalf("absent key %x found", k)
					}
				}
			})
		}
	}
}
