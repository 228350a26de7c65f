package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tmpfs mounts a tmpfs of size (mount's size= syntax, e.g. "512k") on a new temporary directory and returns it:
// a real disk that fills up. Needs root (skips or fails as Root says); unmounted at cleanup.
func Tmpfs(tb testing.TB, size string) string {
	tb.Helper()
	Root(tb, "mounting a tmpfs")
	dir := tb.TempDir()
	if out, err := exec.Command(Tool(tb, "mount", "apt-get install mount"), "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		tb.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	tb.Cleanup(func() { umount(tb, dir) })
	return dir
}

// Disk is an ext4 filesystem on a loop device that a test can freeze: while frozen, every write and fsync to it
// blocks in the kernel (uninterruptibly, even for SIGKILL) until it is thawed — a real hung disk. It thaws by
// itself after freezeLimit, whatever happened to the test.
type Disk struct {
	Dir string

	tb       testing.TB
	fsfreeze string
	mu       sync.Mutex
	frozen   bool
	watchdog *exec.Cmd
}

// freezeLimit is when a frozen disk thaws by itself. A test that dies while the disk is frozen (a panic, a test
// timeout) cannot thaw it, and its own process cannot exit while a write of its waits there: a separate process
// thaws it then.
const freezeLimit = 2 * time.Minute

// FreezableDisk makes a 32 MiB ext4 image, loop-mounts it on a new temporary directory and returns it. Needs root,
// mkfs.ext4 and fsfreeze; at cleanup the disk is thawed and unmounted.
func FreezableDisk(tb testing.TB) *Disk {
	tb.Helper()
	Root(tb, "a loop-mounted filesystem")
	mkfs := Tool(tb, "mkfs.ext4", "apt-get install e2fsprogs")
	d := &Disk{tb: tb, fsfreeze: Tool(tb, "fsfreeze", "apt-get install util-linux")}
	img := filepath.Join(tb.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		tb.Fatal(err)
	}
	if out, err := exec.Command(mkfs, "-q", "-F", img).CombinedOutput(); err != nil {
		tb.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	d.Dir = tb.TempDir()
	if out, err := exec.Command(Tool(tb, "mount", "apt-get install mount"), "-o", "loop", img, d.Dir).CombinedOutput(); err != nil {
		tb.Fatalf("mount the disk image (loop devices available?): %v: %s", err, out)
	}
	tb.Cleanup(func() {
		d.Thaw()
		umount(tb, d.Dir)
	})
	return d
}

// Freeze makes every later write to the disk block until Thaw.
func (d *Disk) Freeze() {
	d.tb.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.watchdog = exec.Command("sh", "-c", fmt.Sprintf("sleep %d; exec %s --unfreeze %s", int(freezeLimit.Seconds()), d.fsfreeze, d.Dir))
	// Its own process group: the test's death or a Ctrl-C to the test must not take the watchdog with it.
	d.watchdog.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.watchdog.Start(); err != nil {
		d.tb.Fatalf("start the thaw watchdog: %v", err)
	}
	if out, err := exec.Command(d.fsfreeze, "--freeze", d.Dir).CombinedOutput(); err != nil {
		d.stopWatchdog()
		d.tb.Fatalf("fsfreeze --freeze: %v: %s", err, out)
	}
	d.frozen = true
}

func (d *Disk) stopWatchdog() {
	if d.watchdog != nil {
		_ = syscall.Kill(-d.watchdog.Process.Pid, syscall.SIGKILL) // sh and its sleep
		_ = d.watchdog.Wait()
		d.watchdog = nil
	}
}

// Thaw lets blocked writes finish. Safe to call when not frozen.
func (d *Disk) Thaw() {
	d.tb.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.frozen {
		return
	}
	d.stopWatchdog()
	if out, err := exec.Command(d.fsfreeze, "--unfreeze", d.Dir).CombinedOutput(); err != nil {
		d.tb.Errorf("fsfreeze --unfreeze: %v: %s", err, out)
	}
	d.frozen = false
}

func umount(tb testing.TB, dir string) {
	// Lazy: a process of the test may still hold a file there; the mount goes once it lets go.
	if out, err := exec.Command("umount", "--lazy", dir).CombinedOutput(); err != nil && !strings.Contains(string(out), "not mounted") {
		tb.Errorf("umount %s: %v: %s", dir, err, out)
	}
}
