/* The cryptographic primitives rolloutd, rollout-agent and rolloutctl
 * share, through OpenSSL: SHA-256, HMAC-SHA256 and random bytes. Apart from
 * util.c so that what links util.c alone (the bundle extraction helper)
 * does not load OpenSSL. */
#include "config.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#include "cryptoutil.h"
#include "util.h"

/* SHA-256 fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up
 * at every use, which cost a daemon hashing every request's body more than
 * the hashing. Kept for the life of the process. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md;
}

void rd_sha256(const void *data, size_t len, unsigned char out[32])
{
	unsigned int mdlen = 0;
	const EVP_MD *m = sha256();

	EVP_Digest(data, len, out, &mdlen, m ? m : EVP_sha256(), NULL);
}

void rd_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];

	rd_sha256(data, len, md);
	rd_hex(md, 32, out);
}

/* HMAC-SHA256 through OpenSSL's EVP_MAC, one context per thread, keyed
 * anew for each call: HMAC() fetches HMAC and SHA-256 by name at every call,
 * and so does EVP_MAC_init() when given the digest, so only a thread's first
 * call names it; later calls only re-key the context. */
static EVP_MAC *hmac_mac;
static pthread_key_t hmac_key;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_ctx_free(void *ctx)
{
	EVP_MAC_CTX_free(ctx);
}

static void hmac_fetch(void)
{
	hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (hmac_mac && pthread_key_create(&hmac_key, hmac_ctx_free) != 0) {
		EVP_MAC_free(hmac_mac);
		hmac_mac = NULL;
	}
}

int rd_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len, unsigned char out[32])
{
	OSSL_PARAM digest[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
			       OSSL_PARAM_construct_end()};
	EVP_MAC_CTX *ctx;
	const OSSL_PARAM *params = NULL;
	size_t olen = 0;

	pthread_once(&hmac_once, hmac_fetch);
	if (!hmac_mac)
		return -EIO;
	ctx = pthread_getspecific(hmac_key);
	if (!ctx) {
		if (!(ctx = EVP_MAC_CTX_new(hmac_mac)))
			return -ENOMEM;
		if (pthread_setspecific(hmac_key, ctx) != 0) {
			EVP_MAC_CTX_free(ctx);
			return -ENOMEM;
		}
		params = digest;
	}
	/* a zero-length key is still a key: EVP_MAC_init() takes NULL as "keep
	 * the previous one" */
	if (!EVP_MAC_init(ctx, keylen ? key : (const void *)"", keylen, params) || !EVP_MAC_update(ctx, data, len) ||
	    !EVP_MAC_final(ctx, out, &olen, 32) || olen != 32)
		return -EIO;
	return 0;
}

int rd_random_bytes(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -EIO;
}

int rd_random_string(char *out, size_t n, const char *alphabet)
{
	size_t alen = strlen(alphabet);
	unsigned char b;

	for (size_t i = 0; i < n;) {
		if (rd_random_bytes(&b, 1) < 0)
			return -EIO;
		/* reject to avoid modulo bias */
		if (b >= 256 - (256 % alen))
			continue;
		out[i++] = alphabet[b % alen];
	}
	out[n] = '\0';
	return 0;
}
