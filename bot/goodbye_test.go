package bot

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/waleave/waleave/templates"
)

// A goodbye with a character that could make the group read something
// other than what the card showed (a right-to-left override, say) or that
// is not text is refused before anything is looked up or recorded, with a
// reply naming the character. Ordinary writing (emoji with joiners,
// right-to-left text with its marks, line breaks) passes.
func TestCommand_GoodbyeWithControlCharactersIsRefused(t *testing.T) {
	for _, bad := range []struct {
		goodbye string
		r       rune
	}{
		{"Thanks all \u202Eevil\u202C", '\u202E'},
		{"Bye \u2066friends\u2069", '\u2066'},
		{"Bye\x1b[2Jall", '\x1b'},
		{"Bye\u200Ball", '\u200B'},
	} {
		tb := newTestBot(t, Options{})
		msg := tb.command("120363406289005073@g.us " + bad.goodbye)
		require.Equal(t, templates.BadGoodbye(bad.r), msg.Text, "%q", bad.goodbye)
		require.Empty(t, tb.requests(t), "%q", bad.goodbye)
	}
	tb := newTestBot(t, Options{})
	for _, good := range []string{"Thanks all 👩\u200D💻, bye!", "شكرا\u200F لكم", "Bye\nall\tof you"} {
		msg := tb.command("120363406289005073@g.us \"" + good + "\"")
		require.Contains(t, msg.Text, "recorded", "%q", good)
	}
	require.Len(t, tb.requests(t), 3)
}
