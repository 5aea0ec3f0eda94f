#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "srcutil.h"

int src_read_head(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if (!len)
		return -EINVAL;
	buf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcasecmp(s + a - b, suffix);
}

const char *src_type_from_name(const char *name)
{
	if (!name)
		return NULL;
	if (ends_with(name, ".zip"))
		return "zip";
	if (ends_with(name, ".tgz") || ends_with(name, ".tar.gz"))
		return "tgz";
	if (ends_with(name, ".tar"))
		return "tar";
	return NULL;
}

bool src_valid_type(const char *s)
{
	return s && (!strcmp(s, "zip") || !strcmp(s, "tar") || !strcmp(s, "tgz"));
}

void src_aws_error(const struct rollout_host *host, struct rollout_handle *h, const char *body, char *code,
		   size_t codelen, char *msg, size_t msglen)
{
	struct rollout_xml *doc = NULL;
	const char *c = "", *m = "";
	char ignored[256];

	if (codelen)
		code[0] = '\0';
	if (msglen)
		msg[0] = '\0';
	/* An older rolloutd (ABI 1.0) has no XML helper: then no code, no message. */
	if (!body || !ROLLOUT_HOST_HAS(host, xml_aws_error) ||
	    host->xml_parse(h, body, strlen(body), &doc, ignored, sizeof(ignored)) < 0)
		return;
	if (host->xml_aws_error(doc, &c, &m) == 1) {
		snprintf(code, codelen, "%s", c);
		snprintf(msg, msglen, "%s", m);
	}
	host->xml_free(doc);
}

void src_error_text(const struct rollout_host *host, struct rollout_handle *h, const char *body, char *out,
		    size_t outlen)
{
	char code[128];
	json_t *j;
	size_t n;

	if (!outlen)
		return;
	out[0] = '\0';
	if (!body || !*body)
		return;
	src_aws_error(host, h, body, code, sizeof(code), out, outlen);
	if (out[0])
		return;
	j = json_loads(body, 0, NULL);
	if (json_is_string(json_object_get(j, "message"))) {
		snprintf(out, outlen, "%s", json_string_value(json_object_get(j, "message")));
		json_decref(j);
		return;
	}
	json_decref(j);
	n = strcspn(body, "\r\n");
	if (n > 200)
		n = 200;
	if (n >= outlen)
		n = outlen - 1;
	/* binary garbage is no message */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)body[i] < 0x20 && body[i] != '\t')
			return;
	memcpy(out, body, n);
	out[n] = '\0';
}

bool src_full_commit(const char *s)
{
	return s && strlen(s) == 40 && strspn(s, "0123456789abcdefABCDEF") == 40;
}

int src_strip_slash(const char *s, char *out, size_t outlen)
{
	size_t n = strlen(s);

	while (n > 0 && s[n - 1] == '/')
		n--;
	if (n >= outlen)
		return -ENOSPC;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}
