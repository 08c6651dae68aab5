// Package bot is the Slack side of waleave: request verification, the command
// grammar, cards, interactions, authorization, and the HTTP and Socket Mode
// transports.
package bot
