package toolsrv

import "syscall"

// killIdle kills the pool's idle servers from outside, as the OOM killer
// or a user would.
func (p *Pool) killIdle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, list := range p.idle {
		for _, s := range list {
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			s.cmd.Wait()
			n++
		}
	}
	return n
}

// KillIdle is killIdle for the external tests.
func (p *Pool) KillIdle() int { return p.killIdle() }

// KillServer kills the server of a served run, and the run with it (its
// process group), as if the OOM killer took them mid-run.
func (r *Run) KillServer() {
	syscall.Kill(-r.srv.cmd.Process.Pid, syscall.SIGKILL)
}
