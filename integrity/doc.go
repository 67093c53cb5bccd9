// Package integrity is file integrity monitoring for a host application: a
// signed baseline of the files under a set of roots, scans that compare the
// tree with it and raise alerts, an alert lifecycle, diffs against the
// known-good content, and planned-deployment windows whose changes are
// accepted instead of alerted on.
//
// # Use
//
//	mon, err := integrity.New(integrity.Config{
//		Store: store,            // memstore.New(), sqlitestore or pgstore
//		Key:   key,              // ≥ 32 random bytes, kept out of the database
//		Roots: []string{"/var/www/html"},
//		Exclude: []string{"cache", "*.log"},
//	})
//	created, err := mon.Init(ctx)     // baseline the roots that have none
//	go mon.Run(ctx, 15*time.Minute)   // periodic scans
//	id, err := mon.Start(ctx)         // an on-demand scan: "chk_…"
//	check, err := mon.Progress(ctx, id)
//	defer mon.Close()                 // cancels and waits
//
// # Baseline
//
// For every path under a root the baseline holds an [Entry]: type, size,
// mode, owner, times, inode, link count, symlink target, device number,
// extended attributes, and the BLAKE3 hash of a regular file's content.
// The content of text files no larger than the diff cap (1 MiB) is kept
// too, encrypted (see below) and addressed by its hash (so duplicates are
// stored once), for diffs.
//
// # Metadata
//
// Besides content, mode, owner and type, a scan compares what AIDE's
// p+i+n+u+g+s+m+c+acl+xattrs+caps checks do: every extended attribute the
// process can read, in all namespaces (user.*, security.capability,
// security.selinux and the rest of security.*, the POSIX ACLs
// system.posix_acl_access and system.posix_acl_default, trusted.* when
// privileged), the link count, the mtime and the ctime. They are read on
// Linux (flistxattr on the descriptor the file was opened with; lgetxattr
// through /proc/self/fd/<directory> for what is not opened: symlinks,
// directories, devices, FIFOs); elsewhere the attributes are not recorded.
// Bounds per entry: the names are listed whole (the kernel caps a list at
// 64 KiB), the values of the first [MaxXAttrs] are read, and a value over
// [MaxXAttrValue] bytes is recorded as its digest.
//
// Alerts say what changed: "capability added: cap_net_raw+ep" (decoded
// from vfs_cap_data), "ACL added: user::rw-,user:1000:rw-,…", "xattr
// user.note added: \"hello\"", "links 1 → 2" (a new hard link: the new
// name is added, the old names' link count changes), "mtime changed,
// content unchanged (…)". A change that grants a file capability or
// setuid/setgid is critical, one that grants write to others (mode o+w,
// or an ACL entry for a named user or group, or others, with write) is at
// least high, and a change of times alone is low, whatever the severity
// rules say. Only a ctime that changed, with content and everything else
// unchanged (a change made and reverted, a chmod to the same mode, a link
// made and removed), is a low alert of its own; atime is never compared.
// A directory whose entries are added, removed or renamed gets a low alert
// (its mtime, ctime and link count changed), as AIDE reports it, besides
// the entries' own; one whose mtime was set explicitly (mtime no longer
// equal to ctime, as touch -d leaves it) says so.
//
// Entries baselined before these fields were recorded (Entry.Meta unset)
// verify and compare as before: they raise nothing for lacking them, and
// the next accepted state (an accepted alert, a deployment's end) records
// them. The entry MAC covers them.
//
// The baseline is authenticated with keys derived from [Config.Key], which
// the host supplies and the store never sees: each entry carries a keyed
// BLAKE3 MAC, and each root a [Seal] (a MAC over all its entries' MACs in
// path order), which catches removed, added and replayed records. A scan
// verifies a root's baseline in the same pass that compares the tree with
// it, and holds that root's findings back until the whole baseline has
// verified; a baseline that fails is not trusted (the root's findings are
// dropped) and one critical baseline_tampered alert is raised. A root with
// more findings than a scan holds back (4,096) is verified in a pass of its
// own before they are saved. Ending a deployment rebuilds it.
//
// # Reading files safely
//
// Directories are opened with O_NOFOLLOW and their children relative to
// them (openat), so the walk never follows a symlink and never leaves the
// roots, even if a directory is swapped for a symlink mid-walk. Files are
// opened with O_RDONLY|O_NOFOLLOW|O_NONBLOCK (and O_NOATIME where the
// kernel permits, falling back when it refuses), then fstat'ed; only
// regular files are read. Symlinks are recorded with their target; FIFOs,
// sockets and devices by type, never opened on purpose (and never read if
// one is swapped in). A file whose fstat differs after hashing is hashed
// once more, and if it changed again the alert says it was still changing.
// A file that cannot be read raises a file_unreadable alert, not a
// deletion; below a directory that cannot be listed, nothing is considered
// deleted. Files over [Config.MaxHashBytes] are compared by size, times and
// inode.
//
// A root that is itself a symlink is recorded as a symlink and not
// descended (retargeting it is an alert): to watch what it points to, give
// the Monitor the resolved directory (filepath.EvalSymlinks). [Monitor.Diff] and
// [Monitor.AcceptAlert] reach a path the same way, one O_NOFOLLOW directory
// at a time from its root: a path below a directory that became a symlink
// is absent to them, as to a scan, and what the symlink points to is never
// read.
//
// # Scans
//
// A scan is a background check with an id ("chk_…"); at most one runs at a
// time (per machine, across processes sharing a store: see below), and
// [Monitor.Start] returns the running one's id with an error wrapping
// [security.ErrConflict]. [Monitor.Progress] reports its status,
// counts and duration; [Monitor.Cancel] cancels it; [Monitor.Close] waits
// for it. Comparison streams: the walker yields paths in the baseline's
// byte order (a directory's subtree sorts as if its name ended in "/"),
// workers hash files in parallel, and the result is merged with the
// baseline as it is read, so memory does not grow with the number of
// files.
//
// # Real-time detection
//
// With [Config.Realtime] (Linux), [Monitor.Run] also watches every
// directory of the roots with inotify and re-checks the paths that change
// as they change: the same walk, comparison, one-alert-per-state dedup and
// alerts as a scan, under the same lock, so an alert is stored (and listed)
// within a fraction of a second of the change, without a check being run.
// Its alerts carry the id of a [CheckRealtime] check, which
// [Monitor.Progress] reports running while Run watches; [Monitor.Realtime]
// tells its state.
//
//   - A path is re-checked 50 ms after its last event (1 s while it is
//     being written and not closed), and every 2 s at most (10 s while
//     written) if it never stops changing: a file rewritten a thousand
//     times raises one alert per state observed, not one per write.
//   - New and moved-in directories are watched, then listed and re-checked
//     whole, so entries made before the watch was in place are found;
//     removed and moved-out ones are re-checked whole (each entry is
//     deleted) and their watches dropped. A saved file replaced by a rename
//     is re-checked like a write.
//   - While a deployment window is open nothing is raised; ending it
//     accepts the changes, as for scans.
//   - Events lost in the kernel (its queue overflowed) or too many changes
//     waiting, and directories the kernel's watch limit
//     (fs.inotify.max_user_watches) leaves unwatched, are never silent: they
//     are logged ([Config.Logger]), a full scan runs, and an
//     [AlertRealtimeDegraded] alert names the cause and the scan (one per
//     cause while the last is new). Each periodic tick watches what could
//     not be watched before.
//   - Run starts with a full scan, for what changed before the watches were
//     in place; the periodic scans go on as the safety net (a change
//     written through mmap without a close may be seen only by them).
//   - The baseline is verified whole (entry MACs and seal) before the first
//     re-check of a root and whenever its seal changes, and each entry's MAC
//     at every re-check. A root that fails is left to scans, which raise the
//     baseline_tampered alert. An older, valid entry put back between two
//     re-checks without touching the seal is caught by the next scan.
//
// # Alerts
//
// A scan raises at most one [Alert] per path, carrying its most significant
// change (modified, added, deleted, metadata) and all differences in its
// details. A directory's mode, owner, attributes, times and link count are
// compared as any entry's (see Metadata); its size never is. Severity comes
// from [Config.SeverityRules]: by default scripts and executables are
// critical, configuration files high, everything else medium; metadata
// raises or lowers it (see Metadata). A later scan that sees
// the same changed state raises nothing new, whether the alert was
// resolved or not; a file that changes again raises a new alert. Alerts are
// listed, resolved, ignored and deleted in bulk, and [Monitor.AcceptAlert]
// accepts one alert's new state into the baseline.
//
// # Deployments
//
// [Monitor.BeginDeployment] scans (so earlier changes still alert) and
// opens a window, kept in the store; scans during it raise nothing. Its
// description is required, at most [MaxDescriptionRunes] characters
// ([CleanDescription]). [Monitor.EndDeployment] accepts every change into
// the baseline and closes the window in one commit, with one audit event
// recording how many entries were accepted; the ended window, with when,
// by whom and how many, joins the history that
// [Monitor.EndedDeployments] reads.
//
// # Diffs
//
// [Monitor.Diff] gives a unified diff (3 lines of context) between the
// known-good content and the current file, with the lines added and
// removed; "Binary files differ" for binary files; and an explicit "not
// diffed: over N bytes" past the cap.
//
// # Content at rest
//
// The copies kept for diffs are often the files most worth stealing (a
// config.env with a database password), so the store only ever holds them
// encrypted: XChaCha20-Poly1305 under a key derived from [Config.Key]
// (BLAKE3 derive-key, context "propsec integrity v1 content encryption";
// the key never enters the store), with a random 24-byte nonce per copy.
// The associated data is a domain string, a format version and the
// content's BLAKE3 hash, the address the copy is stored under. A stolen
// database or backup therefore discloses no watched file's content (the
// entries' hashes, sizes and paths stay readable, as before), and
// [Monitor.Diff] refuses a copy that fails to decrypt, "not diffed: the
// stored known-good copy failed decryption …": one altered, one moved
// under another hash, or one stored under another key. A stored copy costs
// 41 bytes more than its content.
//
// Copies are bound to their hash, not to a baseline entry (root and path).
// The store deduplicates by hash: one copy serves every entry, and in a
// store shared by several machines every host, with that content, so it
// cannot carry one entry's name. Binding to the hash refuses what binding to
// an entry would: a copy moved to an entry of other content fails
// decryption (and the content is checked against the entry's MAC'd hash
// besides), while a copy "moved" to an entry of the same content is that
// entry's own copy. Machines that share a store and its content (pgstore)
// must share [Config.Key] to diff content they both have: a copy another
// key encrypted is refused.
//
// Copies stored in plaintext by earlier versions are never used: Diff says
// "not diffed: the known-good copy was stored unencrypted by an earlier
// version …". sqlitestore and pgstore delete them when they migrate (the
// diff then says the content is not stored); the content is stored again,
// encrypted, whenever a new state of the file is accepted (a scan of a
// deployment, [Monitor.AcceptAlert], a new baseline).
//
// # Storage
//
// A [Store] keeps it all; memstore, sqlitestore and pgstore implement it,
// and package integritytest is the conformance suite they pass. Every
// change is written with its audit events in one transaction.
//
// # Several machines and processes
//
// Each machine watches its own files, so every alert and check carries the
// name of the machine, [Config.Host] (by default [os.Hostname]). When
// several instances of a host application share one database (pgstore):
//
//   - Baselines are per machine. A store shared by several machines
//     implements [HostStores], and the Monitor works on the Store of its
//     host: its baseline, seals, observations, staged changes and open
//     deployment are its own, even where two machines watch the same root
//     path. Deployments are therefore opened and ended per machine, and
//     each machine has its own history of them.
//   - Alerts are shared: every instance lists, resolves, ignores and
//     deletes the alerts of every machine. Accepting an alert and diffing
//     it need its file, so a Monitor of another host refuses them with an
//     [*OtherHostError].
//   - At most one operation that walks the tree or writes the baseline runs
//     at a time per machine. A store shared by several processes implements
//     [ScanLocker], and the Monitor also takes its lock: [Monitor.Start]
//     while another process of the same host runs a check fails as it does
//     within one Monitor, with that check's id and a [*BusyError], and
//     [Monitor.Progress] reports checks recorded by any process. Machines
//     scan at the same time, each its own files.
//
// A check is started on, and scans, the machine whose Monitor runs it.
//
// # Internal packages
//
// The parts that need nothing of the Monitor live in internal packages,
// whose docs say more of them: integrity/internal/fsmeta reads files
// safely and records their metadata (see Reading files safely, Metadata),
// integrity/internal/walk walks a root in the baseline's order with
// parallel workers (see Scans), integrity/internal/inotify is the low level
// of real-time detection, integrity/internal/glob matches the patterns of
// [Config.Include], [Config.Exclude] and [Config.SeverityRules],
// integrity/internal/record encodes the stored records and computes their
// MACs and seals (see Baseline), and integrity/internal/contentbox
// encrypts the copies kept for diffs (see Content at rest).
package integrity
