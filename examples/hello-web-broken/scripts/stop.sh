#!/bin/sh
# ApplicationStop: stop the server the previous revision started, if any.
set -eu
. "$(dirname "$0")/common.sh"
if server_running; then
	pid="$(cat "$PIDFILE")"
	echo "stopping hello-web (pid $pid) on port $HELLO_PORT"
	kill "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$pid" 2>/dev/null || true
else
	echo "hello-web is not running on port $HELLO_PORT"
fi
rm -f "$PIDFILE"
