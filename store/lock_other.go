//go:build !unix

package store

import "os"

// lockFile takes no lock where flock is missing (Windows, Plan 9, wasm):
// there nothing stops a second process from opening the same SQLite
// database, as docs/deployment.md warns.
func lockFile(string) (*os.File, error) { return nil, nil }
