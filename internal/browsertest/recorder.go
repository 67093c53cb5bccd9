package browsertest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Request is one request a page made, as the browser sent it.
type Request struct {
	URL    string
	Method string
	// Type is the resource type: Document, Stylesheet, Script, Fetch, ….
	Type string
	// Headers are the request's headers; with the ones the network stack
	// adds (Cookie, …) when the browser reported them.
	Headers map[string]string
	// PostData is the request's body, if any.
	PostData string
}

// String is everything of the request in one string, for searching it
// for a secret.
func (r Request) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\n", r.Method, r.URL)
	keys := make([]string, 0, len(r.Headers))
	for k := range r.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, r.Headers[k])
	}
	b.WriteString("\n")
	b.WriteString(r.PostData)
	return b.String()
}

// Recorder records every request of a tab from the moment it is made
// (see [Page.Record]) until the test ends.
type Recorder struct {
	p    *Page
	mu   sync.Mutex
	reqs []*recorded
	byID map[network.RequestID]*recorded
}

type recorded struct {
	id      network.RequestID
	req     Request
	partial bool // has post data the event did not carry
}

// Record starts recording every request the tab makes (documents,
// scripts, fetches, …) through the DevTools Network domain.
func (p *Page) Record() *Recorder {
	p.t.Helper()
	r := &Recorder{p: p, byID: map[network.RequestID]*recorded{}}
	ctx, cancel := context.WithCancel(p.ctx)
	p.t.Cleanup(cancel)
	if err := chromedp.Listen(ctx, r.event); err != nil {
		p.Fatalf("recording requests: %v", err)
	}
	p.Do("enabling the network domain", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
		return err
	}))
	return r
}

// event runs on the tab's reader goroutine: it must return quickly.
func (r *Recorder) event(ev any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		q := ev.Request
		rec := &recorded{id: ev.RequestID, req: Request{URL: q.URL, Method: q.Method, Type: string(ev.Type),
			Headers: map[string]string{}}}
		for k, v := range q.Headers {
			rec.req.Headers[k] = fmt.Sprint(v)
		}
		var body strings.Builder
		for _, e := range q.PostDataEntries {
			body.Write(e.Bytes)
		}
		rec.req.PostData = body.String()
		rec.partial = q.HasPostData && len(q.PostDataEntries) == 0
		if old := r.byID[ev.RequestID]; old != nil && old.req.URL != "" {
			// A redirect: the same id, a new request.
			r.reqs = append(r.reqs, rec)
		} else if old != nil {
			// Extra info came first: keep its headers.
			old.req.URL, old.req.Method, old.req.Type, old.req.PostData, old.partial =
				rec.req.URL, rec.req.Method, rec.req.Type, rec.req.PostData, rec.partial
			for k, v := range rec.req.Headers {
				if _, ok := old.req.Headers[k]; !ok {
					old.req.Headers[k] = v
				}
			}
			return
		} else {
			r.reqs = append(r.reqs, rec)
		}
		r.byID[ev.RequestID] = rec
	case *network.EventRequestWillBeSentExtraInfo:
		rec := r.byID[ev.RequestID]
		if rec == nil {
			rec = &recorded{id: ev.RequestID, req: Request{Headers: map[string]string{}}}
			r.byID[ev.RequestID] = rec
			r.reqs = append(r.reqs, rec)
		}
		for k, v := range ev.Headers {
			rec.req.Headers[k] = fmt.Sprint(v)
		}
	}
}

// Requests returns the requests recorded so far, in the order they were
// made, with their bodies.
func (r *Recorder) Requests() []Request {
	r.p.t.Helper()
	r.mu.Lock()
	recs := slices.Clone(r.reqs)
	r.mu.Unlock()
	out := make([]Request, 0, len(recs))
	for _, rec := range recs {
		if rec.req.URL == "" {
			continue
		}
		req := rec.req
		req.Headers = maps.Clone(req.Headers)
		if rec.partial {
			ctx, cancel := r.p.step()
			res, err := chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: rec.id})
			cancel()
			if err == nil {
				req.PostData = string(res.PostData)
			} else {
				req.PostData = "(body not available: " + err.Error() + ")"
			}
		}
		out = append(out, req)
	}
	return out
}

// Reset forgets the requests recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs, r.byID = nil, map[network.RequestID]*recorded{}
}
