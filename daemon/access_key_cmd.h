/* rolloutd's offline commands on access keys and the key-encryption key
 * they share with the running daemon (access_key_cmd.c). */
#pragma once

#include <stddef.h>

struct auth_kek;
struct rd_config;
struct rd_error;
struct store;

/* Opens the KEK of cfg (kek_file, else data_dir/kek) for store st and hands
 * it to the store, which seals secrets an older rolloutd kept in the clear.
 * A missing KEK is created only when no secret is sealed yet: otherwise the
 * keys would be lost, and the message says to restore it. */
int access_key_open_kek(const struct rd_config *cfg, struct store *st, struct auth_kek **ret, struct rd_error *err);

/* rolloutd --config F access-key ... : 0, 1 (failed) or 2 (usage). */
int access_key_cmd(struct rd_config *cfg, int argc, char **argv);
