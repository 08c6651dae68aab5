// Package store keeps waleave's requests and their audit trail in SQL:
// SQLite (embedded, the default) through modernc.org/sqlite, or PostgreSQL
// through pgx's database/sql driver when several replicas share one
// database. Both speak one set of queries, written with ? placeholders
// and rebound for PostgreSQL in one place (see dialect.rebind); the few
// places where the dialects differ say so. Each exported method is one
// transaction; a state change and its audit row are written together, and
// callers can add their own writes (a River job) to the same transaction
// through an Enqueue callback.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
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
	// ErrBusy: another run of the request's leave job holds it (see
	// ClaimRun); the returned *Request's RunUntil says until when.
	ErrBusy = errors.New("request is held by another run")
	// ErrPending: the caller stopped waiting (its context ended) after
	// handing its write over; the write may still commit.
	ErrPending = errors.New("write handed over but not yet committed")
	// ErrInUse: another process has the SQLite database open (see Open).
	ErrInUse = errors.New("the SQLite database is in use by another process")
	// ErrWrongCard: a click names a request but did not come from its
	// card (another channel or message).
	ErrWrongCard = errors.New("the click did not come from the request's card")
	// ErrStale: the request changed after the card clicked was drawn, so
	// the clicker has not seen what they would confirm.
	ErrStale = errors.New("the request changed since its card was drawn")
	// ErrRepeated: the delivery that asks for a request was handled
	// before (a replayed signed command, an envelope sent again).
	ErrRepeated = errors.New("this delivery was handled before")
)

// Enqueue adds the caller's own writes, typically River job inserts, to a
// store transaction so that they commit or roll back with the state change.
type Enqueue func(ctx context.Context, tx *sql.Tx) error

// DB is the store. It is safe for concurrent use. It keeps the plumbing
// (opening, closing, migrating, named values); the store's concerns are
// the types its accessors return (Requests, Outbox, Directory, Jobs), each
// a view of the same pools and transaction helpers, so that a caller
// depends only on the concern it uses.
type DB struct {
	*core
	requests  *Requests
	outbox    *Outbox
	directory *Directory
	replicas  *Jobs
}

// Requests is the store of leave requests and their audit: their
// creation and state changes, confirmation, limits, the sweep's queries
// and retention.
type Requests struct{ *core }

// Outbox is what is owed to Slack: cards and replies to post, their
// leases and retries.
type Outbox struct{ *core }

// Directory is the directory of WhatsApp groups each number is in.
type Directory struct{ *core }

// Jobs is River's side of the store: its pools, the replicas'
// heartbeats and the reclaiming of dead replicas' work, and the
// cross-replica gateway rate limiter.
type Jobs struct{ *core }

// Requests returns the requests' store.
func (s *DB) Requests() *Requests { return s.requests }

// Outbox returns the outbox's store.
func (s *DB) Outbox() *Outbox { return s.outbox }

// Directory returns the group directory's store.
func (s *DB) Directory() *Directory { return s.directory }

// Jobs returns River's side of the store.
func (s *DB) Jobs() *Jobs { return s.replicas }

// core is what DB and its concern types share: the pools, the prepared
// statements and the group-commit writers.
type core struct {
	dialect Dialect
	// write has one connection on SQLite: SQLite allows one writer at a
	// time, and queueing writers in Go is cheaper than SQLITE_BUSY
	// retries. On PostgreSQL write, read and jobs are one pool.
	write *sql.DB
	// read serves queries concurrently (thanks to WAL on SQLite).
	read *sql.DB
	// jobs is River's own pool (one connection on SQLite, as riversqlite
	// asks).
	jobs *sql.DB
	// listen hands River dedicated connections for LISTEN (PostgreSQL
	// only; nil on SQLite).
	listen *pgxpool.Pool
	// lock is held while a SQLite database is open (see Open); nil on
	// PostgreSQL.
	lock *os.File

	// Statements of the hot paths, prepared once on the write pool
	// (parsing SQL costs more than running these small statements):
	// every state change reads its request (stmtRequestTx, or
	// stmtRequestForUpdate to lock it) and adds an audit row.
	stmtInsertRequest    *sql.Stmt
	stmtConfirm          *sql.Stmt
	stmtInsertAudit      *sql.Stmt
	stmtRequestTx        *sql.Stmt
	stmtRequestForUpdate *sql.Stmt
	// stmtRequest reads one request on the read pool.
	stmtRequest *sql.Stmt

	// creates feeds the group-commit writer of new requests (batch.go).
	creates *groupCommit[createOp]
	// scrub asks the SQLite checkpointer (see scrubber) to run; nil on
	// PostgreSQL. Close closes stopScrub (under mu, once) and waits for
	// scrubbed.
	scrub, stopScrub, scrubbed chan struct{}
	// deliveries feeds the writer of FirstDelivery (limits.go).
	deliveries *groupCommit[deliveryOp]
	// confirmers are stopped by Close (see NewConfirmer).
	mu         sync.Mutex
	confirmers []*Confirmer
	// onOwed are told of each change that leaves something owed to
	// Slack (see OnOwed); guarded by mu.
	onOwed []func()
}

// Open opens the database named by dsn, "sqlite:PATH" (created if
// needed) or "postgres://…" / "postgresql://…", and applies the embedded
// migrations. Replicas opening one PostgreSQL database at the same time
// migrate it once: the migrations run under an advisory lock.
//
// A SQLite database is this process's alone: at start-up the bot takes
// back whatever the database shows in progress (see SingleProcess), which
// would be a live process's work if two shared the file. So Open locks
// PATH.lock until Close, and fails with ErrInUse, without waiting, while
// another process (or another DB in this one) has the database open.
func Open(ctx context.Context, dsn string) (*DB, error) {
	var c *core
	var err error
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		c, err = openSQLiteStore(strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		c, err = openPostgresStore(ctx, dsn)
	default:
		return nil, errors.New("open store: unsupported DATABASE_URL scheme (want sqlite:PATH or postgres://…)")
	}
	if err != nil {
		return nil, err
	}
	s := &DB{core: c, requests: &Requests{c}, outbox: &Outbox{c}, directory: &Directory{c}, replicas: &Jobs{c}}
	s.creates = startGroupCommit(s.writeCreates)
	s.deliveries = startGroupCommit(s.writeDeliveries)
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.dialect == SQLite {
		s.scrub, s.stopScrub, s.scrubbed = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
		go s.scrubber(s.stopScrub)
	}
	return s, nil
}

// scrubInterval is the least time between two checkpoints of the
// scrubber: a burst of requests ending costs one checkpoint a second, not
// one each, and what they cleared is gone from the files a second or so
// after they end.
const scrubInterval = time.Second

// ended tells the scrubber that a request ended, so what it cleared
// (see endSet) should leave the files soon.
func (s *core) ended() {
	if s.scrub == nil {
		return
	}
	select {
	case s.scrub <- struct{}{}:
	default: // one is already due
	}
}

// scrubber makes what an ended request cleared leave the SQLite files.
// With secure_delete on (see openSQLite) the database's own pages hold
// zeros where the cleared values were, but in WAL mode the old versions
// of those pages stay in the -wal file until it is checkpointed and
// truncated. So after requests end it checkpoints with TRUNCATE, which
// copies every page into the database (the cleared versions) and empties
// the -wal file. A checkpoint that could not finish (a reader was still
// using an old snapshot) is tried again after scrubInterval. It is best
// effort: the store has no log, and an error only means the values stay
// until the next checkpoint.
func (s *core) scrubber(stop <-chan struct{}) {
	defer close(s.scrubbed)
	for {
		select {
		case <-stop:
			return
		case <-s.scrub:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var busy, frames, done int
		err := s.write.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &frames, &done)
		cancel()
		if err != nil || busy != 0 {
			s.ended()
		}
		t := time.NewTimer(scrubInterval)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// lockPath names the lock file of the SQLite database at path: beside the
// database itself, found through symbolic links, so that two spellings of
// one file share one lock. (Hard links still make two names.)
func lockPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	return path + ".lock"
}

// prepare prepares the hot paths' statements. It runs before any
// transaction: on SQLite the write pool's one connection would be busy
// with it.
func (s *core) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		q    string
	}{
		{&s.stmtInsertRequest, insertRequestSQL},
		{&s.stmtConfirm, confirmSQL},
		{&s.stmtInsertAudit, insertAuditSQL},
		{&s.stmtRequestTx, requestByIDSQL},
		{&s.stmtRequestForUpdate, requestByIDSQL + s.dialect.forUpdate()},
	} {
		var err error
		if *p.stmt, err = s.write.PrepareContext(ctx, s.dialect.rebind(p.q)); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	var err error
	if s.stmtRequest, err = s.read.PrepareContext(ctx, s.dialect.rebind(requestByIDSQL)); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}
	return nil
}

func openSQLiteStore(path string) (*core, error) {
	if path == "" {
		return nil, errors.New("open store: DATABASE_URL sqlite: needs a path")
	}
	lock, err := lockFile(lockPath(path))
	if errors.Is(err, ErrInUse) {
		return nil, fmt.Errorf("open store: %s: %w (only one waleave process may use a SQLite database; replicas need PostgreSQL)", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	// SQLite creates the database with the umask's permissions, usually
	// readable by every local user, and gives its -wal and -shm files the
	// database's: members' numbers and invite links would be anyone's to
	// read. So the database is created (or kept) owner-only first.
	if err := privateFiles(path); err != nil {
		lock.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &core{dialect: SQLite, lock: lock}
	if s.write, err = openSQLite(path, 1); err != nil {
		lock.Close()
		return nil, err
	}
	if s.read, err = openSQLite(path, 2); err != nil {
		s.write.Close()
		lock.Close()
		return nil, err
	}
	if s.jobs, err = openSQLite(path, 1); err != nil {
		s.write.Close()
		s.read.Close()
		lock.Close()
		return nil, err
	}
	return s, nil
}

// privateFiles creates the SQLite database at path readable and writable
// by its owner only (0600, whatever the umask), and takes group and other
// permissions away from an existing one and its -wal and -shm files, as
// older versions left them. A file that is not ours to change (another
// user's, opened by an operator's waleave check) is left as it is.
func privateFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(name, fi.Mode().Perm()&0o700); err != nil && !errors.Is(err, fs.ErrPermission) {
			return err
		}
	}
	return nil
}

// openPostgresStore opens one database/sql pool for the store and River
// (so a River job insert joins a store transaction as a plain *sql.Tx)
// and a one-connection pgx pool from which River takes its LISTEN
// connection. Errors never quote dsn: pgx redacts the password in its own.
func openPostgresStore(ctx context.Context, dsn string) (*core, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// Enough for the HTTP handlers, the outbox and River's workers and
	// maintenance; PostgreSQL's default max_connections (100) leaves room
	// for several replicas.
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(5)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// River hijacks the listener connection from this pool for good; it
	// needs no more than one at a time.
	cfg.MaxConns, cfg.MinConns = 1, 0
	listen, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres listener pool: %w", err)
	}
	return &core{dialect: PostgreSQL, write: db, read: db, jobs: db, listen: listen}, nil
}

// openSQLite opens one pool on the file with the settings every connection
// needs: secure_delete, so that deleted and overwritten content (what an
// ended request clears) is zeroed rather than left in free space, WAL so
// readers don't block the writer, a busy timeout so the
// store's and River's pools wait for each other instead of failing,
// synchronous=NORMAL (durable across process crashes in WAL mode; only an
// OS crash can lose the last transactions), foreign keys, which SQLite
// leaves off by default, and a 512 KiB page cache per connection instead
// of 2 MiB: the hot pages (the ends of the indexes a burst appends to)
// fit, everything else is in the OS's page cache a read call away, and
// the four connections' caches were a quarter of the peak memory under
// load (peak RSS at c=64 38 → 35 MB, same throughput).
func openSQLite(path string, conns int) (*sql.DB, error) {
	q := url.Values{}
	// auto_vacuum must come first: it takes effect only on a database
	// with no tables yet (a new one), whose freed pages Prune can then
	// give back while the bot runs (see reclaim). On an existing
	// database it changes nothing.
	for _, p := range []string{"auto_vacuum(INCREMENTAL)", "secure_delete(ON)", "journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)", "foreign_keys(ON)", "cache_size(-512)"} {
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
	s.mu.Lock()
	confirmers := s.confirmers
	s.confirmers = nil
	stopScrub := s.stopScrub
	s.stopScrub = nil
	s.mu.Unlock()
	for _, c := range confirmers {
		c.confirms.stop()
	}
	s.creates.stop()
	if stopScrub != nil {
		close(stopScrub)
		<-s.scrubbed
	}
	s.deliveries.stop()
	if s.dialect == PostgreSQL {
		s.listen.Close()
		return s.write.Close()
	}
	err := errors.Join(s.jobs.Close(), s.read.Close(), s.write.Close())
	// Only now may another process open the database.
	if s.lock != nil {
		err = errors.Join(err, s.lock.Close())
	}
	return err
}

// Ping reports whether the database answers.
func (s *DB) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// Dialect is the SQL database behind the store.
func (s *DB) Dialect() Dialect { return s.dialect }

// SingleProcess reports whether only this process uses the database
// (SQLite, locked by Open). Then whatever is marked in progress at
// start-up was left by a process that died, and can be taken back at
// once; with PostgreSQL other replicas may own it, and it must be left to
// time out.
func (s *DB) SingleProcess() bool { return s.singleProcess() }

func (s *core) singleProcess() bool { return s.dialect == SQLite }

// Meta returns a stored named value, or "" when unset.
func (s *DB) Meta(ctx context.Context, key string) (string, error) { return s.meta(ctx, key) }

// meta returns a stored named value, or "" when unset.
func (s *core) meta(ctx context.Context, key string) (string, error) {
	var v string
	err := s.queryRow(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get meta %s: %w", key, err)
	}
	return v, nil
}

// SetMeta stores a named value.
func (s *DB) SetMeta(ctx context.Context, key, value string) error {
	_, err := s.exec(ctx, `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("set meta %s: %w", key, err)
	}
	return nil
}

// migrationLock is the PostgreSQL advisory lock key held while migrating
// ("waleave" in ASCII).
const migrationLock = 0x77616c65617665

// WithMigrationLock runs fn while holding a database-wide lock, so that
// replicas starting together migrate one after the other instead of
// racing to create the same tables. On PostgreSQL it is a session
// advisory lock on a connection of its own (released even if the process
// dies); fn's queries use other connections. On SQLite, which one process
// uses, it just runs fn.
func (s *DB) WithMigrationLock(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.dialect != PostgreSQL {
		return fn(ctx)
	}
	conn, err := s.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer func() {
		// The unlock must run even when ctx has ended: a pooled
		// connection would otherwise keep the lock.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock($1)`, int64(migrationLock)); err != nil {
			_ = conn.Raw(func(any) error { return errors.New("drop the connection") })
		}
	}()
	return fn(ctx)
}

// migrate applies, in lexical order, each embedded migration of the
// store's dialect not yet recorded in schema_migrations, each in its own
// transaction, under the migration lock.
func (s *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/"+string(s.dialect)+"/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	return s.WithMigrationLock(ctx, func(ctx context.Context) error {
		if _, err := s.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		for _, name := range names {
			if err := s.migrateOne(ctx, name); err != nil {
				return fmt.Errorf("migrate %s: %w", name, err)
			}
		}
		return nil
	})
}

func (s *core) migrateOne(ctx context.Context, name string) error {
	return s.inTx(ctx, func(tx dbTx) error {
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
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
		_, err = tx.exec(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, time.Now().UnixMilli())
		return err
	})
}

// inTx runs fn in one write transaction.
func (s *core) inTx(ctx context.Context, fn func(tx dbTx) error) error {
	t, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer t.Rollback()
	if err := fn(dbTx{Tx: t, dialect: s.dialect}); err != nil {
		return err
	}
	if err := t.Commit(); err != nil {
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
