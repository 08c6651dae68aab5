package templates

import (
	"fmt"
	"strings"
)

// The texts about a bot's several WhatsApp numbers (WA_INSTANCES). A
// bot with one number never shows any of them.

// numberList names numbers for --from: "--from sales or --from support".
func numberList(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = "`--from " + Escape(n) + "`"
	}
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// WhichNumber asks the author of a command for a group that several of
// the bot's numbers are in which of them should leave it, rather than
// guessing.
func WhichNumber(names []string) string {
	return fmt.Sprintf(":raising_hand: Several of this bot's WhatsApp numbers are in that group (%s). Say which one leaves: run the command again with %s.",
		Escape(strings.Join(names, ", ")), numberList(names))
}

// NoNumberInGroup says that none of the bot's numbers is in the group,
// as their group lists (just refreshed) show, and what to do about it.
func NoNumberInGroup(names []string) string {
	return fmt.Sprintf(":grey_question: None of this bot's WhatsApp numbers (%s) is in that group, as their group lists show. "+
		"The lists were just refreshed; if a number joined the group moments ago, try again in a minute (`/wa-leave groups` shows the lists), or name the number with %s.",
		Escape(strings.Join(names, ", ")), numberList(names))
}

// UnknownNumber is the problem with a --from naming no number of the
// bot's (for BadCommand).
func UnknownNumber(name string, names []string) string {
	return fmt.Sprintf("no WhatsApp number is called %q; this bot's are %s", name, strings.Join(names, ", "))
}

// NumberSection heads one number's part of a list (/wa-leave groups,
// status) when the bot has several.
func NumberSection(name, text string) string {
	return "*WhatsApp number " + Escape(name) + "*\n" + text
}

// FromNumber is the line that names the number on an outcome reply,
// reminder or digest entry.
func FromNumber(name string) string {
	return "WhatsApp number: " + Escape(name)
}

// NotAllowedNumber refuses a request or confirmation that the global
// allow-lists allow but the number's own narrower ones do not.
func NotAllowedNumber(name string) string {
	prefix := "WA_" + strings.ToUpper(name) + "_"
	return ":no_entry: You are not allowed to use the WhatsApp number " + Escape(name) + " here. " +
		"Ask an admin to add your Slack user ID to `" + prefix + "ALLOWED_USERS`, " +
		"or use a channel listed in `" + prefix + "ALLOWED_CHANNELS`."
}
