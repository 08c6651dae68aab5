package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// manifestYAML is the Slack app manifest with placeholder request URLs.
//
//go:embed manifest.yml
var manifestYAML []byte

// runManifest implements `waleave manifest --url https://host` and
// `waleave manifest --socket-mode`: it prints manifest.yml ready to paste
// into Slack's "Create New App → From an app manifest".
func runManifest(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("manifest", flag.ContinueOnError)
	// Parse errors are returned, not printed: run reports them once.
	fs.SetOutput(io.Discard)
	baseURL := fs.String("url", "", "public `https://host` where waleave serves /slack/commands and /slack/interactions")
	socketMode := fs.Bool("socket-mode", false, "print the manifest for Socket Mode, which needs no public URL")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "usage: waleave manifest --url https://host | --socket-mode")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return fmt.Errorf("manifest: %w", err)
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("manifest: unexpected argument %q", fs.Arg(0))
	case *socketMode && *baseURL != "":
		return errors.New("manifest: --url and --socket-mode exclude each other: Socket Mode has no request URLs")
	case !*socketMode && *baseURL == "":
		return errors.New("manifest: --url https://host is required (or --socket-mode)")
	}
	return writeManifest(stdout, *baseURL, *socketMode)
}

// writeManifest prints manifest.yml with its request URLs moved to baseURL
// (https://host, optionally with a path prefix; a trailing slash is fine), or,
// when socketMode is set, with socket_mode_enabled true and no request URLs,
// which Slack does not want in Socket Mode. The file is edited as a YAML node
// tree rather than re-marshalled from a struct so its comments survive.
func writeManifest(w io.Writer, baseURL string, socketMode bool) error {
	base := ""
	if !socketMode {
		var err error
		if base, err = requestBase(baseURL); err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(manifestYAML, &doc); err != nil {
		return fmt.Errorf("manifest: parse manifest.yml: %w", err)
	}
	if err := editManifest(&doc, base, socketMode); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	return nil
}

// editManifest points the request URLs in doc at base, or removes them and
// turns Socket Mode on when socketMode is set.
func editManifest(doc *yaml.Node, base string, socketMode bool) error {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode || len(doc.Content[0].Content) == 0 {
		return errors.New("manifest.yml is not a mapping")
	}
	root := doc.Content[0]
	// The file's own header explains the placeholders; the output has none.
	how := "--url " + base
	if socketMode {
		how = "--socket-mode"
	}
	root.Content[0].HeadComment = "# Slack app manifest for waleave, printed by `waleave manifest " + how + "`.\n" +
		"# Paste it into \"Create New App → From an app manifest\" at https://api.slack.com/apps."

	commands, err := manifestField(root, "features", "slash_commands")
	if err != nil {
		return err
	}
	interactivity, err := manifestField(root, "settings", "interactivity")
	if err != nil {
		return err
	}
	type field struct {
		mapping *yaml.Node
		key     string
	}
	events, err := manifestField(root, "settings", "event_subscriptions")
	if err != nil {
		return err
	}
	targets := []field{{interactivity, "request_url"}, {interactivity, "message_menu_options_url"}, {events, "request_url"}}
	for _, c := range commands.Content {
		targets = append(targets, field{c, "url"})
	}

	if socketMode {
		enabled, err := manifestField(root, "settings", "socket_mode_enabled")
		if err != nil {
			return err
		}
		enabled.Value = "true"
		for _, t := range targets {
			dropManifestField(t.mapping, t.key)
		}
		return nil
	}
	for _, t := range targets {
		v, err := manifestField(t.mapping, t.key)
		if err != nil {
			return err
		}
		// Only the host changes: the paths in manifest.yml are the routes
		// the server registers, so they stay written down in one place.
		u, err := url.Parse(v.Value)
		if err != nil {
			return fmt.Errorf("manifest.yml %s: %w", t.key, err)
		}
		v.Value = base + u.EscapedPath()
	}
	return nil
}

// manifestField follows keys through nested mappings.
func manifestField(n *yaml.Node, keys ...string) (*yaml.Node, error) {
	for _, k := range keys {
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("manifest.yml: %s is not inside a mapping", k)
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("manifest.yml has no %s", k)
		}
		n = next
	}
	return n, nil
}

// dropManifestField removes key and its value (and so their comments) from a mapping.
func dropManifestField(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// requestBase checks the --url value and returns it without a trailing slash.
// Slack only calls https URLs; plain http is let through for a local
// tunnel or proxy on the loopback interface.
func requestBase(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("no --url given")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL, password included; keep only why.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return "", fmt.Errorf("--url is not a URL: %w", err)
	}
	// Messages show the URL with any password masked.
	shown := u.Redacted()
	switch u.Scheme {
	case "https":
	case "http":
		if h := u.Hostname(); h != "localhost" && !net.ParseIP(h).IsLoopback() {
			return "", fmt.Errorf("--url %s must use https (http is only for localhost)", shown)
		}
	default:
		return "", fmt.Errorf("--url %s must be an https:// URL", shown)
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("--url %s has no host", shown)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", fmt.Errorf("--url %s must be just https://host (and optionally a path)", shown)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}
