# Shared settings of the hello-web hooks (sourced, not executed).
HELLO_PORT="${HELLO_PORT:-8080}"
HELLO_STATE_DIR="${HELLO_STATE_DIR:-/tmp/hello-web-$HELLO_PORT}"
PIDFILE="$HELLO_STATE_DIR/server.pid"
# The revision's files: the hooks run from <root>/<group>/<deployment>/deployment-archive/scripts/.
ARCHIVE_DIR="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$HELLO_STATE_DIR"

server_running() {
	[ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}
