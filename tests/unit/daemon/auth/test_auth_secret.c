/* daemon/auth/auth_secret.c: access-key secrets sealed under the KEK with
 * AES-256-GCM, the KEK file (created 0600, refused when others may read
 * it), and the constant-time comparison. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "auth/auth_secret.h"
#include "core/error.h"
#include "tmpdir.h"

static const unsigned char raw1[AUTH_KEK_LEN] = {1, 2, 3};
static const unsigned char raw2[AUTH_KEK_LEN] = {3, 2, 1};

static void test_seal_open(void **state)
{
	struct auth_kek *k = NULL, *other = NULL;
	char sealed[AUTH_SEALED_MAX], again[AUTH_SEALED_MAX], out[129];
	const char *secret = "abcdefghijklmnopqrstuvwxyz0123456789+/AB";

	assert_int_equal(auth_kek_from_bytes(raw1, &k), 0);
	assert_int_equal(auth_kek_from_bytes(raw2, &other), 0);
	assert_int_equal(auth_secret_seal(k, "AKRD1", secret, sealed, sizeof(sealed)), 0);
	assert_true(auth_secret_is_sealed(sealed));
	assert_false(auth_secret_is_sealed(secret));
	assert_null(strstr(sealed, secret));
	assert_int_equal(auth_secret_open(k, "AKRD1", sealed, out, sizeof(out)), 0);
	assert_string_equal(out, secret);
	/* a fresh nonce each time */
	assert_int_equal(auth_secret_seal(k, "AKRD1", secret, again, sizeof(again)), 0);
	assert_string_not_equal(sealed, again);
	/* another KEK, another key's row, a flipped byte: refused */
	assert_int_equal(auth_secret_open(other, "AKRD1", sealed, out, sizeof(out)), -EBADMSG);
	assert_int_equal(auth_secret_open(k, "AKRD2", sealed, out, sizeof(out)), -EBADMSG);
	sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
	assert_int_equal(auth_secret_open(k, "AKRD1", sealed, out, sizeof(out)), -EBADMSG);
	assert_int_equal(auth_secret_open(k, "AKRD1", "rdk1:", out, sizeof(out)), -EBADMSG);
	assert_int_equal(auth_secret_open(k, "AKRD1", "rdk1:!!!!", out, sizeof(out)), -EBADMSG);
	assert_int_equal(auth_secret_open(k, "AKRD1", secret, out, sizeof(out)), -EBADMSG);
	/* the output buffer must hold the secret */
	assert_int_equal(auth_secret_open(k, "AKRD1", again, out, 8), -EBADMSG);
	auth_kek_free(k);
	auth_kek_free(other);
}

/* text of any length (a PEM private key), bound to its label; and the
 * check daemons sharing a store compare */
static void test_seal_text_and_check(void **state)
{
	struct auth_kek *k = NULL, *other = NULL;
	char text[3000], *sealed = NULL, *out = NULL, c1[65], c2[65], c1b[65];

	(void)state;
	memset(text, 'k', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	assert_int_equal(auth_kek_from_bytes(raw1, &k), 0);
	assert_int_equal(auth_kek_from_bytes(raw2, &other), 0);
	assert_int_equal(auth_kek_seal_text(k, "daemon.key", text, &sealed), 0);
	assert_true(auth_secret_is_sealed(sealed));
	assert_null(strstr(sealed, "kkkk"));
	assert_int_equal(auth_kek_open_text(k, "daemon.key", sealed, &out), 0);
	assert_string_equal(out, text);
	free(out);
	/* another KEK, another label, a damaged value: refused */
	assert_int_equal(auth_kek_open_text(other, "daemon.key", sealed, &out), -EBADMSG);
	assert_int_equal(auth_kek_open_text(k, "other", sealed, &out), -EBADMSG);
	sealed[10] = sealed[10] == 'A' ? 'B' : 'A';
	assert_int_equal(auth_kek_open_text(k, "daemon.key", sealed, &out), -EBADMSG);
	free(sealed);
	/* a text sealed is not an access key's secret, nor the reverse */
	assert_int_equal(auth_kek_seal_text(k, "AKRD1", "short", &sealed), 0);
	{
		char o[129];
		assert_int_equal(auth_secret_open(k, "AKRD1", sealed, o, sizeof(o)), -EBADMSG);
	}
	free(sealed);

	assert_int_equal(auth_kek_check(k, c1), 0);
	assert_int_equal(auth_kek_check(k, c1b), 0);
	assert_int_equal(auth_kek_check(other, c2), 0);
	assert_int_equal(strlen(c1), 64);
	assert_string_equal(c1, c1b);
	assert_string_not_equal(c1, c2);
	auth_kek_free(k);
	auth_kek_free(other);
}

/* A derived key is the same for the same KEK and label, and differs for
 * another label or KEK (RFC 5869 HKDF, so OpenSSL's own vectors apply). */
static void test_derive(void **state)
{
	unsigned char b1[AUTH_KEK_LEN], b2[AUTH_KEK_LEN], k1[AUTH_KEK_LEN], k1b[AUTH_KEK_LEN], k2[AUTH_KEK_LEN],
	    k3[AUTH_KEK_LEN];
	struct auth_kek *a = NULL, *b = NULL;

	memset(b1, 7, sizeof(b1));
	memset(b2, 8, sizeof(b2));
	assert_int_equal(auth_kek_from_bytes(b1, &a), 0);
	assert_int_equal(auth_kek_from_bytes(b2, &b), 0);
	assert_int_equal(auth_kek_derive(a, "rolloutd relay v1", k1), 0);
	assert_int_equal(auth_kek_derive(a, "rolloutd relay v1", k1b), 0);
	assert_int_equal(auth_kek_derive(a, "another purpose", k2), 0);
	assert_int_equal(auth_kek_derive(b, "rolloutd relay v1", k3), 0);
	assert_memory_equal(k1, k1b, sizeof(k1));
	assert_memory_not_equal(k1, k2, sizeof(k1));
	assert_memory_not_equal(k1, k3, sizeof(k1));
	assert_memory_not_equal(k1, b1, sizeof(k1));
	assert_int_equal(auth_kek_derive(a, "", k2), -EINVAL);
	auth_kek_free(a);
	auth_kek_free(b);
}

static void test_equal(void **state)
{
	assert_true(auth_secret_equal("abc", "abc"));
	assert_false(auth_secret_equal("abc", "abd"));
	assert_false(auth_secret_equal("abc", "ab"));
	assert_false(auth_secret_equal("abc", "abcd"));
	assert_false(auth_secret_equal("abc", ""));
	assert_true(auth_secret_equal("", ""));
}

static void test_kek_file(void **state)
{
	char *dir = tu_mkdtemp(), path[4200], sealed[AUTH_SEALED_MAX], out[129];
	struct auth_kek *k = NULL, *k2 = NULL;
	struct rd_error e = RD_ERROR_INIT;
	struct stat st;

	snprintf(path, sizeof(path), "%s/kek", dir);
	assert_int_equal(auth_kek_open(path, false, &k, &e), -ENOENT);
	assert_non_null(strstr(e.message, "restore it"));
	assert_int_equal(auth_kek_open(path, true, &k, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 65);
	/* opening again reads the same KEK */
	assert_int_equal(auth_kek_open(path, true, &k2, &e), 0);
	assert_int_equal(auth_secret_seal(k, "AKRD1", "s3cret", sealed, sizeof(sealed)), 0);
	assert_int_equal(auth_secret_open(k2, "AKRD1", sealed, out, sizeof(out)), 0);
	assert_string_equal(out, "s3cret");
	k2 = auth_kek_free(k2);
	/* readable by the group or others: refused with the fix */
	assert_int_equal(chmod(path, 0640), 0);
	e = (struct rd_error)RD_ERROR_INIT;
	assert_int_equal(auth_kek_open(path, false, &k2, &e), -EPERM);
	assert_non_null(strstr(e.message, "chmod 600"));
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(auth_kek_open(path, true, &k2, &e), -EPERM);
	assert_int_equal(chmod(path, 0600), 0);
	/* not a KEK */
	tu_write(dir, "bad", "not hex");
	snprintf(path, sizeof(path), "%s/bad", dir);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(auth_kek_open(path, false, &k2, &e), -EINVAL);
	assert_non_null(strstr(e.message, "64 hexadecimal digits"));
	/* a directory */
	assert_int_equal(auth_kek_open(dir, false, &k2, &e), -EINVAL);
	auth_kek_free(k);
	tu_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seal_open), cmocka_unit_test(test_seal_text_and_check),
	    cmocka_unit_test(test_derive),    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_kek_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
