// Package templates holds everything the bot says: the confirmation card
// (Block Kit), thread replies with the outcome of a leave, ephemeral
// replies, reminders and digests, and the goodbye texts posted to
// WhatsApp. Keeping the words in one package keeps them consistent and
// lets golden tests show exactly what users will see.
//
// Text that comes from users or gateways (group names, goodbye texts,
// parser messages) is escaped for Slack mrkdwn with Escape before it goes
// into a mrkdwn text, so it can never ping @channel or forge a link.
// plain_text objects (buttons, headers, dialogs, select options) are shown
// literally by Slack and are only clipped to Block Kit's limits.
package templates
