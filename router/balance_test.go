package router

import (
	"sync"
	"sync/atomic"
	"testing"
)

func backends(loads ...int64) []*backend {
	bs := make([]*backend, len(loads))
	for i, l := range loads {
		bs[i] = &backend{addr: string(rune('a' + i)), inst: &instance{}}
		bs[i].inst.inflight.Store(l)
	}
	return bs
}

// seq returns a rnd that yields the given draws in turn.
func seq(draws ...int) func(int) int {
	i := 0
	return func(n int) int {
		d := draws[i%len(draws)] % n
		i++
		return d
	}
}

func TestPickBackend(t *testing.T) {
	for _, c := range []struct {
		name    string
		loads   []int64
		limit   int64
		draws   []int
		exclude string
		want    string // "" for none
	}{
		{"none", nil, 10, []int{0}, "", ""},
		{"single free", []int64{3}, 10, []int{0}, "", "a"},
		{"single full", []int64{10}, 10, []int{0}, "", ""},
		{"less loaded of the two", []int64{5, 1, 0}, 10, []int{0, 0}, "", "b"},
		// draws 2 then 0 → second index 0 (below 2, kept): c vs a.
		{"less loaded of the two, other order", []int64{5, 1, 0}, 10, []int{2, 0}, "", "c"},
		{"first full, second free", []int64{10, 9, 10}, 10, []int{0, 0}, "", "b"},
		{"both full, scan finds the third", []int64{10, 10, 3}, 10, []int{0, 0, 0}, "", "c"},
		{"all full", []int64{10, 10, 10}, 10, []int{0, 0, 0}, "", ""},
		{"excluded skipped", []int64{0, 5}, 10, []int{0, 0}, "a", "b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bs := backends(c.loads...)
			var ex func(string) bool
			if c.exclude != "" {
				ex = func(a string) bool { return a == c.exclude }
			}
			got := pickBackend(bs, c.limit, seq(c.draws...), ex)
			switch {
			case c.want == "" && got != nil:
				t.Fatalf("got %s, want none", got.addr)
			case c.want != "" && (got == nil || got.addr != c.want):
				t.Fatalf("got %v, want %s", got, c.want)
			case got != nil:
				for i, b := range bs {
					want := c.loads[i]
					if b == got {
						want++
					}
					if b.inst.inflight.Load() != want {
						t.Errorf("%s in flight = %d, want %d", b.addr, b.inst.inflight.Load(), want)
					}
				}
			}
		})
	}
}

func TestPickBackendFailedRanksLower(t *testing.T) {
	bs := backends(0, 5)
	bs[0].inst.failures.Store(1)
	if got := pickBackend(bs, 10, seq(0, 0), nil); got != bs[1] {
		t.Fatalf("picked %s, want the instance without failures", got.addr)
	}
}

// The per-instance limit holds under any number of concurrent pickers.
func TestPickBackendHardLimit(t *testing.T) {
	bs := backends(0, 0, 0)
	var got atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if pickBackend(bs, 5, func(n int) int { return 0 }, nil) != nil {
				got.Add(1)
			}
		})
	}
	wg.Wait()
	if got.Load() != 15 {
		t.Fatalf("%d slots taken, want 15 (3 instances × 5)", got.Load())
	}
	for _, b := range bs {
		if b.inst.inflight.Load() != 5 {
			t.Errorf("%s in flight = %d, want 5", b.addr, b.inst.inflight.Load())
		}
	}
}
