/* Helpers shared by the command files. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmdutil.h"

int cli_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "error: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n\n%s", usage);
	return CLI_EXIT_USAGE;
}

/* Permuting variant: options and positional arguments may be mixed. The
 * positional ones are returned in pos (at most maxpos). */
int cli_parse(int argc, char **argv, const struct option *opts, const char *usage,
	      int (*fn)(int opt, const char *arg, void *ud), void *ud, const char **pos, int maxpos, int *ret_npos)
{
	int opt, npos = 0;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "-hfo:", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(usage, stdout);
			return 1;
		}
		if (opt == 1) {
			if (npos >= maxpos) {
				cli_usage_error(usage, "unexpected argument '%s'", optarg);
				return -1;
			}
			pos[npos++] = optarg;
			continue;
		}
		if (opt == '?' || opt == ':') {
			if (optopt && optopt != '?')
				cli_usage_error(usage, "option -%c is unknown or needs a value", optopt);
			else
				cli_usage_error(usage, "option '%s' is unknown or needs a value", argv[optind - 1]);
			return -1;
		}
		if (fn(opt, optarg, ud) < 0)
			return -1;
	}
	while (optind < argc) {
		if (npos >= maxpos) {
			cli_usage_error(usage, "unexpected argument '%s'", argv[optind]);
			return -1;
		}
		pos[npos++] = argv[optind++];
	}
	*ret_npos = npos;
	return 0;
}

int cli_simple_call(struct cli *c, const char *prefix, const char *op, json_t *req, json_t **ret_resp)
{
	json_t *resp = NULL;
	int r;

	r = cli_call(c, prefix, op, req, &resp);
	json_decref(req);
	if (r < 0)
		return cli_report_error(c, op, r);
	if (ret_resp)
		*ret_resp = resp;
	else
		json_decref(resp);
	return CLI_EXIT_OK;
}

void cli_print_kv(FILE *f, json_t *obj, int indent)
{
	const char *key;
	json_t *v;
	char tbuf[64];

	json_object_foreach(obj, key, v)
	{
		if (json_is_object(v) && json_object_size(v) > 0 && indent < 4) {
			fprintf(f, "%*s%s:\n", indent, "", key);
			cli_print_kv(f, v, indent + 2);
			continue;
		}
		fprintf(f, "%*s%s: ", indent, "", key);
		if (json_is_string(v))
			fputs(json_string_value(v), f);
		else if (json_is_number(v) && (strstr(key, "Time") || strstr(key, "time") || strstr(key, "At")) &&
			 rd_json_number(v) > 1e8)
			fputs(cli_fmt_time(v, tbuf, sizeof(tbuf)), f);
		else {
			char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			fputs(s ? s : "?", f);
			free(s);
		}
		fputc('\n', f);
	}
}

void cli_print_objects(FILE *f, json_t *arr, size_t ncols, const char *const *cols)
{
	struct table *t = table_new(ncols, cols);
	size_t i;
	json_t *o;

	if (!t)
		return;
	json_array_foreach(arr, i, o)
	{
		const char *cells[16];
		char bufs[16][128];
		for (size_t k = 0; k < ncols && k < 16; k++) {
			json_t *v = json_object_get(o, cols[k]);
			if (json_is_string(v))
				cells[k] = json_string_value(v);
			else if (json_is_number(v) && rd_json_number(v) > 1e8)
				cells[k] = cli_fmt_time(v, bufs[k], sizeof(bufs[k]));
			else if (v && !json_is_null(v)) {
				char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
				snprintf(bufs[k], sizeof(bufs[k]), "%s", s ? s : "");
				free(s);
				cells[k] = bufs[k];
			} else
				cells[k] = NULL;
		}
		table_add_row(t, cells);
	}
	table_print(t, f);
	table_free(t);
}

char *cli_tags_string(json_t *tags)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&buf, &len);
	json_t *t;

	if (!f)
		return NULL;
	json_array_foreach(tags, i, t)
	{
		const char *k = rd_json_str_or(t, "Key", "");
		const char *v = rd_json_str_or(t, "Value", "");
		const char *type = rd_json_str_or(t, "Type", "KEY_AND_VALUE");
		if (i)
			fputc(',', f);
		if (strcmp(type, "KEY_ONLY") == 0)
			fprintf(f, "%s", k);
		else if (strcmp(type, "VALUE_ONLY") == 0)
			fprintf(f, "=%s", v);
		else
			fprintf(f, "%s=%s", k, v);
	}
	fclose(f);
	return buf;
}

char *cli_default_iam_arn(const char *name)
{
	char *s = NULL;

	if (asprintf(&s, "arn:aws:iam::000000000000:user/rollout/%s", name) < 0)
		return NULL;
	return s;
}

const char *cli_key_field(json_t *resp, const char *field)
{
	char lower[64];
	json_t *inner = json_object_get(resp, "accessKey");
	const char *v;

	snprintf(lower, sizeof(lower), "%s", field);
	lower[0] = (char)(lower[0] - 'A' + 'a');
	if ((v = rd_json_str(resp, field)) || (v = rd_json_str(resp, lower)))
		return v;
	if (inner && ((v = rd_json_str(inner, field)) || (v = rd_json_str(inner, lower))))
		return v;
	return NULL;
}

/* ---- Ctrl-C ---- */

volatile sig_atomic_t cli_interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	cli_interrupted = 1;
}

void cli_catch_sigint(struct sigaction *ret_old)
{
	struct sigaction sa = {.sa_handler = on_sigint};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, ret_old);
}

void cli_restore_sigint(const struct sigaction *old)
{
	sigaction(SIGINT, old, NULL);
}

void cli_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (!cli_interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

double cli_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
