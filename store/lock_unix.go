//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock (flock) on path, creating the
// file if needed, without waiting: ErrInUse if another open file holds
// it. The lock lasts until the returned file is closed or the process
// ends, however it ends, so a crashed process never leaves it behind.
//
// It is a file of its own rather than the database: SQLite takes POSIX
// record locks on the database, and on NFS Linux emulates flock with
// those, so a flock on the database itself would collide with SQLite's.
func lockFile(path string) (*os.File, error) {
	// Owner-only, like the database: whoever could open the lock file
	// could hold the lock and stop the bot from starting. flock needs no
	// write access.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		// An older version made it readable by all. Not ours to change
		// when it is another user's.
		if err := f.Chmod(fi.Mode().Perm() & 0o700); err != nil && !errors.Is(err, os.ErrPermission) {
			f.Close()
			return nil, fmt.Errorf("lock file permissions: %w", err)
		}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrInUse
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
