/* Access-key secrets sealed under the key-encryption key (auth_secret.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include "auth/auth_secret.h"
#include "core/error.h"
#include "cryptoutil.h"
#include "util.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define MAX_SECRET 128
#define AAD_PREFIX "rolloutd access key "
#define AAD_TEXT_PREFIX "rolloutd sealed "

struct auth_kek {
	unsigned char key[AUTH_KEK_LEN];
};

int auth_kek_from_bytes(const unsigned char *bytes, struct auth_kek **ret)
{
	struct auth_kek *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	memcpy(k->key, bytes, AUTH_KEK_LEN);
	*ret = k;
	return 0;
}

struct auth_kek *auth_kek_free(struct auth_kek *k)
{
	if (k) {
		OPENSSL_cleanse(k->key, sizeof(k->key));
		free(k);
	}
	return NULL;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* O_EXCL, so that two processes starting at once cannot each write a KEK
 * and seal with different ones: the loser reads the winner's. */
static int kek_create(const char *path, struct rd_error *err)
{
	unsigned char raw[AUTH_KEK_LEN];
	char hex[2 * AUTH_KEK_LEN + 2];
	int fd, r;

	r = rd_random_bytes(raw, sizeof(raw));
	if (r < 0)
		return rd_error_set(err, r, "InternalFailure", "cannot generate a key-encryption key: OpenSSL failed");
	rd_hex(raw, sizeof(raw), hex);
	OPENSSL_cleanse(raw, sizeof(raw));
	strcat(hex, "\n");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		OPENSSL_cleanse(hex, sizeof(hex));
		if (r == -EEXIST)
			return 0;
		return rd_error_set(err, r, "InternalFailure",
				    "cannot create the key-encryption key %s: %s; check that its directory is "
				    "writable by the daemon's user",
				    path, strerror(-r));
	}
	/* whatever the umask */
	r = fchmod(fd, 0600) < 0 ? -errno : 0;
	if (r == 0 && write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex))
		r = -EIO;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	OPENSSL_cleanse(hex, sizeof(hex));
	close(fd);
	if (r < 0) {
		unlink(path);
		return rd_error_set(err, r, "InternalFailure", "cannot write the key-encryption key %s: %s", path,
				    strerror(-r));
	}
	return 0;
}

int auth_kek_open(const char *path, bool create, struct auth_kek **ret, struct rd_error *err)
{
	unsigned char raw[AUTH_KEK_LEN];
	char buf[2 * AUTH_KEK_LEN + 8];
	struct stat st;
	ssize_t n;
	int fd, r;

	if (create) {
		r = kek_create(path, err);
		if (r < 0)
			return r;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOENT)
			return rd_error_set(err, r, "InternalFailure",
					    "no key-encryption key at %s: the access-key secrets in the store cannot "
					    "be read without it; restore it from a backup (rolloutd backup includes "
					    "it) or point kek_file at it",
					    path);
		return rd_error_set(err, r, "InternalFailure", "cannot open the key-encryption key %s: %s", path,
				    strerror(-r));
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rd_error_set(err, -EINVAL, "InternalFailure", "the key-encryption key %s is not a regular file",
				    path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return rd_error_set(err, -EPERM, "InternalFailure",
				    "the key-encryption key %s may be read or written by other users (mode %04o); "
				    "run chmod 600 %s",
				    path, (unsigned)(st.st_mode & 07777), path);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return rd_error_set(err, -errno, "InternalFailure", "cannot read the key-encryption key %s: %s", path,
				    strerror(errno));
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	r = n == 2 * AUTH_KEK_LEN ? 0 : -EINVAL;
	for (size_t i = 0; r == 0 && i < AUTH_KEK_LEN; i++) {
		int hi = hexval(buf[2 * i]), lo = hexval(buf[2 * i + 1]);
		if (hi < 0 || lo < 0)
			r = -EINVAL;
		else
			raw[i] = (unsigned char)(hi << 4 | lo);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	if (r < 0)
		return rd_error_set(err, r, "InternalFailure",
				    "%s is not a key-encryption key (expected 64 hexadecimal digits)", path);
	r = auth_kek_from_bytes(raw, ret);
	OPENSSL_cleanse(raw, sizeof(raw));
	return r;
}

bool auth_secret_is_sealed(const char *text)
{
	return text && rd_str_has_prefix(text, AUTH_SEALED_PREFIX);
}

static void aad(const char *id, char *buf, size_t len)
{
	snprintf(buf, len, AAD_PREFIX "%s", id);
}

/* AES-256-GCM of in[len] under the KEK with additional data ad, as
 * AUTH_SEALED_PREFIX + base64(nonce | ciphertext | tag) into out (outlen
 * bytes, NUL included). */
static int seal(const struct auth_kek *k, const char *ad, const unsigned char *in, size_t len, char *out, size_t outlen)
{
	size_t bloblen = NONCE_LEN + len + TAG_LEN;
	unsigned char *blob;
	EVP_CIPHER_CTX *ctx = NULL;
	int n, fin, r = -EIO;

	if (len > INT_MAX / 2 || outlen < strlen(AUTH_SEALED_PREFIX) + (bloblen + 2) / 3 * 4 + 1)
		return -EINVAL;
	blob = malloc(bloblen);
	if (!blob)
		return -ENOMEM;
	if (rd_random_bytes(blob, NONCE_LEN) < 0)
		goto out;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->key, blob) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)ad, (int)strlen(ad)) != 1 ||
	    EVP_EncryptUpdate(ctx, blob + NONCE_LEN, &n, in, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, blob + NONCE_LEN + n, &fin) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, blob + NONCE_LEN + n + fin) != 1)
		goto out;
	memcpy(out, AUTH_SEALED_PREFIX, strlen(AUTH_SEALED_PREFIX));
	EVP_EncodeBlock((unsigned char *)out + strlen(AUTH_SEALED_PREFIX), blob, NONCE_LEN + n + fin + TAG_LEN);
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(blob, bloblen);
	free(blob);
	return r;
}

/* The reverse: the plaintext into out (at most outlen - 1 bytes and a NUL),
 * its length into *ret_len. -EBADMSG unless sealed under this KEK with ad. */
static int open_sealed(const struct auth_kek *k, const char *ad, const char *sealed, unsigned char *out, size_t outlen,
		       size_t *ret_len)
{
	unsigned char *blob = NULL;
	const char *b64;
	size_t b64len;
	EVP_CIPHER_CTX *ctx = NULL;
	int len, n, fin, r = -EBADMSG;

	if (!auth_secret_is_sealed(sealed))
		return -EBADMSG;
	b64 = sealed + strlen(AUTH_SEALED_PREFIX);
	b64len = strlen(b64);
	if (b64len == 0 || b64len % 4 || b64len > INT_MAX / 2)
		return -EBADMSG;
	blob = malloc(b64len / 4 * 3);
	if (!blob)
		return -ENOMEM;
	len = EVP_DecodeBlock(blob, (const unsigned char *)b64, (int)b64len);
	if (len < 0)
		goto out;
	/* EVP_DecodeBlock counts the padding as data */
	for (size_t i = b64len; i > 0 && b64[i - 1] == '='; i--)
		len--;
	if (len < NONCE_LEN + TAG_LEN + 1 || (size_t)(len - NONCE_LEN - TAG_LEN) >= outlen)
		goto out;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		r = -ENOMEM;
		goto out;
	}
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->key, blob) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)ad, (int)strlen(ad)) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, blob + NONCE_LEN, len - NONCE_LEN - TAG_LEN) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, blob + len - TAG_LEN) != 1 ||
	    EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1) {
		OPENSSL_cleanse(out, outlen);
		goto out;
	}
	out[n + fin] = '\0';
	*ret_len = (size_t)(n + fin);
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	if (blob)
		OPENSSL_cleanse(blob, b64len / 4 * 3);
	free(blob);
	return r;
}

int auth_secret_seal(const struct auth_kek *k, const char *id, const char *secret, char *out, size_t outlen)
{
	char ad[256];

	if (strlen(secret) > MAX_SECRET || outlen < AUTH_SEALED_MAX)
		return -EINVAL;
	aad(id, ad, sizeof(ad));
	return seal(k, ad, (const unsigned char *)secret, strlen(secret), out, outlen);
}

int auth_secret_open(const struct auth_kek *k, const char *id, const char *sealed, char *out, size_t outlen)
{
	char ad[256];
	size_t n;

	aad(id, ad, sizeof(ad));
	return open_sealed(k, ad, sealed, (unsigned char *)out, outlen, &n);
}

int auth_kek_seal_text(const struct auth_kek *k, const char *label, const char *text, char **ret)
{
	size_t len = strlen(text), cap = strlen(AUTH_SEALED_PREFIX) + (NONCE_LEN + len + TAG_LEN + 2) / 3 * 4 + 1;
	char ad[256], *out = malloc(cap);
	int r;

	if (!out)
		return -ENOMEM;
	snprintf(ad, sizeof(ad), AAD_TEXT_PREFIX "%s", label);
	r = seal(k, ad, (const unsigned char *)text, len, out, cap);
	if (r < 0) {
		free(out);
		return r;
	}
	*ret = out;
	return 0;
}

int auth_kek_open_text(const struct auth_kek *k, const char *label, const char *sealed, char **ret)
{
	size_t cap = strlen(sealed), n;
	char ad[256], *out = malloc(cap + 1);
	int r;

	if (!out)
		return -ENOMEM;
	snprintf(ad, sizeof(ad), AAD_TEXT_PREFIX "%s", label);
	r = open_sealed(k, ad, sealed, (unsigned char *)out, cap + 1, &n);
	if (r < 0 || strlen(out) != n) {
		OPENSSL_cleanse(out, cap + 1);
		free(out);
		return r < 0 ? r : -EBADMSG; /* text has no NUL inside */
	}
	*ret = out;
	return 0;
}

int auth_kek_check(const struct auth_kek *k, char out[65])
{
	static const char what[] = "rolloutd KEK check 1";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!HMAC(EVP_sha256(), k->key, AUTH_KEK_LEN, (const unsigned char *)what, strlen(what), md, &mdlen))
		return -EIO;
	rd_hex(md, mdlen, out);
	return 0;
}

int auth_kek_derive(const struct auth_kek *k, const char *label, unsigned char out[AUTH_KEK_LEN])
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[4];
	int r = -EIO;

	if (!label || !*label) {
		r = -EINVAL;
		goto out;
	}
	if (!ctx)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)k->key, AUTH_KEK_LEN);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)label, strlen(label));
	params[3] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, AUTH_KEK_LEN, params) == 1)
		r = 0;
out:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return r;
}

bool auth_secret_equal(const char *expected, const char *offered)
{
	size_t le = strlen(expected), lo = strlen(offered);
	unsigned char a[MAX_SECRET + 1] = {0}, b[MAX_SECRET + 1] = {0};
	bool eq;

	/* Compare fixed-size buffers so the time depends on neither secret's
	 * content; a length over the maximum never matches. */
	if (le > MAX_SECRET || lo > MAX_SECRET)
		return false;
	memcpy(a, expected, le);
	memcpy(b, offered, lo);
	eq = CRYPTO_memcmp(a, b, sizeof(a)) == 0 && le == lo;
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	return eq;
}
