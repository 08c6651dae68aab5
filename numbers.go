package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/waleave/waleave/store"
	"github.com/waleave/waleave/whatsapp"
)

// defaultNumber is the name of the one number the WA_* variables
// configure when WA_INSTANCES is not set.
const defaultNumber = store.DefaultNumber

// numberName is what WA_INSTANCES accepts as a number's name: it is
// typed after --from, shown on cards and stored with every request, and
// upper-cased it is the middle of the number's variables (WA_SALES_TOKEN).
var numberName = regexp.MustCompile(`^[a-z][a-z0-9]{0,19}$`)

// waNumber is one WhatsApp number's settings.
type waNumber struct {
	Name     string
	Provider string
	APIURL   string
	Instance string
	Token    string
	// AllowedUsers and AllowedChannels, when either is set, narrow the
	// global allow-lists for this number's requests; they never widen
	// them.
	AllowedUsers    []string
	AllowedChannels []string
}

// prefix is how the number's variables begin: WA_ for the single
// number, WA_SALES_ for the number named sales.
func (n waNumber) prefix(named bool) string {
	if !named {
		return "WA_"
	}
	return "WA_" + strings.ToUpper(n.Name) + "_"
}

// check reports what is wrong with the number's gateway settings, naming
// the variables (prefix + PROVIDER, …), and fills in the provider's
// default base URL, trimmed of its trailing slash.
func (n *waNumber) check(prefix string, bad func(format string, args ...any)) {
	if n.Provider != "" && !slices.Contains(whatsapp.Providers, n.Provider) {
		bad("%sPROVIDER must be one of %s", prefix, strings.Join(whatsapp.Providers, ", "))
	}
	if n.APIURL == "" {
		n.APIURL = whatsapp.DefaultBaseURL(n.Provider)
	}
	// Checked as given: "/" trimmed would be empty, which means the
	// provider's default to the client.
	apiURL := n.APIURL
	n.APIURL = strings.TrimSuffix(n.APIURL, "/")
	if whatsapp.DefaultBaseURL(n.Provider) == "" {
		return
	}
	// The gateway's own rules (Green API's idInstance is a number), named
	// as the variables that set them; a missing one was reported already.
	vars := map[string]struct{ name, value string }{
		"BaseURL": {prefix + "API_URL", apiURL}, "Instance": {prefix + "INSTANCE", n.Instance}, "Token": {prefix + "TOKEN", n.Token},
	}
	for _, p := range whatsapp.CheckConfig(n.Provider, whatsapp.Config{BaseURL: apiURL, Instance: n.Instance, Token: n.Token}) {
		if v := vars[p.Field]; v.value != "" {
			bad("%s %s", v.name, p.Problem)
		}
	}
}

// loadNumbers reads the variables of each number WA_INSTANCES names,
// reporting every problem of every number through bad.
func loadNumbers(getenv func(string) string, names []string, bad func(format string, args ...any)) []waNumber {
	var out []waNumber
	seen := map[string]bool{}
	for _, name := range names {
		switch {
		case !numberName.MatchString(name):
			bad("WA_INSTANCES: %q is not a number's name (lower-case letters and digits, starting with a letter, at most 20)", name)
			continue
		case seen[name]:
			bad("WA_INSTANCES: %q is named twice", name)
			continue
		}
		seen[name] = true
		n := waNumber{Name: name}
		p := n.prefix(true)
		get := func(key string) string { return strings.TrimSpace(getenv(p + key)) }
		n.Provider, n.APIURL, n.Instance, n.Token = get("PROVIDER"), get("API_URL"), get("INSTANCE"), get("TOKEN")
		if n.Provider == "" {
			bad("%sPROVIDER is required", p)
		}
		if n.Provider != whatsapp.DryRunProvider {
			if n.Instance == "" {
				bad("%sINSTANCE is required", p)
			}
			if n.Token == "" {
				bad("%sTOKEN is required", p)
			}
		}
		n.check(p, bad)
		for _, l := range []struct {
			key  string
			ids  *[]string
			pfxs string
		}{{"ALLOWED_USERS", &n.AllowedUsers, "UW"}, {"ALLOWED_CHANNELS", &n.AllowedChannels, "CGD"}} {
			for _, id := range strings.Split(get(l.key), ",") {
				if id = strings.TrimSpace(id); id == "" {
					continue
				}
				if !strings.ContainsRune(l.pfxs, rune(id[0])) || strings.ToUpper(id) != id {
					bad("%s%s: %q is not a Slack ID (like %c0123ABCD)", p, l.key, id, l.pfxs[0])
					continue
				}
				*l.ids = append(*l.ids, id)
			}
		}
		out = append(out, n)
	}
	return out
}

// String is the number as logs show it: never its token.
func (n waNumber) String() string {
	return fmt.Sprintf("%s (%s)", n.Name, n.Provider)
}
