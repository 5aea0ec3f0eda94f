/* Random (version 4) UUIDs: resource, deployment and request identifiers.
 * Library code: never logs. */
#pragma once

#define RD_UUID_LEN 37 /* 36 characters and the NUL */

/* Writes a lower-case "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" into out.
 * 0, or -EIO when the system has no randomness to give (out is then "",
 * never a predictable identifier). */
int rd_uuid4(char out[RD_UUID_LEN]);
