// Package bot is the Slack side of waleave: request verification, the command
// grammar, cards, interactions, authorization, and the HTTP and Socket Mode
// transports.
//
// The files follow a request through the bot, one step to a file:
//
//   - routes.go: the HTTP routes (socket.go: the same over Socket Mode).
//   - verify.go: the Slack signature check that wraps every Slack route;
//     payload.go decodes an interaction's body.
//   - command.go: the slash command, from its text (parsed by grammar.go)
//     to the recorded request and the ephemeral answer; directory.go
//     resolves a group's name, numbers.go the number it is sent from.
//   - click.go: every interaction's dispatch (Interact) and every button's
//     case (confirm, cancel, pick a group, choose a successor); a confirm
//     commits the state change and the leave job together.
//   - leave.go: the whole leave job (River's worker): prepare (details,
//     invite link, the successor's promotion), goodbye, leave, verify by
//     looking the group up, and the outcome. details.go is the cache of
//     group details it and the card share.
//   - outbox.go: the poster that sends cards and outcome replies owed to
//     Slack, woken by the store after every change that owes one.
//
// bulk.go is /wa-leave bulk: one request (the parent) whose groups are
// requests of their own (children), each carried out by the leave job
// like any other; the outbox draws the parent's card and summary.
// stale.go is bulk --stale: the durable scan of each group's last message
// that ends in a bulk card. grouplist.go paces a number's bulk groups
// (a few seconds' worth of the gateway's rate at once) and shares one
// group list among the groups whose leave it verifies.
//
// Beside the flow: form.go (the request form), home.go (the App Home),
// sweep.go (reminders, expiry, digest), followup.go (work after an ack),
// auth.go (who may do what; each delivery handled once), bot.go
// (construction, Start and Stop), replicas.go, retention.go, logs.go and
// metrics.go.
//
// Each file that uses the store declares the interface it needs of it
// (command.go's commandStore, outbox.go's outboxStore, …), picked from
// the store's concerns (store.Requests, Outbox, Directory, Jobs, Scans); New
// takes the store.DB once and gives every file its view (useStore).
package bot
