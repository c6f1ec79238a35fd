#!/bin/sh
# A second Docker engine beside the first, for running the matrix over two engines on one host:
# its own data root, exec root, pidfile, socket and bridge. `start` prints its URL; `stop` ends it
# (its images stay in its data root for the next start); `purge` ends it and deletes its data root,
# so that the next start is an engine that has never built or pulled anything. Safe to run again.
#   sh docker/second-engine.sh start   ->  unix:///run/flops-matrix-engine2/docker.sock
#   sh docker/second-engine.sh stop|purge
# More than one: FLOPS_ENGINE_NAME, FLOPS_ENGINE_BRIDGE (at most 15 characters) and
# FLOPS_ENGINE_ADDRESS (a subnet of its own) name another.
# Never give it --bridge=none: that removes the first engine's docker0.
set -eu

NAME=${FLOPS_ENGINE_NAME:-flops-matrix-engine2}
RUN=/run/$NAME
SOCKET=$RUN/docker.sock
DATA=/var/lib/$NAME
BRIDGE=${FLOPS_ENGINE_BRIDGE:-fm-engine2}
ADDRESS=${FLOPS_ENGINE_ADDRESS:-${FLOPS_ENGINE2_ADDRESS:-10.213.0.1/24}}
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
stop | purge)
    if [ -f "$RUN/docker.pid" ]; then
        pid=$(cat "$RUN/docker.pid")
        $SUDO kill "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 30 ]; do
            i=$((i + 1))
            sleep 1
        done
    fi
    if [ "$1" = purge ]; then
        # the engine's own mounts (overlay layers, netns) under its roots go before the folders
        grep -o " $DATA[^ ]*\| $RUN[^ ]*" /proc/mounts | sort -r | while read -r mount; do
            $SUDO umount -l "$mount" 2>/dev/null || true
        done
        $SUDO rm -rf "$DATA" "$RUN"
    fi
    ;;
*)
    echo "usage: sh docker/second-engine.sh start|stop|purge" >&2
    exit 2
    ;;
esac
