#!/bin/sh
# Runs one unit test program, under valgrind when VALGRIND=1.
if [ "${VALGRIND:-0}" = 1 ]; then
	exec valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--track-fds=no "$@"
fi
exec "$@"
