// The demo page: a photo you drop (the shipped UNet, mirrored) and your webcam (the fast model,
// tracked). The work is in landmarks.js; this file draws and wires the buttons. window.fkd
// exposes the same calls to the tests (tests/test_web.py), which drive the page through them.

import * as lm from "./landmarks.js";

const $ = (id) => document.getElementById(id);
const config = await (await fetch("config.json")).json();
const models = { unet: await lm.Model.load(config, "unet"), fast: await lm.Model.load(config, "fast") };
const info = lm.runtimeInfo();
$("runtime").textContent =
  `ONNX Runtime Web ${info.version}, WebAssembly, ${info.threads} thread${info.threads > 1 ? "s" : ""}` +
  ` · ${config.models.unet.label} and ${config.models.fast.label}`;

// ---- drawing ---------------------------------------------------------------------------------

/** The colour of a confidence: red at 0.5 and under, green at 1. */
function confidenceColour(c) {
  const f = Math.min(Math.max((c - 0.5) / 0.5, 0), 1);
  return `rgb(${Math.round(255 * (1 - f))}, ${Math.round(200 * f + 40)}, 40)`;
}

/** A face on a canvas that shows the image at `scale`: box, axes and points. */
function drawFace(ctx, face, scale, width, height) {
  const at = (v) => (v + 0.5) * scale; // a pixel centre's place on a canvas showing the image at scale
  const [x, y, w, h] = face.box;
  ctx.lineWidth = 1.5;
  ctx.strokeStyle = "rgba(255, 255, 255, 0.6)";
  ctx.strokeRect(at(x), at(y), w * scale, h * scale);
  const pose = lm.headPose(face.points, width, height, config.pose);
  const axes = pose ? lm.poseAxes(pose, width, height, config.pose) : [];
  ["rgb(255,40,40)", "rgb(40,220,40)", "rgb(40,160,255)"].forEach((colour, i) => {
    if (!axes.length) return;
    ctx.strokeStyle = colour;
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.moveTo(at(axes[0][0]), at(axes[0][1]));
    ctx.lineTo(at(axes[i + 1][0]), at(axes[i + 1][1]));
    ctx.stroke();
  });
  const radius = Math.max(1.5, Math.min(4, (w * scale) / 90));
  for (let k = 0; k < face.points.length / 2; k++) {
    ctx.fillStyle = confidenceColour(face.confidence[k]);
    ctx.beginPath();
    ctx.arc(at(face.points[2 * k]), at(face.points[2 * k + 1]), radius, 0, 2 * Math.PI);
    ctx.fill();
  }
  return pose;
}

/** An image's pixels (RGBA) from anything a canvas can draw, transparency laid on white as
 * Python's images.to_rgb lays it. */
function pixelsOf(source, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.fillStyle = "white";
  ctx.fillRect(0, 0, width, height);
  ctx.drawImage(source, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height);
}

async function imageFromBlob(blob) {
  // The file's own bytes, as Python reads them: no colour management, no premultiplied alpha
  const bitmap = await createImageBitmap(blob, {
    imageOrientation: "from-image", colorSpaceConversion: "none", premultiplyAlpha: "none",
  });
  const image = pixelsOf(bitmap, bitmap.width, bitmap.height);
  return { image, bitmap };
}

// ---- the photo -------------------------------------------------------------------------------

const photo = { image: null, bitmap: null, faces: [], scale: 1, name: "photo", ms: 0 };
const canvas = $("photo-canvas"), ctx = canvas.getContext("2d");

function showPhoto() {
  if (!photo.bitmap) return;
  const { width, height } = photo.image;
  photo.scale = Math.min(1, 900 / width, 700 / height);
  canvas.width = Math.round(width * photo.scale);
  canvas.height = Math.round(height * photo.scale);
  ctx.drawImage(photo.bitmap, 0, 0, canvas.width, canvas.height);
  const angle = (pose, key) => (pose ? `${pose[key].toFixed(0)}°` : "–");
  const rows = photo.faces.map((face, i) => {
    const pose = drawFace(ctx, face, photo.scale, width, height);
    return `<tr><td>${i}</td><td>${face.score.toFixed(2)}</td><td>${angle(pose, "yaw")}</td>` +
      `<td>${angle(pose, "pitch")}</td><td>${angle(pose, "roll")}</td></tr>`;
  });
  $("faces").innerHTML = photo.faces.length
    ? "<tr><th>face</th><th>confidence</th><th>yaw</th><th>pitch</th><th>roll</th></tr>" + rows.join("")
    : "";
  $("download").disabled = !photo.faces.length;
}

// Every photo action takes a new token; one whose token is no longer the latest (another photo
// was opened, or the mirror switched, while it awaited the model) drops its result. While a
// search runs (searching holds its token), no box can be dragged: the search's faces replace all.
let photoRun = 0, searching = 0;

/** The faces of the photo: found by the search, then placed by the UNet. */
async function findFaces() {
  const run = ++photoRun, { image } = photo, mirrored = $("mirrored").checked;
  const start = performance.now();
  searching = run;
  const faces = [];
  try {
    const found = await lm.search(models.fast, image, config);
    for (const f of found) faces.push(await lm.refine(models.unet, image, f.box, config, 1, mirrored));
  } finally {
    if (searching === run) searching = 0;
  }
  if (run !== photoRun) return;
  Object.assign(photo, { faces, ms: performance.now() - start });
  $("photo-status").textContent = faces.length
    ? `${faces.length} face${faces.length > 1 ? "s" : ""} in ${photo.ms.toFixed(0)} ms`
    : `no face found in ${photo.ms.toFixed(0)} ms: drag a box over a face`;
  showPhoto();
}

async function openPhoto(blob, name) {
  const run = ++photoRun;
  $("photo-status").textContent = "reading the photo…";
  const read = await imageFromBlob(blob);
  if (run !== photoRun) return;
  Object.assign(photo, read, { faces: [], name });
  showPhoto();
  await findFaces();
}

/** Run a photo action; a failure (a file that is not an image, say) is shown, not lost. */
const attempt = (action) =>
  action().catch((err) => ($("photo-status").textContent = `could not read it: ${err.message}`));

$("file").addEventListener("change", (e) => {
  const file = e.target.files[0];
  if (file) attempt(() => openPhoto(file, file.name));
});
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = e.dataTransfer.files[0];
  if (file) attempt(() => openPhoto(file, file.name));
});
$("mirrored").addEventListener("change", () => photo.image && attempt(findFaces));

// A box dragged over the photo: the UNet places the face in it, refined from its own points;
// it replaces the faces it overlaps.
let dragFrom = null;
const imagePoint = (e) => {
  const r = canvas.getBoundingClientRect(), k = canvas.width / r.width;
  return [((e.clientX - r.left) * k) / photo.scale - 0.5, ((e.clientY - r.top) * k) / photo.scale - 0.5];
};
canvas.addEventListener("mousedown", (e) => { if (photo.image && !searching) dragFrom = imagePoint(e); });
canvas.addEventListener("mousemove", (e) => {
  if (!dragFrom) return;
  const [x, y] = imagePoint(e);
  showPhoto();
  ctx.strokeStyle = "yellow";
  ctx.strokeRect((dragFrom[0] + 0.5) * photo.scale, (dragFrom[1] + 0.5) * photo.scale,
    (x - dragFrom[0]) * photo.scale, (y - dragFrom[1]) * photo.scale);
});
canvas.addEventListener("mouseup", (e) => {
  if (!dragFrom) return;
  const [x, y] = imagePoint(e), from = dragFrom;
  dragFrom = null;
  const box = [Math.min(from[0], x), Math.min(from[1], y), Math.abs(x - from[0]), Math.abs(y - from[1])];
  if (box[2] < 8 || box[3] < 8) return showPhoto();
  attempt(() => placeFace(box));
});

/** The UNet's face in a dragged box; it replaces the faces whose boxes hold the box's centre. */
async function placeFace(box) {
  const run = photoRun, image = photo.image;
  const face = await lm.refine(models.unet, image, box, config, 2, $("mirrored").checked);
  if (run !== photoRun) return;
  const cx = box[0] + box[2] / 2, cy = box[1] + box[3] / 2;
  photo.faces = photo.faces.filter(({ box: b }) => !(cx > b[0] && cx < b[0] + b[2] && cy > b[1] && cy < b[1] + b[3]));
  photo.faces.push(face);
  $("photo-status").textContent = `placed a face: confidence ${face.score.toFixed(2)}`;
  showPhoto();
}

$("download").addEventListener("click", () => {
  const { width, height } = photo.image;
  const record = {
    image: photo.name,
    model: config.models.unet.label,
    mirrored: $("mirrored").checked,
    faces: photo.faces.map((f) => lm.faceRecord(f, width, height, config.pose)),
  };
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([JSON.stringify(record, null, 1)], { type: "application/json" }));
  link.download = `${photo.name.replace(/\.[^.]+$/, "")}_points.json`;
  link.click();
});

// ---- the webcam ------------------------------------------------------------------------------

const webcam = { stream: null, starting: false, tracker: null, log: null, fps: 0, last: 0, run: 0 };
const video = $("video"), wcanvas = $("webcam-canvas");
const wctx = wcanvas.getContext("2d", { willReadFrequently: true }); // read back every frame

/** The frame number written into a test clip's first row of 8x8 blocks (tests/test_web.py). */
function stampOf(image) {
  let n = 0;
  for (let b = 0; b < 16; b++) n |= (image.data[4 * (4 * image.width + 8 * b + 4)] > 128 ? 1 : 0) << b;
  return n;
}

/** One webcam frame: track, draw, count; then ask for the next (while this run lasts). */
async function onFrame(run, now, meta) {
  if (run !== webcam.run) return; // stopped, or started again: this loop ends
  try {
    await trackFrame(now, meta);
  } catch (err) {
    $("webcam-status").textContent = `error: ${err.message}`;
  } finally {
    if (run === webcam.run) video.requestVideoFrameCallback((n, m) => onFrame(run, n, m));
  }
}

async function trackFrame(now, meta) {
  const { videoWidth: width, videoHeight: height } = video;
  if (wcanvas.width !== width || wcanvas.height !== height) [wcanvas.width, wcanvas.height] = [width, height];
  wctx.drawImage(video, 0, 0);
  const image = wctx.getImageData(0, 0, width, height);
  const start = performance.now(), run = webcam.run;
  const step = await webcam.tracker.step(image, (meta?.mediaTime ?? now / 1000));
  const ms = performance.now() - start;
  if (run !== webcam.run) return; // stopped while the model ran
  const pose = step.face ? drawFace(wctx, step.face, 1, width, height) : null;
  const gap = webcam.last ? (now - webcam.last) / 1000 : 0;
  webcam.last = now;
  if (gap > 0) webcam.fps = webcam.fps ? 0.9 * webcam.fps + 0.1 / gap : 1 / gap;
  $("webcam-status").textContent =
    `${webcam.fps.toFixed(0)} frames/s · ${ms.toFixed(1)} ms a frame · ` +
    (pose ? `tracking (yaw ${pose.yaw.toFixed(0)}°, pitch ${pose.pitch.toFixed(0)}°, roll ${pose.roll.toFixed(0)}°)`
          : step.face ? "tracking" : step.searched ? "looking for a face" : "no face");
  webcam.log?.push({
    stamp: stampOf(image), ms, searched: step.searched,
    points: step.face ? Array.from(step.face.points) : null,
  });
}

async function startWebcam() {
  if (webcam.starting) return; // a second click while the browser asks for the camera
  webcam.starting = true;
  try {
    webcam.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } finally {
    webcam.starting = false;
  }
  video.srcObject = webcam.stream;
  await video.play();
  webcam.tracker = new lm.Tracker(models.fast, config);
  webcam.fps = webcam.last = 0;
  $("camera").textContent = "Stop the webcam";
  const run = ++webcam.run;
  video.requestVideoFrameCallback((n, m) => onFrame(run, n, m));
}

function stopWebcam() {
  webcam.run += 1;
  webcam.stream?.getTracks().forEach((t) => t.stop());
  webcam.stream = null;
  $("camera").textContent = "Start the webcam";
}

$("camera").addEventListener("click", async () => {
  try {
    await (webcam.stream ? stopWebcam() : startWebcam());
  } catch (err) {
    $("webcam-status").textContent = `no webcam: ${err.message}`;
  }
});

for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t === tab));
    document.querySelectorAll(".panel").forEach((p) => (p.hidden = p.id !== tab.dataset.panel));
  });
}

// ---- what the tests call ---------------------------------------------------------------------

const bytesOf = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

window.fkd = {
  config, info,
  /** Points (crop pixels) and confidences for RGB crops given as base64 bytes. */
  async cropPoints(crops, name, mirrored) {
    const model = models[name];
    const read = await lm.readCrops(model, crops.map(bytesOf), mirrored);
    return read.map((r) => ({
      points: Array.from(r.points, (v) => ((v + 0.5) * model.size) / r.mapWidth - 0.5),
      confidence: Array.from(r.confidence),
    }));
  },
  /** The uint8 RGB crop (base64) a model takes of a photo, by URL, for a box. */
  async crop(url, box, name) {
    const { image } = await imageFromBlob(await (await fetch(url)).blob());
    const spec = config.models[name];
    const square = lm.cropSquare(box, spec.crop_factor, spec.crop_shift);
    const crop = lm.cropFace(image, square, spec.crop_size);
    let text = "";
    for (const byte of crop) text += String.fromCharCode(byte);
    return { square, crop: btoa(text) };
  },
  /** Points in a photo's pixels for boxes of it, by URL. */
  async photoPoints(url, boxes, name, mirrored) {
    const { image } = await imageFromBlob(await (await fetch(url)).blob());
    const faces = await lm.inBoxes(models[name], image, boxes, mirrored);
    return faces.map((f) => ({ points: Array.from(f.points), confidence: Array.from(f.confidence),
                               pose: lm.headPose(f.points, image.width, image.height, config.pose) }));
  },
  /** The faces the page finds in a photo, by URL, as the photo panel shows them. */
  async photoFaces(url, mirrored = true) {
    $("mirrored").checked = mirrored;
    await openPhoto(await (await fetch(url)).blob(), url.split("/").pop());
    return { ms: photo.ms, faces: photo.faces.map((f) => ({ box: f.box, points: Array.from(f.points) })) };
  },
  /** ms per face at batch 1 for a model, without the mirror: the median of `runs` calls. */
  async msPerFace(name, runs = 50) {
    const model = models[name], crop = new Uint8Array(model.size * model.size * 3).fill(128);
    for (let i = 0; i < 5; i++) await lm.readCrops(model, [crop]);
    const times = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      await lm.readCrops(model, [crop]);
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(runs / 2)];
  },
  /** Start the webcam and log every frame it tracks (stamp, ms, points). */
  async startWebcam() {
    webcam.log = [];
    $("tab-webcam").click();
    await startWebcam();
  },
  stopWebcam() {
    stopWebcam();
    return { log: webcam.log, fps: webcam.fps };
  },
};
document.body.dataset.ready = "yes";
