#!/usr/bin/env bash
# Install the system (apt) packages TOM needs, only those that are missing, and say which.
#
#   scripts/install-system-packages.sh [--check] [GROUP...]
#
# GROUPs (default: test):
#   runtime  what `tom serve` itself loads: OpenMP (llama.cpp, CTranslate2), PortAudio (tom talk --mic),
#            SVOX Pico (the German voice)
#   build    `make install`: venv, and compilers for wheels built from source (llama-cpp-python)
#   serve    runtime + Node for the dashboard build + redis-server for the optional Redis mirror
#   test     serve + chromium for the browser tests: with it no test is skipped for a missing package
# --check    only report what is missing (exit 1 if anything is); install nothing.
#
# Everything present: prints one line and exits at once (no apt-get update, no sudo). Used by the
# Makefile (`make serve`, `make test`), .ci/run and the Dockerfile, so the lists live here only.
set -euo pipefail

# One package a line: group | apt package | shell test that succeeds when it is present |
# apt component it needs beyond "main" (e.g. non-free, contrib), after the last '|' (empty for
# none). Adding a package, even one from non-free, is one line here.
PACKAGES='
runtime | libgomp1      | has_library libgomp.so.1                                |
runtime | libportaudio2 | has_library libportaudio.so.2                           |
build   | build-essential | command -v gcc && command -v g++ && command -v make   |
build   | cmake         | command -v cmake                                        |
build   | git           | command -v git                                          |
build   | pkg-config    | command -v pkg-config                                   |
build   | python3-venv  | "${PYTHON:-python3}" -c "import ensurepip, venv"          |
serve   | nodejs        | command -v node                                         |
serve   | npm           | command -v npm                                          |
serve   | redis-server  | command -v redis-server                                 |
test    | chromium      | test -x "${CHROMIUM_PATH:-/usr/bin/chromium}"           |
test    | baresip-core  | command -v baresip                                      |
test    | kamailio      | test -x /usr/sbin/kamailio                              |
runtime | libttspico0   | has_library libttspico.so.0                             | non-free
runtime | libttspico-data | test -f /usr/share/pico/lang/de-DE_ta.bin             | non-free
test    | espeak-ng     | command -v espeak-ng                                    |
test    | mbrola        | command -v mbrola                                       | contrib
test    | mbrola-de1    | test -f /usr/share/mbrola/de1/de1                       | non-free
test    | mbrola-de2    | test -f /usr/share/mbrola/de2/de2                       | non-free
test    | mbrola-de5    | test -f /usr/share/mbrola/de5/de5                       | non-free
test    | asterisk-core-sounds-en-wav | test -f /usr/share/asterisk/sounds/en_US_f_Allison/agent-pass.wav |
test    | asterisk-core-sounds-en | test -f /usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz |
'
# Whether the dynamic linker knows a library. Not `ldconfig -p | grep -q`: under pipefail grep's
# early exit kills ldconfig with SIGPIPE and a present library reads as missing. ldconfig lives in
# /sbin, which a user's PATH may lack.
has_library() {
  local known
  known=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p) || return 1
  [[ $known == *"$1 "* ]]
}

# More lines in the same format, e.g. for a local tool (also how the tests try a component).
PACKAGES+="${TOM_EXTRA_SYSTEM_PACKAGES:-}"
apt_etc=${TOM_APT_ETC:-/etc/apt}

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

check_only=0
groups=()
for arg in "$@"; do
  case "$arg" in
    --check) check_only=1 ;;
    -h|--help) usage 0 ;;
    runtime|build|serve|test) groups+=("$arg") ;;
    *) echo "install-system-packages: unknown argument '$arg'" >&2; usage 2 >&2 ;;
  esac
done
[ "${#groups[@]}" -gt 0 ] || groups=(test)

# A group includes the groups it builds on.
wanted=" "
for g in "${groups[@]}"; do
  case "$g" in
    runtime) wanted+="runtime " ;;
    build) wanted+="build " ;;
    serve) wanted+="runtime serve " ;;
    test) wanted+="runtime serve test " ;;
  esac
done

missing=()
components=()
while IFS= read -r line; do
  [ -n "${line// /}" ] || continue
  group=$(echo "${line%%|*}" | xargs); rest=${line#*|}
  package=$(echo "${rest%%|*}" | xargs); rest=${rest#*|}
  component=$(echo "${rest##*|}" | xargs)
  check=${rest%|*}  # may hold pipes itself: everything between package and component
  case "$wanted" in *" $group "*) ;; *) continue ;; esac
  if ! (eval "$check") >/dev/null 2>&1; then
    missing+=("$package")
    [ -z "$component" ] || components+=("$component")
  fi
done <<< "$PACKAGES"

if [ "${#missing[@]}" -eq 0 ]; then
  echo "system packages: all present (${groups[*]})"
  exit 0
fi
echo "system packages missing for ${groups[*]}: ${missing[*]}"
if [ "$check_only" -eq 1 ]; then
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "no apt-get on this machine: install ${missing[*]} with its package manager" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "not root and no sudo: run as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  sudo="sudo"
fi

# Enable an apt component (e.g. non-free) in Debian's sources, only when a missing package needs it.
enable_component() {
  local component=$1
  local deb822="$apt_etc/sources.list.d/debian.sources" classic="$apt_etc/sources.list"
  if [ -f "$deb822" ]; then  # the deb822 format of Debian 12 and later
    if ! grep -Eq "^Components:.*[[:space:]]${component}([[:space:]]|$)" "$deb822"; then
      echo "enabling the apt component '$component' in $deb822"
      $sudo sed -i -E "/^Components:/ { / ${component}( |$)/! s/$/ ${component}/ }" "$deb822"
    fi
  elif [ -f "$classic" ]; then
    if ! grep -Eq "^deb .*[[:space:]]${component}([[:space:]]|$)" "$classic"; then
      echo "enabling the apt component '$component' in $classic"
      $sudo sed -i -E "/^deb(-src)? / { / ${component}( |$)/! s/$/ ${component}/ }" "$classic"
    fi
  fi
}
if [ "${#components[@]}" -gt 0 ]; then
  for component in $(printf '%s\n' "${components[@]}" | sort -u); do
    enable_component "$component"
  done
fi

echo "installing with apt-get: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "system packages: installed ${missing[*]}"
