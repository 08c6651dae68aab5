package templates

import (
	"github.com/slack-go/slack"

	"github.com/waleave/waleave/leave"
)

// dryRunMark is the words every dry-run message carries, so that nobody
// mistakes a rehearsal for a group really left.
const dryRunMark = "Dry run"

// DryRunNote says, under a message, that WA_PROVIDER=dryrun sends
// nothing to WhatsApp. The bot adds it to the thread reply and to the
// answer to /wa-leave; the card carries it as its own block (see
// CardBlocks).
func DryRunNote() string {
	return ":test_tube: _" + dryRunMark + ": nothing is sent to WhatsApp (`WA_PROVIDER=dryrun`)._"
}

// DryRun adds DryRunNote to a message's text, on a line of its own.
func DryRun(text string) string {
	return text + "\n" + DryRunNote()
}

// dryRunBlock is the card's dry-run note, right under its header.
func dryRunBlock(st leave.State) slack.Block {
	return slack.NewContextBlock(blockID(blockDryRun, st), mrkdwn(DryRunNote()))
}
