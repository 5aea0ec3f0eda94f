#include "config.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_hostcmd_id.h"

static int part_ok(const char *s, size_t max)
{
	size_t n = strlen(s);
	return n > 0 && n < max && !strchr(s, '|');
}

int cmd_id_encode(const struct cmd_id *id, char *out, size_t outlen)
{
	char raw[256];
	int n;

	if (!part_ok(id->deployment_id, sizeof(id->deployment_id)) || !part_ok(id->instance, sizeof(id->instance)) ||
	    !part_ok(id->event, sizeof(id->event)) || id->attempt < 0)
		return -EINVAL;
	n = snprintf(raw, sizeof(raw), "rd1|%s|%s|%s|%d", id->deployment_id, id->instance, id->event, id->attempt);
	if (n < 0 || (size_t)n >= sizeof(raw))
		return -EINVAL;
	if (outlen < (size_t)(4 * ((n + 2) / 3) + 1))
		return -ENOBUFS;
	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)raw, n);
	return 0;
}

int cmd_id_decode(const char *s, struct cmd_id *ret)
{
	unsigned char raw[400];
	size_t len = s ? strlen(s) : 0;
	int n, pad = 0;
	struct cmd_id id = {0};
	char *fields[5], *save = NULL, *p, *end;

	if (len < 8 || len % 4 != 0 || len > 4 * (sizeof(raw) / 3) - 4)
		return -EINVAL;
	n = EVP_DecodeBlock(raw, (const unsigned char *)s, (int)len);
	if (n < 0)
		return -EINVAL;
	if (s[len - 1] == '=')
		pad++;
	if (s[len - 2] == '=')
		pad++;
	n -= pad;
	raw[n] = '\0';
	if (memchr(raw, '\0', (size_t)n))
		return -EINVAL;
	p = (char *)raw;
	for (int i = 0; i < 5; i++) {
		fields[i] = strtok_r(i == 0 ? p : NULL, "|", &save);
		if (!fields[i])
			return -EINVAL;
	}
	if (strtok_r(NULL, "|", &save) || strcmp(fields[0], "rd1") != 0)
		return -EINVAL;
	if (strlen(fields[1]) >= sizeof(id.deployment_id) || strlen(fields[2]) >= sizeof(id.instance) ||
	    strlen(fields[3]) >= sizeof(id.event))
		return -EINVAL;
	strcpy(id.deployment_id, fields[1]);
	strcpy(id.instance, fields[2]);
	strcpy(id.event, fields[3]);
	errno = 0;
	long a = strtol(fields[4], &end, 10);
	if (errno || *end || a < 0 || a > 1000000)
		return -EINVAL;
	id.attempt = (int)a;
	*ret = id;
	return 0;
}

int cmd_execution_id(const char *region, const char *account, const char *deployment_id, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "CodeDeploy/%s/Prod/arn:aws:sds:%s:%s:deployment/%s", region, region, account,
			 deployment_id);
	if (n < 0 || (size_t)n >= outlen || n > 129)
		return -ENAMETOOLONG;
	return 0;
}

int cmd_execution_id_parse(const char *s, char *out, size_t outlen)
{
	const char *p;
	int slashes = 0;

	if (!s || strlen(s) > 129)
		return -EINVAL;
	for (p = s; *p && slashes < 3; p++)
		if (*p == '/')
			slashes++;
	if (slashes < 3 || !*p)
		return -EINVAL;
	p = strstr(s, ":deployment/");
	if (!p)
		return -EINVAL;
	p += strlen(":deployment/");
	if (!*p || strlen(p) >= outlen || strchr(p, '/'))
		return -EINVAL;
	strcpy(out, p);
	return 0;
}

int cmd_ec2_instance_id(const char *hid, char *out, size_t outlen)
{
	const char *p, *id;
	int colons = 0;
	size_t n;

	if (!hid || strncmp(hid, "arn:aws", 7) != 0)
		return -EINVAL;
	/* arn:PARTITION:ec2:REGION:ACCOUNT:instance/ID */
	for (p = hid; *p; p++)
		if (*p == ':')
			colons++;
	p = strstr(hid, ":ec2:");
	id = strstr(hid, ":instance/");
	if (colons != 5 || !p || !id || p > id)
		return -EINVAL;
	id += strlen(":instance/");
	n = strlen(id);
	if (n < 10 || n > 19 || strncmp(id, "i-", 2) != 0 || strspn(id + 2, "0123456789abcdef") != n - 2)
		return -EINVAL;
	if (n >= outlen)
		return -ENOBUFS;
	memcpy(out, id, n + 1);
	return 0;
}
