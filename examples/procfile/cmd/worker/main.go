// Command worker is the background process of apprun's Procfile example:
// it logs a line every few seconds until SIGTERM.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	every := 3 * time.Second
	if d, err := time.ParseDuration(os.Getenv("WORKER_INTERVAL")); err == nil && d > 0 {
		every = d
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	log.Print("worker: started")
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			log.Print("worker: stopped")
			return
		case <-tick.C:
			log.Printf("worker: tick %d", n)
		}
	}
}
