"""Arrow-pointing images: does the arrow point at the circle? (the pLSTM paper's task)."""

import numpy as np

from keras_gradstab.datasets._split import check_sizes

# Object sizes in pixels at object_scale=1, as in the paper's 192 x 192 images.
_ARROW_LENGTH = (15.0, 30.0)
_ARROW_WIDTH = (2.0, 4.0)
_RADIUS = (15.0, 30.0)
_PADDING = 30.0
_MARGIN = 1.2  # a hit passes within radius / 1.2 of the centre, a miss beyond 1.2 radii


def _ray_distance(tip, direction, centre):
    """Distance from `centre` to the ray from `tip` along `direction` (unit)."""
    offset = centre - tip
    along = offset @ direction
    if along <= 0:
        return float(np.linalg.norm(offset))
    return float(np.linalg.norm(offset - along * direction))


def _render(size, tail, tip, width, centre, radius):
    ys, xs = np.mgrid[0:size, 0:size].astype("float64") + 0.5
    points = np.stack([xs, ys], -1)
    image = np.ones((size, size), "float32")
    image[np.sum((points - centre) ** 2, -1) <= radius**2] = 0.0
    # Shaft: points within width/2 of the segment tail -> head base.
    direction = (tip - tail) / np.linalg.norm(tip - tail)
    head = 3.0 * width
    base = tip - head * direction
    seg = base - tail
    t = np.clip(((points - tail) @ seg) / (seg @ seg), 0.0, 1.0)
    nearest = tail + t[..., None] * seg
    image[np.sum((points - nearest) ** 2, -1) <= (width / 2) ** 2] = 0.0
    # Head: a triangle with its apex at the tip.
    normal = np.array([-direction[1], direction[0]])
    corners = [tip, base + 1.5 * width * normal, base - 1.5 * width * normal]

    def side(p, a, b):
        return (p[..., 0] - b[0]) * (a[1] - b[1]) - (a[0] - b[0]) * (p[..., 1] - b[1])

    d1 = side(points, corners[0], corners[1])
    d2 = side(points, corners[1], corners[2])
    d3 = side(points, corners[2], corners[0])
    inside = ~(((d1 < 0) | (d2 < 0) | (d3 < 0)) & ((d1 > 0) | (d2 > 0) | (d3 > 0)))
    image[inside] = 0.0
    return image


def _sample(rng, size, scale, label, arrow_scale=1.0):
    padding = _PADDING * scale
    while True:
        length = rng.uniform(*_ARROW_LENGTH) * scale * arrow_scale
        width = rng.uniform(*_ARROW_WIDTH) * scale * arrow_scale
        radius = rng.uniform(*_RADIUS) * scale
        centre = rng.uniform(padding + radius, size - padding - radius, size=2)
        tail = rng.uniform(padding, size - padding, size=2)
        angle = rng.uniform(0.0, 2.0 * np.pi)
        direction = np.array([np.cos(angle), np.sin(angle)])
        tip = tail + length * direction
        if not np.all((tip >= padding) & (tip <= size - padding)):
            continue
        # Keep the circle well away from the arrow (centre at least 2 radii away).
        if min(np.linalg.norm(centre - tail), np.linalg.norm(centre - tip)) < 2.0 * radius:
            continue
        distance = _ray_distance(tip, direction, centre)
        hit = distance < radius / _MARGIN
        miss = distance > radius * _MARGIN
        if (label and hit) or (not label and miss):
            return tail, tip, width, centre, radius


def arrow_pointing(
    image_size=64,
    num_train=1000,
    num_test=200,
    object_scale=None,
    seed=0,
    return_geometry=False,
    arrow_scale=1.0,
):
    """Images of an arrow and a circle, labelled 1 if the arrow's ray hits the circle.

    The task of the pLSTM paper (Pöppel et al. 2025): white background, a black
    arrow (length 15-30 px, width 2-4 px) and a filled black circle (radius
    15-30 px) at the paper's scale. Classes are balanced; a hit passes within
    radius / 1.2 of the centre and a miss stays beyond 1.2 radii, so a margin
    separates them; objects keep 30 px from the border and the circle's centre
    stays at least two radii from the arrow. To test extrapolation as the paper
    does, generate a larger `image_size` with the same `object_scale`: distances
    grow, objects do not.

    Args:
        image_size: side of the square images in pixels.
        num_train: number of training images.
        num_test: number of test images.
        object_scale: multiplies every object size and the border padding; the
            default `image_size / 192` reproduces the paper's proportions at any
            size.
        seed: the seed; the same seed gives the same data.
        return_geometry: also return, per split, a dict of arrays `tail`, `tip`,
            `width`, `centre`, `radius` describing each image.
        arrow_scale: an extra factor on the arrow's length and width (not on
            the circle or the padding). At small image sizes the paper's
            proportions leave an arrow about one pixel wide whose head cannot
            be told from its tail; `arrow_scale=2` makes it legible.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: x float32 `[n, size, size, 1]` in
        {0, 1}, y int32 in {0, 1}; with `return_geometry`, each pair gains a third
        element, the geometry dict.

    Example:

    >>> from keras_gradstab import datasets
    >>> (x, y), _ = datasets.arrow_pointing(64, num_train=4, num_test=2)
    >>> x.shape, sorted(set(y.tolist()))
    ((4, 64, 64, 1), [0, 1])

    References:
        - *pLSTM: parallelizable Linear Source Transition Mark networks*, K. Pöppel,
          R. Freinschlag, T. Schmied, W. Lin, S. Hochreiter, 2025.
          <https://arxiv.org/abs/2506.11997>
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 16:
        raise ValueError(f"`image_size` must be an integer >= 16; received {image_size!r}.")
    check_sizes(num_train, num_test)
    scale = image_size / 192.0 if object_scale is None else float(object_scale)
    if scale <= 0 or 2 * (_PADDING + 2 * _RADIUS[1]) * scale > image_size:
        raise ValueError(
            f"`object_scale`={scale:g} does not fit objects into {image_size}-pixel images; "
            f"use at most {image_size / (2 * (_PADDING + 2 * _RADIUS[1])):.3f}."
        )
    if (
        isinstance(arrow_scale, bool)
        or not isinstance(arrow_scale, (int, float))
        or not (arrow_scale > 0)
    ):
        raise ValueError(f"`arrow_scale` must be a positive number; received {arrow_scale!r}.")
    rng = np.random.default_rng(seed)

    def make(n):
        labels = np.arange(n) % 2
        rng.shuffle(labels)
        images = np.empty((n, image_size, image_size, 1), "float32")
        geometry = {k: [] for k in ("tail", "tip", "width", "centre", "radius")}
        for i, label in enumerate(labels):
            tail, tip, width, centre, radius = _sample(
                rng, image_size, scale, bool(label), float(arrow_scale)
            )
            images[i, ..., 0] = _render(image_size, tail, tip, width, centre, radius)
            for key, value in zip(geometry, (tail, tip, width, centre, radius)):
                geometry[key].append(value)
        geometry = {k: np.asarray(v) for k, v in geometry.items()}
        out = (images, labels.astype("int32"))
        return out + (geometry,) if return_geometry else out

    return make(num_train), make(num_test)
