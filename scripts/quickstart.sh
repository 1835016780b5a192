#!/bin/sh
# shoal quick start: on a fresh Debian 12 machine with Node.js 20, as root. Installs what is
# missing, builds shoal, starts shoald, makes this node a single-node swarm and runs a
# replicated service from a busybox image built locally (no registry needed).
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)

say() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "quickstart: run me as root: shoald creates namespaces, cgroups and a bridge" >&2
  exit 1
fi
if ! command -v node >/dev/null 2>&1 || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "quickstart: Node.js 20 or newer is needed (node not found or too old)" >&2
  exit 1
fi

say "Debian packages"
missing=""
for pkg in busybox-static iptables iproute2; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
else
  echo "all present"
fi

say "npm packages and build"
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent

say "shoal and shoald on the PATH (/usr/local/bin)"
for bin in shoal:dist/src/cli/main.js shoald:dist/src/daemon/main.js; do
  name=${bin%%:*}; target=$repo/${bin#*:}
  printf '#!/bin/sh\nexec node %s "$@"\n' "$target" >/usr/local/bin/"$name"
  chmod 755 /usr/local/bin/"$name"
  echo "/usr/local/bin/$name -> $target"
done

say "shoald"
if shoal info >/dev/null 2>&1; then
  echo "already running"
else
  nohup shoald >>/var/log/shoald.log 2>&1 &
  i=0
  until shoal info >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then echo "shoald did not start; see /var/log/shoald.log" >&2; tail -n 20 /var/log/shoald.log >&2; exit 1; fi
    sleep 0.1
  done
  echo "started (pid $(cat /run/shoal/shoald.pid 2>/dev/null || echo '?'), log /var/log/shoald.log)"
fi

say "a single-node swarm"
if shoal info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null | grep -q '^active$'; then
  echo "this node is already in a swarm"
else
  shoal swarm init --advertise-addr 127.0.0.1
fi

say "a busybox image, from Debian's busybox-static"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp" "$work/rootfs/root"
cp /bin/busybox "$work/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$work/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$work/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$work/rootfs/etc/group"
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
shoal import "$work/busybox.tar" busybox:latest

say "a replicated service of 3 tasks"
if shoal service inspect hello >/dev/null 2>&1; then
  echo "service hello exists already"
else
  shoal service create --name hello --replicas 3 busybox:latest \
    sh -c 'while true; do echo "hello from $(hostname)"; sleep 5; done'
fi

say "shoal service ls"
shoal service ls
say "shoal service ps hello"
shoal service ps hello
say "shoal node ls"
shoal node ls
