#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

int rd_duration_parse_ms(const char *s, int64_t max_ms, int64_t *ret_ms)
{
	char *end;
	double v, mul;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (*end == '\0' || strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else if (strcmp(end, "h") == 0)
		mul = 3600000;
	else if (strcmp(end, "d") == 0)
		mul = 86400000;
	else
		return -EINVAL;
	/* Compared as doubles, since the product may not fit an int64_t; above
	 * 9e15 ms (285,000 years) a double no longer holds every millisecond. */
	if (v * mul > (double)max_ms || v * mul > 9e15)
		return -ERANGE;
	*ret_ms = (int64_t)(v * mul);
	return 0;
}
