#!/bin/sh
# ValidateService: the site must answer its health page with "ok" within ~5 s.
set -eu
. "$(dirname "$0")/common.sh"
url="http://127.0.0.1:$HELLO_PORT/health.txt"
i=0
while [ $i -lt 25 ]; do
	if body="$(curl -fsS --max-time 2 "$url" 2>/dev/null)" && [ "$body" = "ok" ]; then
		echo "hello-web answers on $url: $body"
		exit 0
	fi
	sleep 0.2
	i=$((i + 1))
done
echo "hello-web failed its health check: $url did not answer 'ok'" >&2
curl -sS -o /dev/null -w "last answer: HTTP %{http_code}\n" --max-time 2 "$url" >&2 || true
exit 1
