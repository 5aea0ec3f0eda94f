/* rolloutd --config F access-key ...: access keys managed on the control
 * host without a running daemon (or beside it: the store is shared safely),
 * the way to mint the first admin key. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "access_key_cmd.h"
#include "shared_keys.h"
#include "api/api_info.h"
#include "auth/auth_secret.h"
#include "core/conf.h"
#include "core/error.h"
#include "duration.h"
#include "store/store.h"
#include "store_config.h"
#include "util.h"

int access_key_open_kek(const struct rd_config *cfg, struct store *st, struct auth_kek **ret, struct rd_error *err)
{
	char path[4200];
	int r;

	if (cfg->kek_file)
		rd_strlcpy(path, cfg->kek_file, sizeof(path));
	else
		snprintf(path, sizeof(path), "%s/kek", cfg->data_dir);
	r = auth_kek_open(path, false, ret, err);
	if (r == -ENOENT) {
		int64_t sealed = 0;
		int r2 = store_access_key_count_sealed(st, &sealed);
		if (r2 < 0)
			return rd_error_set(err, r2, "InternalFailure", "cannot read the access keys: %s",
					    strerror(-r2));
		/* none to lose: a new KEK is safe */
		if (sealed == 0) {
			*err = (struct rd_error)RD_ERROR_INIT;
			r = auth_kek_open(path, true, ret, err);
		}
	}
	if (r < 0)
		return r;
	/* the daemons of a cluster must all have this one */
	r = shared_keys_check_kek(cfg, st, *ret, err);
	if (r == 0)
		r = store_set_kek(st, *ret, err);
	if (r < 0)
		*ret = auth_kek_free(*ret);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: rolloutd --config FILE access-key create --name NAME --policy "
		   "admin|deployer|readonly|agent|enroll\n"
		   "                      [--instance NAME|asg:GROUP|tag:KEY=VALUE] [--applications APP[,APP...]]\n"
		   "       rolloutd --config FILE access-key list\n"
		   "       rolloutd --config FILE access-key delete|disable|enable ACCESS_KEY_ID\n"
		   "       rolloutd --config FILE access-key rotate ACCESS_KEY_ID [--retire-after DURATION]\n"
		   "       rolloutd --config FILE access-key retire ACCESS_KEY_ID\n"
		   "       rolloutd --config FILE access-key scope ACCESS_KEY_ID --applications APP[,APP...]|--all\n");
}

/* "web,billing" -> ["web", "billing"] */
static json_t *split_apps(const char *list)
{
	json_t *a = json_array();
	char *dup = strdup(list), *save = NULL;

	for (char *t = dup ? strtok_r(dup, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
		if (*t)
			json_array_append_new(a, json_string(t));
	free(dup);
	return a;
}

static void print_json(json_t *o)
{
	char *txt = o ? json_dumps(o, JSON_INDENT(2)) : NULL;

	printf("%s\n", txt ? txt : "{}");
	free(txt);
	json_decref(o);
}

static int key_error(const char *what, const char *id, int r, const char *err)
{
	fprintf(stderr, "rolloutd: cannot %s access key %s: %s\n", what, id,
		err && *err	 ? err
		: r == -ENOENT	 ? "no such key (see 'access-key list')"
		: r == -EBUSY	 ? "its previous secret is still accepted; retire it first ('access-key retire')"
		: r == -EALREADY ? "it is not being rotated"
				 : strerror(-r));
	return 1;
}

int access_key_cmd(struct rd_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"policy", required_argument, NULL, 'p'},
	    {"instance", required_argument, NULL, 'i'},
	    {"scope", required_argument, NULL, 'i'}, /* an enroll key's fleet, kept where the instance is */
	    {"applications", required_argument, NULL, 'a'},
	    {"all", no_argument, NULL, 'A'},
	    {"retire-after", required_argument, NULL, 'r'},
	    {0},
	};
	const char *name = NULL, *policy = NULL, *instance = NULL, *apps = NULL, *retire = NULL, *sub, *id;
	struct auth_kek *kek = NULL;
	struct store *st = NULL;
	struct store_access_key k;
	struct rd_error e = RD_ERROR_INIT;
	bool all = false;
	char err[1024] = "";
	int o, r, ret = 1;

	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	sub = argv[0];
	/* 0: glibc re-reads the option string (main parsed with "+", stopping at the first word) */
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n':
			name = optarg;
			break;
		case 'p':
			policy = optarg;
			break;
		case 'i':
			instance = optarg;
			break;
		case 'a':
			apps = optarg;
			break;
		case 'A':
			all = true;
			break;
		case 'r':
			retire = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	id = optind < argc ? argv[optind] : NULL;
	if (strcmp(sub, "create") && strcmp(sub, "list") && !id) {
		usage(stderr);
		return 2;
	}
	r = store_config_open(cfg, &st, &e);
	if (r == 0)
		r = access_key_open_kek(cfg, st, &kek, &e);
	if (r < 0) {
		fprintf(stderr, "rolloutd: %s\n", e.message[0] ? e.message : strerror(-r));
		goto out;
	}
	err[0] = '\0';
	memset(&k, 0, sizeof(k));
	if (!strcmp(sub, "create")) {
		json_t *scope = apps ? split_apps(apps) : NULL;
		if (!name || !policy) {
			fprintf(stderr, "rolloutd: access-key create needs --name NAME and --policy "
					"admin|deployer|readonly|agent|enroll\n");
			json_decref(scope);
			ret = 2;
			goto out;
		}
		r = store_access_key_create_scoped(st, name, policy, instance, scope, &k, err, sizeof(err));
		json_decref(scope);
		if (r < 0) {
			fprintf(stderr, "rolloutd: %s\n", err);
			goto out;
		}
		print_json(json_pack("{s:s, s:s}", "AccessKeyId", k.id, "SecretAccessKey", k.secret));
		ret = 0;
	} else if (!strcmp(sub, "list")) {
		struct store_access_key *keys = NULL;
		json_t *l = json_array();
		size_t n = 0;
		r = store_access_key_list(st, &keys, &n);
		if (r < 0) {
			json_decref(l);
			fprintf(stderr, "rolloutd: cannot list access keys: %s\n", strerror(-r));
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			json_array_append_new(l, api_access_key_json(&keys[i]));
		free(keys);
		print_json(l);
		ret = 0;
	} else if (!strcmp(sub, "delete")) {
		r = store_access_key_delete(st, id);
		ret = r < 0 ? key_error("delete", id, r, NULL) : 0;
	} else if (!strcmp(sub, "disable") || !strcmp(sub, "enable")) {
		r = store_access_key_set_status(st, id, !strcmp(sub, "enable") ? "Active" : "Inactive");
		ret = r < 0 ? key_error(sub, id, r, NULL) : 0;
	} else if (!strcmp(sub, "rotate")) {
		int64_t after = 0;
		if (retire && rd_duration_parse_ms(retire, 3650LL * 24 * 3600 * 1000, &after) < 0) {
			fprintf(stderr, "rolloutd: --retire-after: '%s' is not a duration (e.g. 1h, 7d)\n", retire);
			ret = 2;
			goto out;
		}
		r = store_access_key_rotate(st, id, after, &k);
		if (r < 0) {
			ret = key_error("rotate", id, r, NULL);
			goto out;
		}
		print_json(json_pack("{s:s, s:s}", "AccessKeyId", k.id, "SecretAccessKey", k.secret));
		ret = 0;
	} else if (!strcmp(sub, "retire")) {
		r = store_access_key_retire(st, id);
		ret = r < 0 ? key_error("retire the previous secret of", id, r, NULL) : 0;
	} else if (!strcmp(sub, "scope")) {
		json_t *scope = apps ? split_apps(apps) : NULL;
		if (!apps == !all) {
			fprintf(stderr, "rolloutd: access-key scope needs --applications APP[,APP...] or --all\n");
			json_decref(scope);
			ret = 2;
			goto out;
		}
		r = store_access_key_set_applications(st, id, scope, err, sizeof(err));
		json_decref(scope);
		ret = r < 0 ? key_error("scope", id, r, err) : 0;
	} else {
		usage(stderr);
		ret = 2;
	}
out:
	explicit_bzero(&k, sizeof(k));
	store_close(st);
	auth_kek_free(kek);
	return ret;
}
