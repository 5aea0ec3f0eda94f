#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

void src_xml_tag(const char *xml, const char *tag, char *out, size_t outlen)
{
	char open_tag[64], close_tag[64];
	const char *a, *b;
	size_t n;

	if (!outlen)
		return;
	out[0] = '\0';
	snprintf(open_tag, sizeof(open_tag), "<%s>", tag);
	snprintf(close_tag, sizeof(close_tag), "</%s>", tag);
	if (!xml || !(a = strstr(xml, open_tag)))
		return;
	a += strlen(open_tag);
	if (!(b = strstr(a, close_tag)))
		return;
	n = (size_t)(b - a);
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, a, n);
	out[n] = '\0';
}

int src_uri_encode(const char *in, bool keep_slash, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	const unsigned char *p;

	for (p = (const unsigned char *)in; *p; p++) {
		bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			     *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/');
		if (o + (plain ? 1 : 3) >= outlen)
			return -ENOSPC;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	if (o >= outlen)
		return -ENOSPC;
	out[o] = '\0';
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

void src_error_text(const char *body, char *out, size_t outlen)
{
	const char *m;
	size_t n;

	if (!outlen)
		return;
	out[0] = '\0';
	if (!body || !*body)
		return;
	src_xml_tag(body, "Message", out, outlen);
	if (out[0])
		return;
	/* JSON {"message": "..."} without a parser: good enough for one line */
	if ((m = strstr(body, "\"message\""))) {
		m = strchr(m + 9, '"');
		if (m) {
			const char *e = strchr(m + 1, '"');
			if (e) {
				n = (size_t)(e - m - 1);
				if (n >= outlen)
					n = outlen - 1;
				memcpy(out, m + 1, n);
				out[n] = '\0';
				return;
			}
		}
	}
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
