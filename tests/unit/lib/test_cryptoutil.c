/* The OpenSSL-backed primitives: SHA-256 and HMAC-SHA256 against published
 * test vectors (FIPS 180-2, RFC 4231), from several threads (each keeps its
 * own HMAC context), and random strings drawn only from their alphabet. */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cryptoutil.h"
#include "util.h"

static void test_sha256_vectors(void **state)
{
	char hex[65];

	(void)state;
	rd_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	rd_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* RFC 4231 test case 2: key "Jefe" */
static void *hmac_case2(void *arg)
{
	static const char data[] = "what do ya want for nothing?";
	unsigned char mac[32];
	char hex[65];

	for (int i = 0; i < 200; i++) {
		if (rd_hmac_sha256("Jefe", 4, data, strlen(data), mac) < 0)
			return NULL;
		rd_hex(mac, 32, hex);
		if (strcmp(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") != 0)
			return NULL;
	}
	return arg;
}

/* RFC 4231's cases 1, 2 and 6 (a key longer than the block, hashed first),
 * out = key (SigV4 chains its keys so) and an empty key. */
static void test_hmac_vectors(void **state)
{
	unsigned char key[131], out[32];
	char hex[65];

	(void)state;
	memset(key, 0x0b, 20);
	assert_int_equal(rd_hmac_sha256(key, 20, "Hi There", 8, out), 0);
	rd_hex(out, 32, hex);
	assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	memset(key, 0xaa, sizeof(key));
	assert_int_equal(
	    rd_hmac_sha256(key, sizeof(key), "Test Using Larger Than Block-Size Key - Hash Key First", 54, out), 0);
	rd_hex(out, 32, hex);
	assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	memcpy(key, "Jefe", 4);
	assert_int_equal(rd_hmac_sha256(key, 4, "what do ya want for nothing?", 28, key), 0);
	rd_hex(key, 32, hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	assert_int_equal(rd_hmac_sha256("", 0, "", 0, out), 0);
	rd_hex(out, 32, hex);
	assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

/* Each thread keeps its own HMAC context: case 2 from four at once. */
static void test_hmac_from_threads(void **state)
{
	pthread_t t[4];
	void *ok;

	(void)state;
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hmac_case2, (void *)1), 0);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &ok), 0);
		assert_non_null(ok);
	}
}

static void test_random_string_uses_its_alphabet(void **state)
{
	char s[65], t[65];

	(void)state;
	assert_int_equal(rd_random_string(s, 64, "ab"), 0);
	assert_int_equal(strlen(s), 64);
	assert_int_equal(strspn(s, "ab"), 64);
	assert_int_equal(rd_random_string(t, 64, "ab"), 0);
	assert_string_not_equal(s, t); /* 2^-64 */
	assert_int_equal(rd_random_string(s, 0, "ab"), 0);
	assert_string_equal(s, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sha256_vectors),
	    cmocka_unit_test(test_hmac_vectors),
	    cmocka_unit_test(test_hmac_from_threads),
	    cmocka_unit_test(test_random_string_uses_its_alphabet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
