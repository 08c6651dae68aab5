package templates

import (
	"strings"

	"github.com/slack-go/slack"
)

// The request form's identifiers (SPEC §10). The callback and shortcut IDs
// are part of the manifest; the block and action IDs are how a submission
// and a response_action: errors name the fields.
const (
	// CallbackRequest is the request form's callback ID.
	CallbackRequest = "wa_leave_request"
	// ShortcutNew is the global shortcut that opens the form.
	ShortcutNew = "wa_leave_new"
	// ActionOpenForm is the Home tab's button that opens the form.
	ActionOpenForm = "wa_leave_open_form"

	BlockGroup     = "group"
	BlockNumber    = "number"
	BlockGoodbye   = "goodbye"
	BlockWhen      = "when"
	BlockChannel   = "channel"
	BlockSuccessor = "successor"

	ActionFormGroup     = "form_group"
	ActionFormNumber    = "form_number"
	ActionFormGoodbye   = "form_goodbye"
	ActionFormWhen      = "form_when"
	ActionFormChannel   = "form_channel"
	ActionFormSuccessor = "form_successor"
)

// GroupOption is one group offered by the form's group picker.
type GroupOption struct{ JID, Subject string }

// option is a group as the picker shows it: its subject, or its JID when
// it has none. Values longer than Slack allows are left out by the caller.
func (g GroupOption) option() *slack.OptionBlockObject {
	label := oneLine(g.Subject)
	if label == "" {
		label = g.JID
	}
	return slack.NewOptionBlockObject(g.JID, plain(plainClip(label, maxOptionText)), nil)
}

// GroupOptions is the answer to a block_suggestion: at most Slack's 100
// options, in the order given, skipping any whose JID Slack would refuse
// as a value (one bad option makes Slack show none).
func GroupOptions(groups []GroupOption) Options {
	opts := make([]*slack.OptionBlockObject, 0, min(len(groups), maxOptions))
	for _, g := range groups {
		if len(opts) == maxOptions {
			break
		}
		if g.JID == "" || width(g.JID) > maxOptionValue {
			continue
		}
		opts = append(opts, g.option())
	}
	return Options{Options: opts}
}

// Options is a block_suggestion answer. Unlike slack.OptionsResponse it
// sends an empty list as [], which Slack shows as "no results", rather
// than dropping the field.
type Options struct {
	Options []*slack.OptionBlockObject `json:"options"`
}

// Form is what the request form shows.
type Form struct {
	// Metadata is the view's private_metadata, opaque here.
	Metadata string
	// AskChannel adds a channel picker: the form was opened from a
	// shortcut, which comes from no channel.
	AskChannel bool
	// DefaultGoodbye pre-fills the goodbye.
	DefaultGoodbye string
	// GoodbyeAction is the goodbye field's action ID ("" is
	// ActionFormGoodbye); see OtherGoodbyeAction.
	GoodbyeAction string
	// Numbers are the WhatsApp numbers the bot serves, by name; the
	// number field appears only when there is more than one.
	Numbers []string
	// Groups are the groups picked so far.
	Groups []GroupOption
	// MaxGroups is how many groups may be picked (WALEAVE_BULK_MAX);
	// several make one bulk request (SPEC §9). 0 is 1.
	MaxGroups int
	// Successors, when not empty, are the participants to choose a new
	// admin from: the picked group's only admin is the bot's number.
	Successors []Participant
}

// RequestForm is the request form as a modal (views.open and
// views.update). Blocks keep their IDs between versions so that Slack
// keeps what the user entered when the form is updated.
func RequestForm(f Form) slack.ModalViewRequest {
	// A multi_external_select: one group is a leave as the command's,
	// several one bulk request.
	picker := slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeExternal, plain("Search by name or id…"), ActionFormGroup)
	zero := 0
	picker.MinQueryLength = &zero
	picker.MaxSelectedItems = &f.MaxGroups
	if f.MaxGroups < 1 {
		one := 1
		picker.MaxSelectedItems = &one
	}
	for _, g := range f.Groups {
		picker.InitialOptions = append(picker.InitialOptions, g.option())
	}
	group := slack.NewInputBlock(BlockGroup, plain("WhatsApp groups"), plain("Type part of a group's name, or its id (…@g.us). Several groups make one bulk request."), picker)
	// Picking a group sends block_actions at once, so the form can ask
	// for a successor when the number is the group's only admin.
	group.DispatchAction = true
	blocks := []slack.Block{group}

	if len(f.Numbers) > 1 {
		opts := make([]*slack.OptionBlockObject, 0, len(f.Numbers))
		for _, n := range f.Numbers {
			opts = append(opts, slack.NewOptionBlockObject(n, plain(plainClip(n, maxOptionText)), nil))
		}
		sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Which number leaves"), ActionFormNumber, opts...)
		blocks = append(blocks, slack.NewInputBlock(BlockNumber, plain("Number"), nil, sel))
	}
	if len(f.Successors) > 0 {
		sel := successorOptions(f.Successors, ActionFormSuccessor)
		blocks = append(blocks, slack.NewInputBlock(BlockSuccessor, plain("New admin"),
			plain("The number is this group's only admin: choose who is made admin before it leaves."), sel))
	}

	goodbyeAction := f.GoodbyeAction
	if goodbyeAction == "" {
		goodbyeAction = ActionFormGoodbye
	}
	goodbye := slack.NewPlainTextInputBlockElement(plain("Posted in the group just before leaving"), goodbyeAction)
	goodbye.Multiline = true
	goodbye.MaxLength = maxGoodbyeInput
	goodbye.InitialValue = f.DefaultGoodbye
	gb := slack.NewInputBlock(BlockGoodbye, plain("Goodbye message"), plain("Leave it empty to leave without a word."), goodbye)
	gb.Optional = true
	blocks = append(blocks, gb)

	when := slack.NewInputBlock(BlockWhen, plain("Leave at"), plain("Empty: as soon as someone confirms."), slack.NewDateTimePickerBlockElement(ActionFormWhen))
	when.Optional = true
	blocks = append(blocks, when)

	if f.AskChannel {
		ch := slack.NewOptionsSelectBlockElement(slack.OptTypeConversations, plain("Where the card is posted"), ActionFormChannel)
		ch.Filter = &slack.SelectBlockElementFilter{Include: []string{"public", "private"}, ExcludeBotUsers: true}
		blocks = append(blocks, slack.NewInputBlock(BlockChannel, plain("Channel"), plain("The confirmation card is posted there."), ch))
	}
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      CallbackRequest,
		Title:           plain("Leave a WhatsApp group"),
		Submit:          plain("Ask to leave"),
		Close:           plain("Cancel"),
		Blocks:          slack.Blocks{BlockSet: blocks},
		PrivateMetadata: f.Metadata,
	}
}

// OtherGoodbyeAction is the goodbye field's other action ID. Slack keeps
// what a field holds across views.update while its block and action IDs
// stay the same; switching between two action IDs makes it take a new
// pre-filled text instead.
func OtherGoodbyeAction(current string) string {
	if current == ActionFormGoodbye+"_2" {
		return ActionFormGoodbye
	}
	return ActionFormGoodbye + "_2"
}

// maxGoodbyeInput is the goodbye field's limit: the command's own
// (bot.MaxGoodbyeLen), so the field stops the user where the command
// would refuse.
const maxGoodbyeInput = 1000

// successorOptions is the select of participants to make admin.
func successorOptions(ps []Participant, actionID string) *slack.SelectBlockElement {
	opts := make([]*slack.OptionBlockObject, 0, min(len(ps), maxOptions))
	for _, p := range ps {
		if len(opts) == maxOptions {
			break
		}
		if p.JID == "" || width(p.JID) > maxOptionValue {
			continue
		}
		opts = append(opts, slack.NewOptionBlockObject(p.JID, plain(plainClip(participantLabel(p), maxOptionText)), nil))
	}
	return slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Make admin first…"), actionID, opts...)
}

// FormErrors is the answer to a form submission with problems: each
// shown under its field (block ID). Problems are plain text from the
// command's checks; Slack shows them as plain text.
func FormErrors(problems map[string]string) slack.ViewSubmissionResponse {
	errs := make(map[string]string, len(problems))
	for block, p := range problems {
		errs[block] = plainClip(upperFirst(sentence(oneLine(p))), 150)
	}
	return *slack.NewErrorsViewSubmissionResponse(errs)
}

// FormUnavailable answers /wa-leave with no argument when Slack did not
// open the form.
func FormUnavailable() string {
	return "The request form could not be opened just now. Try again, or type the request: " + Usage()
}

// unescaper undoes Escape.
var unescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// Unescape turns escaped mrkdwn text back into what it shows, for places
// Slack shows as plain text (a form field's error).
func Unescape(s string) string { return unescaper.Replace(s) }
