package templates

import (
	"regexp"
	"strings"
	"unicode/utf16"
)

// mrkdwnEscaper is read-only after construction; strings.Replacer is safe
// for concurrent use, so sharing one is cheaper than building it per call.
var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Escape makes s safe to put in Slack mrkdwn: it replaces &, < and > with
// their entities, which is all Slack asks for. Without it a group name or
// goodbye such as "<!channel>" would ping everyone in the channel, and
// "<http://evil|bank>" would render as a disguised link. Other mrkdwn
// (*bold*, _italic_) is left alone: it can only change how text looks.
func Escape(s string) string {
	return mrkdwnEscaper.Replace(s)
}

// width is the length Slack's character limits are measured in. Counting
// UTF-16 code units errs on the safe side for emoji (two units each), which
// is how Slack's JavaScript-based validators count.
func width(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// ellipsis marks text cut short to fit a Block Kit limit.
const ellipsis = "…"

// clipPieces joins pieces, stopping before the piece that would make the
// result wider than limit and marking the cut with an ellipsis. Cutting
// only between pieces means an escape such as "&amp;" is never split in
// half (which would show a stray "&am" in Slack).
func clipPieces(pieces []string, limit int) string {
	total := 0
	for _, p := range pieces {
		total += width(p)
	}
	if total <= limit {
		return strings.Join(pieces, "")
	}
	var b strings.Builder
	w, room := 0, limit-width(ellipsis)
	for _, p := range pieces {
		pw := width(p)
		if w+pw > room {
			break
		}
		b.WriteString(p)
		w += pw
	}
	return strings.TrimRight(b.String(), " \n") + ellipsis
}

// escapeClip escapes s for mrkdwn and cuts the result to at most limit
// characters.
func escapeClip(s string, limit int) string {
	pieces := make([]string, 0, len(s))
	for _, r := range s {
		pieces = append(pieces, Escape(string(r)))
	}
	return clipPieces(pieces, limit)
}

// plainClip cuts s (for a plain_text object, which Slack shows literally,
// so it needs no escaping) to at most limit characters.
func plainClip(s string, limit int) string {
	pieces := make([]string, 0, len(s))
	for _, r := range s {
		pieces = append(pieces, string(r))
	}
	return clipPieces(pieces, limit)
}

// quote renders s as a mrkdwn block quote ("> " before every line),
// escaped and cut to at most limit characters.
func quote(s string, limit int) string {
	pieces := []string{"> "}
	for _, r := range s {
		switch r {
		case '\n':
			pieces = append(pieces, "\n> ")
		case '\r':
			// Slack shows a bare CR as nothing useful; CRLF becomes one break.
		default:
			pieces = append(pieces, Escape(string(r)))
		}
	}
	return clipPieces(pieces, limit)
}

// oneLine folds s onto a single line, for places (a quoted detail, a
// context element) where a line break would end the formatting early.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// slackUserID matches the IDs Slack gives users (U…) and Enterprise Grid
// users (W…).
var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)

// mention renders a Slack user ID as a mention. Anything that does not
// look like a user ID is shown escaped instead, so a bad value can never
// become a link or a broadcast.
func mention(id string) string {
	if slackUserID.MatchString(id) {
		return "<@" + id + ">"
	}
	return Escape(id)
}

// slackChannelID matches the IDs Slack gives channels: public (C…),
// private (G…) and direct (D…).
var slackChannelID = regexp.MustCompile(`^[CGD][A-Z0-9]{2,}$`)

// channelRef renders a Slack channel ID as a link to the channel, or
// escaped when it does not look like one (as mention does).
func channelRef(id string) string {
	if slackChannelID.MatchString(id) {
		return "<#" + id + ">"
	}
	return Escape(id)
}

// code renders s as inline code. Backticks would end the span early, so
// they become plain quotes.
func code(s string) string {
	return "`" + strings.ReplaceAll(Escape(oneLine(s)), "`", "'") + "`"
}

// sentence ends s with a full stop unless it already ends in punctuation,
// so parser messages ("no group given") read as sentences.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	switch s[len(s)-1] {
	case '.', '!', '?', ':':
		return s
	}
	return s + "."
}

// upperFirst capitalises the first letter of s (ASCII only: parser
// messages start with a lower-case English word or a quote).
func upperFirst(s string) string {
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		return string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
