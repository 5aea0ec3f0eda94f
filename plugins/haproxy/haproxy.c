/* haproxy: the traffic plugin for servers behind HAProxy, through its
 * Runtime API (the "stats socket", which must be at `level admin`).
 *
 *     plugins:
 *       haproxy:
 *         socket: /run/haproxy/admin.sock   # or 127.0.0.1:9999 (a TCP stats socket)
 *         timeout: 5s                       # one Runtime API command, connect included
 *         backends: {web-tg: web}           # target-group name -> backend (default: the same name)
 *         servers: {web-1.example.com: web1} # instance name -> server name (default: server_template)
 *         server_template: "{instance}"     # used for instances not in `servers`
 *         after_drain: maint                # state once drained: maint (default) or drain
 *         ready_timeout: 60s                # allow waits this long for the health checks to pass
 *
 * What each op does (backend/server names after mapping):
 *   block         set server B/S state drain      (no new connections; open ones finish)
 *   wait_drained  polls `show stat` until the server has no session and no
 *                 queued request, then `set server B/S state maint` (after_drain)
 *   allow         set server B/S state ready, then waits (ready_timeout) until
 *                 HAProxy runs it (srv_op_state 2: health checks passed, or none),
 *                 as CodeDeploy's AllowTraffic waits for a healthy target
 *   get_state     `show servers state B` (admin state bits) and `show stat`
 *                 (sessions): ALLOWED, DRAINING, BLOCKED, or ABSENT when the
 *                 backend has no such server
 *   set_weight    set server B/S weight N (0..256; the backend's balance
 *                 algorithm must be dynamic, e.g. roundrobin or leastconn)
 *
 * Every op opens its own connection (HAProxy answers one command and
 * closes), so ops may run concurrently without locks. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <rollout/plugin.h>

#define HX_MAX_REPLY (16u << 20) /* `show servers state` of a very large backend */
#define HX_MAX_NAME 256

/* srv_admin_state bits (HAProxy's SRV_ADMF_*). */
#define HX_ADMF_FMAINT 0x01
#define HX_ADMF_IMAINT 0x02
#define HX_ADMF_CMAINT 0x04
#define HX_ADMF_FDRAIN 0x08
#define HX_ADMF_IDRAIN 0x10
#define HX_ADMF_RMAINT 0x20
#define HX_ADMF_HMAINT 0x40
#define HX_ADMF_MAINT (HX_ADMF_FMAINT | HX_ADMF_IMAINT | HX_ADMF_CMAINT | HX_ADMF_RMAINT | HX_ADMF_HMAINT)
#define HX_ADMF_DRAIN (HX_ADMF_FDRAIN | HX_ADMF_IDRAIN)

struct hx_conf {
	const char *socket;
	int64_t timeout_ms;
	const char *backends_json;
	const char *servers_json;
	const char *server_template;
	const char *after_drain;
	int64_t ready_timeout_ms;
};

struct hx {
	const struct rollout_host *host;
	struct rollout_handle *h;
	struct hx_conf c;
	json_t *backends; /* object name -> string */
	json_t *servers;  /* object name -> string */
	bool after_drain_maint;
};

static const struct rollout_option hx_options[] = {
    {.name = "socket",
     .type = ROLLOUT_OPT_STRING,
     .required = true,
     .offset = offsetof(struct hx_conf, socket),
     .help = "path of HAProxy's stats socket (haproxy.cfg: stats socket PATH level admin), or HOST:PORT"},
    {.name = "timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct hx_conf, timeout_ms),
     .min = 10,
     .max = 600000,
     .def = "5s",
     .help = "time allowed for one Runtime API command"},
    {.name = "backends",
     .type = ROLLOUT_OPT_JSON,
     .offset = offsetof(struct hx_conf, backends_json),
     .help = "map of target-group name to HAProxy backend name"},
    {.name = "servers",
     .type = ROLLOUT_OPT_JSON,
     .offset = offsetof(struct hx_conf, servers_json),
     .help = "map of instance name to HAProxy server name"},
    {.name = "server_template",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct hx_conf, server_template),
     .def = "{instance}",
     .help = "server name for an instance not in `servers`; {instance} is replaced"},
    {.name = "after_drain",
     .type = ROLLOUT_OPT_STRING,
     .offset = offsetof(struct hx_conf, after_drain),
     .def = "maint",
     .help = "state of a blocked server once drained: maint or drain"},
    {.name = "ready_timeout",
     .type = ROLLOUT_OPT_DURATION,
     .offset = offsetof(struct hx_conf, ready_timeout_ms),
     .min = 0,
     .max = 3600000,
     .def = "60s",
     .help = "how long allow waits for HAProxy's health checks to see the server up (0: do not wait)"},
    ROLLOUT_OPTION_END,
};

/* ------------------------------------------------------------------------ */
/* Configuration                                                              */
/* ------------------------------------------------------------------------ */

static int hx_parse_map(const char *text, const char *key, json_t **ret, char *err, size_t errlen)
{
	json_t *m, *v;
	const char *k;
	json_error_t je;

	if (!text) {
		*ret = json_object();
		return *ret ? 0 : -ENOMEM;
	}
	m = json_loads(text, 0, &je);
	if (!m || !json_is_object(m)) {
		json_decref(m);
		snprintf(err, errlen, "plugins.haproxy.%s must be a map of names to names, e.g. {web-tg: web}", key);
		return -EINVAL;
	}
	json_object_foreach(m, k, v)
	{
		const char *s = json_string_value(v);
		if (!s || !*s || strlen(s) >= HX_MAX_NAME || strpbrk(s, " \t\r\n/;")) {
			snprintf(err, errlen,
				 "plugins.haproxy.%s.%s must be an HAProxy name (no spaces, '/' or ';', at most %d "
				 "characters)",
				 key, k, HX_MAX_NAME - 1);
			json_decref(m);
			return -EINVAL;
		}
	}
	*ret = m;
	return 0;
}

static int hx_init(const struct rollout_host *host, struct rollout_handle *h, void **ret_state, char *err,
		   size_t errlen)
{
	struct hx *x = calloc(1, sizeof(*x));
	int r;

	if (!x)
		return -ENOMEM;
	x->host = host;
	x->h = h;
	r = rollout_config_parse(host, h, hx_options, &x->c, err, errlen);
	if (r < 0)
		goto fail;
	if (!x->c.socket || !*x->c.socket) {
		snprintf(err, errlen,
			 "plugins.haproxy.socket is empty; set it to the stats socket path of haproxy.cfg");
		r = -EINVAL;
		goto fail;
	}
	if (!x->c.timeout_ms)
		x->c.timeout_ms = 5000;
	if (!x->c.server_template)
		x->c.server_template = "{instance}";
	if (!x->c.after_drain || strcmp(x->c.after_drain, "maint") == 0) {
		x->after_drain_maint = true;
	} else if (strcmp(x->c.after_drain, "drain") == 0) {
		x->after_drain_maint = false;
	} else {
		snprintf(err, errlen, "plugins.haproxy.after_drain is '%s'; use maint or drain", x->c.after_drain);
		r = -EINVAL;
		goto fail;
	}
	r = hx_parse_map(x->c.backends_json, "backends", &x->backends, err, errlen);
	if (r < 0)
		goto fail;
	r = hx_parse_map(x->c.servers_json, "servers", &x->servers, err, errlen);
	if (r < 0)
		goto fail;
	*ret_state = x;
	return 0;
fail:
	json_decref(x->backends);
	json_decref(x->servers);
	free(x);
	return r;
}

static void hx_destroy(void *state)
{
	struct hx *x = state;

	if (!x)
		return;
	json_decref(x->backends);
	json_decref(x->servers);
	free(x);
}

/* A name HAProxy can take in one command word. */
static bool hx_name_ok(const char *s)
{
	if (!s || !*s || strlen(s) >= HX_MAX_NAME)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == '/' || *s == ';' || *s == '\\' || *s == 0x7f)
			return false;
	return true;
}

/* Maps (target group, instance) to (backend, server). server may be NULL. */
static int hx_map(struct hx *x, const char *group, const char *instance, char be[HX_MAX_NAME], char srv[HX_MAX_NAME],
		  struct rollout_error *err)
{
	const char *b = json_string_value(json_object_get(x->backends, group ? group : ""));
	const char *s;

	if (!group || !*group)
		return rollout_error_set(err, -EINVAL, "MISSING_ELB_INFORMATION",
					 "no backend given; set loadBalancerInfo.targetGroupInfoList[].name in the "
					 "deployment group");
	if (!b)
		b = group;
	if (!hx_name_ok(b))
		return rollout_error_set(err, -EINVAL, "ELASTIC_LOAD_BALANCING_INVALID",
					 "'%s' cannot be an HAProxy backend name (spaces, '/' or ';', or too long); "
					 "map it in plugins.haproxy.backends",
					 b);
	snprintf(be, HX_MAX_NAME, "%s", b);
	if (!srv)
		return 0;
	if (!instance || !*instance)
		return rollout_error_set(err, -EINVAL, "ELB_INVALID_INSTANCE", "no instance name given");
	s = json_string_value(json_object_get(x->servers, instance));
	if (s) {
		snprintf(srv, HX_MAX_NAME, "%s", s);
	} else {
		/* server_template with every {instance} replaced */
		const char *t = x->c.server_template, *p;
		size_t n = 0, il = strlen(instance);
		srv[0] = '\0';
		while ((p = strstr(t, "{instance}"))) {
			size_t pre = (size_t)(p - t);
			if (n + pre + il >= HX_MAX_NAME)
				goto toolong;
			memcpy(srv + n, t, pre);
			memcpy(srv + n + pre, instance, il);
			n += pre + il;
			t = p + strlen("{instance}");
		}
		if (n + strlen(t) >= HX_MAX_NAME)
			goto toolong;
		strcpy(srv + n, t);
	}
	if (!hx_name_ok(srv))
		return rollout_error_set(
		    err, -EINVAL, "ELB_INVALID_INSTANCE",
		    "instance '%s' maps to '%s', which cannot be an HAProxy server name; map it in "
		    "plugins.haproxy.servers",
		    instance, srv);
	return 0;
toolong:
	return rollout_error_set(err, -ENAMETOOLONG, "ELB_INVALID_INSTANCE",
				 "server name for instance '%s' is longer than %d characters; map it in "
				 "plugins.haproxy.servers",
				 instance, HX_MAX_NAME - 1);
}

/* ------------------------------------------------------------------------ */
/* The Runtime API: one command per connection                                */
/* ------------------------------------------------------------------------ */

static int64_t hx_now(struct hx *x)
{
	return x->host->mono_ms();
}

static int hx_wait_fd(int fd, short ev, int64_t deadline, struct hx *x)
{
	for (;;) {
		int64_t left = deadline - hx_now(x);
		struct pollfd p = {.fd = fd, .events = ev};
		int r;

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

static int hx_connect(struct hx *x, int64_t deadline, int *ret_fd)
{
	const char *sock = x->c.socket;
	int fd = -1, r;

	if (sock[0] == '/' || strncmp(sock, "unix@", 5) == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		const char *path = sock[0] == '/' ? sock : sock + 5;
		if (strlen(path) >= sizeof(sa.sun_path))
			return -ENAMETOOLONG;
		strcpy(sa.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS && errno != EAGAIN) {
			r = -errno;
			close(fd);
			return r;
		}
	} else {
		char host[256];
		const char *colon = strrchr(sock, ':');
		const char *h0 = strncmp(sock, "ipv4@", 5) == 0 ? sock + 5 : sock;
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
		if (!colon || colon < h0 || (size_t)(colon - h0) >= sizeof(host))
			return -EINVAL;
		memcpy(host, h0, (size_t)(colon - h0));
		host[colon - h0] = '\0';
		if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
			return -EHOSTUNREACH;
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			r = -errno;
			freeaddrinfo(ai);
			return r;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
			r = -errno;
			freeaddrinfo(ai);
			close(fd);
			return r;
		}
		freeaddrinfo(ai);
	}
	r = hx_wait_fd(fd, POLLOUT, deadline, x);
	if (r == 0) {
		int soerr = 0;
		socklen_t l = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &l) < 0)
			r = -errno;
		else if (soerr)
			r = -soerr;
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* Sends one command and reads the whole answer (HAProxy closes after it).
 * *ret is malloc'd and NUL-terminated. Transport errors fill err. */
static int hx_cmd(struct hx *x, const char *cmd, char **ret, struct rollout_error *err)
{
	int64_t deadline = hx_now(x) + x->c.timeout_ms;
	char *buf = NULL, line[1024];
	size_t len = 0, cap = 0, off = 0, ll;
	int fd = -1, r;

	ll = (size_t)snprintf(line, sizeof(line), "%s\n", cmd);
	if (ll >= sizeof(line))
		return rollout_error_set(err, -E2BIG, "TRAFFIC_ERROR", "HAProxy command too long: %.60s...", cmd);
	r = hx_connect(x, deadline, &fd);
	if (r < 0) {
		rollout_error_set(err, r, "ELASTIC_LOAD_BALANCING_INVALID",
				  "cannot connect to HAProxy's Runtime API at %s: %s; check plugins.haproxy.socket "
				  "and that haproxy.cfg has 'stats socket %s level admin' and HAProxy runs",
				  x->c.socket, r == -ETIMEDOUT ? "timed out" : strerror(-r), x->c.socket);
		goto out;
	}
	while (off < ll) {
		ssize_t n = send(fd, line + off, ll - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if ((r = hx_wait_fd(fd, POLLOUT, deadline, x)) < 0)
				goto io_err;
			continue;
		}
		if (n < 0) {
			r = -errno;
			goto io_err;
		}
		off += (size_t)n;
	}
	for (;;) {
		ssize_t n;
		if (cap - len < 4096) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nb;
			if (ncap > HX_MAX_REPLY + 1) {
				r = -EFBIG;
				goto io_err;
			}
			nb = realloc(buf, ncap);
			if (!nb) {
				r = -ENOMEM;
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n == 0)
			break;
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if ((r = hx_wait_fd(fd, POLLIN, deadline, x)) < 0)
				goto io_err;
			continue;
		}
		if (n < 0) {
			r = -errno;
			goto io_err;
		}
		len += (size_t)n;
	}
	if (!buf && !(buf = malloc(1))) {
		r = -ENOMEM;
		goto out;
	}
	buf[len] = '\0';
	*ret = buf;
	buf = NULL;
	r = 0;
	goto out;
io_err:
	rollout_error_set(err, r, "ELASTIC_LOAD_BALANCING_INVALID",
			  "HAProxy's Runtime API at %s did not answer '%s': %s; raise plugins.haproxy.timeout if "
			  "HAProxy is busy",
			  x->c.socket, cmd, r == -ETIMEDOUT ? "timed out" : strerror(-r));
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

/* Maps HAProxy's one-line error answers to errors a user can act on. An
 * empty answer is success for `set` commands. */
static int hx_check_reply(struct hx *x, const char *reply, const char *be, const char *srv, const char *group,
			  const char *instance, struct rollout_error *err)
{
	if (!reply[0] || strspn(reply, "\r\n") == strlen(reply))
		return 0;
	if (strstr(reply, "No such backend") || strstr(reply, "Can't find backend") || strstr(reply, "No such proxy"))
		return rollout_error_set(err, -ENOENT, "ELASTIC_LOAD_BALANCING_INVALID",
					 "HAProxy has no backend '%s' (for target group '%s'); name an existing "
					 "backend in loadBalancerInfo.targetGroupInfoList or map it in "
					 "plugins.haproxy.backends",
					 be, group);
	if (strstr(reply, "No such server"))
		return rollout_error_set(err, -ENOENT, "ELB_INVALID_INSTANCE",
					 "HAProxy backend '%s' has no server '%s' (for instance '%s'); add it to the "
					 "backend in haproxy.cfg or map the instance in plugins.haproxy.servers",
					 be, srv ? srv : "", instance ? instance : "");
	if (strstr(reply, "Permission denied"))
		return rollout_error_set(err, -EACCES, "ELASTIC_LOAD_BALANCING_INVALID",
					 "HAProxy refused the command: the stats socket %s is not at admin level; use "
					 "'stats socket %s level admin' in haproxy.cfg",
					 x->c.socket, x->c.socket);
	{
		size_t n = strcspn(reply, "\r\n");
		return rollout_error_set(err, -EIO, "ELASTIC_LOAD_BALANCING_INVALID",
					 "HAProxy refused the change of %s/%s: %.*s", be, srv ? srv : "",
					 (int)(n > 300 ? 300 : n), reply);
	}
}

static int hx_set(struct hx *x, const char *group, const char *instance, const char *what, struct rollout_error *err)
{
	char be[HX_MAX_NAME], srv[HX_MAX_NAME], cmd[800], *reply = NULL;
	int r;

	r = hx_map(x, group, instance, be, srv, err);
	if (r < 0)
		return r;
	snprintf(cmd, sizeof(cmd), "set server %s/%s %s", be, srv, what);
	r = hx_cmd(x, cmd, &reply, err);
	if (r < 0)
		return r;
	r = hx_check_reply(x, reply, be, srv, group, instance, err);
	free(reply);
	if (r == 0 && x->host->log)
		x->host->log(x->h, LOG_INFO, "%s/%s (%s): %s", be, srv, instance, what);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Reading state                                                              */
/* ------------------------------------------------------------------------ */

struct hx_server {
	bool found;
	long be_id, srv_id;
	unsigned admin; /* srv_admin_state */
	int op;		/* srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping */
	long uweight, iweight;
	long scur, qcur; /* from show stat; -1 unknown */
	char status[32]; /* show stat status, e.g. "UP", "DOWN", "MAINT", "DRAIN" */
};

/* Splits s on sep into at most max fields in place. Returns the count. */
static size_t hx_split(char *s, char sep, char **f, size_t max)
{
	size_t n = 0;

	if (!s)
		return 0;
	while (n < max) {
		char *e = strchr(s, sep);
		f[n++] = s;
		if (!e)
			break;
		*e = '\0';
		s = e + 1;
	}
	return n;
}

/* Parses the answer of `show servers state B` (format 1) for server srv. */
static int hx_parse_servers_state(char *reply, const char *srv, struct hx_server *ret)
{
	char *save = NULL, *line;
	bool header = false;

	for (line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[32];
		size_t n;
		if (line[0] == '#') {
			header = true;
			continue;
		}
		if (!header)
			continue; /* the format version line */
		n = hx_split(line, ' ', f, 32);
		if (n < 9)
			continue;
		if (strcmp(f[3], srv) != 0)
			continue;
		ret->found = true;
		ret->be_id = strtol(f[0], NULL, 10);
		ret->srv_id = strtol(f[2], NULL, 10);
		ret->op = (int)strtol(f[5], NULL, 10);
		ret->admin = (unsigned)strtoul(f[6], NULL, 10);
		ret->uweight = strtol(f[7], NULL, 10);
		ret->iweight = strtol(f[8], NULL, 10);
		return 0;
	}
	return header ? 0 : -EBADMSG;
}

/* Parses `show stat` CSV: the row of svname srv; scur, qcur, status. */
static int hx_parse_stat(char *reply, const char *srv, struct hx_server *ret)
{
	char *save = NULL, *line;
	int c_sv = -1, c_scur = -1, c_qcur = -1, c_status = -1;

	for (line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[256];
		size_t n;
		if (strncmp(line, "# ", 2) == 0) {
			n = hx_split(line + 2, ',', f, 256);
			for (size_t i = 0; i < n; i++) {
				if (strcmp(f[i], "svname") == 0)
					c_sv = (int)i;
				else if (strcmp(f[i], "scur") == 0)
					c_scur = (int)i;
				else if (strcmp(f[i], "qcur") == 0)
					c_qcur = (int)i;
				else if (strcmp(f[i], "status") == 0)
					c_status = (int)i;
			}
			continue;
		}
		if (c_sv < 0 || c_scur < 0 || c_qcur < 0 || c_status < 0)
			return -EBADMSG;
		n = hx_split(line, ',', f, 256);
		if ((int)n <= c_sv || (int)n <= c_scur || (int)n <= c_qcur || (int)n <= c_status)
			continue;
		if (strcmp(f[c_sv], srv) != 0)
			continue;
		ret->scur = strtol(f[c_scur], NULL, 10);
		ret->qcur = strtol(f[c_qcur], NULL, 10);
		snprintf(ret->status, sizeof(ret->status), "%s", f[c_status]);
		return 0;
	}
	return -ENOENT;
}

static int hx_read(struct hx *x, const char *group, const char *instance, char be[HX_MAX_NAME], char srv[HX_MAX_NAME],
		   struct hx_server *ret, struct rollout_error *err)
{
	char cmd[800], *reply = NULL;
	struct hx_server s = {.scur = -1, .qcur = -1};
	int r;

	r = hx_map(x, group, instance, be, srv, err);
	if (r < 0)
		return r;
	snprintf(cmd, sizeof(cmd), "show servers state %s", be);
	if ((r = hx_cmd(x, cmd, &reply, err)) < 0)
		return r;
	if (!strchr(reply, '#')) {
		r = hx_check_reply(x, reply, be, srv, group, instance, err);
		if (r == 0)
			r = rollout_error_set(err, -EBADMSG, "ELASTIC_LOAD_BALANCING_INVALID",
					      "HAProxy gave no server list for backend '%s'", be);
		goto out;
	}
	if (hx_parse_servers_state(reply, srv, &s) < 0) {
		r = rollout_error_set(err, -EBADMSG, "ELASTIC_LOAD_BALANCING_INVALID",
				      "cannot read HAProxy's answer to '%s'; is this HAProxy 1.8 or newer?", cmd);
		goto out;
	}
	free(reply);
	reply = NULL;
	if (s.found) {
		snprintf(cmd, sizeof(cmd), "show stat %ld 4 %ld", s.be_id, s.srv_id);
		if ((r = hx_cmd(x, cmd, &reply, err)) < 0)
			goto out;
		if (hx_parse_stat(reply, srv, &s) < 0) {
			r = rollout_error_set(err, -EBADMSG, "ELASTIC_LOAD_BALANCING_INVALID",
					      "cannot read the sessions of %s/%s from HAProxy's '%s'", be, srv, cmd);
			goto out;
		}
	}
	*ret = s;
	r = 0;
out:
	free(reply);
	return r;
}

static enum rollout_traffic_state hx_state_of(const struct hx_server *s)
{
	if (!s->found)
		return ROLLOUT_TRAFFIC_ABSENT;
	if (!(s->admin & (HX_ADMF_MAINT | HX_ADMF_DRAIN)))
		return ROLLOUT_TRAFFIC_ALLOWED;
	if (s->scur > 0 || s->qcur > 0)
		return ROLLOUT_TRAFFIC_DRAINING;
	return ROLLOUT_TRAFFIC_BLOCKED;
}

/* ------------------------------------------------------------------------ */
/* Ops                                                                        */
/* ------------------------------------------------------------------------ */

static int hx_block(void *state, const char *backend, const char *target, struct rollout_error *err)
{
	return hx_set(state, backend, target, "state drain", err);
}

static int hx_allow(void *state, const char *backend, const char *target, struct rollout_error *err)
{
	struct hx *x = state;
	char be[HX_MAX_NAME], srv[HX_MAX_NAME];
	int64_t deadline, delay = 10;
	struct hx_server s;
	int r;

	r = hx_set(x, backend, target, "state ready", err);
	if (r < 0 || x->c.ready_timeout_ms <= 0)
		return r;
	/* in service only once HAProxy would send it requests: a server
	 * leaving maint stays DOWN until its health check passes */
	deadline = hx_now(x) + x->c.ready_timeout_ms;
	for (;;) {
		r = hx_read(x, backend, target, be, srv, &s, err);
		if (r < 0)
			return r;
		if (!s.found || s.op == 2)
			return 0;
		if (hx_now(x) >= deadline)
			return rollout_error_set(
			    err, -ETIMEDOUT, "ELASTIC_LOAD_BALANCING_INVALID",
			    "%s/%s is allowed but HAProxy's health checks have not seen it up within "
			    "%lld ms (HAProxy state %s); check the application on %s or raise "
			    "plugins.haproxy.ready_timeout",
			    be, srv, (long long)x->c.ready_timeout_ms, s.op == 1 ? "starting" : "down", target);
		{
			struct timespec ts = {.tv_sec = 0, .tv_nsec = delay * 1000000};
			nanosleep(&ts, NULL);
		}
		if (delay < 200)
			delay *= 2;
	}
}

static int hx_get_state(void *state, const char *backend, const char *target, enum rollout_traffic_state *ret,
			struct rollout_error *err)
{
	char be[HX_MAX_NAME], srv[HX_MAX_NAME];
	struct hx_server s;
	int r = hx_read(state, backend, target, be, srv, &s, err);

	if (r < 0)
		return r;
	*ret = hx_state_of(&s);
	return 0;
}

static int hx_wait_drained(void *state, const char *backend, const char *target, int64_t timeout_ms,
			   struct rollout_error *err)
{
	struct hx *x = state;
	int64_t deadline = hx_now(x) + (timeout_ms > 0 ? timeout_ms : 0), delay = 20;
	char be[HX_MAX_NAME], srv[HX_MAX_NAME];
	struct hx_server s;
	int r;

	for (;;) {
		r = hx_read(x, backend, target, be, srv, &s, err);
		if (r < 0)
			return r;
		if (!s.found)
			return rollout_error_set(err, -ENOENT, "ELB_INVALID_INSTANCE",
						 "HAProxy backend '%s' has no server '%s' (for instance '%s'); add it "
						 "to the backend in haproxy.cfg or map the instance in "
						 "plugins.haproxy.servers",
						 be, srv, target);
		if (!(s.admin & (HX_ADMF_MAINT | HX_ADMF_DRAIN)))
			return rollout_error_set(err, -EINVAL, "ELASTIC_LOAD_BALANCING_INVALID",
						 "%s/%s is in service again (someone set it ready while it drained); "
						 "block it again",
						 be, srv);
		if (s.scur <= 0 && s.qcur <= 0)
			break;
		if (hx_now(x) >= deadline)
			return rollout_error_set(
			    err, -ETIMEDOUT, "ELASTIC_LOAD_BALANCING_INVALID",
			    "%s/%s still has %ld sessions and %ld queued requests after %lld ms of "
			    "draining; raise the drain timeout or shorten the clients' keep-alive",
			    be, srv, s.scur, s.qcur, (long long)timeout_ms);
		{
			int64_t left = deadline - hx_now(x);
			int64_t d = delay < left ? delay : left;
			struct timespec ts = {.tv_sec = d / 1000, .tv_nsec = (d % 1000) * 1000000};
			if (d > 0)
				nanosleep(&ts, NULL);
		}
		if (delay < 250)
			delay *= 2;
	}
	if (x->after_drain_maint && !(s.admin & HX_ADMF_MAINT))
		return hx_set(x, backend, target, "state maint", err);
	return 0;
}

static int hx_set_weight(void *state, const char *backend, const char *target, uint32_t weight,
			 struct rollout_error *err)
{
	char what[32];

	if (weight > 256)
		return rollout_error_set(err, -ERANGE, "TRAFFIC_ERROR", "weight %u is over HAProxy's maximum 256",
					 weight);
	snprintf(what, sizeof(what), "weight %u", weight);
	return hx_set(state, backend, target, what, err);
}

static const struct rollout_traffic_ops hx_ops =
    ROLLOUT_TRAFFIC_OPS_INIT(.block = hx_block, .allow = hx_allow, .get_state = hx_get_state,
			     .wait_drained = hx_wait_drained, .set_weight = hx_set_weight);

static const struct rollout_plugin hx_plugin =
    ROLLOUT_PLUGIN_INIT(ROLLOUT_KIND_TRAFFIC, .name = "haproxy", .version = "1.0.0",
			.description = "blocks, allows and weights servers in HAProxy backends through its Runtime API",
			.init = hx_init, .destroy = hx_destroy, .ops.traffic = &hx_ops);

ROLLOUT_PLUGIN_EXPORT(hx_plugin)
