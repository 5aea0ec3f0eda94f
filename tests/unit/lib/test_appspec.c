#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "appspec.h"

static struct appspec *ok(const char *s)
{
	char err[512] = "";
	struct appspec *a = NULL;
	if (appspec_parse(s, strlen(s), "appspec.yml", &a, err, sizeof(err)) < 0)
		fail_msg("parse failed: %s", err);
	return a;
}

static void bad(const char *s, const char *want)
{
	char err[512] = "";
	struct appspec *a = NULL;
	int r = appspec_parse(s, strlen(s), "appspec.yml", &a, err, sizeof(err));
	if (r != -EINVAL)
		fail_msg("expected -EINVAL for:\n%s\ngot %d", s, r);
	assert_null(a);
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static void test_full(void **state)
{
	struct appspec *a = ok("version: 0.0\n"
			       "os: linux\n"
			       "file_exists_behavior: RETAIN\n"
			       "files:\n"
			       "  - source: /\n"
			       "    destination: /var/www/app/\n"
			       "  - source: config/app.conf\n"
			       "    destination: /etc/app/../app\n"
			       "permissions:\n"
			       "  - object: /var/www/app\n"
			       "    pattern: \"*.sh\"\n"
			       "    except: [skip.sh]\n"
			       "    owner: www-data\n"
			       "    mode: 0644\n"
			       "    type: [file]\n"
			       "hooks:\n"
			       "  ApplicationStop:\n"
			       "  BeforeInstall:\n"
			       "    - location: ./scripts//install.sh\n"
			       "      timeout: 5.7\n"
			       "      runas: nobody\n"
			       "    - location: /scripts/two.sh\n"
			       "unknown_top_level: ignored\n");
	assert_int_equal(a->file_exists_behavior, APPSPEC_FEB_RETAIN);
	assert_int_equal(a->n_files, 2);
	assert_string_equal(a->files[0].source, "");
	assert_string_equal(a->files[0].destination, "/var/www/app");
	assert_string_equal(a->files[1].source, "config/app.conf");
	assert_string_equal(a->files[1].destination, "/etc/app");
	assert_int_equal(a->n_permissions, 1);
	assert_int_equal(a->permissions[0].mode, 0644);
	assert_string_equal(a->permissions[0].pattern, "*.sh");
	assert_int_equal(a->permissions[0].n_except, 1);
	assert_int_equal(a->permissions[0].types, APPSPEC_TYPE_FILE);
	assert_null(appspec_hook(a, "ApplicationStop"));
	const struct appspec_hook *h = appspec_hook(a, "BeforeInstall");
	assert_non_null(h);
	assert_int_equal(h->n_scripts, 2);
	assert_string_equal(h->scripts[0].location, "scripts/install.sh");
	assert_int_equal(h->scripts[0].timeout, 5);
	assert_string_equal(h->scripts[0].runas, "nobody");
	assert_string_equal(h->scripts[1].location, "scripts/two.sh");
	assert_int_equal(h->scripts[1].timeout, 3600);
	assert_null(h->scripts[1].runas);
	appspec_free(a);

	a = ok("version: 0\nos: linux\n");
	assert_int_equal(a->file_exists_behavior, APPSPEC_FEB_UNSET);
	assert_int_equal(a->n_hooks, 0);
	appspec_free(a);
	appspec_free(ok("version: 0.00\nos: linux\nhooks:\n"));
}

static void test_invalid(void **state)
{
	bad("", "the appspec is empty");
	bad("  \n\n", "the appspec is empty");
	bad("os: linux\n", "version: missing");
	bad("version: \"0.0\"\nos: linux\n", "appspec.yml:1:10: version: must be the number 0.0 (unquoted)");
	bad("version: 1.0\nos: linux\n", "version: '1.0' is not supported");
	bad("version: 0.0\n", "os: missing");
	bad("version: 0.0\nos: Linux\n", "appspec.yml:2:5: os: 'Linux' is not supported");
	bad("version: 0.0\nos: windows\n", "windows appspecs cannot run");
	bad("version: 0.0\nos: linux\nfile_exists_behavior: overwrite\n",
	    "file_exists_behavior: 'overwrite' is not valid");
	bad("version: 0.0\nos: linux\nfiles:\n  - destination: /x\n", "files[0]: 'source' is missing");
	bad("version: 0.0\nos: linux\nfiles:\n  - source: a\n", "files[0]: 'destination' is missing");
	bad("version: 0.0\nos: linux\nfiles:\n  - source: ../etc\n    destination: /x\n",
	    "files[0].source: '../etc' leaves the bundle");
	bad("version: 0.0\nos: linux\nfiles:\n  - source: a\n    destination: rel/x\n",
	    "files[0].destination: 'rel/x' is not an absolute path");
	bad("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - timeout: 3\n",
	    "hooks.AfterInstall[0]: 'location' is missing");
	bad("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a/../../x\n", "leaves the bundle");
	bad("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a\n      timeout: abc\n",
	    "appspec.yml:6:16: hooks.AfterInstall[0].timeout: 'abc' is not a number of seconds");
	bad("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    - location: a\n      timeout: 0\n",
	    "must be at least 1 second");
	bad("version: 0.0\nos: linux\nhooks:\n  AfterInstall:\n    location: a\n",
	    "hooks.AfterInstall: expected a list of scripts");
	bad("version: 0.0\nos: linux\npermissions:\n  - owner: x\n", "permissions[0]: 'object' is missing");
	bad("version: 0.0\nos: linux\npermissions:\n  - object: /x\n    mode: 0899\n",
	    "permissions[0].mode: '0899' is not a mode");
	bad("version: 0.0\nos: linux\npermissions:\n  - object: /x\n    mode: 12345\n", "is not a mode");
	bad("version: 0.0\nos: linux\npermissions:\n  - object: /x\n    type: [link]\n",
	    "permissions[0].type: 'link' is not a type");
	bad("version: 0.0\nos: linux\npermissions:\n  - object: /x\n    acls: [u:bob:rw]\n", "ACLs are not supported");
	bad("version: 0.0\nos: linux\npermissions:\n  - object: /x\n    context: {type: httpd_sys_content_t}\n",
	    "SELinux");
	bad("version: 0.0\nos: linux\nhooks: [a]\n", "hooks: expected a mapping");
	bad("- a\n", "the appspec must be a mapping");
	bad("version: 0.0\nos: linux\nos: linux\n", "duplicate key 'os'");
}

static void test_events_and_helpers(void **state)
{
	struct appspec *a = ok("version: 0.0\nos: linux\nhooks:\n  Custom:\n    - location: x\n");
	static const char *const allowed[] = {"ApplicationStop", "BeforeInstall"};
	char err[256];
	assert_int_equal(appspec_check_events(a, allowed, 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'Custom' is not a lifecycle event"));
	appspec_free(a);

	assert_true(appspec_is_host_event("ValidateService"));
	assert_false(appspec_is_host_event("DownloadBundle"));
	assert_int_equal(appspec_feb_parse("overwrite", true), APPSPEC_FEB_OVERWRITE);
	assert_int_equal(appspec_feb_parse("overwrite", false), APPSPEC_FEB_UNSET);
	assert_true(appspec_glob_match("*.sh", "a.sh"));
	assert_false(appspec_glob_match("*.sh", "d/a.sh"));
	assert_true(appspec_glob_match("a*b*c", "aXbYc"));
	assert_false(appspec_glob_match("a*b", "a/b"));
	assert_true(appspec_glob_match("*", "anything"));

	char *p = NULL;
	assert_int_equal(appspec_norm_relpath("//a/./b//c/", &p), 0);
	assert_string_equal(p, "a/b/c");
	free(p);
	assert_int_equal(appspec_norm_relpath("a/../b", &p), -EINVAL);
	assert_int_equal(appspec_norm_relpath("/./", &p), 0);
	assert_string_equal(p, "");
	free(p);

	static const char *const abs[][2] = {
	    {"/var//www/./app/", "/var/www/app"},
	    {"/etc/app/../app", "/etc/app"},
	    {"/../..", "/"},
	    {"//", "/"},
	    {"/a/b/../../c", "/c"},
	    {"/a/..b/.c", "/a/..b/.c"},
	};
	for (size_t i = 0; i < sizeof(abs) / sizeof(abs[0]); i++) {
		assert_int_equal(appspec_norm_abspath(abs[i][0], &p), 0);
		assert_string_equal(p, abs[i][1]);
		free(p);
	}
}

/* Robustness: thousands of mutated appspecs (flips, cuts, insertions of YAML
 * punctuation) parse or fail cleanly, never crash or leak (ASan). */
static void test_mutations(void **state)
{
	static const char base[] = "version: 0.0\nos: linux\nfile_exists_behavior: OVERWRITE\nfiles:\n"
				   "  - source: /web\n    destination: /var/www\npermissions:\n"
				   "  - object: /var/www\n    pattern: \"*.sh\"\n    except: [a, b]\n    mode: 755\n"
				   "    type: [file, directory]\nhooks:\n  BeforeInstall:\n"
				   "    - location: scripts/a.sh\n      timeout: 30\n      runas: root\n";
	static const char punct[] = ":-[]{}\"'\n #&*!|>?%@`,.0\t";
	char buf[sizeof(base) + 64], err[512];
	unsigned seed = 12345, ok = 0, bad = 0;

	for (int i = 0; i < 10000; i++) {
		size_t len = sizeof(base) - 1;
		struct appspec *a = NULL;
		int n = 1 + (int)(rand_r(&seed) % 4);
		memcpy(buf, base, len);
		for (int k = 0; k < n && len > 0; k++) {
			size_t at = (size_t)rand_r(&seed) % len;
			switch (rand_r(&seed) % 4) {
			case 0:
				buf[at] = punct[rand_r(&seed) % (sizeof(punct) - 1)];
				break;
			case 1:
				buf[at] = (char)(rand_r(&seed) % 256);
				break;
			case 2:
				len = at;
				break;
			default:
				if (len + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = punct[rand_r(&seed) % (sizeof(punct) - 1)];
					len++;
				}
			}
		}
		err[0] = 0;
		if (appspec_parse(buf, len, "m.yml", &a, err, sizeof(err)) == 0) {
			ok++;
			appspec_free(a);
		} else {
			bad++;
			assert_true(err[0] != 0); /* every refusal says why */
		}
	}
	assert_true(ok > 100 && bad > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_events_and_helpers),
	    cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
