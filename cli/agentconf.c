#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* YAML double-quoted scalar: escape backslash, quote and control characters. */
static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void put_kv(FILE *f, const char *key, const char *value)
{
	if (!value)
		return;
	fprintf(f, "%s: ", key);
	put_quoted(f, value);
	fputc('\n', f);
}

char *agent_config_render(const struct agent_config *a)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "# rollout-agent configuration written by rolloutctl.\n"
		   "# It holds a secret key: keep it mode 0600. Start the agent with:\n"
		   "#   rollout-agent --config THIS_FILE\n");
	put_kv(f, "endpoint", a->endpoint);
	put_kv(f, "host_identifier", a->host_identifier);
	put_kv(f, "access_key_id", a->access_key_id);
	put_kv(f, "secret_access_key", a->secret_access_key);
	put_kv(f, "enroll_key_id", a->enroll_key_id);
	put_kv(f, "enroll_secret_access_key", a->enroll_secret_access_key);
	put_kv(f, "region", a->region);
	put_kv(f, "root_dir", a->root_dir);
	put_kv(f, "log_dir", a->log_dir);
	if (a->daemon_cert)
		put_kv(f, "daemon_cert", a->daemon_cert);
	else
		fprintf(f, "# daemon_cert: path to rolloutd's data_dir/daemon.crt (pins the daemon's signing key)\n");
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
