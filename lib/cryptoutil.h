/* SHA-256, HMAC-SHA256 and random bytes, through OpenSSL (cryptoutil.c). */
#pragma once

#include <stddef.h>

/* sha256 of a buffer as 64 hex characters + NUL. */
void rd_sha256(const void *data, size_t len, unsigned char out[32]);
void rd_sha256_hex(const void *data, size_t len, char out[65]);
/* HMAC-SHA256 of data under key into out (which may be key): 0, or -EIO
 * when OpenSSL fails. */
int rd_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len, unsigned char out[32]);

/* Cryptographically random bytes (OpenSSL). 0 or -EIO. */
int rd_random_bytes(void *buf, size_t len);

/* n random characters from alphabet, NUL-terminated into out (n+1 bytes). */
int rd_random_string(char *out, size_t n, const char *alphabet);
