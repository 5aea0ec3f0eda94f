#!/bin/sh
# ApplicationStart: serve this revision's site/ on 127.0.0.1:$HELLO_PORT.
set -eu
. "$(dirname "$0")/common.sh"
if server_running; then
	echo "a server is still running (pid $(cat "$PIDFILE")); stopping it first"
	kill "$(cat "$PIDFILE")" 2>/dev/null || true
	sleep 0.5
fi
# Detach completely (new session, no inherited stdout/stderr) so the agent's hook ends now.
setsid python3 -m http.server "$HELLO_PORT" --bind 127.0.0.1 --directory "$ARCHIVE_DIR/site" \
	>"$HELLO_STATE_DIR/server.log" 2>&1 </dev/null &
echo $! >"$PIDFILE"
echo "started hello-web $(cat "$ARCHIVE_DIR/site/VERSION" 2>/dev/null || echo '?') on http://127.0.0.1:$HELLO_PORT/ (pid $(cat "$PIDFILE"))"
