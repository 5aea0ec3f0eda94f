#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cryptoutil.h"
#include "util.h"
#include "uuid.h"

/* The random bytes of the next UUIDs, drawn from OpenSSL a batch at a time
 * per thread: the daemon makes one per request, and one RAND_bytes() call
 * (its locks, its fork check) cost more than the rest of a cheap request's
 * bookkeeping. A forked child starts with an empty batch, else it would
 * hand out its parent's next identifiers. */
#define BATCH 64

static __thread unsigned char batch[BATCH * 16];
static __thread unsigned batch_used = BATCH; /* UUIDs of batch handed out */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void batch_forget(void)
{
	/* the forking thread is the child's only one */
	explicit_bzero(batch, sizeof(batch));
	batch_used = BATCH;
}

static void atfork_register(void)
{
	(void)pthread_atfork(NULL, NULL, batch_forget);
}

int rd_uuid4(char out[RD_UUID_LEN])
{
	unsigned char b[16];
	char hex[33];

	pthread_once(&atfork_once, atfork_register);
	if (batch_used == BATCH) {
		if (rd_random_bytes(batch, sizeof(batch)) < 0) {
			out[0] = '\0';
			return -EIO;
		}
		batch_used = 0;
	}
	memcpy(b, batch + 16 * batch_used, 16);
	explicit_bzero(batch + 16 * batch_used, 16);
	batch_used++;
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	rd_hex(b, 16, hex);
	snprintf(out, RD_UUID_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
	return 0;
}
