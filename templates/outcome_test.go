package templates

import (
	"strings"
	"testing"

	"github.com/waleave/waleave/leave"
)

// allOutcomes is every outcome; TestOutcomePhraseMatrix fails if one is
// added without a phrase below.
var allOutcomes = leave.Outcomes()

// outcomePhrases is SPEC §5's table (lower case; matching ignores case).
// The first phrase of a failure is the one that identifies it: "not left"
// is shared by failures, so it is not checked against the others.
// promote_failed, session_missing, plan_expired, not_supported and
// wrong_endpoint are not in the SPEC; their phrases are ours.
var outcomePhrases = map[leave.Outcome][]string{
	leave.OutcomeLeft:          {"left"},
	leave.OutcomeLeftAdmin:     {"left", "admin"},
	leave.OutcomeNotMember:     {"not a member"},
	leave.OutcomeNotAllowed:    {"not allowed"},
	leave.OutcomeCredentials:   {"credentials"},
	leave.OutcomeInvalidGroup:  {"invalid group"},
	leave.OutcomeNotConnected:  {"not connected"},
	leave.OutcomeQuota:         {"quota"},
	leave.OutcomeRateLimit:     {"rate limit"},
	leave.OutcomeUnavailable:   {"unavailable"},
	leave.OutcomeGoodbyeFailed: {"goodbye", "not left"},
	leave.OutcomePromoteFailed: {"could not make", "not left"},
	// Each names its cause and the thing to check.
	leave.OutcomeSessionMissing: {"no session", "not left", "wa_instance"},
	leave.OutcomePlanExpired:    {"plan has expired", "not left", "renew"},
	leave.OutcomeNotSupported:   {"not supported", "not left"},
	leave.OutcomeWrongEndpoint:  {"no such endpoint", "not left", "wa_api_url"},
	leave.OutcomeStillMember:    {"still a member", "not left"},
	// A group of a bulk request whose only admin is the number.
	leave.OutcomeOnlyAdmin: {"only admin", "not left", "successor"},
}

func TestOutcomePhraseMatrix(t *testing.T) {
	if len(outcomePhrases) != len(allOutcomes) {
		t.Fatalf("%d outcomes have phrases, want all %d", len(outcomePhrases), len(allOutcomes))
	}
	groups := []struct{ in, shown string }{
		{"Night shift & friends", "*night shift &amp; friends*"},
		{"120363406289005073@g.us", "`120363406289005073@g.us`"},
	}
	// The note on a goodbye whose fate is unknown may follow any
	// outcome, and the dry run's note must not change what a reply says,
	// so each outcome is checked with each.
	notes := map[string]string{"": "", "goodbye_unknown": "\n" + GoodbyeUnknownNote()}
	for _, o := range allOutcomes {
		for _, g := range groups {
			for note, noteText := range notes {
				for _, dry := range []bool{false, true} {
					text, name := OutcomeText(o, g.in, "")+noteText, string(o)+"/"+g.in+"/"+note
					if dry {
						text, name = DryRun(text), name+"/dry_run"
					}
					lower := strings.ToLower(text)
					t.Run(name, func(t *testing.T) {
						checkMarkup(t, text)
						if !strings.Contains(lower, g.shown) {
							t.Errorf("%q does not name the group as %q", text, g.shown)
						}
						for _, p := range outcomePhrases[o] {
							if !strings.Contains(lower, p) {
								t.Errorf("%q lacks its phrase %q", text, p)
							}
						}
						// No outcome may name another failure.
						for _, other := range allOutcomes {
							if other == o || other.Success() {
								continue
							}
							if p := outcomePhrases[other][0]; strings.Contains(lower, p) {
								t.Errorf("%q contains %q, the phrase of %s", text, p, other)
							}
						}
						withoutNotLeft := strings.ReplaceAll(lower, "not left", "")
						if o.Success() {
							if strings.Contains(lower, "not left") {
								t.Errorf("success %q says \"not left\"", text)
							}
						} else {
							if !strings.Contains(lower, "not left") {
								t.Errorf("failure %q does not say the group was not left", text)
							}
							if strings.Contains(withoutNotLeft, "left") {
								t.Errorf("failure %q says \"left\" other than as \"not left\"", text)
							}
							if strings.Contains(lower, "not a member") {
								t.Errorf("failure %q says \"not a member\"", text)
							}
						}
						if o == leave.OutcomeLeft && strings.Contains(lower, "admin") {
							t.Errorf("plain left %q mentions admin, which is left_admin's phrase", text)
						}
						if o != leave.OutcomeNotMember && strings.Contains(lower, "not a member") {
							t.Errorf("%q says \"not a member\"", text)
						}
						if dry != strings.Contains(lower, "dry run") {
							t.Errorf("dry run %v, but %q", dry, text)
						}
					})
				}
			}
		}
	}
}

func TestOutcomeSummary(t *testing.T) {
	for _, o := range allOutcomes {
		s := Summary(o)
		if s == "" || strings.Contains(s, "unrecognised") {
			t.Errorf("%s has no summary", o)
		}
		if got, want := strings.Contains(s, "not left"), !o.Success(); got != want {
			t.Errorf("%s summary %q: says \"not left\" = %v, want %v", o, s, got, want)
		}
	}
	if got := Summary("new_<!thing>"); got != "an unrecognised result" {
		t.Errorf("unknown outcome summary %q", got)
	}
}

func TestOutcomeTextEscapes(t *testing.T) {
	got := OutcomeText(leave.OutcomeQuota, "<!channel> & co", "Monthly quota of 3000 <messages> used\nrenew at <http://evil|billing>")
	checkMarkup(t, got)
	for _, want := range []string{
		"*&lt;!channel&gt; &amp; co*",
		"\n> Monthly quota of 3000 &lt;messages&gt; used renew at &lt;http://evil|billing&gt;",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if strings.Count(got, "\n") != 1 {
		t.Errorf("detail should be one quoted line: %q", got)
	}
}

func TestOutcomeTextEdgeCases(t *testing.T) {
	if got := OutcomeText(leave.OutcomeLeft, "  ", ""); !strings.Contains(got, "the group") {
		t.Errorf("empty group name: %q", got)
	}
	got := OutcomeText("mystery<!here>", "G", "")
	checkMarkup(t, got)
	if strings.Contains(strings.ToLower(got), "left") || !strings.Contains(got, "`mystery&lt;!here&gt;`") {
		t.Errorf("unknown outcome: %q", got)
	}
	if got := OutcomeText(leave.OutcomeLeft, "G", strings.Repeat("x", 5000)); width(got) > 700 {
		t.Errorf("detail not clipped: %d characters", width(got))
	}
	// A JID-looking name with spaces is a subject, not code.
	if got := OutcomeText(leave.OutcomeLeft, "odd name@g.us", ""); !strings.Contains(got, "*odd name@g.us*") {
		t.Errorf("got %q", got)
	}
}
