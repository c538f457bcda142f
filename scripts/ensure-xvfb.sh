# Install what the suite's outside-Qt checks need, when missing and we may (root): Xvfb and
# the xcb libraries Qt's xcb plugin needs (the X11 end-to-end test), rsvg-convert (an
# independent SVG renderer for the export tests).
set -u
if command -v Xvfb >/dev/null 2>&1 && command -v xwd >/dev/null 2>&1 \
        && ldconfig -p | grep -q libxcb-cursor.so.0 && command -v rsvg-convert >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    exit 1
fi
echo "chainlab: installing Xvfb and rsvg-convert for the end-to-end and SVG tests..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null && apt-get install -y -qq xvfb x11-apps libxcb-cursor0 libxcb-icccm4 \
    libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-xkb1 \
    libxkbcommon-x11-0 libxcb-shape0 libxcb-randr0 librsvg2-bin >/dev/null
