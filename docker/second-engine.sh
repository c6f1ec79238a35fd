#!/bin/sh
# A second Docker engine beside the first, for running the matrix over two engines on one host:
# its own data root, exec root, pidfile, socket and bridge. `start` prints its URL; `stop` ends it
# (its images stay in its data root for the next start). Safe to run again.
#   sh docker/second-engine.sh start   ->  unix:///run/flops-matrix-engine2/docker.sock
#   sh docker/second-engine.sh stop
# Never give it --bridge=none: that removes the first engine's docker0.
set -eu

NAME=flops-matrix-engine2
RUN=/run/$NAME
SOCKET=$RUN/docker.sock
DATA=/var/lib/$NAME
BRIDGE=fm-engine2
ADDRESS=${FLOPS_ENGINE2_ADDRESS:-10.213.0.1/24}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

answers() { docker -H "unix://$SOCKET" info >/dev/null 2>&1; }

case "${1:-}" in
start)
    if answers; then
        echo "unix://$SOCKET"
        exit 0
    fi
    $SUDO mkdir -p "$RUN" "$DATA"
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        $SUDO ip link add "$BRIDGE" type bridge
        $SUDO ip addr add "$ADDRESS" dev "$BRIDGE"
        $SUDO ip link set "$BRIDGE" up
    fi
    $SUDO sh -c "nohup dockerd --data-root '$DATA' --exec-root '$RUN/exec' --pidfile '$RUN/docker.pid' \
        -H 'unix://$SOCKET' -b '$BRIDGE' >'/var/log/$NAME.log' 2>&1 &"
    i=0
    until answers; do
        i=$((i + 1))
        if [ "$i" -gt 60 ]; then
            echo "second-engine: dockerd did not answer within 60 s; see /var/log/$NAME.log" >&2
            exit 1
        fi
        sleep 1
    done
    echo "unix://$SOCKET"
    ;;
stop)
    if [ -f "$RUN/docker.pid" ]; then
        pid=$(cat "$RUN/docker.pid")
        $SUDO kill "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 30 ]; do
            i=$((i + 1))
            sleep 1
        done
    fi
    ;;
*)
    echo "usage: sh docker/second-engine.sh start|stop" >&2
    exit 2
    ;;
esac
