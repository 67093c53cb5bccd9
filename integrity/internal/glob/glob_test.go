package glob

import "testing"

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"*.php", "index.php", true},
		{"*.php", "a/b/index.php", true},
		{"*.php", "index.php.txt", false},
		{".env", "app/.env", true},
		{"cache", "cache", true},
		{"cache", "a/cache", true},
		{"var/cache", "var/cache", true},
		{"var/cache", "x/var/cache", false},
		{"/var/cache/", "var/cache", true},
		{"./var/*", "var/x", true},
		{"var/*", "var/x/y", false},
		{"**/node_modules", "node_modules", true},
		{"**/node_modules", "a/b/node_modules", true},
		{"src/**", "src/a/b", true},
		{"src/**", "src", true},
		{"src/**/*.js", "src/a/b/c.js", true},
		{"src/**/*.js", "src/c.js", true},
		{"src/**/*.js", "lib/c.js", false},
		{"**", "anything/at/all", true},
		{"a?c", "abc", true},
		{"[a-c]x", "bx", true},
		{"*.php", "", false},
	} {
		g, err := Compile("p", c.pattern)
		if err != nil {
			t.Fatalf("%q: %v", c.pattern, err)
		}
		if got := g.Match(c.path); got != c.want {
			t.Errorf("%q ~ %q = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
	for _, bad := range []string{"", "/", "a//b", "[x", "a/[/b"} {
		if _, err := Compile("p", bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
}

func TestFilter(t *testing.T) {
	inc, _ := CompileAll("i", []string{"*.php"})
	exc, _ := CompileAll("e", []string{"vendor", "*.log"})
	f := Filter{Include: inc, Exclude: exc}
	for _, c := range []struct {
		path  string
		isDir bool
		skip  bool
	}{
		{"", true, false},
		{"app", true, false},
		{"app/x.php", false, false},
		{"app/x.txt", false, true},
		{"vendor", true, true},
		{"vendor/lib/x.php", false, true},
		{"app/vendor/x.php", false, true},
		{"a.log", false, true},
	} {
		if got := f.SkipPath(c.path, c.isDir); got != c.skip {
			t.Errorf("skipPath(%q) = %v", c.path, got)
		}
	}
}
