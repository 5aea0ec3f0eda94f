/* Access-key secrets at rest: sealed with AES-256-GCM (OpenSSL EVP) under a
 * key-encryption key (KEK) kept outside the database, so that a copy of
 * state.db alone reveals no secret.
 *
 * The KEK is a file of 32 random bytes written as 64 hexadecimal digits
 * (data_dir/kek unless the config names another path with kek_file). It is
 * created 0600 when missing, and refused when group or others may read or
 * write it, or when it is not a regular file.
 *
 * A sealed secret is the text "rdk1:" followed by the base64 of the 12-byte
 * nonce, the ciphertext and the 16-byte tag. The access key's id is the
 * additional authenticated data: a sealed secret moved to another key's row
 * does not open.
 *
 * Thread-safe: a struct auth_kek is read-only once opened. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct rd_error;

#define AUTH_KEK_LEN 32
#define AUTH_SEALED_PREFIX "rdk1:"
/* Longest sealed form of a secret of up to 128 characters, with its NUL. */
#define AUTH_SEALED_MAX 256

struct auth_kek;

/* Opens the KEK at path; when it does not exist and create is true, makes a
 * new one (mode 0600). -ENOENT when missing and !create, -EPERM when its
 * permissions are too open, -EINVAL when its content is not a KEK; err says
 * which file and how to fix it. */
int auth_kek_open(const char *path, bool create, struct auth_kek **ret, struct rd_error *err);
/* Wipes and frees; NULL-safe. */
struct auth_kek *auth_kek_free(struct auth_kek *k);
/* The KEK from 32 raw bytes (tests). */
int auth_kek_from_bytes(const unsigned char *bytes, struct auth_kek **ret);

/* Whether text is a sealed secret (as opposed to a secret stored in the
 * clear by an older rolloutd). */
bool auth_secret_is_sealed(const char *text);
/* Seals secret for the access key id into out (at least AUTH_SEALED_MAX
 * bytes). 0, -EINVAL when secret is longer than 128, -EIO when OpenSSL fails. */
int auth_secret_seal(const struct auth_kek *k, const char *id, const char *secret, char *out, size_t outlen);
/* Opens a sealed secret of access key id into out. -EBADMSG when it was not
 * sealed with this KEK for this id (another KEK, a tampered or moved value). */
int auth_secret_open(const struct auth_kek *k, const char *id, const char *sealed, char *out, size_t outlen);
/* Seals text of any length under the KEK, in the same form as a secret; label
 * (e.g. "daemon.key") is its additional authenticated data: a value sealed
 * for one label does not open for another. *ret malloc'd. */
int auth_kek_seal_text(const struct auth_kek *k, const char *label, const char *text, char **ret);
/* Opens what auth_kek_seal_text made for label; *ret malloc'd (wipe it when
 * done with it). -EBADMSG when sealed under another KEK or for another label. */
int auth_kek_open_text(const struct auth_kek *k, const char *label, const char *sealed, char **ret);
/* A check of the KEK that reveals nothing of it (HMAC-SHA256 of a constant
 * under it, 64 hex digits): daemons sharing a store compare theirs with the
 * one recorded there. */
int auth_kek_check(const struct auth_kek *k, char out[65]);
/* A key of AUTH_KEK_LEN bytes for one purpose (label, e.g. "rolloutd relay
 * v1"), derived from the KEK with HKDF-SHA256: daemons sharing the KEK share
 * it, and it reveals nothing of the KEK or of keys for other labels.
 * 0, -EINVAL for an empty label, -EIO when OpenSSL fails. */
int auth_kek_derive(const struct auth_kek *k, const char *label, unsigned char out[AUTH_KEK_LEN]);
/* Constant-time comparison of two secrets (the time depends only on the
 * length of b, the secret offered). */
bool auth_secret_equal(const char *expected, const char *offered);
