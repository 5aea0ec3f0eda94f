/* The store a daemon config names (see store_config.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/conf.h"
#include "core/error.h"
#include "log.h"
#include "store/store.h"
#include "store_config.h"
#include "util.h"

#define PASSWORD_MAX 4096

void store_config_redact(const char *uri, char *buf, size_t size)
{
	const char *scheme = strstr(uri, "://"), *at, *colon, *slash, *p;
	size_t n = 0;

#define PUT(s, len)                                                                                                    \
	do {                                                                                                           \
		size_t l_ = (len);                                                                                     \
		if (n + l_ >= size)                                                                                    \
			l_ = size - 1 - n;                                                                             \
		memcpy(buf + n, (s), l_);                                                                              \
		n += l_;                                                                                               \
	} while (0)

	if (size == 0)
		return;
	p = uri;
	if (scheme) {
		/* the authority ends at the first / or ?; its userinfo at the last @ */
		const char *auth = scheme + 3;
		slash = auth + strcspn(auth, "/?");
		at = NULL;
		for (const char *q = auth; q < slash; q++)
			if (*q == '@')
				at = q;
		colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		if (colon) {
			PUT(uri, (size_t)(colon - uri) + 1);
			PUT("***", 3);
			p = at;
		}
	}
	/* password=... among the query parameters */
	while (*p && n + 1 < size) {
		if ((p == uri || p[-1] == '?' || p[-1] == '&') && !strncmp(p, "password=", 9)) {
			PUT("password=***", 12);
			p += 9 + strcspn(p + 9, "&");
			continue;
		}
		PUT(p, 1);
		p++;
	}
	buf[n] = '\0';
#undef PUT
}

/* The first line of store_password_file, which only its owner may read. */
static int read_password(const char *path, char **ret, struct rd_error *err)
{
	char *buf = NULL;
	struct stat sb;
	ssize_t len;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		rd_error_set(err, r, "ConfigError", "store_password_file %s: %s", path, strerror(errno));
		return r;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		rd_error_set(err, -EINVAL, "ConfigError", "store_password_file %s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (sb.st_mode & 077) {
		rd_error_set(err, -EACCES, "ConfigError",
			     "store_password_file %s: mode %04o lets others read it; chmod 600 %s", path,
			     (unsigned)(sb.st_mode & 07777), path);
		close(fd);
		return -EACCES;
	}
	buf = calloc(1, PASSWORD_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	len = read(fd, buf, PASSWORD_MAX);
	r = len < 0 ? -errno : 0;
	close(fd);
	if (r < 0) {
		rd_error_set(err, r, "ConfigError", "store_password_file %s: %s", path, strerror(-r));
		free(buf);
		return r;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!*buf) {
		rd_error_set(err, -EINVAL, "ConfigError", "store_password_file %s: empty first line", path);
		free(buf);
		return -EINVAL;
	}
	*ret = buf;
	return 0;
}

/* Replaces each occurrence of secret in msg by ***. */
static void scrub(char *msg, const char *secret)
{
	size_t k = secret ? strlen(secret) : 0;
	char *p;

	if (k == 0)
		return;
	while ((p = strstr(msg, secret))) {
		memcpy(p, "***", 3);
		memmove(p + 3, p + k, strlen(p + k) + 1);
	}
}

int store_config_open(const struct rd_config *cfg, struct store **ret, struct rd_error *err)
{
	char shown[1024], *password = NULL;
	int r;

	if (!cfg->store)
		return store_open(cfg->data_dir, ret, err);
	store_config_redact(cfg->store, shown, sizeof(shown));
	/* data_dir keeps the signing key, the KEK and the bundle cache */
	r = rd_mkdir_p(cfg->data_dir, 0700);
	if (r < 0) {
		rd_error_set(err, r, "StoreError", "cannot create data_dir %s: %s", cfg->data_dir, strerror(-r));
		return r;
	}
	if (cfg->store_password_file) {
		r = read_password(cfg->store_password_file, &password, err);
		if (r < 0)
			return r;
	}
	r = store_open_pg(cfg->store, password, ret, err);
	if (r < 0 && err) {
		/* libpq may quote the connection string back */
		char redacted_uri[1024];
		scrub(err->message, password);
		store_config_redact(cfg->store, redacted_uri, sizeof(redacted_uri));
		if (strcmp(redacted_uri, cfg->store) != 0) {
			/* the URI held a password: remove what of it could be quoted */
			const char *at = strrchr(cfg->store, '@'), *colon = NULL;
			const char *auth = strstr(cfg->store, "://");
			if (auth && at && at > auth)
				colon = memchr(auth + 3, ':', (size_t)(at - auth - 3));
			if (colon) {
				char pw[512];
				snprintf(pw, sizeof(pw), "%.*s", (int)(at - colon - 1), colon + 1);
				scrub(err->message, pw);
			}
		}
	}
	if (password) {
		explicit_bzero(password, strlen(password));
		free(password);
	}
	if (r == 0)
		log_info("store: PostgreSQL %s", shown);
	return r;
}
