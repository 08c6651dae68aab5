package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/slack-go/slack"

	"github.com/waleave/waleave/bot"
	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

// shutdownTimeout bounds how long running jobs may take to finish after
// SIGTERM before they are cancelled (they run again on the next start).
const shutdownTimeout = 20 * time.Second

// storeLockWait bounds how long serve waits for another process to let go
// of a SQLite database: a little longer than that process's own shutdown,
// so a new process started while the old one is stopping goes on once it
// has stopped, and a second process started by mistake gives up.
const storeLockWait = shutdownTimeout + 10*time.Second

// run is the whole program: main only calls it, and tests call it with
// their own arguments, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := ""
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	// Only demo and manifest take arguments; anything after another
	// command is a mistake worth saying, not a thing to ignore.
	if len(args) > 0 && cmd != "demo" && cmd != "manifest" {
		return fmt.Errorf("%s takes no arguments, but got %q (try waleave help)", commandName(cmd), args[0])
	}
	switch cmd {
	case "":
		return serve(ctx, getenv, stderr, serveHooks{})
	case "version", "--version":
		return runVersion(stdout)
	case "manifest":
		return runManifest(args, stdout)
	case "check":
		return runCheck(ctx, getenv, stdout)
	case "demo":
		return runDemo(ctx, args, stdout, stderr)
	case "help", "-h", "--help":
		return printHelp(stdout)
	default:
		return fmt.Errorf("unknown command %q (try waleave help)", cmd)
	}
}

// commandName is how an error names the command it is about.
func commandName(cmd string) string {
	if cmd == "" {
		return "waleave"
	}
	return "waleave " + cmd
}

// printHelp is `waleave help`: the commands, then the variables that
// configure serving, each in aligned columns.
func printHelp(w io.Writer) error {
	// One form a line: the two forms of manifest exclude each other, so
	// each has its own.
	usage := [][2]string{
		{"waleave", "serve: HTTP, or Socket Mode when SLACK_APP_TOKEN is set"},
		{"waleave demo [--keep]", "try it with no accounts: a stand-in Slack and the dry-run gateway"},
		{"waleave check", "check the configuration, the Slack token, the gateway and the database"},
		{"waleave manifest --url https://host", "print the Slack app manifest for HTTP mode"},
		{"waleave manifest --socket-mode", "print the Slack app manifest for Socket Mode"},
		{"waleave version", "print the version and the revision it was built from (also --version)"},
		{"waleave help", "print this help (also -h, --help)"},
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Usage:")
	for _, u := range usage {
		fmt.Fprintf(tw, "  %s\t%s\n", u[0], u[1])
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nwaleave is configured by these environment variables (durations take s, m, h and d):")
	fmt.Fprintln(w)
	return printConfigHelp(w)
}

// newLogger builds the configured slog logger.
func newLogger(c config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serveHooks let `waleave demo` watch the program it runs; serving for
// real leaves them empty.
type serveHooks struct {
	// serving, when set, is told the address once the server listens.
	serving func(addr string)
	// dryRun, when set, is told what the dry-run gateway would have sent
	// to WhatsApp; without it, serving with the dry run logs it.
	dryRun func(whatsapp.DryRunCall)
}

// serve runs the bot until SIGINT/SIGTERM or ctx ends.
func serve(ctx context.Context, getenv func(string) string, stderr io.Writer, hooks serveHooks) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)

	db, err := openStore(ctx, log, cfg.DatabaseURL, storeLockWait)
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for the database: a clean stop
		}
		return err
	}
	defer db.Close()

	numbers, err := gateways(cfg, db, log, hooks)
	if err != nil {
		return err
	}
	slackOpts := []slack.Option{slack.OptionAPIURL(cfg.SlackAPIURL), slack.OptionHTTPClient(newHTTPClient(15*time.Second, slackTransport()))}
	if cfg.SlackAppToken != "" {
		// Only apps.connections.open uses the app-level token; every other
		// call still goes out with the bot token.
		slackOpts = append(slackOpts, slack.OptionAppLevelToken(cfg.SlackAppToken))
	}
	api := slack.New(cfg.SlackBotToken, slackOpts...)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	b, err := bot.New(ctx, log, db, api, nil, reg, bot.Options{
		Numbers:      numbers,
		AllowedUsers: cfg.AllowedUsers, AllowedChannels: cfg.AllowedChannels, Approvers: cfg.Approvers,
		TwoPerson: cfg.TwoPerson, DefaultGoodbye: cfg.goodbye, RequestTTL: cfg.RequestTTL,
		RemindAfter: cfg.RemindAfter, MaxAttempts: cfg.MaxAttempts, Location: cfg.location,
		OpsChannel: cfg.OpsChannel, Digest: cfg.schedule, SweepEvery: sweepEvery(cfg),
		DirectoryEvery: cfg.DirectoryEvery, GatewayTimeout: cfg.GatewayTimeout,
		UserRate: cfg.UserRate, MaxPending: cfg.MaxPending, Retention: cfg.Retention, BulkMax: cfg.BulkMax,
	})
	if err != nil {
		return err
	}
	for _, risk := range cfg.risks() {
		log.Warn(risk)
	}
	if cfg.OpsChannel == "" {
		log.Info("WALEAVE_OPS_CHANNEL is not set: ops reminders and the digest are off")
	}
	if len(cfg.AllowedUsers) == 0 && len(cfg.AllowedChannels) == 0 {
		log.Warn("neither WALEAVE_ALLOWED_USERS nor WALEAVE_ALLOWED_CHANNELS is set: every request will be refused")
	}

	// In Socket Mode Slack reaches the bot over the socket, so the bot is
	// ready only while it is connected, not merely when the database is.
	ready := db.Ping
	var socket *bot.Socket
	if cfg.SlackAppToken != "" {
		socket = bot.NewSocket(log, b, api, bot.SocketOptions{})
		ready = func(ctx context.Context) error { return errors.Join(socket.Ready(ctx), db.Ping(ctx)) }
	}

	// Listen before serving so a bad address fails start-up synchronously.
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on LISTEN_ADDR %s: %w", cfg.ListenAddr, err)
	}
	srv := &http.Server{
		Handler:           bot.Routes(log, b, cfg.SlackSigningSecret, socket != nil, ready, reg),
		ReadHeaderTimeout: 5 * time.Second,
		// Slack's requests carry a few hundred bytes of headers; the
		// default 1 MiB let each unauthenticated connection hold that much.
		MaxHeaderBytes: 64 << 10,
		ReadTimeout:    10 * time.Second,
		WriteTimeout:   10 * time.Second,
		IdleTimeout:    2 * time.Minute,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if err := b.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	socketCtx, stopSocket := context.WithCancel(ctx)
	defer stopSocket()
	socketDone := make(chan struct{})
	if socket != nil {
		go func() { defer close(socketDone); socket.Run(socketCtx) }()
	} else {
		close(socketDone)
	}
	log.Info("waleave serving", "addr", ln.Addr().String(), "numbers", cfg.numbers, "database", cfg.redactedDSN(), "socket_mode", cfg.SlackAppToken != "")
	if hooks.serving != nil {
		hooks.serving(ln.Addr().String())
	}

	select {
	case <-ctx.Done():
	case err = <-serveErr:
		log.Error("http server stopped", "err", err)
	}
	// From here a second SIGINT or SIGTERM ends the process at once, for
	// whoever cannot wait for running leaves to finish (they run again on
	// the next start).
	stop()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	shutErr := srv.Shutdown(sctx)
	// The socket goes first so that no command or click arrives after
	// the bot has stopped; Run returns once every envelope is acked.
	stopSocket()
	<-socketDone
	stopErr := b.Stop(sctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return errors.Join(err, shutErr, stopErr)
}

// gateways builds each configured number's gateway client, with its own
// rate limits: in this process on SQLite, or shared by the replicas
// through the database under keys that start with the number's name.
func gateways(cfg config, db *store.DB, log *slog.Logger, hooks serveHooks) ([]bot.Number, error) {
	var out []bot.Number
	for _, n := range cfg.numbers {
		named := len(cfg.numbers) > 1 || n.Name != defaultNumber
		waCfg := whatsapp.Config{BaseURL: n.APIURL, Instance: n.Instance, Token: n.Token}
		if named {
			waCfg.Number = n.Name
		}
		if !db.SingleProcess() {
			// Replicas share the gateway's rate limits through the database;
			// limiters in each process would each allow the whole rate.
			waCfg.Limiter = db.Jobs()
		}
		var gw whatsapp.Gateway
		if n.Provider == whatsapp.DryRunProvider {
			observe := hooks.dryRun
			if observe == nil {
				observe = func(c whatsapp.DryRunCall) {
					log.Info("dry run: nothing sent to WhatsApp", "number", n.Name, "op", c.Op, "chat", c.Chat, "participant", c.Participant, "result", c.Result)
				}
			}
			gw = whatsapp.NewDryRun(observe)
			log.Warn(n.prefix(named)+"PROVIDER is dryrun: nothing is sent to WhatsApp, and every card and outcome says dry run", "number", n.Name)
		} else {
			var err error
			if gw, err = whatsapp.New(n.Provider, waCfg, newHTTPClient(30*time.Second, nil)); err != nil {
				return nil, fmt.Errorf("gateway %s: %w", n.Name, err)
			}
		}
		out = append(out, bot.Number{Name: n.Name, Gateway: gw, AllowedUsers: n.AllowedUsers, AllowedChannels: n.AllowedChannels})
	}
	return out, nil
}

// openStore opens the database, waiting up to wait while another process
// has the SQLite database (store.ErrInUse), checking twice a second.
func openStore(ctx context.Context, log *slog.Logger, dsn string, wait time.Duration) (*store.DB, error) {
	db, err := store.Open(ctx, dsn)
	if !errors.Is(err, store.ErrInUse) {
		return db, err
	}
	log.Warn("another waleave process has the SQLite database open; waiting for it to stop", "wait", wait)
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped waiting: %w", err)
		case <-timeout.C:
			return nil, fmt.Errorf("waited %s: %w", wait, err)
		case <-tick.C:
		}
		db, err = store.Open(ctx, dsn)
		if !errors.Is(err, store.ErrInUse) {
			return db, err
		}
	}
}

// sweepEvery is how often expiries and reminders are checked: every ten
// seconds, or more often when the configured durations are that short,
// so a request expires within a small fraction of its TTL.
func sweepEvery(c config) time.Duration {
	return max(min(10*time.Second, c.RemindAfter/4, c.RequestTTL/4), time.Second)
}

// newHTTPClient is an HTTP client for Slack or the gateway: it follows no
// redirect (see bot.NoRedirects), since every call carries a token. t nil
// is net/http's default transport.
func newHTTPClient(timeout time.Duration, t http.RoundTripper) *http.Client {
	return &http.Client{Timeout: timeout, Transport: t, CheckRedirect: bot.NoRedirects}
}

// slackTransport is net/http's default transport keeping more idle
// connections to Slack: every Web API call goes to one host, and the
// default two idle connections per host made each burst of follow-ups
// (cards, ephemeral replies) open, and pay TLS for, most of its
// connections anew.
func slackTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	return t
}
