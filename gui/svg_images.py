"""Heat maps and colour scales in an SVG page: the image Qt draws, as an embedded PNG
placed by the item's own mapping onto the page."""

from __future__ import annotations

import base64
import math

import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QImage, QImageWriter, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem

from gui.svg_paint import Page, num


def image_svg(item: pg.ImageItem, page: Page) -> list[str]:
    """A heat map with its levels and lookup table applied, as ImageItem paints it: the
    image's cells over the item's rectangle (0, 0, width, height) in item coordinates."""
    if item.image is None:
        return []
    item.render()
    image: QImage | None = item.qimage
    if image is None or image.isNull():
        return []
    return [embedded(image, float(item.width()), float(item.height()), page.transform(item),
                     item.opacity())]


def pixmap_svg(item: QGraphicsPixmapItem, page: Page) -> list[str]:
    pixmap = item.pixmap()
    if pixmap.isNull():
        return []
    offset = item.offset()
    to_page = QTransform.fromTranslate(offset.x(), offset.y()) * page.transform(item)
    return [embedded(pixmap.toImage(), float(pixmap.width()), float(pixmap.height()),
                     to_page, item.opacity())]


def embedded(image: QImage, width: float, height: float, to_page: QTransform,
             opacity: float) -> str:
    """``<image>`` of ``image`` stretched over (0, 0, width, height) mapped by ``to_page``:
    plain x/y/width/height where the mapping only scales and shifts, else its matrix
    (a y axis pointing up flips the image)."""
    t = to_page
    image = _blocky(image, abs(width * t.m11()) + abs(height * t.m21()),
                    abs(width * t.m12()) + abs(height * t.m22()))
    buffer = QBuffer()  # its own byte array: one passed in could be freed first
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    QImageWriter(buffer, QByteArray(b"png")).write(image)
    encoded = base64.b64encode(bytes(buffer.data().data())).decode("ascii")
    if t.m12() == 0 and t.m21() == 0 and t.m11() > 0 and t.m22() > 0:
        place = (f'x="{num(t.dx())}" y="{num(t.dy())}" width="{num(width * t.m11())}" '
                 f'height="{num(height * t.m22())}"')
    else:
        place = f'width="{num(width)}" height="{num(height)}" transform="{_matrix(t)}"'
    faded = f' opacity="{opacity:.3g}"' if opacity < 1 else ""
    return (f'<image {place} preserveAspectRatio="none" image-rendering="optimizeSpeed"'
            f'{faded} xlink:href="data:image/png;base64,{encoded}"/>')


def _blocky(image: QImage, page_width: float, page_height: float) -> QImage:
    """The image enlarged by whole factors, each cell copied, to at least its size on
    the page: renderers smooth an enlarged image (rsvg ignores ``image-rendering``),
    which would blur the cells Qt draws sharp."""
    across = max(1, min(math.ceil(page_width / image.width()), 4096 // image.width()))
    down = max(1, min(math.ceil(page_height / image.height()), 4096 // image.height()))
    if across == down == 1:
        return image
    return image.scaled(image.width() * across, image.height() * down,
                        Qt.AspectRatioMode.IgnoreAspectRatio,
                        Qt.TransformationMode.FastTransformation)


def _matrix(t: QTransform) -> str:
    return "matrix(" + " ".join(f"{v:.6g}" for v in (t.m11(), t.m12(), t.m21(), t.m22(),
                                                      t.dx(), t.dy())) + ")"
