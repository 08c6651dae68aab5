package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

// runCheck implements `waleave check`: it verifies the configuration, the
// Slack token (and, in Socket Mode, the app-level token), the gateway
// credentials and the database, printing one line
// per check, and fails unless all pass. It never prints a secret.
func runCheck(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL configuration: %v\n", err)
		return errors.New("configuration is invalid")
	}
	fmt.Fprintln(stdout, "ok   configuration")
	for _, risk := range cfg.risks() {
		fmt.Fprintf(stdout, "warn %s\n", risk)
	}
	failed := 0
	report := func(name string, err error, fix string) {
		if err == nil {
			fmt.Fprintf(stdout, "ok   %s\n", name)
			return
		}
		failed++
		fmt.Fprintf(stdout, "FAIL %s: %v; %s\n", name, err, fix)
	}

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hc := newHTTPClient(10*time.Second, nil)

	api := slack.New(cfg.SlackBotToken, slack.OptionAPIURL(cfg.SlackAPIURL), slack.OptionHTTPClient(hc), slack.OptionAppLevelToken(cfg.SlackAppToken))
	auth, err := api.AuthTestContext(ctx)
	if err == nil {
		fmt.Fprintf(stdout, "     Slack: bot %s in workspace %s\n", auth.User, auth.Team)
	}
	name, fix, unreachable := slackUnreachable(err, "auth.test")
	if unreachable {
		// Nothing more can be learnt from Slack (the app-level token is
		// not checked); the gateway and the database still are.
		report(name, err, fix)
	} else {
		report("Slack token (auth.test)", err, "check SLACK_BOT_TOKEN (OAuth & Permissions → Bot User OAuth Token) and SLACK_API_URL")
	}

	if cfg.SlackAppToken != "" && !unreachable {
		// Opening a connection proves the app-level token, its
		// connections:write scope and that Socket Mode is on. The URL is
		// single-use and carries a ticket: it is neither dialled nor shown.
		_, wsURL, err := api.StartSocketModeContext(ctx)
		if err == nil && wsURL == "" {
			err = errors.New("no WebSocket URL in the answer")
		}
		if name, fix, ok := slackUnreachable(err, "apps.connections.open"); ok {
			report(name, err, fix)
		} else {
			report("Slack app-level token (apps.connections.open)", err, "check SLACK_APP_TOKEN (Basic Information → App-Level Tokens, scope connections:write) and that Socket Mode is enabled for the app")
		}
	}

	// One line per number, each saying whether it failed; a failed number
	// fails the check, but the others are still checked.
	for _, n := range cfg.numbers {
		named := len(cfg.numbers) > 1 || n.Name != defaultNumber
		gw, err := whatsapp.New(n.Provider, whatsapp.Config{BaseURL: n.APIURL, Instance: n.Instance, Token: n.Token}, hc)
		if err == nil {
			var st whatsapp.State
			st, err = gw.State(ctx)
			if err == nil && !st.Connected {
				err = fmt.Errorf("instance state is %q", st.Raw)
			}
		}
		name := "WhatsApp gateway (" + n.Provider + ")"
		if named {
			name = "WhatsApp number " + n.Name + " (" + n.Provider + ")"
		}
		report(name, err, strings.ReplaceAll(gatewayFix(err), "WA_", n.prefix(named)))
	}

	dbFix := "check DATABASE_URL and that its directory is writable"
	if !strings.HasPrefix(cfg.DatabaseURL, "sqlite:") {
		dbFix = "check DATABASE_URL (host, port, user, password, database name) and that the server accepts connections from here"
	}
	dbName := "database (" + cfg.redactedDSN() + ")"
	if err := checkDatabase(ctx, cfg.DatabaseURL); errors.Is(err, store.ErrInUse) {
		// The serving process has it open, and opened it the same way.
		fmt.Fprintf(stdout, "ok   %s: in use by a running waleave\n", dbName)
	} else {
		report(dbName, err, dbFix)
	}

	if failed > 0 {
		return fmt.Errorf("%d check(s) failed", failed)
	}
	return nil
}

// slackUnreachable tells a failed Slack call that never got Slack's
// answer (DNS, connection, TLS, timeout) or got a non-Slack one (an HTTP
// error status: a wrong SLACK_API_URL or a proxy) from one that Slack
// answered and refused. Only the latter is about a token; the former
// gets its own check name and advice. ok is false for the latter.
func slackUnreachable(err error, method string) (name, fix string, ok bool) {
	if err == nil {
		return "", "", false
	}
	name = "Slack API (" + method + ")"
	var status slack.StatusCodeError
	if errors.As(err, &status) {
		return name, "check SLACK_API_URL: it must be Slack's Web API (https://slack.com/api/) or a proxy for it", true
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return name, "the Slack API could not be reached: check the network (DNS, proxy, firewall) and SLACK_API_URL", true
	}
	return "", "", false
}

// checkDatabase opens the database as serving would (which migrates it)
// and pings it. A missing directory is named first: SQLite's own error for
// it, "unable to open database file (14)", does not say what is wrong.
func checkDatabase(ctx context.Context, dsn string) error {
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		dir := filepath.Dir(path)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("directory %s does not exist", dir)
		}
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Ping(ctx)
}

// gatewayFix says what to do about a failed gateway check.
func gatewayFix(err error) string {
	switch {
	// The refined kinds first: each also matches the broad kind it
	// refines, whose advice would be wrong for it.
	case errors.Is(err, whatsapp.ErrPlanExpired):
		return "the instance's plan has expired: renew it in the gateway's console (scanning a QR code will not help)"
	case errors.Is(err, whatsapp.ErrSessionMissing):
		return "the gateway has no session or instance named WA_INSTANCE: check it, and start the instance in the gateway's console"
	case errors.Is(err, whatsapp.ErrUnauthorized), errors.Is(err, whatsapp.ErrForbidden):
		return "check WA_INSTANCE and WA_TOKEN in the gateway's console"
	case errors.Is(err, whatsapp.ErrUnavailable):
		return "check WA_API_URL and the network; the gateway did not answer"
	case errors.Is(err, whatsapp.ErrInvalid):
		return "check WA_PROVIDER and WA_API_URL: the gateway does not take the request as sent"
	case errors.Is(err, whatsapp.ErrQuota):
		return "the gateway plan's quota is used up"
	default:
		return "log the instance in (scan the QR code in the gateway's console) and try again"
	}
}
