"""The official AWS CodeDeploy agent (Ruby) run from its own source against a rolloutd.

Shared by tests/integration/test_official_agent_tls.py and bench/agent-compare;
no pytest here: a caller turns missing() into a skip.

The agent's source is taken from a checkout named by CODEDEPLOY_AGENT_SRC (a
directory, or a git directory whose HEAD is exported); nothing of it is in
this tree. Its command-line front end (lib/codedeploy-agent.rb) needs the gem
gli, which Debian 12 does not package, and daemonizes; the agent is started
instead by a launcher of a few lines that does what the front end's `start`
does (load the config, start the master), in the foreground, with the
vendored gems on the load path (their gemspecs name gli). Its master forks
one worker child; both stay in the process group the launcher leads.

It trusts rolloutd's CA only through SSL_CERT_FILE (its start-up probe of
GET / uses Net::HTTP with that file, its API client the AWS SDK for Ruby over
OpenSSL's default paths, which the variable replaces): the probe always uses
TLS, so the daemon it talks to serves HTTPS."""

import os
import shutil
import signal
import subprocess

import harness

# where the development machine keeps a read-only mirror of it
DEFAULT_SRC = "/work/.mirror/aws+aws-codedeploy-agent/repo"
# what the agent's gemspec requires at run time, as Ruby require names
# (the Debian package that gives each, for the skip message)
GEMS = (("aws-sdk-core", "ruby-aws-sdk-core"), ("aws-sdk-s3", "ruby-aws-sdk-s3"), ("zip", "ruby-zip"),
        ("logging", "ruby-logging"), ("concurrent", "ruby-concurrent"),
        ("archive/tar/minitar", "ruby-minitar"), ("rexml/document", "ruby (rexml)"))

LAUNCHER = """\
# the vendored gems straight from the load path (their gemspecs name gli),
# after the agent's own lib (both have a core_ext.rb)
Dir[File.join(ARGV[0], 'vendor', 'gems', '*', 'lib')].each { |d| $:.unshift d }
$:.unshift File.join(ARGV[0], 'lib')
require 'instance_agent'
InstanceAgent::Config.config(:config_file => ARGV[1])
InstanceAgent::Platform.util = InstanceAgent::LinuxUtil
InstanceAgent::Config.load_config
InstanceAgent::Runner::Master.new.start
"""


class OfficialAgentError(Exception):
    pass


def source_path():
    return os.environ.get("CODEDEPLOY_AGENT_SRC", DEFAULT_SRC)


def _is_checkout(path):
    return os.path.isfile(os.path.join(path, "lib", "instance_agent.rb"))


def _ruby_has(name):
    p = subprocess.run(["ruby", "-e", "require %r" % name], capture_output=True, timeout=60)
    return p.returncode == 0


def missing():
    """What keeps the official agent from running here, one sentence each; [] when ruby, its
    gems and its source are all present."""
    out = []
    if not shutil.which("ruby"):
        out.append("ruby is not installed (scripts/install-deps installs ruby and the agent's gems "
                   "Debian 12 packages)")
    else:
        gems = ["%s (%s)" % (name, pkg) for name, pkg in GEMS if not _ruby_has(name)]
        if gems:
            out.append("ruby lacks the official agent's gems: " + ", ".join(gems))
    src = source_path()
    if not _is_checkout(src) and not (os.path.isdir(src) and os.path.exists(os.path.join(src, "HEAD"))):
        out.append("the official agent's source (github.com/aws/aws-codedeploy-agent) is not at %s; "
                   "set CODEDEPLOY_AGENT_SRC to a checkout or its git directory" % src)
    return out


def export_source(dest):
    """A directory holding the agent's source: the checkout itself, or the git directory's HEAD
    exported into dest (created)."""
    src = source_path()
    if _is_checkout(src):
        return src
    dest = str(dest)
    os.makedirs(dest)
    git = subprocess.Popen(["git", "--git-dir", src, "archive", "HEAD"], stdout=subprocess.PIPE)
    tar = subprocess.run(["tar", "-x", "-C", dest], stdin=git.stdout, capture_output=True, timeout=120)
    git.stdout.close()
    if git.wait(60) != 0 or tar.returncode != 0 or not _is_checkout(dest):
        raise OfficialAgentError("could not export the official agent's source from the git directory %s "
                                 "into %s: %s" % (src, dest, tar.stderr.decode(errors="replace").strip()))
    return dest


def _yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return "'%s'" % str(v).replace("'", "''")


class OfficialAgent:
    """One official agent with its own home (config, logs, pid and deployment root) under
    `home`, registered as the on-premises instance `instance` with the agent key `keys`.

    settings are codedeployagent.yml entries without their colons (`wait_between_runs`, …),
    laid over the paths, the endpoints and `verbose: false`. ca_file: what SSL_CERT_FILE
    names; None starts it without the variable."""

    def __init__(self, home, src, endpoint, ca_file, keys=None, instance="x", s3_endpoint=None, settings=None):
        self.home = str(home)
        self.src = str(src)
        self.ca_file = ca_file
        for sub in ("log", "pid", "root"):
            os.makedirs(os.path.join(self.home, sub), exist_ok=True)
        keys = keys or {"AccessKeyId": "AK", "SecretAccessKey": "SK"}
        self.onprem = os.path.join(self.home, "codedeploy.onpremises.yml")
        with open(self.onprem, "w") as f:
            f.write("---\nregion: %s\naws_access_key_id: %s\naws_secret_access_key: %s\n"
                    "iam_user_arn: arn:aws:iam::000000000000:user/%s\n"
                    % (harness.REGION, keys["AccessKeyId"], keys["SecretAccessKey"], instance))
        conf = {"log_dir": os.path.join(self.home, "log"), "pid_dir": os.path.join(self.home, "pid"),
                "program_name": "codedeploy-agent", "root_dir": os.path.join(self.home, "root"),
                "verbose": False, "on_premises_config_file": self.onprem, "deploy_control_endpoint": endpoint}
        if s3_endpoint:
            conf["s3_endpoint_override"] = s3_endpoint
        conf.update(settings or {})
        self.settings = conf
        self.config = os.path.join(self.home, "codedeployagent.yml")
        with open(self.config, "w") as f:
            f.write("---\n" + "".join(":%s: %s\n" % (k, _yaml_value(v)) for k, v in conf.items()))
        self.launcher = os.path.join(self.home, "launch.rb")
        with open(self.launcher, "w") as f:
            f.write(LAUNCHER)
        self.log_path = os.path.join(self.home, "log", "codedeploy-agent.log")
        self.stdout_path = os.path.join(self.home, "stdout.log")
        self.proc = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "SSL_CERT_FILE"}
        env.update(AWS_EC2_METADATA_DISABLED="true", HOME=self.home)
        if self.ca_file:
            # the only trust in rolloutd's CA: the variable the agent's TLS stack reads
            env["SSL_CERT_FILE"] = self.ca_file
        with open(self.stdout_path, "w") as out:
            self.proc = subprocess.Popen(["ruby", self.launcher, self.src, self.config], env=env,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        """Its log file's text ('' before it writes one)."""
        return harness.read_text(self.log_path)

    def output_tail(self, n=6000):
        """The end of what it printed and logged, for a failure message."""
        return "".join(harness.read_text(p) for p in (self.stdout_path, self.log_path))[-n:]

    def pids(self):
        """Its processes: the launcher (the master) and what it forked, i.e. its process group."""
        if not self.running():
            return []
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.proc.pid:
                out.append(int(d))
        return out

    def stop(self, timeout=60):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        try:
            # a worker the master left behind (it would stop on seeing the master gone, after a poll)
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc = None
