/* Revision bundles (zip, tar, tgz): safe extraction with libarchive, and a
 * read-only inspection used by rolloutd's pre-flight validation.
 *
 * Both walk the archive with the same per-entry checks and refuse the whole
 * bundle, with a message naming the entry, when an entry
 *   - has an absolute path or a '..' component,
 *   - is a symlink whose target is absolute or leaves the bundle,
 *   - is a hardlink whose target is absolute, has '..', or is not an earlier
 *     regular file of the bundle,
 *   - is a device, fifo or socket,
 *   - or when the bundle exceeds the limits (total unpacked bytes, entry
 *     count, unpacked/packed ratio).
 * Extraction never writes outside the target directory (it also refuses to
 * write through a symlink it created), ignores the archive's ownership and
 * drops setuid/setgid bits. On failure the target may hold a partial tree:
 * the caller removes it.
 *
 * Leading-directory rule of the official agent: when the archive root holds
 * exactly one entry, that entry is a directory, and that directory contains a
 * name matching "appspec" (case-insensitive), the directory's contents count
 * as the root ("myapp-1.2/appspec.yml" works like "appspec.yml").
 *
 * Library code: never logs; returns 0 or a negative errno and fills err. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct appspec;

struct bundle_limits {
	uint64_t max_bytes;   /* total unpacked bytes (default 8 GiB) */
	uint64_t max_entries; /* entries (default 200000) */
	uint64_t max_ratio;   /* unpacked / packed bytes, checked once past 64 MiB unpacked (default 200) */
};

/* Fills the defaults above. */
void bundle_limits_default(struct bundle_limits *lim);

/* Extracts bundle (zip, tar, tgz, tar.bz2, tar.xz; detected by content) into
 * dest, which is created (mode 0755) when missing and must be empty. Applies
 * the leading-directory rule. lim may be NULL for the defaults. Returns 0,
 * -EINVAL (hostile or corrupt bundle, err says which entry and why), -EFBIG
 * (a limit was hit) or another -errno (I/O). */
int bundle_extract(const char *bundle, const char *dest, const struct bundle_limits *lim, char *err, size_t errlen);
/* The same, calling tick(ud) about once a second (heartbeats); a negative
 * return from tick stops the extraction with -EINTR. */
int bundle_extract_progress(const char *bundle, const char *dest, const struct bundle_limits *lim,
			    int (*tick)(void *ud), void *ud, char *err, size_t errlen);

/* Read-only inspection: one streaming pass, nothing written to disk. */
struct bundle_info;

/* appspec_filename: the spec's AppSpecFilename (NULL: "appspec.yml"). The
 * appspec is looked up like the official agent: <AppSpecFilename>, then
 * appspec.yaml, then appspec.yml, all after the leading-directory rule.
 * On success *ret is owned by the caller (bundle_info_free). */
int bundle_inspect(const char *bundle, const char *appspec_filename, const struct bundle_limits *lim,
		   struct bundle_info **ret, char *err, size_t errlen);
struct bundle_info *bundle_info_free(struct bundle_info *info);

/* The appspec text (NUL-terminated, borrowed from info) and the name it was
 * found under, or NULL when the bundle has none. */
const char *bundle_info_appspec(const struct bundle_info *info, size_t *ret_len, const char **ret_name);

/* Is relpath (relative to the bundle root after the leading-directory rule;
 * normalised like appspec paths) in the bundle? 0 and *ret_mode (S_IFREG /
 * S_IFDIR / S_IFLNK | permission bits; may be NULL), or -ENOENT. A directory
 * that only appears implicitly (as a parent of entries) reports S_IFDIR|0755. */
int bundle_info_stat(const struct bundle_info *info, const char *relpath, mode_t *ret_mode);

/* Pre-flight of an appspec against its bundle: every hook script must be a
 * regular file in the bundle (and, when require_exec, have an execute bit;
 * the agent itself would try chmod +x like the official one), and every
 * files[].source must exist. Returns 0 or -EINVAL with err naming the key. */
int bundle_check_appspec(const struct bundle_info *info, const struct appspec *spec, bool require_exec, char *err,
			 size_t errlen);

/* Number of entries seen and total unpacked bytes (for messages/metrics). */
void bundle_info_totals(const struct bundle_info *info, uint64_t *ret_entries, uint64_t *ret_bytes);
