"""Rigid trajectories of the synthetic scene's moving objects: independent boxes and a robot arm.

Why: a robot video seen by a still head camera shows several rigid bodies that move differently (an
arm is a chain of links, each a rigid body of its own). One fundamental matrix explains one rigid
motion relative to the camera, so a Sampson metric must be validated on scenes that contain several,
with exact ground truth. Each trajectory here is ``(centers (T, 3), yaws (T,))`` in the world frame
of :mod:`.synthetic` (metres, ``z`` up, table top at ``z = 0``); every link or box turns about the
vertical only, so the renderer's slab test (a box yawed about ``z``) draws it exactly.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ARM_LINKS", "arm_chain", "independent_motion"]

# Link length, width, thickness (metres) and height of its centre above the table, base first. The
# links hang above the tallest boxes (≤ 0.22 m), each a little above the previous one so that the
# overlapping joint ends never interpenetrate.
ARM_LINKS = ((0.30, 0.09, 0.05, 0.26), (0.25, 0.08, 0.05, 0.31), (0.18, 0.07, 0.05, 0.36))
ARM_BASE = np.array([0.55, 0.05])  # at the right edge of the table as the rig sees it


def independent_motion(rng: np.random.Generator, start_xy: np.ndarray, yaw: float, frames: int, fps: float,
                       travel: float) -> tuple[np.ndarray, np.ndarray]:
    """A box's own rigid motion: a straight slide in a random direction at 20–40 % of ``travel``
    metres per second and a turn of 12–25° per second either way, both at constant speed (a box
    pushed across a table). Returns the planar centres ``(T, 2)`` and yaws ``(T,)``; the caller
    checks that paths stay clear of each other."""
    t = np.arange(frames) / fps
    a = rng.uniform(0, 2 * math.pi)
    speed = travel * rng.uniform(0.2, 0.4)
    turn = math.radians(rng.uniform(12, 25)) * (1 if rng.uniform() < 0.5 else -1)
    xy = start_xy + t[:, None] * speed * np.array([math.cos(a), math.sin(a)])
    return xy, yaw + t * turn


def arm_chain(rng: np.random.Generator, frames: int, fps: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A planar (SCARA-like) three-link arm swinging over the table, as ``(half_size, centers, yaws)``
    per link.

    Joint ``i`` turns about the vertical by ``θᵢ(t) = θᵢ⁰ + Aᵢ sin(2π fᵢ t + φᵢ)`` (``Aᵢ`` 15–30°,
    ``fᵢ`` 0.15–0.3 Hz, ``t`` in seconds); link ``i`` points along the sum of the angles up to ``i``
    and starts where link ``i − 1`` ends, so the links stay joined: an articulated chain whose links
    move rigidly but differently from each other.
    """
    t = np.arange(frames) / fps
    heading = np.full(frames, math.pi)  # pointing across the table, to the left
    joint = np.repeat(ARM_BASE[None], frames, axis=0)
    links = []
    for i, (length, width, thick, height) in enumerate(ARM_LINKS):
        rest = 0.0 if i == 0 else math.radians(rng.uniform(-35, 35))
        amp = math.radians(rng.uniform(15, 30))
        freq = rng.uniform(0.15, 0.3)
        phase = rng.uniform(0, 2 * math.pi)
        heading = heading + rest + amp * np.sin(2 * math.pi * freq * t + phase)
        direction = np.stack([np.cos(heading), np.sin(heading)], 1)
        centre_xy = joint + 0.5 * length * direction
        centres = np.concatenate([centre_xy, np.full((frames, 1), height)], 1)
        links.append((np.array([0.5 * length + 0.5 * width, 0.5 * width, 0.5 * thick]), centres, heading.copy()))
        joint = joint + length * direction
    return links
