package exec

import "sync"

// pool keeps idle values for reuse: the engines a Runner keeps between
// unicorn runs, the Wasm linear memories. The zero pool is empty.
type pool[T any] struct {
	mu   sync.Mutex
	idle []T
}

// take removes and returns the most recently put value that fits (any
// value when fits is nil).
func (p *pool[T]) take(fits func(T) bool) (T, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.idle) - 1; i >= 0; i-- {
		if v := p.idle[i]; fits == nil || fits(v) {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			return v, true
		}
	}
	var zero T
	return zero, false
}

// put keeps v unless max values are idle already; it reports false then,
// and the caller releases v.
func (p *pool[T]) put(v T, max int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= max {
		return false
	}
	p.idle = append(p.idle, v)
	return true
}

// drain removes and returns every idle value.
func (p *pool[T]) drain() []T {
	p.mu.Lock()
	defer p.mu.Unlock()
	idle := p.idle
	p.idle = nil
	return idle
}
