/* Small helpers shared by every program. Library code: returns negative
 * errno values, never logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RD_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Reads a whole regular file. -EFBIG when larger than max_bytes. The buffer
 * is NUL-terminated (not counted in *ret_len) and owned by the caller. */
int rd_read_file(const char *path, size_t max_bytes, char **ret_buf, size_t *ret_len);

/* Writes data to path via a temporary file in the same directory, fsync and
 * rename, with the given mode. */
int rd_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* The same without the fsync: after a crash of the process the file is
 * whole or absent; after a power loss it may also be empty or absent. */
int rd_write_file_atomic_nosync(const char *path, const void *data, size_t len, unsigned mode);

/* mkdir -p with mode for the directories it creates. */
int rd_mkdir_p(const char *path, unsigned mode);

/* Monotonic and wall clocks. */
int64_t rd_mono_ms(void);
int64_t rd_wall_ms(void);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void rd_hex(const unsigned char *in, size_t len, char *out);

/* Bounded copy that always terminates; returns strlen(src). */
size_t rd_strlcpy(char *dst, const char *src, size_t size);

bool rd_str_has_prefix(const char *s, const char *prefix);
