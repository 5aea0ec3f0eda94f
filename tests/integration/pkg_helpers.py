"""Helpers for the Debian package tests (test_packages*.py): building the
packages from a copy of the source tree, a Debian root made with mmdebstrap
(cached as a tarball under the build directory), and running programs inside
such a root the way their systemd unit would (chroot, the unit's user, its
environment), with /proc mounted in a private mount namespace so nothing
leaks into the host when a test dies.
"""

import glob
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import harness

SUITE = "bookworm"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class PkgError(Exception):
    pass


def work_dir():
    d = os.path.join(harness.builddir(), "pkgtest")
    os.makedirs(d, exist_ok=True)
    return d


def copy_source(dest):
    """The source tree as a clean clone has it, plus uncommitted and
    untracked (not ignored) files, so the test packages what is checked out."""
    src = harness.srcdir()
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    if os.path.isdir(os.path.join(src, ".git")) or os.path.isfile(os.path.join(src, ".git")):
        files = subprocess.run(["git", "-C", src, "ls-files", "-co", "--exclude-standard", "-z"],
                               check=True, capture_output=True).stdout.split(b"\0")
        for f in files:
            f = f.decode()
            if not f or not os.path.lexists(os.path.join(src, f)):
                continue
            os.makedirs(os.path.join(dest, os.path.dirname(f)), exist_ok=True)
            shutil.copy2(os.path.join(src, f), os.path.join(dest, f), follow_symlinks=False)
    else:
        shutil.copytree(src, dest, dirs_exist_ok=True, symlinks=True,
                        ignore=shutil.ignore_patterns("_build", ".quickstart", "*.o", "*.lo"))


def export_commit(commit, dest):
    """The tree of `commit` of the source's git repository (an earlier
    release, for the upgrade test), as git archive has it."""
    src = harness.srcdir()
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    p = subprocess.run(["git", "-C", src, "cat-file", "-e", commit + "^{commit}"], capture_output=True, text=True)
    if p.returncode != 0:
        raise PkgError("commit %s is not in the repository at %s (%s): the upgrade test builds the previous "
                       "release from it; run it from a full clone (not a shallow one or an unpacked tarball)"
                       % (commit, src, p.stderr.strip() or "no git repository"))
    archive = subprocess.run(["git", "-C", src, "archive", "--format=tar", commit], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)


def set_version(srcdir, version):
    """Puts a changelog entry for `version` on top of debian/changelog."""
    path = os.path.join(srcdir, "debian", "changelog")
    old = open(path).read()
    m = re.search(r"^ -- (.+?)  (.+)$", old, re.M)
    entry = ("rolloutd (%s) unstable; urgency=medium\n\n  * Built by the package test.\n\n -- %s  %s\n\n"
             % (version, m.group(1), m.group(2)))
    with open(path, "w") as f:
        f.write(entry + old)


def built(top):
    debs = {}
    for deb in glob.glob(os.path.join(top, "*.deb")):
        pkg = os.path.basename(deb).split("_")[0]
        if not pkg.endswith("-dbgsym"):
            debs[pkg] = deb
    changes = glob.glob(os.path.join(top, "*.changes"))
    return debs, changes[0]


def build_packages(name, version=None, commit=None, quick=False):
    """dpkg-buildpackage -us -uc -b in a fresh copy of the source (of the
    working tree, or of `commit`); returns {package: path of its .deb}
    (dbgsym packages left out) and the .changes. A commit's packages are
    kept under the build directory and reused: they cannot change. quick:
    without optimisation or debug symbol packages (DEB_BUILD_OPTIONS noopt
    noddebs), for packages that are only installed and run, not linted."""
    top = os.path.join(work_dir(), name)
    stamp = os.path.join(top, "built-from")
    key = "%s %s%s" % (commit, version, " quick" if quick else "")
    if commit and os.path.exists(stamp) and open(stamp).read() == key:
        return built(top)
    shutil.rmtree(top, ignore_errors=True)
    src = os.path.join(top, "rolloutd")
    if commit:
        export_commit(commit, src)
    else:
        copy_source(src)
    if version:
        set_version(src, version)
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck%s parallel=%d"
               % (" noopt noddebs" if quick else "", min(os.cpu_count() or 2, 4)))
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(k, None)
    log = os.path.join(top, "build.log")
    with open(log, "w") as f:
        p = subprocess.run(["nice", "dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env, stdout=f,
                           stderr=subprocess.STDOUT, timeout=900)
    if p.returncode != 0:
        raise PkgError("dpkg-buildpackage failed (exit %d); last lines of %s:\n%s"
                       % (p.returncode, log, "".join(open(log).readlines()[-30:])))
    shutil.rmtree(src, ignore_errors=True)
    if commit:
        with open(stamp, "w") as f:
            f.write(key)
    return built(top)


def deb_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", deb, field], check=True, capture_output=True,
                          text=True).stdout.strip()


def runtime_deps(debs):
    """Names of the packages the built ones depend on (first alternative),
    minus our own: what the clean root needs before dpkg -i."""
    ours = set(debs)
    names = set()
    for deb in debs.values():
        for dep in deb_field(deb, "Depends").split(","):
            n = dep.split("|")[0].split("(")[0].strip()
            if n and n not in ours:
                names.add(n)
    return sorted(names)


def base_tarball(include):
    """A minbase Debian root with `include`, made by mmdebstrap from the
    Debian archive once and kept under the build directory (keyed by the
    package list) for later runs."""
    key = hashlib.sha256((SUITE + " " + ",".join(include)).encode()).hexdigest()[:16]
    path = os.path.join(work_dir(), "base-%s-%s.tar" % (SUITE, key))
    if os.path.exists(path):
        return path
    for old in glob.glob(os.path.join(work_dir(), "base-*.tar")):
        os.unlink(old)
    tmp = path + ".part"
    log = path + ".log"
    with open(log, "w") as f:
        p = subprocess.run(["mmdebstrap", "--variant=minbase", "--format=tar", "--include=" + ",".join(include), SUITE, tmp],
                           stdout=f, stderr=subprocess.STDOUT, timeout=900)
    if p.returncode != 0:
        raise PkgError("mmdebstrap failed (exit %d); see %s:\n%s"
                       % (p.returncode, log, "".join(open(log).readlines()[-20:])))
    os.rename(tmp, path)
    return path


def make_root(tarball, path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    subprocess.run(["tar", "-C", path, "-xf", tarball], check=True)
    return path


def snapshot(root):
    """Every path in the root except the volatile ones the test itself uses."""
    out = set()
    skip = ("/proc", "/dev", "/run", "/tmp", "/var/tmp", "/sys")
    for dirpath, dirnames, filenames in os.walk(root):
        rel = dirpath[len(root):] or "/"
        if rel.startswith(skip):
            dirnames[:] = []
            continue
        for n in dirnames + filenames:
            out.add(os.path.join(rel, n))
    return out


def _wrap(root, argv, user=None):
    """argv run inside `root` with a private /proc, as `user` (setpriv, with
    that user's groups) when given."""
    inner = list(argv)
    if user:
        inner = ["setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups", "--"] + inner
    return ["unshare", "--mount", "--fork", "--", "sh", "-c",
            'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"', root] + inner


def run(root, argv, user=None, env=None, check=True, timeout=120, input=None):
    e = {"PATH": PATH, "LANG": "C.UTF-8", "HOME": "/root"}
    e.update(env or {})
    p = subprocess.run(_wrap(root, argv, user), env=e, capture_output=True, text=True, timeout=timeout,
                       input=input)
    if check and p.returncode != 0:
        raise PkgError("in %s: %s: exit %d\nstdout:\n%s\nstderr:\n%s"
                       % (root, " ".join(argv), p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def unit(root, name):
    """The [Service] settings of an installed unit: {key: [values]}."""
    path = os.path.join(root, "lib/systemd/system", name)
    out, section = {}, None
    for line in open(path):
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line
            continue
        k, _, v = line.partition("=")
        out.setdefault((section, k), []).append(v)
    return out


def seconds(v):
    m = re.fullmatch(r"(\d+)(s|min|ms)?", v.strip())
    n = int(m.group(1))
    return {"ms": n / 1000.0, "min": n * 60.0}.get(m.group(2), float(n))


class Service:
    """A program started from an installed unit's ExecStart (ExecStartPre run
    first) as the unit's User=, with the environment systemd would give a
    Type=notify service with WatchdogSec= (NOTIFY_SOCKET, WATCHDOG_USEC) and
    the unit's UMask=. Messages sent to the notify socket are in .notes."""

    def __init__(self, root, unit_name, log_path, watchdog_usec=None):
        self.root, self.name, self.log_path = root, unit_name, log_path
        self.u = unit(root, unit_name)
        self.user = self.u.get(("[Service]", "User"), [None])[0]
        self.watchdog_usec = watchdog_usec
        self.proc = None
        self.notes = []
        self.sock = None

    def get(self, key, default=None):
        return self.u.get(("[Service]", key), [default])[-1]

    def start(self, ready_timeout=30.0):
        env = {"PATH": PATH, "LANG": "C.UTF-8"}
        if self.get("Type") == "notify":
            sp = os.path.join(self.root, "run", "pkgtest-notify.sock")
            if os.path.exists(sp):
                os.unlink(sp)
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(sp)
            os.chmod(sp, 0o777)
            self.sock.settimeout(0.5)
            env["NOTIFY_SOCKET"] = "/run/pkgtest-notify.sock"
            if self.watchdog_usec:
                env["WATCHDOG_USEC"] = str(self.watchdog_usec)
        umask = int(self.get("UMask", "0022"), 8)
        for pre in self.u.get(("[Service]", "ExecStartPre"), []):
            p = subprocess.run(_wrap(self.root, pre.split(), self.user), env=env, capture_output=True, text=True,
                               umask=umask, timeout=60)
            if p.returncode != 0:
                raise PkgError("%s ExecStartPre=%s: exit %d\n%s%s" % (self.name, pre, p.returncode, p.stdout,
                                                                     p.stderr))
        cmd = self.get("ExecStart").split()
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(_wrap(self.root, cmd, self.user), env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT, umask=umask)
        if self.sock:
            self.wait_note("READY=1", ready_timeout)
        return self

    def wait_note(self, what, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(what in n for n in self.notes):
                return
            if self.proc.poll() is not None:
                raise PkgError("%s exited with %s before %s; log:\n%s" % (self.name, self.proc.returncode, what,
                                                                        self.log_tail()))
            try:
                self.notes.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass
        raise PkgError("%s: no %s on NOTIFY_SOCKET within %.0f s; log:\n%s" % (self.name, what, timeout,
                                                                            self.log_tail()))

    def main_pid(self):
        """The program's pid: unshare's child (sh exec'd chroot, setpriv, it)."""
        with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
            kids = f.read().split()
        return int(kids[0]) if kids else None

    def stop(self, timeout=None):
        """SIGTERM to the main process only (what systemd does first, and all
        it does with KillMode=process); returns its exit status."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        pid = self.main_pid()
        if pid:
            os.kill(pid, signal.SIGTERM)
        t = timeout or seconds(self.get("TimeoutStopSec", "90s"))
        try:
            return self.proc.wait(timeout=t)
        except subprocess.TimeoutExpired:
            self.kill()
            raise PkgError("%s did not stop within TimeoutStopSec=%s; log:\n%s" % (self.name, t, self.log_tail()))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            pid = self.main_pid()
            if pid:
                os.kill(pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        if self.sock:
            self.sock.close()
            self.sock = None

    def log_tail(self, n=40):
        try:
            return "".join(open(self.log_path, errors="replace").readlines()[-n:])
        except OSError:
            return ""
