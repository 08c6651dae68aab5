// Command waleave is a Slack app that makes a WhatsApp gateway instance
// leave WhatsApp groups safely: /wa-leave asks, a button confirms, a
// durable job posts the goodbye and leaves, and the card's thread says how
// it went. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "waleave:", err)
		os.Exit(1)
	}
}
