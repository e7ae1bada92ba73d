"""BlazeFace short-range face detector: letterboxed input, SSD anchor decoding, weighted NMS."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.liveness.runtime import TfliteModel

INPUT = 128
STRIDES = (8, 16, 16, 16)  # two anchors per layer per cell, offset 0.5, unit size


def make_anchors() -> np.ndarray:
    """(896, 2) anchor centres in [0,1]: 16x16x2 for stride 8, then 8x8x6 for the stride-16 layers."""
    out = []
    layer = 0
    while layer < len(STRIDES):
        stride, per_cell = STRIDES[layer], 0
        while layer < len(STRIDES) and STRIDES[layer] == stride:
            per_cell += 2
            layer += 1
        cells = INPUT // stride
        ys, xs = np.mgrid[0:cells, 0:cells]
        centres = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


@dataclass(frozen=True)
class Detection:
    """One face in frame pixels: box (x0, y0, x1, y1), six keypoints (right eye, left eye, nose
    tip, mouth, right tragion, left tragion; 'right' is the subject's right) and score."""

    box: tuple[float, float, float, float]
    keypoints: np.ndarray  # (6, 2)
    score: float

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, points: np.ndarray, scores: np.ndarray,
                 iou: float) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted NMS: each cluster of overlapping boxes becomes their score-weighted mean."""
    order = np.argsort(-scores)
    boxes, points, scores = boxes[order], points[order], scores[order]
    remaining = np.ones(len(scores), bool)
    result = []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        cluster = remaining & (_iou(boxes[i], boxes) > iou)
        cluster[i] = True
        w = scores[cluster][:, None]
        box = (boxes[cluster] * w).sum(0) / w.sum()
        pts = (points[cluster] * w[:, :, None]).sum(0) / w.sum()
        result.append((box, pts, float(scores[i])))
        remaining &= ~cluster
    return result


class FaceDetector:
    def __init__(self, model: TfliteModel, score: float = 0.5, iou: float = 0.3) -> None:
        self.model, self.score, self.iou = model, score, iou
        self.anchors = make_anchors()

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """All faces in an RGB frame, best first."""
        h, w = rgb.shape[:2]
        scale = INPUT / max(h, w)  # letterbox: pad right/bottom to a square, then scale
        m = np.array([[scale, 0, 0], [0, scale, 0]], np.float32)
        small = cv2.warpAffine(rgb, m, (INPUT, INPUT), flags=cv2.INTER_AREA if scale < 0.5
                               else cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        tensor = (small.astype(np.float32) * (2.0 / 255.0) - 1.0)[None]
        out = self.model.invoke(tensor)
        reg = out["regressors"][0]
        logits = np.clip(out["classificators"][0, :, 0], -50.0, 50.0)
        scores = 1.0 / (1.0 + np.exp(-logits))
        keep = scores >= self.score
        if not keep.any():
            return []
        reg, scores, anchors = reg[keep], scores[keep], self.anchors[keep]
        cx = reg[:, 0] / INPUT + anchors[:, 0]
        cy = reg[:, 1] / INPUT + anchors[:, 1]
        bw, bh = reg[:, 2] / INPUT, reg[:, 3] / INPUT
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        pts = reg[:, 4:16].reshape(-1, 6, 2) / INPUT + anchors[:, None, :]
        side = max(h, w)  # normalised letterbox units -> frame pixels
        return [Detection(tuple(float(v) for v in box * side), pts * side, score)  # type: ignore[arg-type]
                for box, pts, score in weighted_nms(boxes, pts, scores, self.iou)]
