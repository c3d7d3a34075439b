"""Quaternion, rotation-matrix, continuous-6D and Euler-angle helpers in plain numpy.

Conventions (shared by the whole ``motionkit.motion`` package):

* A quaternion is ``(w, x, y, z)`` in the last axis; every function broadcasts over any leading
  dimensions. Rotations act on column vectors: ``rotate(q, v)`` is ``R(q) @ v`` and
  ``multiply(a, b)`` is the rotation "first ``b``, then ``a``" (``R(a) @ R(b)``).
* Rotation matrices are ``(..., 3, 3)`` acting on column vectors.
* The continuous 6D representation (Zhou et al., "On the Continuity of Rotation Representations in
  Neural Networks", CVPR 2019) is ``[first column, second column]`` of the matrix, ``(..., 6)``;
  the inverse map re-orthonormalises by Gram-Schmidt. This is the layout of the HumanML3D
  rotation features.
* Euler angles: ``order`` is a string of three distinct axes such as ``"ZXY"``; ``angles[..., i]``
  is the angle about axis ``order[i]`` and the rotation is
  ``R = R_order[0](a0) @ R_order[1](a1) @ R_order[2](a2)`` (intrinsic rotations in the listed
  order). A BVH channel list ``Zrotation Xrotation Yrotation`` is ``order="ZXY"`` with the angles
  in the channel order, in degrees (pass ``degrees=True``).
* ``rotation_between`` is the HumanML3D ``qbetween``:
  ``normalize([|v0||v1| + v0.v1, v0 x v1])``; the published pipeline evaluates it in float32.
* ``kabsch`` is the least-squares rotation (a matrix) between two sets of paired vectors.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "cont6d_to_matrix",
    "cont6d_to_quat",
    "euler_to_quat",
    "identity",
    "inverse",
    "kabsch",
    "matrix_to_cont6d",
    "matrix_to_quat",
    "multiply",
    "normalize",
    "quat_to_cont6d",
    "quat_to_euler",
    "quat_to_matrix",
    "rotate",
    "rotation_between",
]

_AXES = {"X": 0, "Y": 1, "Z": 2}


def _float(a: np.ndarray | list | tuple) -> np.ndarray:
    """``a`` as a floating array (float32 and float64 kept, anything else becomes float64)."""
    a = np.asarray(a)
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)


def _sum_last(a: np.ndarray) -> np.ndarray:
    """``a.sum(-1)`` for a short last axis, added left to right as numpy does, without the cost
    of a strided reduction (each term is a whole-array operation)."""
    total = a[..., 0].copy()
    for i in range(1, a.shape[-1]):
        total += a[..., i]
    return total


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.cross(a, b)`` of ``(..., 3)`` vectors (broadcasting), component by component."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def _norm(a: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(a, axis=-1, keepdims=True)`` for a short last axis."""
    return np.sqrt(_sum_last(a * a))[..., None]


def identity(shape: tuple[int, ...] = (), dtype: type = np.float64) -> np.ndarray:
    """Identity quaternions ``(*shape, 4)``."""
    q = np.zeros((*shape, 4), dtype=dtype)
    q[..., 0] = 1.0
    return q


def normalize(q: np.ndarray) -> np.ndarray:
    """Unit-length quaternions (or vectors): ``q / |q|`` along the last axis."""
    q = _float(q)
    return q / _norm(q)


def inverse(q: np.ndarray) -> np.ndarray:
    """Conjugate ``(w, -x, -y, -z)``: the inverse of a unit quaternion ``(..., 4)``."""
    q = _float(q)
    return q * np.array([1, -1, -1, -1], dtype=q.dtype)


def multiply(a: np.ndarray, b: np.ndarray, *, inverse_a: bool = False) -> np.ndarray:
    """Hamilton product ``a * b`` of ``(..., 4)`` quaternions (broadcasting): ``b`` then ``a``.

    ``inverse_a=True`` gives ``inverse(a) * b`` without forming the inverse (the same numbers:
    subtracting a product equals adding its negation exactly).
    """
    a, b = _float(a), _float(b)
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    if inverse_a:  # a = (aw, -ax, -ay, -az)
        parts = (
            aw * bw + ax * bx + ay * by + az * bz,
            aw * bx - ax * bw - ay * bz + az * by,
            aw * by + ax * bz - ay * bw - az * bx,
            aw * bz - ax * by + ay * bx - az * bw,
        )
    else:
        parts = (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        )
    return np.stack(np.broadcast_arrays(*parts), axis=-1)


def rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors ``v (..., 3)`` by unit quaternions ``q (..., 4)`` (broadcasting)."""
    q, v = _float(q), _float(v)
    # v + 2 (w (u x v) + u x (u x v)), component by component (each operand at its own shape)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    vx, vy, vz = v[..., 0], v[..., 1], v[..., 2]
    cx, cy, cz = y * vz - z * vy, z * vx - x * vz, x * vy - y * vx
    out = (
        vx + 2.0 * (w * cx + (y * cz - z * cy)),
        vy + 2.0 * (w * cy + (z * cx - x * cz)),
        vz + 2.0 * (w * cz + (x * cy - y * cx)),
    )
    return np.stack(np.broadcast_arrays(*out), axis=-1)


def rotation_between(v0: np.ndarray, v1: np.ndarray, dtype: type | None = None) -> np.ndarray:
    """Shortest-arc unit quaternion ``(..., 4)`` rotating the direction of ``v0`` onto ``v1``.

    ``normalize([|v0||v1| + v0.v1, v0 x v1])`` for vectors ``(..., 3)`` of any length; ``w >= 0``.
    Opposite vectors give a half turn about an axis perpendicular to ``v0``; a zero vector gives
    the identity (both NaN in the published code). ``dtype=np.float32`` evaluates it in
    float32 as the published HumanML3D code does (``qbetween_np``) and returns float32.
    """
    v0, v1 = _float(v0), _float(v1)
    if dtype is not None:
        v0, v1 = v0.astype(dtype, copy=False), v1.astype(dtype, copy=False)
    # Component by component, each operand at its own shape (a few directions against many
    # bones broadcast only in the products), added in the order of _sum_last / _cross / _norm.
    x0, y0, z0 = v0[..., 0], v0[..., 1], v0[..., 2]
    x1, y1, z1 = v1[..., 0], v1[..., 1], v1[..., 2]
    n0, n1 = x0 * x0 + y0 * y0 + z0 * z0, x1 * x1 + y1 * y1 + z1 * z1
    w = np.sqrt(n0 * n1) + (x0 * x1 + y0 * y1 + z0 * z1)
    cx, cy, cz = y0 * z1 - z0 * y1, z0 * x1 - x0 * z1, x0 * y1 - y0 * x1
    norm = np.sqrt(w * w + cx * cx + cy * cy + cz * cz)[..., None]
    q = np.stack(np.broadcast_arrays(w, cx, cy, cz), axis=-1)
    tiny = np.finfo(q.dtype).tiny ** 0.5
    degenerate = norm[..., 0] <= tiny * np.maximum(n0 * n1, tiny) ** 0.5
    if not degenerate.any():
        return q / norm
    # Opposite vectors: half turn about an axis perpendicular to v0; a zero vector: identity.
    v0, v1 = np.broadcast_arrays(v0, v1)
    n0, n1 = np.broadcast_arrays(n0, n1)
    side = np.where(np.abs(v0[..., :1]) < 0.9 * np.sqrt(n0)[..., None], [1, 0, 0], [0, 1, 0])
    axis = np.cross(v0, side.astype(q.dtype))
    half_turn = np.concatenate([np.zeros_like(w)[..., None], axis], axis=-1)
    zero = (n0 == 0) | (n1 == 0)
    fallback = np.where(zero[..., None], identity(w.shape, q.dtype), half_turn)
    q = np.where(degenerate[..., None], fallback, q)
    return normalize(q)


def kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` best mapping ``source (..., K, 3)`` onto ``target``.

    The proper rotation ``R`` (``det R = +1``, never a reflection) minimising
    ``sum_k |R @ source[k] - target[k]|^2`` over ``K`` paired vectors (Kabsch's algorithm, by
    SVD), broadcasting ``source`` and ``target (..., K, 3)`` over leading dimensions. Unique when
    the vectors span at least a plane (``K >= 2`` non-parallel vectors).
    """
    source, target = _float(source), _float(target)
    h = np.einsum("...ki,...kj->...ij", source, target)  # sum_k source_k target_k^T
    u, _, vt = np.linalg.svd(h)
    v = np.swapaxes(vt, -1, -2)
    d = np.sign(np.linalg.det(v @ np.swapaxes(u, -1, -2)))
    d = np.where(d == 0, 1.0, d)
    fix = np.ones((*d.shape, 3), dtype=h.dtype)
    fix[..., 2] = d
    return (v * fix[..., None, :]) @ np.swapaxes(u, -1, -2)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of quaternions ``(..., 4)`` (normalised first)."""
    q = _float(q)
    w, x, y, z = np.moveaxis(q, -1, 0)
    s = 2.0 / (w * w + x * x + y * y + z * z)  # the order of _sum_last
    m = np.stack(
        [
            1 - s * (y * y + z * z),
            s * (x * y - z * w),
            s * (x * z + y * w),
            s * (x * y + z * w),
            1 - s * (x * x + z * z),
            s * (y * z - x * w),
            s * (x * z - y * w),
            s * (y * z + x * w),
            1 - s * (x * x + y * y),
        ],
        axis=-1,
    )
    return m.reshape((*q.shape[:-1], 3, 3))


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` with ``w >= 0`` of rotation matrices ``(..., 3, 3)``.

    Shepperd's method: each output uses the numerically largest of the four candidate components.
    """
    m = _float(m)
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # 4 * (w^2, x^2, y^2, z^2)
    squares = np.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1
    )
    d21, d02, d10 = (
        m[..., 2, 1] - m[..., 1, 2],
        m[..., 0, 2] - m[..., 2, 0],
        m[..., 1, 0] - m[..., 0, 1],
    )
    s01, s02, s12 = (
        m[..., 0, 1] + m[..., 1, 0],
        m[..., 0, 2] + m[..., 2, 0],
        m[..., 1, 2] + m[..., 2, 1],
    )
    # Row k: 4 * component_k * (w, x, y, z).
    candidates = np.stack(
        [
            np.stack([squares[..., 0], d21, d02, d10], -1),
            np.stack([d21, squares[..., 1], s01, s02], -1),
            np.stack([d02, s01, squares[..., 2], s12], -1),
            np.stack([d10, s02, s12, squares[..., 3]], -1),
        ],
        -2,
    )
    best = np.argmax(squares, axis=-1)
    q = np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    q = normalize(q)
    return np.where(q[..., :1] < 0, -q, q)


def matrix_to_cont6d(m: np.ndarray) -> np.ndarray:
    """Continuous 6D ``(..., 6)`` = ``[first column, second column]`` of ``m (..., 3, 3)``."""
    m = _float(m)
    return np.concatenate([m[..., :, 0], m[..., :, 1]], axis=-1)


def cont6d_to_matrix(d6: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` from 6D ``(..., 6)`` by Gram-Schmidt (Zhou et al.)."""
    d6 = _float(d6)
    a1, a2 = d6[..., :3], d6[..., 3:]
    b1 = normalize(a1)
    b2 = normalize(a2 - (b1 * a2).sum(-1, keepdims=True) * b1)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)


def quat_to_cont6d(q: np.ndarray) -> np.ndarray:
    """Continuous 6D ``(..., 6)`` of quaternions ``(..., 4)``: the first two columns of
    ``quat_to_matrix(q)``, computed without the third (the same numbers)."""
    q = _float(q)
    w, x, y, z = np.moveaxis(q, -1, 0)
    s = 2.0 / (w * w + x * x + y * y + z * z)
    columns = (
        1 - s * (y * y + z * z),
        s * (x * y + z * w),
        s * (x * z - y * w),
        s * (x * y - z * w),
        1 - s * (x * x + z * z),
        s * (y * z + x * w),
    )
    return np.stack(columns, axis=-1)


def cont6d_to_quat(d6: np.ndarray) -> np.ndarray:
    """Unit quaternions ``(..., 4)`` (``w >= 0``) of 6D rotations ``(..., 6)``."""
    return matrix_to_quat(cont6d_to_matrix(d6))


def _parse_order(order: str) -> tuple[int, int, int]:
    axes = tuple(_AXES.get(c, -1) for c in order.upper())
    if len(axes) != 3 or -1 in axes or len(set(axes)) != 3:
        raise ValueError(
            f"Euler order {order!r} is not supported: use three distinct axes from X, Y, Z "
            "such as 'ZXY' or 'ZYX'"
        )
    return axes  # type: ignore[return-value]


def euler_to_quat(angles: np.ndarray, order: str, degrees: bool = False) -> np.ndarray:
    """Quaternions ``(..., 4)`` of Euler angles ``(..., 3)`` (see the module docstring).

    ``angles[..., i]`` rotates about axis ``order[i]``; ``q = q0 * q1 * q2`` so that
    ``R = R0 @ R1 @ R2``. Radians unless ``degrees=True``.
    """
    axes = _parse_order(order)
    angles = _float(angles)
    if angles.shape[-1:] != (3,):
        raise ValueError(f"Euler angles must have shape (..., 3), got {angles.shape}")
    if degrees:
        angles = np.deg2rad(angles)
    q = None
    for i, axis in enumerate(axes):
        half = 0.5 * angles[..., i]
        qi = np.zeros((*angles.shape[:-1], 4), dtype=angles.dtype)
        qi[..., 0] = np.cos(half)
        qi[..., 1 + axis] = np.sin(half)
        q = qi if q is None else multiply(q, qi)
    return q


def quat_to_euler(q: np.ndarray, order: str, degrees: bool = False) -> np.ndarray:
    """Euler angles ``(..., 3)`` in ``order`` of quaternions ``(..., 4)``; inverse of
    ``euler_to_quat``.

    The middle angle is in ``[-90, 90]`` degrees, the others in ``(-180, 180]``. At gimbal lock
    (middle angle +-90 degrees) the last angle is set to 0.
    """
    i, j, k = _parse_order(order)
    m = quat_to_matrix(q)
    sign = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for cyclic orders XYZ, YZX, ZXY
    cos_b = np.hypot(m[..., i, i], m[..., i, j])
    b = np.arctan2(sign * m[..., i, k], cos_b)
    locked = cos_b < 1e-6 if m.dtype == np.float64 else cos_b < 1e-4
    a = np.where(
        locked,
        np.arctan2(sign * m[..., k, j], m[..., j, j]),
        np.arctan2(-sign * m[..., j, k], m[..., k, k]),
    )
    c = np.where(locked, 0.0, np.arctan2(-sign * m[..., i, j], m[..., i, i]))
    angles = np.stack([a, b, c], axis=-1).astype(m.dtype, copy=False)
    return np.rad2deg(angles) if degrees else angles
