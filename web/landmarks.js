// Landmarks in the browser: the package's crop, model call, heatmap read-out, tracker and head
// pose (helpers/crop.py, helpers/nets/heatmaps.py, helpers/inference/video.py and pose.py),
// written again in JavaScript for ONNX Runtime Web. Every setting comes from config.json, which
// `python -m helpers web` writes from the model files, so nothing here can drift from Python.
// Points are (x, y) image pixels with pixel centres at integers, as everywhere in the package;
// an image is {data: RGBA bytes, width, height}, as a canvas's getImageData gives it.

import * as ort from "./ort/ort.wasm.min.mjs";

export { ort };

// ---- the model -------------------------------------------------------------------------------

let runtimeSet = false;

/** ONNX Runtime Web's settings, once: its wasm files from this server, and threads only where
 * the page is cross-origin isolated (wasm threads need SharedArrayBuffer). */
function setRuntime() {
  if (runtimeSet) return;
  ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;
  ort.env.wasm.numThreads = self.crossOriginIsolated
    ? Math.min(4, navigator.hardwareConcurrency || 1)
    : 1;
  runtimeSet = true;
}

/** What the page runs on: ONNX Runtime Web's version and its wasm threads. */
export function runtimeInfo() {
  setRuntime();
  return { version: ort.env.versions.web, threads: ort.env.wasm.numThreads,
           isolated: self.crossOriginIsolated };
}

/** A landmark model: an ONNX Runtime Web session and the settings of its model file. */
export class Model {
  constructor(session, spec) {
    this.session = session;
    this.spec = spec;
    this.size = spec.crop_size;
    this.queue = Promise.resolve(); // one run at a time: the webcam and a photo may both ask
  }

  /** The model called `name` in config.json. */
  static async load(config, name) {
    setRuntime();
    const spec = config.models[name];
    if (!spec) throw new Error(`no model ${name} in config.json`);
    const session = await ort.InferenceSession.create(spec.file, {
      executionProviders: ["wasm"],
      graphOptimizationLevel: "all",
    });
    return new Model(session, spec);
  }

  /** Heatmaps (n, K, h, w) for n crops (each RGB, size x size x 3 bytes), and their shape. */
  async maps(crops) {
    const n = crops.length, size = this.size, plane = size * size;
    const input = new Float32Array(n * 3 * plane);
    crops.forEach((crop, i) => {
      const base = i * 3 * plane;
      for (let p = 0; p < plane; p++) {
        for (let c = 0; c < 3; c++) input[base + c * plane + p] = crop[3 * p + c] / 255 - 0.5;
      }
    });
    const feeds = { [this.session.inputNames[0]]: new ort.Tensor("float32", input, [n, 3, size, size]) };
    const run = this.queue.then(() => this.session.run(feeds));
    this.queue = run.catch(() => {});
    const out = (await run)[this.session.outputNames[0]];
    const dims = out.dims.map(Number);
    const data = out.data.slice();
    out.dispose?.();
    return { data, dims };
  }
}

// ---- the crop (helpers/crop.py) --------------------------------------------------------------

/** Python's round(): halves to the even neighbour, so squares are the same whole pixels. */
export function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The square (left, top, side) around a box (left, top, width, height) enlarged by factor,
 * its centre moved down by shift box heights (crop.crop_square). */
export function cropSquare(box, factor, shift) {
  const [left, top, width, height] = box;
  const side = roundHalfEven(Math.max(width, height) * factor);
  const cx = left + width / 2, cy = top + height / 2 + shift * height;
  return [roundHalfEven(cx - side / 2), roundHalfEven(cy - side / 2), side];
}

/** Per output pixel, the first source pixel and the weights of an antialiased bilinear resize
 * from inSize to outSize: a triangle filter widened by the scale when shrinking, as torch's
 * antialias=True and Pillow compute it, then in whole numbers as torch's uint8 path uses them
 * (weights times 2^precision, the largest precision that keeps them in 16 bits). */
export function resampleWeights(inSize, outSize) {
  const scale = inSize / outSize;
  const support = scale >= 1 ? scale : 1;
  const inv = scale >= 1 ? 1 / scale : 1;
  const starts = new Int32Array(outSize), exact = [];
  let largest = 0;
  for (let i = 0; i < outSize; i++) {
    const centre = scale * (i + 0.5);
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
    const hi = Math.min(Math.trunc(centre + support + 0.5), inSize);
    const w = new Float64Array(Math.max(hi - lo, 0));
    let total = 0;
    for (let j = 0; j < w.length; j++) {
      const x = Math.abs((j + lo - centre + 0.5) * inv);
      w[j] = x < 1 ? 1 - x : 0;
      total += w[j];
    }
    for (let j = 0; j < w.length; j++) {
      w[j] = total > 0 ? w[j] / total : 0;
      largest = Math.max(largest, w[j]);
    }
    starts[i] = lo;
    exact.push(w);
  }
  let precision = 0;
  while (precision < 22 && Math.trunc(0.5 + largest * 2 ** (precision + 1)) < 2 ** 15) precision++;
  const weights = exact.map((w) => Int32Array.from(w, (v) => Math.trunc(v * 2 ** precision + 0.5)));
  return { starts, weights, precision };
}

/** A weighted sum in whole numbers back to a byte: rounded, clamped to 0-255. */
const toByte = (sum, precision) =>
  Math.min(255, Math.max(0, Math.floor((sum + 2 ** (precision - 1)) / 2 ** precision)));

/** The uint8 RGB crop (size x size x 3) of an image inside a square; black outside the image
 * (crop.crop_face). Across each row first, then down the columns, each pass rounded to bytes
 * in torch's whole-number arithmetic, so the crop is the one Python cuts. */
export function cropFace(image, square, size) {
  const [left, top, side] = square.map((v) => Math.trunc(v));
  const { data, width, height } = image;
  const out = new Uint8Array(size * size * 3);
  const x0 = Math.min(Math.max(left, 0), width), x1 = Math.min(Math.max(left + side, 0), width);
  const y0 = Math.min(Math.max(top, 0), height), y1 = Math.min(Math.max(top + side, 0), height);
  if (x1 <= x0 || y1 <= y0) return out;
  const across = resampleWeights(side, size), down = resampleWeights(side, size);
  const rows = new Uint8Array(side * size * 3); // every row of the square, resized across
  for (let r = 0; r < side; r++) {
    const y = top + r;
    if (y < 0 || y >= height) continue; // black
    for (let i = 0; i < size; i++) {
      const w = across.weights[i], start = across.starts[i];
      let red = 0, green = 0, blue = 0;
      for (let j = 0; j < w.length; j++) {
        const x = left + start + j;
        if (x < 0 || x >= width) continue; // black
        const p = 4 * (y * width + x);
        red += w[j] * data[p];
        green += w[j] * data[p + 1];
        blue += w[j] * data[p + 2];
      }
      const q = 3 * (r * size + i);
      rows[q] = toByte(red, across.precision);
      rows[q + 1] = toByte(green, across.precision);
      rows[q + 2] = toByte(blue, across.precision);
    }
  }
  for (let i = 0; i < size; i++) {
    const w = down.weights[i], start = down.starts[i];
    for (let c = 0; c < size * 3; c++) {
      let v = 0;
      for (let j = 0; j < w.length; j++) v += w[j] * rows[(start + j) * size * 3 + c];
      out[i * size * 3 + c] = toByte(v, down.precision);
    }
  }
  return out;
}

/** A crop mirrored left-right. */
export function mirrorCrop(crop, size) {
  const out = new Uint8Array(crop.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const a = 3 * (y * size + x), b = 3 * (y * size + size - 1 - x);
      out[a] = crop[b];
      out[a + 1] = crop[b + 1];
      out[a + 2] = crop[b + 2];
    }
  }
  return out;
}

// ---- the heatmap read-out (helpers/nets/heatmaps.py) -----------------------------------------

const EPS = 1e-10;

/** Offset of the parabola's top through three log samples; 0 where they form no maximum. */
function vertex(left, mid, right) {
  const curvature = left - 2 * mid + right;
  if (!(curvature < -1e-6)) return 0;
  return Math.min(1.5, Math.max(-1.5, (0.5 * (left - right)) / curvature));
}

/** The lower middle value of every fourth number of a map: the floor its peak stands on. */
function quarterMedian(map) {
  const quarter = [];
  for (let i = 0; i < map.length; i += 4) quarter.push(map[i]);
  quarter.sort((a, b) => a - b);
  return quarter[Math.floor((quarter.length - 1) / 2)];
}

/** Points (K, 2) in map pixels and confidences (K) from maps (K, h, w) at `offset` in `data`:
 * the argmax, a Taylor step on the log map in x and in y, and the peak's height above the
 * median of every fourth pixel, at most 1 (heatmaps.decode_peaks). */
export function decodePeaks(data, offset, k, h, w) {
  const points = new Float64Array(k * 2), confidence = new Float64Array(k);
  const log = (v) => Math.log(Math.max(v, EPS));
  for (let m = 0; m < k; m++) {
    const map = data.subarray(offset + m * h * w, offset + (m + 1) * h * w);
    let peak = 0;
    for (let i = 1; i < map.length; i++) if (map[i] > map[peak]) peak = i;
    const px = peak % w, py = Math.floor(peak / w);
    const cx = Math.min(Math.max(px, 1), w - 2), cy = Math.min(Math.max(py, 1), h - 2);
    const at = (x, y) => log(map[y * w + x]);
    points[2 * m] = cx + vertex(at(cx - 1, py), at(cx, py), at(cx + 1, py));
    points[2 * m + 1] = cy + vertex(at(px, cy - 1), at(px, cy), at(px, cy + 1));
    confidence[m] = Math.min(map[peak] - quarterMedian(map), 1);
  }
  return { points, confidence };
}

/** The maps of a mirrored crop as maps of the crop itself, averaged into `maps` (K, h, w):
 * flipped left-right, with left and right points swapped back (tta.unmirror_maps). */
export function averageMirrored(maps, mirrored, perm, h, w) {
  const out = new Float32Array(maps.length);
  for (let m = 0; m < perm.length; m++) {
    const src = perm[m] * h * w, dst = m * h * w;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        out[dst + y * w + x] = (maps[dst + y * w + x] + mirrored[src + y * w + (w - 1 - x)]) / 2;
      }
    }
  }
  return out;
}

/** Map pixels of a crop cut from `square` back to image pixels (heatmaps.map_to_fractions,
 * then crop.crops_to_image). */
export function mapToImage(points, square, mapWidth) {
  const [left, top, side] = square;
  const out = new Float64Array(points.length);
  for (let i = 0; i < points.length; i += 2) {
    out[i] = ((points[i] + 0.5) / mapWidth) * side - 0.5 + left;
    out[i + 1] = ((points[i + 1] + 0.5) / mapWidth) * side - 0.5 + top;
  }
  return out;
}

/** Points and confidences for crops already cut: the model, the mirrored average when asked
 * for, and the read-out. Points are in crop-map pixels; `batch` crops go through at a time. */
export async function readCrops(model, crops, mirrored = false, batch = 16) {
  const found = [];
  for (let start = 0; start < crops.length; start += batch) {
    const chunk = crops.slice(start, start + batch);
    mirrored = mirrored && Boolean(model.spec.flip_perm); // a model without a permutation: none
    const inputs = mirrored ? [...chunk, ...chunk.map((c) => mirrorCrop(c, model.size))] : chunk;
    const { data, dims } = await model.maps(inputs);
    const [, k, h, w] = dims, one = k * h * w;
    for (let i = 0; i < chunk.length; i++) {
      let maps = data.subarray(i * one, (i + 1) * one);
      if (mirrored) {
        const flipped = data.subarray((i + chunk.length) * one, (i + chunk.length + 1) * one);
        maps = averageMirrored(maps, flipped, model.spec.flip_perm, h, w);
      }
      found.push({ ...decodePeaks(maps, 0, k, h, w), mapWidth: w });
    }
  }
  return found;
}

/** 68 points in image pixels and each point's confidence, for each face box (left, top,
 * width, height) of an image (Landmarker.in_boxes). */
export async function inBoxes(model, image, boxes, mirrored = false) {
  const { crop_factor: factor, crop_shift: shift } = model.spec;
  const squares = boxes.map((box) => cropSquare(box, factor, shift));
  const crops = squares.map((square) => cropFace(image, square, model.size));
  const read = await readCrops(model, crops, mirrored);
  return read.map((r, i) => ({
    box: boxes[i],
    points: mapToImage(r.points, squares[i], r.mapWidth),
    confidence: r.confidence,
  }));
}

const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;

// ---- finding a face without a detector --------------------------------------------------------

/** The face box (left, top, side, side) a detector would give for these points (the training
 * boxes against their points' extent: video.box_from_points). */
export function boxFromPoints(points, ratios) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let i = 0; i < points.length; i += 2) {
    minX = Math.min(minX, points[i]);
    maxX = Math.max(maxX, points[i]);
    minY = Math.min(minY, points[i + 1]);
    maxY = Math.max(maxY, points[i + 1]);
  }
  const extent = Math.sqrt(Math.max((maxX - minX) * (maxY - minY), 1));
  const [ratio, dx, dy] = ratios, side = ratio * extent;
  const cx = (minX + maxX) / 2 + dx * extent, cy = (minY + maxY) / 2 + dy * extent;
  return [cx - side / 2, cy - side / 2, side, side];
}

/** A face's points and box refined by `rounds` crops, each from the last one's points: a box
 * dragged by hand or found by the search becomes the box the model was trained on. */
export async function refine(model, image, box, config, rounds, mirrored = false) {
  let face = (await inBoxes(model, image, [box], mirrored))[0];
  for (let r = 0; r < rounds; r++) {
    const next = boxFromPoints(face.points, config.tracker.box_from_points);
    face = (await inBoxes(model, image, [next], mirrored))[0];
  }
  return { ...face, score: mean(face.confidence) };
}

function iou(a, b) {
  const x0 = Math.max(a[0], b[0]), y0 = Math.max(a[1], b[1]);
  const x1 = Math.min(a[0] + a[2], b[0] + b[2]), y1 = Math.min(a[1] + a[3], b[1] + b[3]);
  const inter = Math.max(x1 - x0, 0) * Math.max(y1 - y0, 0);
  return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}

/** Square boxes over the image at every scale of the search, on a grid of `step` sides. */
export function searchBoxes(width, height, search) {
  const boxes = [];
  const smallest = Math.max(search.min_side_px, search.min_side * Math.min(width, height));
  for (let side = Math.min(width, height); side >= smallest; side *= search.scale_step) {
    const step = search.step * side;
    const across = Math.max(Math.floor((width - side) / step), 0);
    const down = Math.max(Math.floor((height - side) / step), 0);
    const x0 = (width - side - across * step) / 2, y0 = (height - side - down * step) / 2;
    for (let j = 0; j <= down; j++) {
      for (let i = 0; i <= across; i++) boxes.push([x0 + i * step, y0 + j * step, side, side]);
    }
  }
  return boxes;
}

/** The faces in an image found by the landmark model itself: every box of the search is
 * scored by the model's mean confidence; the best few, refined from their own points, are the
 * faces whose confidence stays at or above the tracker's threshold; best first, no overlaps. */
export async function search(model, image, config, maxFaces = 5) {
  const s = config.search;
  const boxes = searchBoxes(image.width, image.height, s);
  const { crop_factor: factor, crop_shift: shift } = model.spec;
  const scored = [];
  for (let start = 0; start < boxes.length; start += 32) {
    const chunk = boxes.slice(start, start + 32);
    const crops = chunk.map((b) => cropFace(image, cropSquare(b, factor, shift), model.size));
    const read = await readCrops(model, crops, false, 32);
    read.forEach((r, i) => scored.push({ box: chunk[i], score: mean(r.confidence) }));
  }
  scored.sort((a, b) => b.score - a.score);
  const kept = [];
  for (const c of scored) {
    if (kept.length >= s.candidates) break;
    if (kept.every((k) => iou(k.box, c.box) < 0.3)) kept.push(c);
  }
  const faces = [];
  for (const c of kept) {
    const face = await refine(model, image, c.box, config, s.refine_rounds);
    if (face.score >= config.tracker.min_confidence) faces.push(face);
  }
  faces.sort((a, b) => b.score - a.score);
  const found = [];
  for (const f of faces) {
    const box = boxFromPoints(f.points, config.tracker.box_from_points);
    if (found.length < maxFaces && found.every((g) => iou(g.refined, box) < 0.3)) {
      found.push({ ...f, refined: box });
    }
  }
  return found.map(({ refined, ...f }) => ({ ...f, box: refined }));
}

// ---- over time (helpers/inference/video.py) ----------------------------------------------------

/** The One Euro filter on arrays of (x, y) points: still points stop jittering (min_cutoff, Hz),
 * fast ones do not lag (beta) (Casiez, Roussel and Vogel, CHI 2012; video.OneEuro). */
export class OneEuro {
  constructor(minCutoff, beta, dCutoff = 1.0) {
    Object.assign(this, { minCutoff, beta, dCutoff });
    this.reset();
  }

  reset() {
    this.x = this.dx = this.t = null;
  }

  static alpha(cutoff, dt) {
    const tau = 1 / (2 * Math.PI * cutoff);
    return 1 / (1 + tau / dt);
  }

  /** The filtered points of x (flat x, y pairs) observed at time t (seconds). */
  filter(x, t) {
    if (this.x === null) {
      this.x = Float64Array.from(x);
      this.dx = new Float64Array(x.length);
      this.t = t;
      return Float64Array.from(x);
    }
    const dt = Math.max(t - this.t, 1e-6), aD = OneEuro.alpha(this.dCutoff, dt);
    for (let i = 0; i < x.length; i++) this.dx[i] += aD * ((x[i] - this.x[i]) / dt - this.dx[i]);
    for (let i = 0; i < x.length; i += 2) {
      const speed = Math.hypot(this.dx[i], this.dx[i + 1]);
      const a = OneEuro.alpha(this.minCutoff + this.beta * speed, dt);
      this.x[i] += a * (x[i] - this.x[i]);
      this.x[i + 1] += a * (x[i + 1] - this.x[i + 1]);
    }
    this.t = t;
    return Float64Array.from(this.x);
  }
}

/** Faces across frames, as video.Tracker: search when there is no track, else crop from the
 * last frame's points; a track whose mean confidence falls under the threshold is lost, and
 * while none is tracked the search runs on every search_every-th frame. */
export class Tracker {
  constructor(model, config, smooth = true) {
    const t = config.tracker;
    this.model = model;
    this.config = config;
    this.smooth = smooth ? new OneEuro(t.min_cutoff, t.beta) : null;
    this.points = null;
    this.rest = 0;
  }

  /** One frame (an image) observed at time t (seconds): {face or null, searched}. */
  async step(image, t) {
    if (this.points === null && this.rest > 0) {
      this.rest -= 1;
      return { face: null, searched: false };
    }
    const tracking = this.points !== null;
    const step = await this.attempt(image, t);
    return tracking && step.face === null ? this.attempt(image, t) : step;
  }

  async attempt(image, t) {
    const searched = this.points === null;
    let box;
    if (searched) {
      const found = await search(this.model, image, this.config, 1);
      if (!found.length) return this.lose(searched);
      box = found[0].box;
    } else {
      box = boxFromPoints(this.points, this.config.tracker.box_from_points);
    }
    const cx = box[0] + box[2] / 2, cy = box[1] + box[3] / 2;
    if (!(cx >= 0 && cx < image.width && cy >= 0 && cy < image.height)) return this.lose(searched);
    const face = (await inBoxes(this.model, image, [box]))[0];
    if (mean(face.confidence) < this.config.tracker.min_confidence) return this.lose(searched);
    this.points = face.points;
    const shown = this.smooth ? this.smooth.filter(face.points, t) : face.points;
    return { face: { ...face, points: shown }, searched };
  }

  lose(searched) {
    this.points = null;
    this.rest = searched ? this.config.tracker.search_every - 1 : 0;
    this.smooth?.reset();
    return { face: null, searched };
  }
}

// ---- head pose (helpers/inference/pose.py) ----------------------------------------------------

const dot3 = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a, b) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const matmul3 = (A, B) => A.map((row) => [0, 1, 2].map((j) => dot3(row, [B[0][j], B[1][j], B[2][j]])));

/** The rotation matrix of a rotation vector (Rodrigues). */
function rotationOf(v) {
  const angle = Math.hypot(v[0], v[1], v[2]);
  if (angle < 1e-12) return [[1, -v[2], v[1]], [v[2], 1, -v[0]], [-v[1], v[0], 1]];
  const [x, y, z] = v.map((c) => c / angle), c = Math.cos(angle), s = Math.sin(angle), C = 1 - c;
  return [
    [c + x * x * C, x * y * C - z * s, x * z * C + y * s],
    [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
    [z * x * C - y * s, z * y * C + x * s, c + z * z * C],
  ];
}

/** Model points (N, 3) to pixels through the assumed camera (pose.project). */
function project(model, R, t, camera) {
  const { focal, cx, cy } = camera;
  return model.map((X) => {
    const c = R.map((row, i) => dot3(row, X) + t[i]);
    return [cx + (focal * c[0]) / -c[2], cy - (focal * c[1]) / -c[2]];
  });
}

/** Solve the small dense system A x = b by Gaussian elimination with partial pivoting. */
function solve(A, b) {
  const n = b.length, M = A.map((row, i) => [...row, b[i]]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(M[r][col]) > Math.abs(M[pivot][col])) pivot = r;
    [M[col], M[pivot]] = [M[pivot], M[col]];
    for (let r = col + 1; r < n; r++) {
      const f = M[r][col] / M[col][col];
      for (let c = col; c <= n; c++) M[r][c] -= f * M[col][c];
    }
  }
  const x = new Array(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let c = r + 1; c < n; c++) s -= M[r][c] * x[c];
    x[r] = s / M[r][r];
  }
  return x;
}

/** The closed-form scaled-orthographic pose of the rigid points: the affine camera's nearest
 * rotation, its two rows from the polar decomposition (pose._orthographic_start). */
function orthographicStart(model, plane) {
  const n = model.length;
  const mm = [0, 1, 2].map((j) => mean(model.map((p) => p[j])));
  const pm = [0, 1].map((j) => mean(plane.map((p) => p[j])));
  const X = model.map((p) => p.map((v, j) => v - mm[j]));
  const Y = plane.map((p) => p.map((v, j) => v - pm[j]));
  const XtX = [0, 1, 2].map((a) => [0, 1, 2].map((b) => X.reduce((s, p) => s + p[a] * p[b], 0)));
  const A = [0, 1].map((r) => solve(XtX, [0, 1, 2].map((a) => X.reduce((s, p, i) => s + p[a] * Y[i][r], 0))));
  const B = [[dot3(A[0], A[0]), dot3(A[0], A[1])], [dot3(A[1], A[0]), dot3(A[1], A[1])]];
  const det = B[0][0] * B[1][1] - B[0][1] * B[1][0], trace = B[0][0] + B[1][1];
  const root = Math.sqrt(Math.max(det, 0)), norm = Math.sqrt(trace + 2 * root);
  const S = [[(B[0][0] + root) / norm, B[0][1] / norm], [B[1][0] / norm, (B[1][1] + root) / norm]];
  const sDet = S[0][0] * S[1][1] - S[0][1] * S[1][0];
  const Si = [[S[1][1] / sDet, -S[0][1] / sDet], [-S[1][0] / sDet, S[0][0] / sDet]];
  const rows = [0, 1].map((r) => [0, 1, 2].map((c) => Si[r][0] * A[0][c] + Si[r][1] * A[1][c]));
  const R = [rows[0], rows[1], cross(rows[0], rows[1])];
  const half = Math.sqrt(Math.max(trace * trace / 4 - det, 0));
  const scale = (Math.sqrt(trace / 2 + half) + Math.sqrt(Math.max(trace / 2 - half, 0))) / 2;
  const centroid = [pm[0] / scale, pm[1] / scale, -1 / scale];
  return { R, t: centroid.map((v, i) => v - dot3(R[i], mm)) };
}

/** Coarse head pose {yaw, pitch, roll} (degrees, the signs of pose.py) of 68 points in an
 * image of width x height: the orthographic start, then Levenberg-Marquardt steps on the
 * perspective reprojection error of the rigid points (pose.head_pose). null where the points
 * give no pose (not finite, or the rigid points collapsed), where Python raises. */
export function headPose(points, width, height, poseConfig) {
  const pose = fitPose(points, width, height, poseConfig);
  const numbers = [pose.yaw, pose.pitch, pose.roll, ...pose.translation, ...pose.rotation.flat()];
  return numbers.every(Number.isFinite) ? pose : null;
}

function fitPose(points, width, height, poseConfig) {
  const camera = { focal: Math.max(width, height), cx: (width - 1) / 2, cy: (height - 1) / 2 };
  const model = poseConfig.rigid_model;
  const seen = poseConfig.rigid.map((i) => [points[2 * i], points[2 * i + 1]]);
  const plane = seen.map(([x, y]) => [(x - camera.cx) / camera.focal, (camera.cy - y) / camera.focal]);
  let { R, t } = orthographicStart(model, plane);
  const residuals = (R_, t_) => project(model, R_, t_, camera).flatMap((p, i) => [p[0] - seen[i][0], p[1] - seen[i][1]]);
  const update = (d) => [matmul3(rotationOf(d.slice(0, 3)), R), t.map((v, i) => v + d[3 + i])];
  let r = residuals(R, t), cost = r.reduce((s, v) => s + v * v, 0), lambda = 1e-3;
  for (let iter = 0; iter < 50; iter++) {
    const J = [];
    for (let k = 0; k < 6; k++) {
      const d = new Array(6).fill(0), h = k < 3 ? 1e-7 : 1e-7 * Math.max(Math.abs(t[k - 3]), 1);
      d[k] = h;
      const [Rk, tk] = update(d);
      J.push(residuals(Rk, tk).map((v, i) => (v - r[i]) / h));
    }
    const JtJ = J.map((a) => J.map((b) => a.reduce((s, v, i) => s + v * b[i], 0)));
    const Jtr = J.map((a) => a.reduce((s, v, i) => s + v * r[i], 0));
    const step = solve(JtJ.map((row, i) => row.map((v, j) => v + (i === j ? lambda * v : 0))), Jtr.map((v) => -v));
    const [R2, t2] = update(step);
    const r2 = residuals(R2, t2), cost2 = r2.reduce((s, v) => s + v * v, 0);
    if (cost2 < cost) {
      const done = cost - cost2 < 1e-12 * Math.max(cost, 1);
      [R, t, r, cost, lambda] = [R2, t2, r2, cost2, lambda / 10];
      if (done) break;
    } else {
      lambda *= 10;
      if (lambda > 1e8) break;
    }
  }
  const deg = 180 / Math.PI;
  return {
    yaw: Math.asin(Math.min(1, Math.max(-1, -R[2][0]))) * deg,
    pitch: -Math.atan2(R[2][1], R[2][2]) * deg,
    roll: -Math.atan2(R[1][0], R[0][0]) * deg,
    rotation: R,
    translation: t,
    rms_px: Math.sqrt(cost / seen.length),
  };
}

/** Pixels of the nose tip and of the ends of the head's x, y and z axes (pose.pose_axes). */
export function poseAxes(pose, width, height, poseConfig, length = 0.5) {
  const camera = { focal: Math.max(width, height), cx: (width - 1) / 2, cy: (height - 1) / 2 };
  const nose = poseConfig.nose_tip;
  const ends = [nose, ...[0, 1, 2].map((a) => nose.map((v, j) => v + (j === a ? length : 0)))];
  return project(ends, pose.rotation, pose.translation, camera);
}

/** A face for the downloaded JSON: box, points, confidence and pose under the predict
 * command's names and to its decimal places (its eye and mouth signals are not computed here). */
export function faceRecord(face, width, height, poseConfig) {
  const pose = headPose(face.points, width, height, poseConfig);
  const pairs = [];
  for (let i = 0; i < face.points.length; i += 2) {
    pairs.push([+face.points[i].toFixed(2), +face.points[i + 1].toFixed(2)]);
  }
  return {
    box_ltwh: face.box.map((v) => +v.toFixed(1)),
    points_xy: pairs,
    confidence: Array.from(face.confidence, (c) => +c.toFixed(3)),
    pose: pose && { yaw: +pose.yaw.toFixed(1), pitch: +pose.pitch.toFixed(1),
                    roll: +pose.roll.toFixed(1), rms_px: +pose.rms_px.toFixed(2) },
  };
}
