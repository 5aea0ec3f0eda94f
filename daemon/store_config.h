/* The store a daemon config names (store_config.c): SQLite in data_dir, or
 * PostgreSQL by `store:` with its password from store_password_file. */
#pragma once

#include <stddef.h>

struct rd_config;
struct rd_error;
struct store;

/* Opens cfg's store. Error messages never hold the password. */
int store_config_open(const struct rd_config *cfg, struct store **ret, struct rd_error *err);

/* uri with the password (user:PASSWORD@ and password=...) replaced by
 * "***", for logs and messages; truncated to size. */
void store_config_redact(const char *uri, char *buf, size_t size);
