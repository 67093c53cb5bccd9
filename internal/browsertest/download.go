package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"sync"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// Download clicks the element matching the CSS selector, waits for the
// download it starts to complete, and returns the file name the server
// suggested and the file's content. Files go to a temporary directory of
// the test.
func (p *Page) Download(css string) (name string, data []byte) {
	p.t.Helper()
	dir := p.t.TempDir()
	c := chromedp.FromContext(p.ctx)
	yes := true
	p.Do("allowing downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, BrowserContextID: c.BrowserContextID,
			DownloadPath: dir, EventsEnabled: &yes})
		return err
	}))

	type result struct {
		name, state string
	}
	var (
		mu    sync.Mutex
		names = map[string]string{}
		done  = make(chan result, 1)
	)
	lctx, cancel := context.WithCancel(p.ctx)
	defer cancel()
	if err := chromedp.ListenBrowser(lctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *browser.EventDownloadWillBegin:
			names[ev.GUID] = ev.SuggestedFilename
		case *browser.EventDownloadProgress:
			if ev.State == browser.DownloadProgressStateCompleted || ev.State == browser.DownloadProgressStateCanceled {
				select {
				case done <- result{name: ev.GUID, state: string(ev.State)}:
				default:
				}
			}
		}
	}); err != nil {
		p.Fatalf("listening for downloads: %v", err)
	}
	p.Click(css)
	ctx, scancel := p.step()
	defer scancel()
	select {
	case r := <-done:
		if r.state != string(browser.DownloadProgressStateCompleted) {
			p.Fatalf("download from %s: %s", css, r.state)
		}
		mu.Lock()
		name = names[r.name]
		mu.Unlock()
		b, err := os.ReadFile(filepath.Join(dir, r.name))
		if err != nil {
			p.Fatalf("reading the download: %v", err)
		}
		return name, b
	case <-ctx.Done():
		p.Fatalf("no download completed after clicking %s", css)
	}
	return "", nil
}
