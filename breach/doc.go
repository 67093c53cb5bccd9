// Package breach checks passwords against Pwned Passwords, the corpus of
// passwords seen in data breaches that Have I Been Pwned publishes (NIST SP
// 800-63B asks verifiers to refuse or flag such passwords). It never sends
// a password or a whole hash anywhere: only a hash's first 5 hex digits
// leave the process (k-anonymity), or nothing at all with an offline copy.
//
// # Use
//
//	src, err := hibp.New(hibp.Config{})                  // the online range API (package breach/hibp)
//	cached, err := breach.NewCache(breach.CacheConfig{Source: src})
//	// or, offline: src, err := breach.OpenCorpus("pwned.bin")
//	chk, err := breach.New(breach.Config{Source: cached, Events: store})
//	res, err := chk.CheckPassword(ctx, password)         // res.Breached, res.Count
//	r, err := chk.Range(ctx, "21BD1")                     // every breached hash with that prefix
//
// # Sources
//
// A [Source] answers a range query: every breached suffix, with its count,
// for a 5-digit prefix, in HIBP's order (by suffix). There are three:
//
//   - the HIBP range API client, hibp.Client in package breach/hibp
//     (padding requested and dropped, strict parsing, timeouts, a size
//     cap, optional NTLM mode);
//   - [Cache], a bounded LRU of ranges with a TTL in front of another
//     source, whose concurrent misses for one prefix share one fetch;
//   - [Corpus], an offline copy in a compact file built by [Import] from
//     the official downloader's output.
//
// # Failures
//
// When a source cannot answer (network, timeout, HTTP status, malformed or
// oversized body, unreadable file), a check returns a [*SourceError],
// which matches [ErrSourceUnavailable] and security.ErrUnavailable: never
// "not breached". A host that prefers to let logins proceed while HIBP is
// down sets [Config.FailOpen], and then gets a Result marked Unverified.
//
// Malformed input (a prefix that is not 5 hex digits, a hash of the wrong
// length) is an error wrapping security.ErrInvalid and reaches no source.
// [ParsePrefix] and [ParseSuffix] validate the HTTP endpoint's parameters.
//
// # Audit
//
// A check that finds its hash records one [EventBreachDetected]
// ("password_breach_detected") event through [Config.Events], with the
// actor and subject the caller put in the context with [ContextWithEvent].
// The event holds no password, hash, prefix or count: a breach count can
// name a common password.
//
// # The corpus file
//
// [Import] reads pwnedpasswords.txt (one "HASH:COUNT" line per hash,
// sorted) or the per-prefix directory, checks format and order as it
// goes, and writes a file of fixed-width records: the hash without its
// prefix (which an index of 2^20 bucket sizes implies) and the count in
// the 20 bits the prefix left free, 20 bytes a SHA-1 hash, plus 4 MiB of
// index and a side table for counts over 1,048,574. A range is one
// contiguous run of records: a lookup is one read (the file is
// memory-mapped where possible, with read-ahead off). A header carries a
// magic, a version and checksums; [OpenCorpus] checks the header, index
// and side table, [Corpus.Verify] every record.
package breach
