/* rollout-agent: one process, one command at a time. The idle state is a
 * single blocking PollHostCommand long-poll (no busy loop). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "enroll.h"
#include "hostcmd.h"
#include "jsonutil.h"
#include "log.h"
#include "runner.h"
#include "util.h"

static struct agent agent = {.standby = EXTRACTOR_NONE};

static void on_signal(int sig)
{
	agent.stop = 1;
}

/* Going idle: return freed heap to the kernel and drop this process's
 * mappings of clean library pages (code and read-only data touched at
 * start-up or by the last command: libcurl's dependency tree alone is ~10 MB
 * of them). Only read-only file mappings are touched, and in them only pages
 * that /proc/self/pagemap reports as file pages (never a private copy-on-
 * write page, e.g. relocated RELRO data), so MADV_DONTNEED loses nothing: the
 * pages stay in the page cache and fault back in on demand. Writable and
 * anonymous memory is never touched. */
static void trim_idle_memory(void)
{
	struct range {
		unsigned long lo, hi;
	} *rs = NULL;
	size_t n = 0, cap = 0;
	long pg = sysconf(_SC_PAGESIZE);
	FILE *f;
	char line[4096];
	int pm;

	malloc_trim(0);
	f = fopen("/proc/self/maps", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char perms[8] = "";
		unsigned long long off;
		unsigned long a, b;
		unsigned inode = 0;

		if (sscanf(line, "%lx-%lx %7s %llx %*s %u", &a, &b, perms, &off, &inode) != 5 || inode == 0 ||
		    strchr(perms, 'w') || strchr(line, '[') || strstr(line, "(deleted)"))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct range *nr = realloc(rs, nc * sizeof(*nr));
			if (!nr)
				break;
			rs = nr;
			cap = nc;
		}
		rs[n].lo = a;
		rs[n].hi = b;
		n++;
	}
	fclose(f);
	/* no fault-around: a page touched while idle brings in that page, not 64 KiB */
	for (size_t i = 0; i < n; i++)
		madvise((void *)rs[i].lo, rs[i].hi - rs[i].lo, MADV_RANDOM);
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	for (size_t i = 0; pm >= 0 && i < n; i++) {
		unsigned long run = 0;
		for (unsigned long a = rs[i].lo; a <= rs[i].hi; a += (unsigned long)pg) {
			uint64_t e = 0;
			/* bit 63 present, bit 61 file page (0: private anonymous copy) */
			bool drop =
			    a < rs[i].hi &&
			    pread(pm, &e, sizeof(e), (off_t)(a / (unsigned long)pg) * 8) == (ssize_t)sizeof(e) &&
			    (e >> 63 & 1) && (e >> 61 & 1);
			if (drop && !run)
				run = a;
			if (!drop && run) {
				madvise((void *)run, a - run, MADV_DONTNEED);
				run = 0;
			}
		}
	}
	if (pm >= 0)
		close(pm);
	free(rs);
}

/* The long poll has waited a while without a command. */
static void going_idle(void)
{
	deploy_idle(&agent);
	trim_idle_memory();
}

/* Back-off of a poll that rolloutd refuses (a 4xx answer: an unregistered
 * instance, a wrong key): someone must fix the set-up, so this waits like
 * the official agent, 10, 13, 17, 21, 27, 34, 44, 56, 71, then 90 s. */
static unsigned refused_poll_backoff_s(unsigned n)
{
	if (n > 10)
		n = 10;
	return (unsigned)floor(pow(1.2675, n) * 90.0 / pow(1.2675, 10));
}

static json_t *diagnostics(const struct cmd_outcome *o)
{
	json_t *p = json_pack("{s:i,s:s,s:s,s:s}", "error_code", o->error_code, "script_name", o->script_name,
			      "message", o->message, "log", o->log);
	char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
	json_t *d = text ? json_pack("{s:s,s:s}", "Format", "JSON", "Payload", text) : NULL;
	json_decref(p);
	free(text);
	return d;
}

/* PutHostCommandComplete under the host-command error rule (hostcmd.h). */
static void complete(const char *hcid, const struct cmd_outcome *o)
{
	json_t *req = json_pack("{s:s,s:s,s:o}", "HostCommandIdentifier", hcid, "CommandStatus",
				o->failed ? "Failed" : "Succeeded", "Diagnostics", diagnostics(o));
	json_t *resp = NULL;
	char err[512];

	if (!req) {
		log_error("cannot report command %s: out of memory", hcid);
		return;
	}
	switch (hostcmd_call(&agent, "PutHostCommandComplete", req, &resp, NULL, err, sizeof(err))) {
	case HOSTCMD_OK:
		break;
	case HOSTCMD_ANSWER:
		log_error("rolloutd refused the report of command %s: %s", hcid, err);
		break;
	default:
		/* rolloutd fails the event when this agent polls again (agent/PROTOCOL.md) */
		log_error("cannot report command %s to rolloutd: %s", hcid, err);
		break;
	}
	json_decref(resp);
	json_decref(req);
}

static void tracking_path(const char *deployment_id, char *out, size_t len)
{
	snprintf(out, len, "%s/ongoing-deployment/%s", agent.cfg->root_dir, deployment_id);
}

/* Fails what was running when the agent died, as the official agent does. */
static void recover_after_restart(void)
{
	char dir[4200];
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%s/ongoing-deployment", agent.cfg->root_dir);
	if (!(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		char path[4500], *hcid = NULL;
		size_t len;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && time(NULL) - st.st_mtime < 86400 &&
		    rd_read_file(path, 4096, &hcid, &len) == 0 && len > 0) {
			struct cmd_outcome o = {.failed = true, .error_code = EC_FAILED_AFTER_RESTART};
			while (len > 0 && hcid[len - 1] == '\n')
				hcid[--len] = '\0';
			snprintf(o.message, sizeof(o.message),
				 "Failing in-progress lifecycle event after an agent restart.");
			log_notice("reporting the command interrupted by the last agent stop as failed (deployment %s)",
				   de->d_name);
			complete(hcid, &o);
		}
		free(hcid);
		unlink(path);
	}
	closedir(d);
}

/* The verified specification of the deployment whose commands come now:
 * a deployment's specification is signed once and never changes, so the
 * next commands of the same DeploymentExecutionId use it without asking
 * and verifying again (one exchange and one CMS verification fewer per
 * lifecycle event). */
static struct {
	char exec_id[256];
	struct deploy_spec *spec;
} spec_cache;

/* GetDeploymentSpecification. 1: run with *ret_spec; 0: the command is
 * dropped (no acknowledgement, no completion: rolloutd offers it again or has
 * moved on); -1: the command fails with o->message (a specification that
 * does not verify, or rolloutd refusing to give one). */
static int fetch_spec(const char *command, const char *exec_id, struct deploy_spec **ret_spec, struct cmd_outcome *o)
{
	json_t *req =
	    json_pack("{s:s,s:s}", "DeploymentExecutionId", exec_id, "HostIdentifier", agent.cfg->host_identifier);
	json_t *resp = NULL;
	struct client_reply rep;
	char err[1024] = "out of memory";
	enum hostcmd_outcome oc = HOSTCMD_FAULT;
	int r = 1;

	if (spec_cache.spec && strcmp(spec_cache.exec_id, exec_id) == 0) {
		json_decref(req);
		*ret_spec = spec_cache.spec;
		return 1;
	}
	if (req)
		oc = hostcmd_call(&agent, "GetDeploymentSpecification", req, &resp, &rep, err, sizeof(err));
	json_decref(req);
	if (oc == HOSTCMD_ANSWER && !hostcmd_not_found(&rep)) {
		snprintf(o->message, sizeof(o->message), "cannot get the deployment specification: %s", err);
		r = -1;
	} else if (oc != HOSTCMD_OK) {
		log_warning("%s: no deployment specification (%s); dropping the command, rolloutd offers it again or "
			    "has moved on",
			    command, oc == HOSTCMD_STOPPED ? "rollout-agent is stopping" : err);
		r = 0;
	} else if (spec_verify_and_parse(resp, agent.cfg->daemon_cert, agent.cfg->developer_mode, ret_spec, err,
					 sizeof(err)) < 0) {
		snprintf(o->message, sizeof(o->message), "deployment specification rejected: %s", err);
		r = -1;
	} else if (strlen(exec_id) < sizeof(spec_cache.exec_id)) {
		deploy_spec_free(spec_cache.spec);
		spec_cache.spec = *ret_spec;
		snprintf(spec_cache.exec_id, sizeof(spec_cache.exec_id), "%s", exec_id);
	}
	json_decref(resp);
	return r;
}

static void handle_command(json_t *hc)
{
	const char *hcid = rd_json_str(hc, "HostCommandIdentifier");
	const char *host = rd_json_str(hc, "HostIdentifier");
	const char *exec_id = rd_json_str(hc, "DeploymentExecutionId");
	const char *command = rd_json_str(hc, "CommandName");
	struct deploy_spec *spec = NULL;
	struct cmd_outcome o = {0};
	json_t *req = NULL, *resp = NULL;
	char err[1024] = "", track[4400] = "";
	bool noop = false, spec_ok = false;
	const char *status;
	int r;

	if (!hcid || !command || !*command || !exec_id) {
		log_error("PollHostCommand returned a command without HostCommandIdentifier, CommandName or "
			  "DeploymentExecutionId; ignoring it");
		return;
	}
	if (host && !strstr(agent.cfg->host_identifier, host)) {
		log_error("command %s is for host %s, not for %s; ignoring it", command, host,
			  agent.cfg->host_identifier);
		return;
	}
	log_info("command %s (%s)", command, exec_id);
	r = fetch_spec(command, exec_id, &spec, &o);
	deploy_prepare(&agent, command, r > 0 ? spec : NULL);
	if (r == 0 || agent.stop)
		goto out;
	if (r < 0) {
		log_error("%s: %s", command, o.message);
		o.failed = true;
		o.error_code = EC_UNKNOWN;
	} else {
		spec_ok = true;
		noop = deploy_is_noop(&agent, command, spec);
	}

	{
		char payload[64];
		snprintf(payload, sizeof(payload), "{\"IsCommandNoop\":%s}", noop ? "true" : "false");
		req = json_pack("{s:s,s:{s:s,s:s}}", "HostCommandIdentifier", hcid, "Diagnostics", "Format", "JSON",
				"Payload", payload);
	}
	if (!req)
		goto out;
	switch (hostcmd_call(&agent, "PutHostCommandAcknowledgement", req, &resp, NULL, err, sizeof(err))) {
	case HOSTCMD_OK:
		break;
	case HOSTCMD_ANSWER:
		log_error("%s: rolloutd refused the acknowledgement (%s); not running it", command, err);
		goto out;
	default:
		/* not acknowledged, so not run: rolloutd offers it again */
		log_warning("%s: cannot acknowledge the command (%s); dropping it", command,
			    agent.stop ? "rollout-agent is stopping" : err);
		goto out;
	}
	status = rd_json_str(resp, "CommandStatus");
	if (status && strcmp(status, "Succeeded") == 0) {
		log_info("%s: rolloutd says it is already done; skipping", command);
		goto out;
	}
	if (status && strcmp(status, "Failed") == 0) {
		log_info("%s: rolloutd refused the command; skipping", command);
		if (noop && spec_ok) {
			snprintf(o.message, sizeof(o.message), "Succeeded: CompletedNoopCommand");
			complete(hcid, &o);
		}
		goto out;
	}
	if (spec_ok) {
		char dir[4200];
		snprintf(dir, sizeof(dir), "%s/ongoing-deployment", agent.cfg->root_dir);
		tracking_path(spec->deployment_id, track, sizeof(track));
		/* no fsync: the file serves after the agent's own crash; after a
		 * power loss rolloutd fails the acknowledged event when this
		 * agent polls again (PROTOCOL.md, Crash recovery) */
		if (rd_mkdir_p(dir, 0755) < 0 || rd_write_file_atomic_nosync(track, hcid, strlen(hcid), 0644) < 0)
			log_warning("cannot write %s: crash recovery will not know about this command", track);
		deploy_execute(&agent, hcid, command, spec, &o);
	}
	if (o.failed)
		log_error("%s failed (error_code %d): %s", command, o.error_code, o.message);
	else
		log_info("%s succeeded", command);
	complete(hcid, &o);
	if (track[0])
		unlink(track);
out:
	json_decref(req);
	json_decref(resp);
	if (spec != spec_cache.spec)
		deploy_spec_free(spec);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: rollout-agent --config FILE\n"
		"       rollout-agent --version\n\n"
		"The rolloutd host agent: long-polls rolloutd for deployment commands, downloads and verifies\n"
		"bundles, and runs appspec lifecycle hooks. See agent/PROTOCOL.md.\n\n"
		"Config keys (YAML): endpoint, host_identifier, access_key_id, secret_access_key, region,\n"
		"root_dir, log_dir, max_revisions, daemon_cert, ca_file, client_cert, client_key,\n"
		"developer_mode, hook_timeout_cap, kill_grace, heartbeat, poll_timeout, env_allow, scripts_log_max,\n"
		"log_level; on EC2 without a key of its own: enroll_key_id, enroll_secret_access_key, key_file,\n"
		"imds_endpoint.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"version", no_argument, NULL, 'V'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *config = NULL;
	char err[1024], lockpath[4200];
	unsigned faults = 0, refusals = 0;
	struct client_reply rep;
	enum hostcmd_outcome oc;
	struct sigaction sa = {.sa_handler = on_signal};
	int c, r, lockfd;

	/* before anything slow: a SIGTERM during start-up is a clean stop */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	while ((c = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'V':
			printf("rollout-agent %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config || optind != argc) {
		usage(stderr);
		return 2;
	}
	rd_log_init("rollout-agent", LOG_INFO);
	if ((r = agent_config_load(config, &agent.cfg, err, sizeof(err))) < 0) {
		log_error("%s", err);
		return 1;
	}
	rd_log_set_level(agent.cfg->log_level);
	if (!getenv("JOURNAL_STREAM") && rd_mkdir_p(agent.cfg->log_dir, 0755) == 0) {
		char lp[4200];
		int fd;
		snprintf(lp, sizeof(lp), "%s/rollout-agent.log", agent.cfg->log_dir);
		fd = open(lp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
	}
	if ((r = rd_mkdir_p(agent.cfg->root_dir, 0755)) < 0) {
		log_error("cannot create root_dir %s: %s", agent.cfg->root_dir, strerror(-r));
		return 1;
	}
	snprintf(lockpath, sizeof(lockpath), "%s/.rollout-agent.lock", agent.cfg->root_dir);
	lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) < 0) {
		log_error("another rollout-agent already uses root_dir %s (lock %s); stop it or use another root_dir",
			  agent.cfg->root_dir, lockpath);
		return 1;
	}
	/* the extraction helper: next to this binary (build tree, or both in one
	 * bin dir), else the installed libexec path */
	{
		char self[4096];
		ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);
		const char *env = getenv("ROLLOUT_AGENT_EXTRACT");
		agent.extract_helper[0] = '\0';
		if (env && *env)
			rd_strlcpy(agent.extract_helper, env, sizeof(agent.extract_helper));
		else if (l > 0) {
			char *slash;
			self[l] = '\0';
			slash = strrchr(self, '/');
			if (slash) {
				slash[1] = '\0';
				snprintf(agent.extract_helper, sizeof(agent.extract_helper), "%srollout-agent-extract",
					 self);
			}
		}
		if (!agent.extract_helper[0] || access(agent.extract_helper, X_OK) < 0)
			rd_strlcpy(agent.extract_helper, AGENT_LIBEXECDIR "/rollout-agent-extract",
				   sizeof(agent.extract_helper));
		if (access(agent.extract_helper, X_OK) < 0) {
			log_error("cannot find the bundle extraction helper rollout-agent-extract (looked next to this "
				  "program and in %s); reinstall rollout-agent or set ROLLOUT_AGENT_EXTRACT",
				  AGENT_LIBEXECDIR);
			return 1;
		}
	}
	if ((r = runner_init()) < 0)
		log_warning("cannot become a child subreaper (%s): timed-out hooks' setsid escapees may survive",
			    strerror(-r));
	if (agent_enroll(agent.cfg, &agent.stop) < 0)
		return 0; /* stopped while enrolling */
	if ((r = client_new(agent.cfg, &agent.stop, &agent.client)) < 0) {
		log_error("cannot set up the HTTP client: %s", strerror(-r));
		return 1;
	}
	log_info("rollout-agent %s polling %s as %s", PACKAGE_VERSION, agent.cfg->endpoint, agent.cfg->host_identifier);
	recover_after_restart();

	client_set_idle_hook(agent.client, going_idle);
	while (!agent.stop) {
		json_t *req = json_pack("{s:s}", "HostIdentifier", agent.cfg->host_identifier), *resp = NULL, *hc;
		runner_reap();
		r = client_call(agent.client, "PollHostCommand", req, (long)agent.cfg->poll_timeout, true, &resp, &rep,
				err, sizeof(err));
		json_decref(req);
		oc = hostcmd_classify(r, &rep);
		if (oc == HOSTCMD_STOPPED)
			break;
		if (oc != HOSTCMD_OK) {
			/* the poll never gives up: faults on the short schedule
			 * (rolloutd restarting), refusals on the long one */
			unsigned s =
			    oc == HOSTCMD_ANSWER ? refused_poll_backoff_s(++refusals) : hostcmd_delay_s(++faults);
			if (oc == HOSTCMD_ANSWER)
				log_error("%s; retrying in %u s", err, s);
			else
				log_warning("%s; retrying in %u s", err, s);
			hostcmd_sleep(&agent, s);
			continue;
		}
		faults = refusals = 0;
		hc = json_object_get(resp, "HostCommand");
		if (json_is_object(hc))
			handle_command(hc);
		json_decref(resp);
	}
	log_info("rollout-agent stopping");
	deploy_idle(&agent);
	spec_cache.spec = deploy_spec_free(spec_cache.spec);
	client_free(agent.client);
	agent_config_free(agent.cfg);
	close(lockfd);
	return 0;
}
