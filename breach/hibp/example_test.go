package hibp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/propops/propsec/breach"
	"github.com/propops/propsec/breach/hibp"
)

// The online source, behind a cache. A local server stands in for
// api.pwnedpasswords.com here; leave BaseURL empty for the real one.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// What HIBP answers for /range/5BAA6 with Add-Padding: true, cut short.
		fmt.Fprint(w, "1E4C9B93F3F0682250B6CF8331B7EE68FD8:10434004\r\n1E4C9B93F3F0682250B6CF8331B7EE68FD9:0\r\n")
	}))
	defer srv.Close()

	client, err := hibp.New(hibp.Config{BaseURL: srv.URL})
	if err != nil {
		fmt.Println(err)
		return
	}
	cache, _ := breach.NewCache(breach.CacheConfig{Source: client}) // 24 h, 1,024 ranges
	chk, _ := breach.New(breach.Config{Source: cache})

	res, err := chk.CheckPassword(context.Background(), "password")
	fmt.Println(res.Breached, res.Count, err)
	r, _ := chk.Range(context.Background(), "5BAA6")
	fmt.Println(r.Len(), "breached hash in the range; the padding row is dropped")
	// Output:
	// true 10434004 <nil>
	// 1 breached hash in the range; the padding row is dropped
}
