package bot

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/waleave/waleave/whatsapp"
)

const (
	testJID    = "120363406289005073@g.us"
	testOldJID = "11001234567-1587570015@g.us"
	testCode   = "HfVhvqMA9Y4G4LhRT0mZ1q"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Command
	}{
		// Group forms.
		{"jid", testJID, Command{Kind: CommandLeave, Group: GroupRef{JID: testJID}}},
		{"old jid", testOldJID, Command{Kind: CommandLeave, Group: GroupRef{JID: testOldJID}}},
		{"jid with upper-case domain", "120363406289005073@G.US", Command{Kind: CommandLeave, Group: GroupRef{JID: testJID}}},
		{"invite link", "https://chat.whatsapp.com/" + testCode, Command{Kind: CommandLeave, Group: GroupRef{InviteCode: testCode}}},
		{"invite link with invite path and slash", "https://chat.whatsapp.com/invite/" + testCode + "/", Command{Kind: CommandLeave, Group: GroupRef{InviteCode: testCode}}},
		{"invite link without scheme", "chat.whatsapp.com/" + testCode, Command{Kind: CommandLeave, Group: GroupRef{InviteCode: testCode}}},
		{"slack auto-link with label", "<http://chat.whatsapp.com/" + testCode + "|chat.whatsapp.com/" + testCode + ">", Command{Kind: CommandLeave, Group: GroupRef{InviteCode: testCode}}},
		{"slack auto-link without label", "<https://chat.whatsapp.com/" + testCode + ">", Command{Kind: CommandLeave, Group: GroupRef{InviteCode: testCode}}},
		{"slack link with other label", "<https://chat.whatsapp.com/" + testCode + "|the group>", Command{Kind: CommandLeave, Group: GroupRef{InviteCode: testCode}}},
		{"bare invite code", testCode, Command{Kind: CommandLeave, Group: GroupRef{InviteCode: testCode}}},
		{"code-length word without digits is a name", "PhoenixOperationsTeam", Command{Kind: CommandLeave, Group: GroupRef{Name: "PhoenixOperationsTeam"}}},
		{"short word with digits is a name", "marketing2024", Command{Kind: CommandLeave, Group: GroupRef{Name: "marketing2024"}}},
		{"lower-case code-length word is a name", "abcdefghij0123456789ab", Command{Kind: CommandLeave, Group: GroupRef{Name: "abcdefghij0123456789ab"}}},
		{"quoted code is a name", `"` + testCode + `"`, Command{Kind: CommandLeave, Group: GroupRef{Name: testCode}}},
		{"single word name", "Phoenix", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}}},
		{"straight double quotes", `"Phoenix Team"`, Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix Team"}}},
		{"straight single quotes", `'Phoenix Team'`, Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix Team"}}},
		{"curly double quotes", "“Phoenix Team”", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix Team"}}},
		{"curly single quotes", "‘Phoenix Team’", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix Team"}}},
		{"mixed quotes from autocorrect", "“Phoenix Team\"", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix Team"}}},
		{"apostrophe inside quotes", "'Bob's team' bye", Command{Kind: CommandLeave, Group: GroupRef{Name: "Bob's team"}, Goodbye: "bye"}},
		{"quoted name with escaped ampersand", `"Sales &amp; Ops"`, Command{Kind: CommandLeave, Group: GroupRef{Name: "Sales & Ops"}}},
		{"quoted reserved word is a name", `"status"`, Command{Kind: CommandLeave, Group: GroupRef{Name: "status"}}},
		{"surrounding white space", "  \t Phoenix \n", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}}},
		{"non-breaking space separates", "Phoenix\u00a0bye", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: "bye"}},

		// Goodbye text.
		{"goodbye", testJID + " Thanks everyone, bye!", Command{Kind: CommandLeave, Group: GroupRef{JID: testJID}, Goodbye: "Thanks everyone, bye!"}},
		{"goodbye keeps spacing and lines", "Phoenix Thanks  all\nbye", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: "Thanks  all\nbye"}},
		{"goodbye unescaped", "Phoenix Q&amp;A &lt;3 &gt;_&lt;", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: "Q&A <3 >_<"}},
		{"goodbye double-escaped stays once-escaped", "Phoenix &amp;lt;", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: "&lt;"}},
		{"goodbye quoted loses quotes", `"Phoenix Team" "Bye --all!"`, Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix Team"}, Goodbye: "Bye --all!"}},
		{"goodbye with inner quotes kept", `Phoenix I said "bye" twice`, Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: `I said "bye" twice`}},
		{"goodbye with link label", "Phoenix see <http://example.com|example.com>", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: "see example.com"}},
		{"goodbye with labelled link", "Phoenix see <https://example.com/x|here>", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: "see https://example.com/x"}},
		{"goodbye with mailto", "Phoenix mail <mailto:a@example.com|a@example.com>", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: "mail a@example.com"}},
		{"goodbye with unclosed quote", `Phoenix it's "fine`, Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: `it's "fine`}},
		{"goodbye with dashes", "Phoenix bye -- and —Bob", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: "bye -- and —Bob"}},
		{"goodbye around a flag", "Phoenix Thanks --in 2h for everything", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: "Thanks for everything", In: 2 * time.Hour}},
		{"goodbye of exactly the limit", "Phoenix " + strings.Repeat("é", MaxGoodbyeLen), Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: strings.Repeat("é", MaxGoodbyeLen)}},

		// Flags.
		{"no goodbye", testJID + " --no-goodbye", Command{Kind: CommandLeave, Group: GroupRef{JID: testJID}, NoGoodbye: true}},
		{"no goodbye upper case", testJID + " --NO-GOODBYE", Command{Kind: CommandLeave, Group: GroupRef{JID: testJID}, NoGoodbye: true}},
		{"no goodbye em dash", testJID + " —no-goodbye", Command{Kind: CommandLeave, Group: GroupRef{JID: testJID}, NoGoodbye: true}},
		{"no goodbye twice", testJID + " --no-goodbye --no-goodbye", Command{Kind: CommandLeave, Group: GroupRef{JID: testJID}, NoGoodbye: true}},
		{"from", testJID + " --from Sales Bye all", Command{Kind: CommandLeave, Group: GroupRef{JID: testJID}, From: "sales", Goodbye: "Bye all"}},
		{"from with equals after goodbye", "Phoenix Bye all --from=support", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, From: "support", Goodbye: "Bye all"}},
		{"at with T", "Phoenix --at 2026-12-01T09:00", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, At: "2026-12-01T09:00"}},
		{"at with space", "Phoenix --at 2026-12-01 09:00 bye", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, At: "2026-12-01 09:00", Goodbye: "bye"}},
		{"at with space and seconds", "Phoenix --at 2026-12-01 9:00:30", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, At: "2026-12-01 9:00:30"}},
		{"at quoted", `Phoenix --at "2026-12-01 09:00"`, Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, At: "2026-12-01 09:00"}},
		{"at with equals", "Phoenix --at=2026-12-01T09:00 bye", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, At: "2026-12-01T09:00", Goodbye: "bye"}},
		{"at with offset", "Phoenix --at 2026-12-01T09:00:00+01:00", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, At: "2026-12-01T09:00:00+01:00"}},
		{"at en dash", "Phoenix –at 2026-12-01T09:00", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, At: "2026-12-01T09:00"}},
		{"at before goodbye and no goodbye", "Phoenix --at 2026-12-01T09:00 --no-goodbye", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, At: "2026-12-01T09:00", NoGoodbye: true}},
		{"in days", "Phoenix --in 3d", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, In: 72 * time.Hour}},
		{"in compound", "Phoenix bye --in=1d12h", Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: "bye", In: 36 * time.Hour}},
		{"flag before goodbye", testJID + " --in 90m See you", Command{Kind: CommandLeave, Group: GroupRef{JID: testJID}, Goodbye: "See you", In: 90 * time.Minute}},
		{"quoted flag is goodbye", `Phoenix "--no-goodbye"`, Command{Kind: CommandLeave, Group: GroupRef{Name: "Phoenix"}, Goodbye: "--no-goodbye"}},

		// Other commands.
		{"help", "help", Command{Kind: CommandHelp}},
		{"help any case with words", "HELP me please", Command{Kind: CommandHelp}},
		{"status", "status", Command{Kind: CommandStatus}},
		{"status of a group", "status " + testJID, Command{Kind: CommandStatus, Arg: testJID}},
		{"status of a request", "Status req-42", Command{Kind: CommandStatus, Arg: "req-42"}},
		{"status of a quoted name", "status “Phoenix Team”", Command{Kind: CommandStatus, Arg: "Phoenix Team"}},
		{"status of an unquoted name", "status Phoenix  Team", Command{Kind: CommandStatus, Arg: "Phoenix  Team"}},
		{"status of a link", "status <https://chat.whatsapp.com/" + testCode + ">", Command{Kind: CommandStatus, Arg: "https://chat.whatsapp.com/" + testCode}},
		{"groups", "groups", Command{Kind: CommandGroups}},
		{"history of a group", "History " + testJID, Command{Kind: CommandHistory, Arg: testJID}},
		{"history of a quoted name", "history “Phoenix Team”", Command{Kind: CommandHistory, Arg: "Phoenix Team"}},
		{"groups filter", "groups sales &amp; ops", Command{Kind: CommandGroups, Arg: "sales & ops"}},

		// Bulk (SPEC §9).
		{"bulk filter", "bulk acme", Command{Kind: CommandBulk, Filter: "acme"}},
		{"bulk any case", "BULK Acme", Command{Kind: CommandBulk, Filter: "Acme"}},
		{"bulk quoted filter with goodbye", "bulk “Acme sales” Thanks all, bye!", Command{Kind: CommandBulk, Filter: "Acme sales", Goodbye: "Thanks all, bye!"}},
		{"bulk filter with flags", "bulk acme --from Sales --no-goodbye --in 3d", Command{Kind: CommandBulk, Filter: "acme", From: "sales", NoGoodbye: true, In: 72 * time.Hour}},
		{"bulk flags before the filter", "bulk --from sales acme bye", Command{Kind: CommandBulk, Filter: "acme", From: "sales", Goodbye: "bye"}},
		{"bulk filter at", "bulk acme --at 2026-12-01 09:00 bye", Command{Kind: CommandBulk, Filter: "acme", At: "2026-12-01 09:00", Goodbye: "bye"}},
		{"bulk filter that looks like a jid word", "bulk 2024", Command{Kind: CommandBulk, Filter: "2024"}},
		{"bulk list", "bulk --list Sales,Support," + testJID, Command{Kind: CommandBulk,
			List: []GroupRef{{Name: "Sales"}, {Name: "Support"}, {JID: testJID}}}},
		{"bulk list with spaces after commas", "bulk --list Sales, Support, chat.whatsapp.com/" + testCode + " bye all", Command{Kind: CommandBulk,
			List: []GroupRef{{Name: "Sales"}, {Name: "Support"}, {InviteCode: testCode}}, Goodbye: "bye all"}},
		{"bulk list of quoted names", `bulk --list "Sales team","Ops, EU" --no-goodbye`, Command{Kind: CommandBulk,
			List: []GroupRef{{Name: "Sales team"}, {Name: "Ops"}, {Name: "EU"}}, NoGoodbye: true}},
		{"bulk list quoted entries after spaces", `bulk --list Sales, “Night shift” bye`, Command{Kind: CommandBulk,
			List: []GroupRef{{Name: "Sales"}, {Name: "Night shift"}}, Goodbye: "bye"}},
		{"bulk list quoted entry with spaces inside", `bulk --list Marketing,"Ops team",Phoenix bye`, Command{Kind: CommandBulk,
			List: []GroupRef{{Name: "Marketing"}, {Name: "Ops team"}, {Name: "Phoenix"}}, Goodbye: "bye"}},
		{"bulk list entry with apostrophe", `bulk --list Bob's,Ann bye`, Command{Kind: CommandBulk,
			List: []GroupRef{{Name: "Bob's"}, {Name: "Ann"}}, Goodbye: "bye"}},
		{"bulk list with equals", "bulk --list=Sales,Support", Command{Kind: CommandBulk, List: []GroupRef{{Name: "Sales"}, {Name: "Support"}}}},
		{"bulk list quoted code is a name", `bulk --list "` + testCode + `"`, Command{Kind: CommandBulk, List: []GroupRef{{Name: testCode}}}},
		{"bulk list goodbye first", "bulk --from sales --list a,b bye", Command{Kind: CommandBulk, From: "sales", List: []GroupRef{{Name: "a"}, {Name: "b"}}, Goodbye: "bye"}},
		{"bulk stale", "bulk --stale 180d", Command{Kind: CommandBulk, Stale: 180 * 24 * time.Hour}},
		{"bulk stale with filter", "bulk --stale 26w acme", Command{Kind: CommandBulk, Stale: 26 * 7 * 24 * time.Hour, Filter: "acme"}},
		{"bulk stale with filter and goodbye", "bulk --stale 1w3d acme bye --from sales", Command{Kind: CommandBulk, Stale: 10 * 24 * time.Hour, Filter: "acme", Goodbye: "bye", From: "sales"}},
		{"bulk filter then stale", "bulk acme --stale 180d", Command{Kind: CommandBulk, Stale: 180 * 24 * time.Hour, Filter: "acme"}},
		{"bulk stale longer than --in allows", "bulk --stale 400d", Command{Kind: CommandBulk, Stale: 400 * 24 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCommand(tt.text)
			if err != nil {
				t.Fatalf("ParseCommand(%q): %v", tt.text, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseCommand(%q)\n got %+v\nwant %+v", tt.text, got, tt.want)
			}
		})
	}
}

func TestParseCommandErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // part of the problem the user sees
	}{
		{"empty", "", "no group given"},
		{"only spaces", " \n\t", "no group given"},
		{"history without a group", "history", "history needs a group"},
		{"only a flag", "--no-goodbye", "no group given before --no-goodbye"},
		{"malformed jid", "123@g.us", "123@g.us is not a valid group id"},
		{"jid with letters", "1203634062890050ab@g.us", "is not a valid group id"},
		{"bare domain", "@g.us", "is not a valid group id"},
		{"person jid", "447700900123@s.whatsapp.net", "is not a group id"},
		{"c.us jid", "447700900123@c.us", "is not a group id"},
		{"bad invite link", "https://chat.whatsapp.com/abc", "is not a valid WhatsApp invite link"},
		{"other url", "https://example.com/group", "is not a WhatsApp invite link"},
		{"empty quoted name", `"  "`, "the group name is empty"},
		{"unclosed quoted name", `"Phoenix Team`, "no closing quote"},
		{"unknown flag", "Phoenix --force", "unknown option --force"},
		{"from without a name", "Phoenix --from", "--from needs the name of a WhatsApp number"},
		{"from twice", "Phoenix --from sales --from support", "--from is given twice"},
		{"unknown flag with value", "Phoenix --when=now", "unknown option --when"},
		{"at and in", "Phoenix --at 2026-12-01T09:00 --in 3d", "either --at or --in"},
		{"at twice", "Phoenix --at 2026-12-01T09:00 --at 2026-12-02T09:00", "--at is given twice"},
		{"in twice", "Phoenix --in 1d --in 2d", "--in is given twice"},
		{"at without value", "Phoenix --at", "--at needs a date and time"},
		{"at followed by flag", "Phoenix --at --no-goodbye", "--at needs a date and time"},
		{"at with empty value", "Phoenix --at=", "--at needs a date and time"},
		{"at not a date", "Phoenix --at tomorrow", `"tomorrow" is not a date and time`},
		{"at impossible date", "Phoenix --at 2026-02-30T09:00", "is not a date and time"},
		{"in without value", "Phoenix --in", "--in needs a duration"},
		{"in not a duration", "Phoenix --in soon", "is not a duration"},
		{"in zero", "Phoenix --in 0d", "more than zero"},
		{"in too far", "Phoenix --in 200d", "too far ahead"},
		{"no goodbye with value", "Phoenix --no-goodbye=yes", "--no-goodbye takes no value"},
		{"goodbye and no goodbye", "Phoenix bye all --no-goodbye", "contradict"},
		{"goodbye too long", "Phoenix " + strings.Repeat("x", MaxGoodbyeLen+1), "the goodbye is 1001 characters long; the limit is 1000"},

		// Bulk.
		{"bulk alone", "bulk", "bulk needs a filter"},
		{"bulk only flags", "bulk --from sales --no-goodbye", "bulk needs a filter"},
		{"bulk empty quoted filter", `bulk "" bye`, "the filter is empty"},
		{"bulk list without value", "bulk --list", "--list needs groups"},
		{"bulk list followed by flag", "bulk --list --no-goodbye", "--list needs groups"},
		{"bulk list empty entry", "bulk --list a,,b", "--list has an empty entry"},
		{"bulk list trailing comma", "bulk --list a,", "--list has an empty entry"},
		{"bulk list twice", "bulk --list a --list b", "--list is given twice"},
		{"bulk filter and list", "bulk acme --list a,b", "either a filter or --list"},
		{"bulk list bad jid", "bulk --list a,123@g.us", "123@g.us is not a valid group id"},
		{"bulk list person jid", "bulk --list 447700900123@c.us", "is not a group id"},
		{"bulk list and stale", "bulk --list a,b --stale 180d", "either --list or --stale"},
		{"bulk stale without age", "bulk --stale", "--stale needs an age"},
		{"bulk stale not an age", "bulk --stale old", `"old" is not an age`},
		{"bulk stale in minutes", "bulk --stale 90m", "is not an age"},
		{"bulk stale zero", "bulk --stale 0d", "more than zero"},
		{"bulk stale too long", "bulk --stale 8000d", "too long ago"},
		{"bulk stale twice", "bulk --stale 1d --stale 2d", "--stale is given twice"},
		{"bulk unknown flag", "bulk acme --force", "unknown option --force (options are --list, --stale"},
		{"bulk at and in", "bulk acme --at 2026-12-01T09:00 --in 3d", "either --at or --in"},
		{"bulk goodbye and no goodbye", "bulk acme bye --no-goodbye", "contradict"},
		{"bulk goodbye too long", "bulk acme " + strings.Repeat("x", MaxGoodbyeLen+1), "the limit is 1000"},
		{"list outside bulk", "Phoenix --list a,b", "--list belongs to /wa-leave bulk"},
		{"stale outside bulk", "Phoenix --stale 180d", "--stale belongs to /wa-leave bulk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCommand(tt.text)
			if err == nil {
				t.Fatalf("ParseCommand(%q) = %+v, want an error", tt.text, got)
			}
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v is %T, want *UsageError", err, err)
			}
			if !strings.Contains(ue.Problem, tt.want) {
				t.Errorf("problem %q does not contain %q", ue.Problem, tt.want)
			}
		})
	}
}

func TestResolveAt(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	tests := []struct {
		name string
		in   string
		loc  *time.Location
		want string // RFC 3339 in UTC
	}{
		{"T form in utc", "2026-12-01T09:00", time.UTC, "2026-12-01T09:00:00Z"},
		{"nil location is utc", "2026-12-01T09:00", nil, "2026-12-01T09:00:00Z"},
		{"space form", "2026-12-01 09:00", berlin, "2026-12-01T08:00:00Z"},
		{"seconds", "2026-12-01T09:00:30", berlin, "2026-12-01T08:00:30Z"},
		{"space form with seconds", "2026-12-01 09:00:30", ny, "2026-12-01T14:00:30Z"},
		{"one-digit hour", "2026-12-01 9:05", time.UTC, "2026-12-01T09:05:00Z"},
		{"summer time", "2026-07-01T09:00", berlin, "2026-07-01T07:00:00Z"},
		{"offset wins over location", "2026-12-01T09:00:00+05:30", ny, "2026-12-01T03:30:00Z"},
		{"z wins over location", "2026-12-01T09:00:00Z", ny, "2026-12-01T09:00:00Z"},
		{"offset without seconds", "2026-12-01T09:00-03:00", berlin, "2026-12-01T12:00:00Z"},
		{"space form with offset", "2026-12-01 09:00+01:00", ny, "2026-12-01T08:00:00Z"},
		// 2026-11-01 01:30 happens twice in New York (EDT, then EST): the
		// first occurrence is taken.
		{"ambiguous fall-back time is the first", "2026-11-01T01:30", ny, "2026-11-01T05:30:00Z"},
		{"ambiguous in berlin", "2026-10-25T02:30", berlin, "2026-10-25T00:30:00Z"},
		{"just after the fall-back hour", "2026-11-01T02:00", ny, "2026-11-01T07:00:00Z"},
		{"just after the spring gap", "2026-03-08T03:00", ny, "2026-03-08T07:00:00Z"},
		{"just before the spring gap", "2026-03-08T01:59", ny, "2026-03-08T06:59:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveAt(tt.in, tt.loc)
			if err != nil {
				t.Fatalf("ResolveAt(%q): %v", tt.in, err)
			}
			if s := got.UTC().Format(time.RFC3339); s != tt.want {
				t.Errorf("ResolveAt(%q) = %s, want %s", tt.in, s, tt.want)
			}
		})
	}

	bad := []struct {
		name, in string
		loc      *time.Location
		want     string
	}{
		// 2026-03-08 02:30 does not exist in New York: clocks go 02:00 → 03:00.
		{"skipped spring-forward time", "2026-03-08T02:30", ny, "does not exist in America/New_York"},
		{"skipped in berlin", "2026-03-29 02:15", berlin, "does not exist in Europe/Berlin"},
		{"empty", "", time.UTC, "is not a date and time"},
		{"date only", "2026-12-01", time.UTC, "is not a date and time"},
		{"time only", "09:00", time.UTC, "is not a date and time"},
		{"month 13", "2026-13-01T09:00", time.UTC, "is not a date and time"},
		{"hour 25", "2026-12-01T25:00", time.UTC, "is not a date and time"},
		{"zone name", "2026-12-01T09:00 CET", time.UTC, "is not a date and time"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveAt(tt.in, tt.loc)
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("ResolveAt(%q) = %v, %v; want a *UsageError", tt.in, got, err)
			}
			if !strings.Contains(ue.Problem, tt.want) {
				t.Errorf("problem %q does not contain %q", ue.Problem, tt.want)
			}
		})
	}
}

func TestParseIn(t *testing.T) {
	good := []struct {
		in   string
		want time.Duration
	}{
		{"90m", 90 * time.Minute},
		{"2h", 2 * time.Hour},
		{"3d", 72 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"1w", 7 * 24 * time.Hour},
		{"1w2d3h4m", (9*24+3)*time.Hour + 4*time.Minute},
		{"2H", 2 * time.Hour},
		{" 5m ", 5 * time.Minute},
		{"120d", 120 * 24 * time.Hour},
		{"0d1m", time.Minute},
	}
	for _, tt := range good {
		got, err := ParseIn(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseIn(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	bad := []string{
		"", "3", "d", "3x", "3s", "1.5h", "-1h", "+1h", "1 h", "0m", "0d0h",
		"121d", "18w", "2881h", "172801m", "99999999999999999999d", "9223372036854775807m",
	}
	for _, in := range bad {
		got, err := ParseIn(in)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("ParseIn(%q) = %v, %v; want a *UsageError", in, got, err)
		}
	}
}

func TestCheckWhen(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		t    time.Time
		ok   bool
	}{
		{"a minute ahead", now.Add(time.Minute), true},
		{"exactly 120 days ahead", now.Add(maxAhead), true},
		{"now", now, false},
		{"past", now.Add(-time.Hour), false},
		{"past 120 days", now.Add(maxAhead + time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckWhen(tt.t, now)
			var ue *UsageError
			if tt.ok != (err == nil) || (err != nil && !errors.As(err, &ue)) {
				t.Fatalf("CheckWhen = %v, want ok = %v and a *UsageError otherwise", err, tt.ok)
			}
		})
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		testJID, testOldJID + " --no-goodbye", "https://chat.whatsapp.com/" + testCode,
		"<http://chat.whatsapp.com/" + testCode + "|chat.whatsapp.com/" + testCode + "> bye",
		`"Phoenix Team" Thanks all --in 3d`, "“Phoenix” --at 2026-12-01 09:00 bye",
		"'Bob's team' --at=2026-12-01T09:00:00+01:00", "Phoenix —no-goodbye", "help",
		"status req-42", "groups sales &amp; ops", `"unclosed`, "Phoenix --in 1w2d3h4m x",
		"Phoenix \"--no-goodbye\" --in 90m", "", "--at",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		cmd, err := ParseCommand(text)
		if err != nil {
			var ue *UsageError
			if !errors.As(err, &ue) || ue.Problem == "" {
				t.Fatalf("error %#v is not a *UsageError with a problem", err)
			}
			return
		}
		switch cmd.Kind {
		case CommandHelp, CommandStatus, CommandGroups, CommandHistory:
			if cmd.Group != (GroupRef{}) || cmd.Goodbye != "" || cmd.NoGoodbye || cmd.At != "" || cmd.In != 0 {
				t.Fatalf("%v command carries leave fields: %+v", cmd.Kind, cmd)
			}
			return
		case CommandLeave:
		default:
			t.Fatalf("unknown kind in %+v", cmd)
		}
		set := 0
		for _, s := range []string{cmd.Group.JID, cmd.Group.InviteCode, cmd.Group.Name} {
			if s != "" {
				set++
			}
		}
		if set != 1 {
			t.Fatalf("%d group fields set in %+v", set, cmd.Group)
		}
		if n := utf8.RuneCountInString(cmd.Goodbye); n > MaxGoodbyeLen {
			t.Fatalf("goodbye of %d characters accepted", n)
		}
		if cmd.Goodbye != "" && cmd.NoGoodbye {
			t.Fatal("goodbye together with --no-goodbye accepted")
		}
		if cmd.At != "" && cmd.In != 0 {
			t.Fatal("--at together with --in accepted")
		}
		if cmd.At != "" {
			if _, err := ResolveAt(cmd.At, time.UTC); err != nil {
				t.Fatalf("accepted --at %q that ResolveAt refuses: %v", cmd.At, err)
			}
		}
		if cmd.In < 0 || cmd.In > maxAhead {
			t.Fatalf("accepted --in %v", cmd.In)
		}
		// Writing the command out the canonical way must give it back.
		canon, ok := canonical(cmd)
		if !ok {
			return
		}
		again, err := ParseCommand(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q: %v", canon, text, err)
		}
		if !reflect.DeepEqual(again, cmd) {
			t.Fatalf("canonical form %q of %q\n got %+v\nwant %+v", canon, text, again, cmd)
		}
	})
}

// canonical writes cmd the way a careful user (via Slack's escaping) would:
// group, quoted goodbye, flags. ok is false when the text cannot be quoted.
func canonical(cmd Command) (string, bool) {
	var b strings.Builder
	switch {
	case cmd.Group.JID != "":
		b.WriteString(cmd.Group.JID)
	case cmd.Group.InviteCode != "":
		b.WriteString(whatsapp.InviteLink(cmd.Group.InviteCode))
	default:
		q, ok := quote(cmd.Group.Name)
		if !ok {
			return "", false
		}
		b.WriteString(q)
	}
	if cmd.Goodbye != "" {
		q, ok := quote(cmd.Goodbye)
		if !ok {
			return "", false
		}
		b.WriteString(" " + q)
	}
	if cmd.NoGoodbye {
		b.WriteString(" --no-goodbye")
	}
	if cmd.At != "" {
		b.WriteString(` --at "` + slackEscape(cmd.At) + `"`)
	}
	if cmd.In != 0 {
		fmt.Fprintf(&b, " --in %dm", cmd.In/time.Minute)
	}
	return b.String(), true
}

// quote wraps s in straight double or single quotes, whichever s cannot end
// early, after escaping it as Slack does.
func quote(s string) (string, bool) {
	closers := closingQuotes(s + " ")
	for family, q := range []string{`"`, `'`} {
		if len(closers[family]) == 0 {
			return q + slackEscape(s) + q, true
		}
	}
	return "", false
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// TestParseCommandLargeInput guards against tokenizing going quadratic on
// quotes that never close: a body can be up to 1 MiB, and this input took over
// a minute before closing quotes were found in one pass. It has no time
// assertion, so a regression shows up as the test timing out.
func TestParseCommandLargeInput(t *testing.T) {
	for _, text := range []string{
		strings.Repeat(`"a `, 100_000),
		"Phoenix " + strings.Repeat("‘b ", 100_000),
		"Phoenix " + strings.Repeat("--in 1m ", 50_000),
	} {
		if _, err := ParseCommand(text); err == nil {
			t.Errorf("ParseCommand of %d bytes succeeded, want an error", len(text))
		}
	}
}
