package campaign

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// detach puts cmd in a process group of its own (so that the fuzzer's
// workers are stopped with it) and has the kernel kill it when the
// campaign dies, even by SIGKILL.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) {
	if pid > 0 {
		_ = syscall.Kill(-pid, sig)
	}
}

// killStale kills the process group of pid when pid still runs the
// program at binary (a fuzzer left by a campaign that was killed), and
// reports whether it did.
func killStale(pid int, binary string) bool {
	if pid <= 0 {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || !strings.HasPrefix(string(cmdline), binary+"\x00") {
		return false
	}
	signalGroup(pid, syscall.SIGKILL)
	return true
}
