/* The dashboard's files (web/), built into the daemon: ui_assets.c is
 * generated at build time by ui_embed.sh. */
#pragma once

#include <stddef.h>

struct ui_asset {
	const char *path; /* "/ui/app.js" */
	const char *content_type;
	const unsigned char *data;
	size_t len;
};

extern const struct ui_asset ui_assets[];
extern const size_t ui_n_assets;
