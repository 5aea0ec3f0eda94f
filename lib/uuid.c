#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "util.h"
#include "uuid.h"

int rd_uuid4(char out[RD_UUID_LEN])
{
	unsigned char b[16];
	char hex[33];

	if (rd_random_bytes(b, sizeof(b)) < 0) {
		out[0] = '\0';
		return -EIO;
	}
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	rd_hex(b, 16, hex);
	snprintf(out, RD_UUID_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
	return 0;
}
