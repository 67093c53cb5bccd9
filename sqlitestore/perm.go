package sqlitestore

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"strings"
)

// privateMode is the mode of the database and its -wal and -shm files: they
// hold password hashes, secrets such as the CSRF key, and the baseline.
const privateMode fs.FileMode = 0o600

// sideFiles are the suffixes of the files SQLite keeps beside the database
// in WAL mode.
var sideFiles = []string{"-wal", "-shm"}

// createPrivate creates the database file at path, empty and mode 0600
// whatever the umask, unless it exists. SQLite takes an empty file for a
// new database, and its unix VFS creates the -wal and -shm files with the
// database file's permission bits (findCreateFileMode and
// unixOpenSharedMemory in os_unix.c, which modernc.org/sqlite compiles as
// is), so they are 0600 too; nothing changes the process's umask.
func createPrivate(path string) (created bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, privateMode)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// The umask can only have cleared bits of 0600; set them again.
	if err := f.Chmod(privateMode); err != nil {
		f.Close()
		return true, err
	}
	return true, f.Close()
}

// exposedFiles returns the database's files (path, and its -wal and -shm
// if they exist) that group or others can read or write. Windows has no
// such permission bits (its ACLs are not looked at).
func exposedFiles(path string) []string {
	if runtime.GOOS == "windows" {
		return nil
	}
	var out []string
	for _, p := range append([]string{path}, path+sideFiles[0], path+sideFiles[1]) {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			out = append(out, p)
		}
	}
	return out
}

// warnExposed logs a warning, with the command that fixes it, when group or
// others can read or write the database's files.
func warnExposed(log *slog.Logger, path string) {
	files := exposedFiles(path)
	if len(files) == 0 {
		return
	}
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = shellQuote(f)
	}
	log.Warn("sqlitestore: the database holds password hashes, secrets and the integrity baseline, "+
		"and other local users can read it",
		slog.String("files", strings.Join(files, " ")),
		slog.String("fix", "chmod 600 "+strings.Join(quoted, " ")))
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// characters that need no quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=.,/:@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
