package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// schemaPath is Slack's manifest schema (schemas/manifest.schema.1.0.0.json
// of github.com/slackapi/manifest-schema, MIT, its LICENSE beside it), kept
// in testdata so validation works offline and in any clone.
const schemaPath = "testdata/slack-manifest-schema/manifest.schema.1.0.0.json"

func TestManifestGolden(t *testing.T) {
	tests := []struct {
		golden string
		args   []string
	}{
		{"manifest_http.golden", []string{"--url", "https://waleave.example.com"}},
		{"manifest_socket.golden", []string{"--socket-mode"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			var out bytes.Buffer
			if err := runManifest(tt.args, &out); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tt.golden)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestManifestGolden -update to create it)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, out.Bytes())
			}
			validateManifest(t, out.Bytes())
		})
	}
}

// TestManifestURLs checks the parts of the output the server depends on,
// independently of the golden files.
func TestManifestURLs(t *testing.T) {
	tests := []struct {
		name           string
		baseURL        string
		socketMode     bool
		wantCommandURL string
		wantActionsURL string
	}{
		{"host", "https://waleave.example.com", false, "https://waleave.example.com/slack/commands", "https://waleave.example.com/slack/interactions"},
		{"trailing slash", "https://waleave.example.com/", false, "https://waleave.example.com/slack/commands", "https://waleave.example.com/slack/interactions"},
		{"port and path prefix", "https://example.com:8443/bots/waleave/", false, "https://example.com:8443/bots/waleave/slack/commands", "https://example.com:8443/bots/waleave/slack/interactions"},
		{"http on localhost", "http://localhost:3000", false, "http://localhost:3000/slack/commands", "http://localhost:3000/slack/interactions"},
		{"http on loopback ip", "http://127.0.0.1:3000", false, "http://127.0.0.1:3000/slack/commands", "http://127.0.0.1:3000/slack/interactions"},
		{"socket mode", "", true, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := writeManifest(&out, tt.baseURL, tt.socketMode); err != nil {
				t.Fatal(err)
			}
			var m struct {
				Features struct {
					SlashCommands []struct {
						Command string `yaml:"command"`
						URL     string `yaml:"url"`
					} `yaml:"slash_commands"`
					AppHome struct {
						HomeTabEnabled bool `yaml:"home_tab_enabled"`
					} `yaml:"app_home"`
					Shortcuts []struct {
						Type       string `yaml:"type"`
						CallbackID string `yaml:"callback_id"`
					} `yaml:"shortcuts"`
				} `yaml:"features"`
				Settings struct {
					Interactivity struct {
						IsEnabled  bool   `yaml:"is_enabled"`
						RequestURL string `yaml:"request_url"`
						OptionsURL string `yaml:"message_menu_options_url"`
					} `yaml:"interactivity"`
					EventSubscriptions struct {
						RequestURL string   `yaml:"request_url"`
						BotEvents  []string `yaml:"bot_events"`
					} `yaml:"event_subscriptions"`
					SocketModeEnabled bool `yaml:"socket_mode_enabled"`
				} `yaml:"settings"`
			}
			if err := yaml.Unmarshal(out.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != "/wa-leave" {
				t.Fatalf("slash commands = %+v, want only /wa-leave", m.Features.SlashCommands)
			}
			if got := m.Features.SlashCommands[0].URL; got != tt.wantCommandURL {
				t.Errorf("command url = %q, want %q", got, tt.wantCommandURL)
			}
			if got := m.Settings.Interactivity.RequestURL; got != tt.wantActionsURL {
				t.Errorf("interactivity request_url = %q, want %q", got, tt.wantActionsURL)
			}
			// The form's options and the Home tab's events go to their
			// routes, beside the interactions (SPEC §3).
			wantOptions := strings.Replace(tt.wantActionsURL, "/slack/interactions", "/slack/options", 1)
			wantEvents := strings.Replace(tt.wantActionsURL, "/slack/interactions", "/slack/events", 1)
			if got := m.Settings.Interactivity.OptionsURL; got != wantOptions {
				t.Errorf("options url = %q, want %q", got, wantOptions)
			}
			if got := m.Settings.EventSubscriptions.RequestURL; got != wantEvents {
				t.Errorf("events url = %q, want %q", got, wantEvents)
			}
			if !slices.Equal(m.Settings.EventSubscriptions.BotEvents, []string{"app_home_opened"}) || !m.Features.AppHome.HomeTabEnabled {
				t.Errorf("the Home tab is not enabled with app_home_opened: %+v %+v", m.Features.AppHome, m.Settings.EventSubscriptions)
			}
			if len(m.Features.Shortcuts) != 1 || m.Features.Shortcuts[0].CallbackID != "wa_leave_new" || m.Features.Shortcuts[0].Type != "global" {
				t.Errorf("shortcuts = %+v, want the global wa_leave_new", m.Features.Shortcuts)
			}
			if !m.Settings.Interactivity.IsEnabled {
				t.Error("interactivity is not enabled")
			}
			if m.Settings.SocketModeEnabled != tt.socketMode {
				t.Errorf("socket_mode_enabled = %v, want %v", m.Settings.SocketModeEnabled, tt.socketMode)
			}
			if strings.Contains(out.String(), "example.invalid") {
				t.Error("output still mentions the example.invalid placeholder")
			}
		})
	}
}

func TestManifestFileIsValid(t *testing.T) {
	validateManifest(t, manifestYAML)
}

// TestManifestSchemaRejects makes sure validation can fail: Slack wants the
// slash in the command name.
func TestManifestSchemaRejects(t *testing.T) {
	bad := strings.Replace(string(manifestYAML), "command: /wa-leave", "command: wa-leave", 1)
	if bad == string(manifestYAML) {
		t.Fatal("manifest.yml has no `command: /wa-leave` line to break")
	}
	err := schemaErr(t, []byte(bad))
	if err == nil {
		t.Fatal("a command without a leading slash passed schema validation")
	}
	if !strings.Contains(err.Error(), "/features/slash_commands/0/command") {
		t.Errorf("validation failed for another reason: %v", err)
	}
}

func TestRunManifestErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no arguments", nil, "--url https://host is required"},
		{"empty url", []string{"--url", ""}, "--url https://host is required"},
		{"http to a public host", []string{"--url", "http://waleave.example.com"}, "must use https"},
		{"other scheme", []string{"--url", "ftp://waleave.example.com"}, "must be an https:// URL"},
		{"no scheme", []string{"--url", "waleave.example.com"}, "must be an https:// URL"},
		{"no host", []string{"--url", "https://"}, "has no host"},
		{"port only", []string{"--url", "https://:443"}, "has no host"},
		{"query", []string{"--url", "https://waleave.example.com/?x=1"}, "must be just https://host"},
		{"fragment", []string{"--url", "https://waleave.example.com/#x"}, "must be just https://host"},
		{"user info", []string{"--url", "https://me:secret@waleave.example.com"}, "must be just https://host"},
		{"unparsable", []string{"--url", "https://bad host"}, "--url"},
		{"url with socket mode", []string{"--url", "https://waleave.example.com", "--socket-mode"}, "exclude each other"},
		{"unknown flag", []string{"--host", "x"}, "flag provided but not defined"},
		{"stray argument", []string{"--socket-mode", "extra"}, `unexpected argument "extra"`},
		{"missing flag value", []string{"--url"}, "flag needs an argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := runManifest(tt.args, &out)
			if err == nil {
				t.Fatalf("runManifest(%q) succeeded, want an error containing %q", tt.args, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("printed %q on error", out.String())
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q repeats the password from the URL", err)
			}
		})
	}
}

func TestRunManifestHelp(t *testing.T) {
	var out bytes.Buffer
	if err := runManifest([]string{"-h"}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"usage: waleave manifest", "-url", "-socket-mode"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help %q does not mention %q", out.String(), want)
		}
	}
}

// validateManifest fails t unless manifest (YAML) satisfies Slack's schema.
func validateManifest(t *testing.T, manifest []byte) {
	t.Helper()
	if err := schemaErr(t, manifest); err != nil {
		t.Errorf("manifest does not satisfy Slack's schema: %v\n%s", err, manifest)
	}
}

// schemaErr validates manifest against Slack's schema. The schema is part
// of the repository, so a missing one is a failure, never a skip.
func schemaErr(t *testing.T, manifest []byte) error {
	t.Helper()
	raw, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatalf("Slack manifest schema: %v", err)
	}
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.UseRegexpEngine(compileRegexp)
	if err := c.AddResource("manifest.schema.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("manifest.schema.json")
	if err != nil {
		t.Fatal(err)
	}

	// The validator wants JSON values (map[string]any, float64, …); going
	// through encoding/json turns YAML's decoded types into exactly those.
	var y any
	if err := yaml.Unmarshal(manifest, &y); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(y)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return schema.Validate(inst)
}

// compileRegexp compiles schema patterns with Go's RE2 engine. The schema's
// domain patterns use a look-ahead RE2 cannot compile; they only apply to
// unfurl and outgoing domains, which our manifest does not have, so such a
// pattern is let match anything rather than fail the whole schema.
func compileRegexp(s string) (jsonschema.Regexp, error) {
	if re, err := regexp.Compile(s); err == nil {
		return re, nil
	}
	return anyMatch(s), nil
}

// anyMatch is a pattern that accepts every string.
type anyMatch string

func (anyMatch) MatchString(string) bool { return true }
func (p anyMatch) String() string        { return string(p) }
