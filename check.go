package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/slack-go/slack"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

// runCheck implements `waleave check`: it verifies the configuration, the
// Slack token, the gateway credentials and the database, printing one line
// per check, and fails unless all pass. It never prints a secret.
func runCheck(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL configuration: %v\n", err)
		return errors.New("configuration is invalid")
	}
	fmt.Fprintln(stdout, "ok   configuration")
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
	hc := &http.Client{Timeout: 10 * time.Second}

	api := slack.New(cfg.SlackBotToken, slack.OptionAPIURL(cfg.SlackAPIURL), slack.OptionHTTPClient(hc))
	auth, err := api.AuthTestContext(ctx)
	if err == nil {
		fmt.Fprintf(stdout, "     Slack: bot %s in workspace %s\n", auth.User, auth.Team)
	}
	report("Slack token (auth.test)", err, "check SLACK_BOT_TOKEN (OAuth & Permissions → Bot User OAuth Token) and SLACK_API_URL")

	gw, err := whatsapp.New(cfg.WAProvider, whatsapp.Config{BaseURL: cfg.WAAPIURL, Instance: cfg.WAInstance, Token: cfg.WAToken}, hc)
	if err == nil {
		var st whatsapp.State
		st, err = gw.State(ctx)
		if err == nil && !st.Connected {
			err = fmt.Errorf("instance state is %q", st.Raw)
		}
	}
	report("WhatsApp gateway ("+cfg.WAProvider+")", err, gatewayFix(err))

	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err == nil {
		err = db.Ping(ctx)
		db.Close()
	}
	report("database ("+cfg.redactedDSN()+")", err, "check DATABASE_URL and that its directory is writable")

	if failed > 0 {
		return fmt.Errorf("%d check(s) failed", failed)
	}
	return nil
}

// gatewayFix says what to do about a failed gateway check.
func gatewayFix(err error) string {
	switch {
	case errors.Is(err, whatsapp.ErrUnauthorized), errors.Is(err, whatsapp.ErrForbidden):
		return "check WA_INSTANCE and WA_TOKEN in the gateway's console"
	case errors.Is(err, whatsapp.ErrUnavailable):
		return "check WA_API_URL and the network; the gateway did not answer"
	case errors.Is(err, whatsapp.ErrQuota):
		return "the gateway plan's quota is used up"
	default:
		return "log the instance in (scan the QR code in the gateway's console) and try again"
	}
}
