/* Profiles in the AWS shared files: the INI text of ~/.aws/credentials
 * ("[NAME]" sections) and ~/.aws/config ("[profile NAME]" sections; both
 * spellings are accepted in either file, as the AWS CLI does). Lines starting
 * with '#' or ';' are comments; names, keys and values are trimmed; when a key
 * appears more than once in a profile (which may span several sections) the
 * last one wins. Library code: never logs. */
#pragma once

#include <stdbool.h>

/* Whether text has a section for profile. */
bool aws_profile_exists(const char *text, const char *profile);

/* The value of key in profile: 0 and a malloc'd *ret_value; -ENOENT when the
 * profile or the key is missing; -ENOMEM. */
int aws_profile_value(const char *text, const char *profile, const char *key, char **ret_value);

/* aws_profile_value on the file at path; also the -errno of reading it
 * (-ENOENT when it does not exist, -EFBIG over 1 MiB). */
int aws_profile_file_value(const char *path, const char *profile, const char *key, char **ret_value);
