package tls

import (
	"context"
	"time"

	"github.com/caddyserver/certmagic"
)

// nameState is what the Manager knows of one name beyond certmagic's
// cache: whether it is managed, and its failures. Guarded by Manager.mu.
type nameState struct {
	managed bool
	cancel  context.CancelFunc // ends the managed name's obtain job

	failures  int       // consecutive failed issuances (obtain or renewal)
	since     time.Time // first of them
	lastError string
	next      time.Time // no attempt before this
	inFlight  bool      // a retry of the loop below is running
	warnedAt  time.Time
}

// retrySchedule is the back-off after the n-th consecutive failure, before
// the lifetime cap of retryDelay.
var retrySchedule = []time.Duration{
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
	20 * time.Minute, 30 * time.Minute, time.Hour,
}

// retryDelay is how long a name waits after its n-th consecutive failure
// before the CA is asked again. For a renewal it is at most a thirtieth of
// the certificate's lifetime (at least a second), so that retries keep up
// with short-lived certificates: after an outage of half a lifetime there
// is still time to renew. certmagic's own retries start at a minute and
// grow to six hours, which suits 90-day certificates only.
func retryDelay(failures int, lifetime time.Duration) time.Duration {
	d := retrySchedule[min(max(failures, 1), len(retrySchedule))-1]
	if lifetime > 0 {
		d = min(d, max(lifetime/30, time.Second))
	}
	return d
}

// stateLocked returns name's state, creating it.
func (m *Manager) stateLocked(name string) *nameState {
	st := m.names[name]
	if st == nil {
		st = &nameState{}
		m.names[name] = st
	}
	return st
}

// publishLocked rebuilds the snapshots that handshakes read.
func (m *Manager) publishLocked() {
	set := make(map[string]struct{})
	bo := make(map[string]time.Time)
	for n, st := range m.names {
		if st.managed {
			set[n] = struct{}{}
		}
		if st.failures > 0 {
			bo[n] = st.next
		}
	}
	m.managedSet.Store(&set)
	m.backoff.Store(&bo)
}

// The certmagic events the Manager follows; shouldEmit keeps the others
// (one per handshake among them) from being built at all.
const (
	evCached   = "cached_managed_cert"
	evObtained = "cert_obtained"
	evFailed   = "cert_failed"
)

func shouldEmit(event string) bool {
	return event == evCached || event == evObtained || event == evFailed
}

// onEvent is certmagic's event callback. It runs synchronously inside
// certmagic, so it only updates state.
func (m *Manager) onEvent(ctx context.Context, event string, data map[string]any) error {
	switch event {
	case evCached:
		sans, _ := data["sans"].([]string)
		m.mu.Lock()
		for _, n := range sans {
			m.stateLocked(n)
		}
		m.mu.Unlock()
	case evObtained:
		name, _ := data["identifier"].(string)
		renewal, _ := data["renewal"].(bool)
		m.mu.Lock()
		st := m.stateLocked(name)
		st.failures, st.since, st.lastError, st.next = 0, time.Time{}, "", time.Time{}
		m.publishLocked()
		m.mu.Unlock()
		msg := "certificate obtained"
		if renewal {
			msg = "certificate renewed"
		}
		m.log.Info(msg, "name", name, "issuer", m.issuerName)
	case evFailed:
		name, _ := data["identifier"].(string)
		renewal, _ := data["renewal"].(bool)
		err, _ := data["error"].(error)
		m.failed(name, renewal, err)
		// A handshake or a retry of this package makes one attempt: its
		// failure ends certmagic's retry loop at once (see stopOnFailure).
		if stop, ok := ctx.Value(stopKey{}).(context.CancelFunc); ok {
			stop()
		}
	}
	return nil
}

// failed records a failed issuance and schedules the next attempt.
func (m *Manager) failed(name string, renewal bool, err error) {
	now := time.Now()
	var lifetime time.Duration
	if c := m.newest(name); c != nil {
		lifetime = c.Leaf.NotAfter.Sub(c.Leaf.NotBefore)
	}
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	m.mu.Lock()
	st := m.stateLocked(name)
	if st.failures == 0 {
		st.since = now
	}
	st.failures++
	st.lastError = msg
	delay := retryDelay(st.failures, lifetime)
	st.next = now.Add(delay)
	failures := st.failures
	m.publishLocked()
	m.mu.Unlock()
	if renewal && m.metrics != nil {
		m.metrics.renewalFailures.WithLabelValues(name).Inc()
	}
	what := "certificate issuance failed"
	if renewal {
		what = "certificate renewal failed"
	}
	m.log.Warn(what, "name", name, "error", msg, "failures", failures, "retry_in", delay)
}

// stopKey holds, in an issuance's context, the cancel func that a failure
// calls.
type stopKey struct{}

// stopOnFailure makes the issuance run under ctx a single attempt: on
// failure onEvent cancels ctx, which ends certmagic's retry loop instead of
// leaving it to sleep a minute or more (inside a handshake, or for a retry
// this package schedules itself).
func stopOnFailure(ctx context.Context, cancel context.CancelFunc) context.Context {
	return context.WithValue(ctx, stopKey{}, cancel)
}

// run is the retry loop: on each tick it retries the managed names whose
// back-off is over and logs the warnings that are due. Ticks are injected
// so tests can drive it.
func (m *Manager) run(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticks:
			m.tick(ctx, now)
		}
	}
}

func (m *Manager) tick(ctx context.Context, now time.Time) {
	var due, failing []string
	m.mu.Lock()
	for n, st := range m.names {
		if st.failures == 0 {
			continue
		}
		failing = append(failing, n)
		if st.managed && !st.inFlight && !now.Before(st.next) {
			st.inFlight = true
			due = append(due, n)
		}
	}
	m.mu.Unlock()
	for _, n := range due {
		m.wg.Go(func() { m.retry(ctx, n) })
	}
	if len(failing) == 0 {
		return
	}
	for _, s := range m.Status(failing...) {
		if s.Warning == "" {
			continue
		}
		m.mu.Lock()
		st := m.stateLocked(s.Name)
		warn := now.Sub(st.warnedAt) >= m.tune.warnEvery
		if warn {
			st.warnedAt = now
		}
		m.mu.Unlock()
		if warn {
			m.log.Warn("certificate at risk", "name", s.Name, "not_after", s.NotAfter, "warning", s.Warning)
		}
	}
}

// retry makes one attempt to obtain or renew a managed name's certificate
// and puts the result in memory.
func (m *Manager) retry(ctx context.Context, name string) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	ctx = stopOnFailure(ctx, cancel)

	var err error
	old := m.newest(name) // expired or not
	if old == nil {
		// Obtaining is a no-op when storage has a certificate (perhaps an
		// expired one, which is then renewed below).
		if err = m.managed.ObtainCertAsync(ctx, name); err == nil {
			var c certmagic.Certificate
			if c, err = m.managed.CacheManagedCertificate(ctx, name); err == nil {
				old = &c
			}
		}
	}
	if err == nil && old.NeedsRenewal(m.managed) {
		if err = m.managed.RenewCertAsync(ctx, name, false); err == nil {
			var c certmagic.Certificate
			if c, err = m.managed.CacheManagedCertificate(ctx, name); err == nil && c.Hash() != old.Hash() {
				m.cache.Remove([]string{old.Hash()})
			}
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.stateLocked(name)
	st.inFlight = false
	switch {
	case err == nil:
		// Done, or done meanwhile by certmagic's own retry.
		st.failures, st.since, st.lastError, st.next = 0, time.Time{}, "", time.Time{}
		m.publishLocked()
	case st.failures > 0 && st.next.Before(start) && ctx.Err() == nil:
		// Failed before the issuer was asked (storage, lock): no event
		// scheduled the next attempt.
		st.failures++
		st.lastError = err.Error()
		st.next = time.Now().Add(retryDelay(st.failures, 0))
		m.publishLocked()
	}
}
