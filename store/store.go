// Package store keeps waleave's requests and their audit trail in SQL:
// SQLite (embedded, the default) through modernc.org/sqlite. Each exported
// method is one transaction; a state change and its audit row are written
// together, and callers can add their own writes (a River job) to the same
// transaction through an Enqueue callback.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations
var migrations embed.FS

// Errors returned by the store. Callers compare with errors.Is.
var (
	// ErrNotFound: no request has that ID.
	ErrNotFound = errors.New("request not found")
	// ErrConflict: the request is not in a state that allows the change;
	// the returned *Request shows the state it is in.
	ErrConflict = errors.New("request state does not allow this")
	// ErrExpired: the request was pending but is past its expiry time.
	ErrExpired = errors.New("request expired")
)

// Enqueue adds the caller's own writes, typically River job inserts, to a
// store transaction so that they commit or roll back with the state change.
type Enqueue func(ctx context.Context, tx *sql.Tx) error

// DB is the store. It is safe for concurrent use.
type DB struct {
	// write has one connection: SQLite allows one writer at a time, and
	// queueing writers in Go is cheaper than SQLITE_BUSY retries.
	write *sql.DB
	// read serves queries concurrently thanks to WAL.
	read *sql.DB
	// jobs is River's own pool (one connection, as riversqlite asks).
	jobs *sql.DB
	path string

	stmtInsertRequest *sql.Stmt

	// creates feeds the group-commit writer (see batch.go).
	creates chan createOp
	stopped chan struct{}
}

// Open opens (creating if needed) the database named by dsn, which is
// "sqlite:PATH", and applies the embedded migrations.
func Open(ctx context.Context, dsn string) (*DB, error) {
	path, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok || path == "" {
		return nil, fmt.Errorf("open store: unsupported DATABASE_URL scheme (want sqlite:PATH)")
	}
	s := &DB{path: path}
	var err error
	if s.write, err = openSQLite(path, 1); err != nil {
		return nil, err
	}
	if s.read, err = openSQLite(path, 2); err != nil {
		s.write.Close()
		return nil, err
	}
	if s.jobs, err = openSQLite(path, 1); err != nil {
		s.write.Close()
		s.read.Close()
		return nil, err
	}
	s.creates, s.stopped = make(chan createOp, 1024), make(chan struct{})
	go s.batchCreates()
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.stmtInsertRequest, err = s.write.PrepareContext(ctx, insertRequestSQL); err != nil {
		s.Close()
		return nil, fmt.Errorf("prepare: %w", err)
	}
	return s, nil
}

// openSQLite opens one pool on the file with the settings every connection
// needs: WAL so readers don't block the writer, a busy timeout so the
// store's and River's pools wait for each other instead of failing,
// synchronous=NORMAL (durable across process crashes in WAL mode; only an
// OS crash can lose the last transactions) and foreign keys, which SQLite
// leaves off by default.
func openSQLite(path string, conns int) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	return db, nil
}

// Close closes every pool.
func (s *DB) Close() error {
	close(s.creates)
	<-s.stopped
	return errors.Join(s.jobs.Close(), s.read.Close(), s.write.Close())
}

// Ping reports whether the database answers.
func (s *DB) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// JobPool is the pool River uses; River's transactions from InsertTx on the
// store's own transactions work because both pools share the file.
func (s *DB) JobPool() *sql.DB { return s.jobs }

// migrate applies, in lexical order, each embedded migration not yet
// recorded in schema_migrations, each in its own transaction.
func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/sqlite/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.migrateOne(ctx, name); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

func (s *DB) migrateOne(ctx context.Context, name string) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	body, err := fs.ReadFile(migrations, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, time.Now().UnixMilli()); err != nil {
		return err
	}
	return tx.Commit()
}

// inTx runs fn in one write transaction.
func (s *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
