package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/robfig/cron/v3"

	"github.com/waleave/waleave/bot"
	"github.com/waleave/waleave/templates"
	"github.com/waleave/waleave/whatsapp"
)

// config is every setting waleave reads, named exactly as SPEC §2 names the
// environment variables. The struct tags are envconfig's, so
// envconfig.Usage documents them (waleave help); loadConfig reads them
// through the injected getenv instead of envconfig.Process because Process
// reads the process environment directly and stops at the first bad
// variable, while start-up must name every bad variable at once.
type config struct {
	SlackBotToken      string `envconfig:"SLACK_BOT_TOKEN" required:"true" desc:"bot token (xoxb-…)"`
	SlackSigningSecret string `envconfig:"SLACK_SIGNING_SECRET" desc:"signing secret; required in HTTP mode"`
	SlackAppToken      string `envconfig:"SLACK_APP_TOKEN" desc:"app-level token (xapp-…); when set the bot uses Socket Mode"`
	SlackAPIURL        string `envconfig:"SLACK_API_URL" default:"https://slack.com/api/" desc:"Web API base URL; must end in /"`

	WAInstances []string `envconfig:"WA_INSTANCES" desc:"several WhatsApp numbers by name (sales,support), each set by WA_<NAME>_PROVIDER, _API_URL, _INSTANCE, _TOKEN instead of WA_*"`
	WAProvider  string   `envconfig:"WA_PROVIDER" required:"true" single:"true" desc:"greenapi, wawp, ryzeapi, or dryrun (sends nothing to WhatsApp)"`
	WAAPIURL    string   `envconfig:"WA_API_URL" single:"true" desc:"the gateway's base URL (default per provider)"`
	WAInstance  string   `envconfig:"WA_INSTANCE" required:"true" gateway:"true" single:"true" desc:"Green API idInstance, Wawp instance_id, RyzeAPI instance name (not for dryrun)"`
	WAToken     string   `envconfig:"WA_TOKEN" required:"true" gateway:"true" single:"true" desc:"Green API apiTokenInstance, Wawp access_token, RyzeAPI instance token (not for dryrun)"`

	AllowedUsers    []string      `envconfig:"WALEAVE_ALLOWED_USERS" desc:"Slack user IDs who may request and confirm"`
	AllowedChannels []string      `envconfig:"WALEAVE_ALLOWED_CHANNELS" desc:"channel IDs where anyone may request and confirm"`
	Approvers       []string      `envconfig:"WALEAVE_APPROVERS" desc:"when set, only these user IDs may confirm"`
	TwoPerson       bool          `envconfig:"WALEAVE_TWO_PERSON" default:"false" desc:"the confirmer must differ from the requester"`
	DefaultGoodbye  string        `envconfig:"WALEAVE_DEFAULT_GOODBYE" desc:"goodbye template used when the command gives none"`
	RequestTTL      time.Duration `envconfig:"WALEAVE_REQUEST_TTL" default:"24h" desc:"an unconfirmed request expires after this"`
	RemindAfter     time.Duration `envconfig:"WALEAVE_REMIND_AFTER" default:"1h" desc:"remind the requester about an unconfirmed request after this"`
	MaxAttempts     int           `envconfig:"WALEAVE_MAX_ATTEMPTS" default:"5" desc:"tries of one gateway step before the outcome is a failure"`
	OpsChannel      string        `envconfig:"WALEAVE_OPS_CHANNEL" desc:"channel ID for reminders and digests"`
	DigestCron      string        `envconfig:"WALEAVE_DIGEST_CRON" default:"0 9 * * 1-5" desc:"cron spec for the ops digest"`
	Timezone        string        `envconfig:"WALEAVE_TIMEZONE" default:"UTC" desc:"zone for the digest schedule and ops-channel times"`
	DirectoryEvery  time.Duration `envconfig:"WALEAVE_DIRECTORY_REFRESH" default:"6h" desc:"how often the group list is refreshed"`
	UserRate        int           `envconfig:"WALEAVE_USER_RATE" default:"30" desc:"new requests one person may make per minute; 0: no limit"`
	MaxPending      int           `envconfig:"WALEAVE_MAX_PENDING" default:"50" desc:"requests one person, or one channel, may have waiting for confirmation; 0: no limit"`
	BulkMax         int           `envconfig:"WALEAVE_BULK_MAX" default:"500" desc:"the most groups one /wa-leave bulk request may hold"`
	GatewayTimeout  time.Duration `envconfig:"WALEAVE_GATEWAY_TIMEOUT" default:"8s" desc:"bound on one gateway call (1s-15s); also sets how soon another replica re-runs a dead replica's leave"`
	Retention       time.Duration `envconfig:"WALEAVE_RETENTION" default:"365d" desc:"finished requests and their audit entries older than this are deleted; 0 keeps everything"`

	DatabaseURL string `envconfig:"DATABASE_URL" default:"sqlite:waleave.db" desc:"sqlite:PATH, or postgres://… for several replicas"`
	ListenAddr  string `envconfig:"LISTEN_ADDR" default:":3000" desc:"HTTP listen address"`
	LogLevel    string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	LogFormat   string `envconfig:"LOG_FORMAT" default:"text" desc:"text or json"`

	// Derived values, filled by loadConfig.
	// numbers are the WhatsApp numbers served: WA_INSTANCES's, or the
	// one number named default that the WA_* variables configure.
	numbers  []waNumber
	location *time.Location
	schedule cron.Schedule
	goodbye  *templates.GoodbyeTemplate
	level    slog.Level
}

// loadConfig reads and validates the configuration. Its error names every
// bad variable, one per line, and never quotes a secret's value.
func loadConfig(getenv func(string) string) (config, error) {
	var c config
	var problems []string
	// Each variable is named once, with its first problem: a value that
	// does not parse is not also reported as out of range.
	named := map[string]bool{}
	bad := func(format string, args ...any) {
		p := fmt.Sprintf(format, args...)
		key, _, _ := strings.Cut(p, " ")
		key = strings.TrimSuffix(key, ":")
		if !named[key] {
			named[key] = true
			problems = append(problems, p)
		}
	}
	// The dry run reaches no gateway, so it needs no instance or token.
	dryRun := strings.TrimSpace(getenv("WA_PROVIDER")) == whatsapp.DryRunProvider
	// With WA_INSTANCES the numbers have their own variables, and the
	// single number's are not read.
	several := strings.TrimSpace(getenv("WA_INSTANCES")) != ""

	v := reflect.ValueOf(&c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		key := f.Tag.Get("envconfig")
		if key == "" {
			continue
		}
		raw := strings.TrimSpace(getenv(key))
		if several && f.Tag.Get("single") == "true" {
			if raw != "" {
				bad("%s is not used when WA_INSTANCES is set: set WA_<NAME>_%s for each number", key, strings.TrimPrefix(key, "WA_"))
			}
			continue
		}
		if raw == "" {
			if f.Tag.Get("required") == "true" && !(dryRun && f.Tag.Get("gateway") == "true") {
				bad("%s is required", key)
				continue
			}
			raw = f.Tag.Get("default")
		}
		if raw == "" {
			continue
		}
		if err := setField(v.Field(i), raw); err != nil {
			bad("%s: %v", key, err)
		}
	}

	if c.SlackBotToken != "" && !strings.HasPrefix(c.SlackBotToken, "xoxb-") {
		bad("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
	}
	if c.SlackAppToken != "" && !strings.HasPrefix(c.SlackAppToken, "xapp-") {
		bad("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
	}
	if c.SlackAppToken == "" && c.SlackSigningSecret == "" {
		bad("SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)")
	}
	if u, err := url.Parse(c.SlackAPIURL); err != nil || u.Host == "" || !strings.HasSuffix(c.SlackAPIURL, "/") {
		bad("SLACK_API_URL must be an absolute URL ending in /")
	} else if u.Scheme != "https" && (u.Scheme != "http" || !bot.LoopbackHost(u.Hostname())) {
		// Every call carries the bot token.
		bad("SLACK_API_URL must be https:// (plain http:// only to this machine: localhost or a loopback address)")
	}
	if several {
		c.numbers = loadNumbers(getenv, c.WAInstances, bad)
	} else {
		n := waNumber{Name: defaultNumber, Provider: c.WAProvider, APIURL: c.WAAPIURL, Instance: c.WAInstance, Token: c.WAToken}
		n.check("WA_", bad)
		c.WAAPIURL = n.APIURL
		c.numbers = []waNumber{n}
	}
	if _, port, err := net.SplitHostPort(c.ListenAddr); err != nil {
		bad("LISTEN_ADDR must be host:port or :port")
	} else if _, err := net.LookupPort("tcp", port); err != nil {
		bad("LISTEN_ADDR: %q is not a port", port)
	}
	for _, l := range []struct {
		key  string
		ids  []string
		pfxs string
	}{{"WALEAVE_ALLOWED_USERS", c.AllowedUsers, "UW"}, {"WALEAVE_APPROVERS", c.Approvers, "UW"}, {"WALEAVE_ALLOWED_CHANNELS", c.AllowedChannels, "CGD"}} {
		for _, id := range l.ids {
			if id == "" || !strings.ContainsRune(l.pfxs, rune(id[0])) || strings.ToUpper(id) != id {
				bad("%s: %q is not a Slack ID (like %c0123ABCD)", l.key, id, l.pfxs[0])
			}
		}
	}
	if c.OpsChannel != "" && !strings.ContainsRune("CGD", rune(c.OpsChannel[0])) {
		bad("WALEAVE_OPS_CHANNEL: %q is not a channel ID (like C0123ABCD)", c.OpsChannel)
	}
	if c.RequestTTL <= 0 {
		bad("WALEAVE_REQUEST_TTL must be positive")
	}
	if c.RemindAfter <= 0 {
		bad("WALEAVE_REMIND_AFTER must be positive")
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 20 {
		bad("WALEAVE_MAX_ATTEMPTS must be between 1 and 20")
	}
	if c.UserRate < 0 {
		bad("WALEAVE_USER_RATE must be 0 (no limit) or more")
	}
	if c.MaxPending < 0 {
		bad("WALEAVE_MAX_PENDING must be 0 (no limit) or more")
	}
	if c.BulkMax < 1 {
		bad("WALEAVE_BULK_MAX must be 1 or more")
	}
	if c.DirectoryEvery < time.Minute {
		bad("WALEAVE_DIRECTORY_REFRESH must be at least 1m")
	}
	if loc, err := time.LoadLocation(c.Timezone); err != nil {
		bad("WALEAVE_TIMEZONE: unknown zone %q", c.Timezone)
	} else {
		c.location = loc
	}
	if s, err := cron.ParseStandard(c.DigestCron); err != nil {
		bad("WALEAVE_DIGEST_CRON: %v", err)
	} else {
		c.schedule = s
	}
	if c.DefaultGoodbye != "" {
		if g, err := templates.ParseGoodbye(c.DefaultGoodbye); err != nil {
			bad("WALEAVE_DEFAULT_GOODBYE: %v", err)
		} else {
			c.goodbye = g
		}
	}
	// It bounds a leave run (plus 9 s), which is how long a restarted
	// replica may have to wait before it may take over a run that died
	// with the old process: 15 s keeps that within SPEC's 30 s.
	if c.GatewayTimeout < time.Second || c.GatewayTimeout > 15*time.Second {
		bad("WALEAVE_GATEWAY_TIMEOUT must be between 1s and 15s")
	}
	// A day at least: a retention of hours would delete what /wa-leave
	// status is asked about, most likely a unit typed wrong (365h).
	if c.Retention != 0 && c.Retention < 24*time.Hour {
		bad("WALEAVE_RETENTION must be 0 (keep everything) or at least 1d")
	}
	if problem := checkDatabaseURL(c.DatabaseURL); problem != "" {
		bad("DATABASE_URL %s", problem)
	}
	if err := c.level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("LOG_LEVEL must be debug, info, warn or error")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT must be text or json")
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return c, nil
}

// risks names what the configuration allows but exposes, for start-up's
// log and waleave check: a plain http:// gateway (a self-hosted one inside
// a private network is a real set-up) sends its token and members'
// numbers unencrypted, unless it is on this machine.
func (c config) risks() []string {
	var r []string
	for _, n := range c.numbers {
		if u, err := url.Parse(n.APIURL); err == nil && u.Scheme == "http" && !bot.LoopbackHost(u.Hostname()) {
			r = append(r, n.prefix(len(c.numbers) > 1 || n.Name != defaultNumber)+"API_URL is plain http:// to "+u.Host+": the gateway token and members' numbers cross the network unencrypted; use https:// unless that network is private")
		}
	}
	return r
}

// setField decodes raw into one config field, with envconfig's rules for
// the kinds the struct uses (lists are comma-separated).
func setField(f reflect.Value, raw string) error {
	switch f.Interface().(type) {
	case string:
		f.SetString(raw)
	case bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return errors.New("must be true or false")
		}
		f.SetBool(b)
	case int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return errors.New("must be a whole number")
		}
		f.SetInt(int64(n))
	case time.Duration:
		d, err := parseDuration(raw)
		if err != nil {
			return errors.New("must be a duration such as 90m, 24h or 7d")
		}
		f.SetInt(int64(d))
	case []string:
		var ids []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				ids = append(ids, s)
			}
		}
		f.Set(reflect.ValueOf(ids))
	default:
		return fmt.Errorf("unsupported type %s", f.Type())
	}
	return nil
}

// days matches a number of days in a duration ("365d", the "1d" of
// "1d12h"); no Go duration unit contains a d.
var days = regexp.MustCompile(`([0-9]*\.?[0-9]+)d`)

// parseDuration is time.ParseDuration with d for days of 24 hours, as
// SPEC §2 writes durations ("365d", "1d12h") and as /wa-leave --in
// takes them.
func parseDuration(s string) (time.Duration, error) {
	var bad error
	s = days.ReplaceAllStringFunc(s, func(m string) string {
		n, err := strconv.ParseFloat(strings.TrimSuffix(m, "d"), 64)
		if err != nil || n > float64(math.MaxInt64/int64(24*time.Hour)) {
			bad = fmt.Errorf("%q is not a number of days", m)
			return m
		}
		return strconv.FormatFloat(n*24, 'f', -1, 64) + "h"
	})
	if bad != nil {
		return 0, bad
	}
	return time.ParseDuration(s)
}

// helpTable is the template envconfig fills with the variables; the
// tabwriter in printConfigHelp lines its columns up.
const helpTable = "VARIABLE\tDEFAULT\tDESCRIPTION\n" +
	"{{range .}}{{usage_key .}}\t{{usage_default .}}\t{{if usage_required .}}required: {{end}}{{usage_description .}}\n{{end}}"

// printConfigHelp writes the table of variables from the struct tags.
func printConfigHelp(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if err := envconfig.Usagef("", &config{}, tw, helpTable); err != nil {
		return err
	}
	return tw.Flush()
}

// checkDatabaseURL says what is wrong with a DATABASE_URL ("" when
// nothing is), without quoting it: a PostgreSQL URL may hold a password.
func checkDatabaseURL(dsn string) string {
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		switch {
		case path == "":
			return "must name a file: sqlite:PATH"
		case strings.Contains(path, ":memory:") || strings.HasPrefix(path, "file:") || strings.Contains(path, "?"):
			// waleave sets SQLite's options itself, and an in-memory
			// database would lose every request at a restart.
			return "must be sqlite: and a file's path, with no file: URI, :memory: or ?options"
		}
		return ""
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "must be sqlite:PATH or postgres://user:password@host:5432/database"
	}
	if strings.Trim(u.Path, "/") == "" {
		return "must name the database: postgres://user:password@host:5432/database"
	}
	return ""
}

// redactedDSN is DATABASE_URL safe to log: no password, whether in the
// URL's user part or in a parameter (password=, and sslpassword=, the
// client key's passphrase), and nothing of a URL that cannot be read (it
// might hold one where the parser did not look).
func (c config) redactedDSN() string {
	if strings.HasPrefix(c.DatabaseURL, "sqlite:") {
		return c.DatabaseURL
	}
	u, err := url.Parse(c.DatabaseURL)
	if err != nil {
		return "(unreadable DATABASE_URL)"
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q, redacted := u.Query(), false
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "REDACTED")
			redacted = true
		}
	}
	if redacted {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
