/* What the fuzz targets share: libFuzzer's entry points, and scratch files
 * and directories for the parsers that read a path.
 *
 * Each target (fuzz_<name>.c) is built twice: with libFuzzer's main under
 * --enable-fuzzing (tests/fuzz/<name>), and in every build with replay.c's
 * main as a unit test that runs the target over its seed corpus
 * (tests/fuzz/corpus/<name>/), so that every crash once found, kept there as
 * a file, is replayed by `make check` whatever the compiler. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A fresh directory under $TMPDIR (or /tmp), removed at exit; aborts when it
 * cannot be made (the target would test nothing). */
char *fuzz_tmpdir(void);
/* Replaces the contents of path with data; aborts on failure. */
void fuzz_write(const char *path, const void *data, size_t size);
/* rm -rf of a path inside a fuzz_tmpdir(). */
void fuzz_rm_rf(const char *path);
/* A NUL-terminated copy of data (callers free). */
char *fuzz_strndup(const uint8_t *data, size_t size);
