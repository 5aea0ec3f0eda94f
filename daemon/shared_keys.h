/* What every daemon of a cluster (several rolloutd on one PostgreSQL store,
 * docs/cluster.md) must hold alike besides the tables, checked at start
 * against what the first daemon recorded in the store (store_shared_key_claim):
 *
 *   the KEK       given to every daemon by config (kek_file); a check of it
 *                 (auth_kek_check) is recorded, and a daemon with another
 *                 KEK is refused: it could not open the access keys;
 *   daemon.key    the key that signs deployment specifications, and
 *   daemon.crt    its certificate, which agents pin: kept in the store, the
 *                 key sealed under the KEK; the first daemon stores its own
 *                 (generating it when data_dir has none), the others write
 *                 it into their data_dir; a daemon whose data_dir holds
 *                 another pair is refused (agents may pin that one);
 *   tls.cert      given to every daemon by config; its sha256 is recorded,
 *                 and a daemon serving another certificate is refused
 *                 (agents pin one; "none" when the daemons serve plain HTTP).
 *
 * On SQLite (one daemon) nothing is checked or recorded. */
#pragma once

struct auth_kek;
struct rd_config;
struct rd_error;
struct store;

/* The KEK: by access_key_open_kek, for the daemon and 'rolloutd access-key'
 * alike (a key sealed under another KEK would open on no daemon). 0, or a
 * negative errno with err's message naming kek_file. */
int shared_keys_check_kek(const struct rd_config *cfg, struct store *st, const struct auth_kek *kek,
			  struct rd_error *err);
/* The TLS certificate and the signing key, before the engine opens the
 * signing key from data_dir. 0, or a negative errno with err's message
 * naming the file to fix and how. */
int shared_keys_check(const struct rd_config *cfg, struct store *st, const struct auth_kek *kek, struct rd_error *err);
