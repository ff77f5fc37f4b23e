"""The browser demo: the shipped models on a photo you choose and on your webcam, run in the
page by ONNX Runtime Web; nothing leaves the machine.

Usage: python -m helpers web [--port 8000] [--out runs/web] [--build-only]

It builds the page into OUT: web/'s page and JavaScript, the two shipped ONNX models (checked
against their cards), config.json with every setting the JavaScript needs, taken from the model
files and the package so that the page restates no number, and ONNX Runtime Web's WebAssembly
build from web/node_modules (`make web-deps` installs it from npm, pinned by
web/package-lock.json). Then it serves OUT on 127.0.0.1, cross-origin isolated so that the
runtime may use threads; the write-up and its figures are served beside it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import threading
from dataclasses import asdict, dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..config import REPO_ROOT, relative
from ..files import atomic_write
from ..inference import video
from ..inference.modelfile import DEFAULT_MODEL, FAST_MODEL, load_landmarker
from ..inference.pose import MEAN_FACE_3D, NOSE_TIP, RIGID
from ..inference.runtime import verified_onnx

SOURCE = REPO_ROOT / "web"
PAGE_FILES = ("index.html", "app.js", "landmarks.js", "style.css")
# ONNX Runtime Web's WebAssembly-only build: its module, the wasm loader and the wasm itself
RUNTIME_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
RUNTIME_DIR = SOURCE / "node_modules" / "onnxruntime-web" / "dist"
DEFAULT_OUT = REPO_ROOT / "runs" / "web"


@dataclass(frozen=True)
class SearchConfig:
    """How the page finds a face without a detector: square boxes from the image's shorter side
    down to min_side of it (and at least min_side_px), each scale_step times the last, on a grid
    of step sides, scored by the fast model's mean confidence; the best `candidates`, apart,
    are refined from their own points refine_rounds times, and kept when still confident."""

    min_side: float = 0.2
    min_side_px: int = 48
    scale_step: float = 0.8
    step: float = 0.5
    candidates: int = 4
    refine_rounds: int = 2


SEARCH = SearchConfig()


def model_entry(weights: Path, label: str) -> dict:
    """What the page needs of a model file: its ONNX file and the crop and read-out settings."""
    _, settings = load_landmarker(weights)
    if settings.readout != "heatmap" or settings.in_channels != 3:
        raise ValueError(f"{relative(weights)}: the page reads RGB heatmap models only")
    onnx = verified_onnx(weights)
    return {
        "file": f"models/{onnx.name}",
        "label": label,
        "crop_size": settings.crop_size,
        "crop_factor": settings.crop_factor,
        "crop_shift": settings.crop_shift,
        "flip_perm": list(settings.flip_perm) if settings.flip_perm else None,
    }


def page_config(unet: Path = DEFAULT_MODEL, fast: Path = FAST_MODEL) -> dict:
    """config.json: the models, the tracker's and the search's settings, the head pose's face."""
    return {
        "models": {
            "unet": model_entry(unet, "the shipped UNet"),
            "fast": model_entry(fast, "the fast model"),
        },
        "tracker": {
            "box_from_points": list(video.BOX_FROM_POINTS),
            "min_confidence": video.MIN_CONFIDENCE,
            "min_cutoff": video.MIN_CUTOFF,
            "beta": video.BETA,
            "search_every": video.SEARCH_EVERY,
        },
        "search": asdict(SEARCH),
        "pose": {
            "rigid": RIGID.tolist(),
            "rigid_model": MEAN_FACE_3D[RIGID].tolist(),
            "nose_tip": MEAN_FACE_3D[NOSE_TIP].tolist(),
        },
    }


def pinned_version() -> str:
    """The onnxruntime-web version web/package.json pins."""
    return json.loads((SOURCE / "package.json").read_text())["dependencies"]["onnxruntime-web"]


def _check_runtime() -> None:
    """The pinned ONNX Runtime Web is installed, or FileNotFoundError says how to install it."""
    installed = RUNTIME_DIR.parent / "package.json"
    if not installed.is_file():
        raise FileNotFoundError("ONNX Runtime Web is not installed: run `make web-deps`")
    version = json.loads(installed.read_text())["version"]
    if version != pinned_version():
        raise FileNotFoundError(
            f"web/node_modules has onnxruntime-web {version}, not the pinned "
            f"{pinned_version()}: run `make web-deps`"
        )


def build(out: Path = DEFAULT_OUT, unet: Path = DEFAULT_MODEL, fast: Path = FAST_MODEL) -> Path:
    """Write the page, its runtime, its models and config.json into `out`; returns `out`."""
    _check_runtime()
    config = page_config(unet, fast)
    for folder in ("ort", "models"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        shutil.copyfile(SOURCE / name, out / name)
    for name in RUNTIME_FILES:
        shutil.copyfile(RUNTIME_DIR / name, out / "ort" / name)
    for weights in (unet, fast):
        shutil.copyfile(verified_onnx(weights), out / "models" / verified_onnx(weights).name)
    atomic_write(out / "config.json", json.dumps(config, indent=1))
    return out


class Handler(SimpleHTTPRequestHandler):
    """Files of the built page, with the write-up and figures of the repository beside it;
    cross-origin isolated (so WebAssembly may use threads), and quiet."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".js": "text/javascript",
        ".wasm": "application/wasm",
        ".json": "application/json",
    }

    def translate_path(self, path: str) -> str:
        """A request's file: under the repository's writeup/ or figures/ for those routes, under
        the built page otherwise; a path that leaves its folder names nothing."""
        for folder in ("writeup", "figures"):
            if path.startswith(f"/{folder}/"):
                base = (REPO_ROOT / folder).resolve()
                inside = unquote(urlsplit(path).path)[len(folder) + 2 :]
                target = (base / inside.lstrip("/")).resolve()
                return str(target) if target.is_relative_to(base) else str(base / "missing")
        return super().translate_path(path)

    def send_head(self):
        """Refuse requests for another host (a page elsewhere rebinding its name to this
        machine) and folder listings; serve files otherwise."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in ("127.0.0.1", "localhost"):
            self.send_error(403, "this server answers to 127.0.0.1 and localhost only")
            return None
        target = Path(self.translate_path(self.path))
        if target.is_dir() and not (target / "index.html").is_file():
            self.send_error(404)
            return None
        return super().send_head()

    def end_headers(self) -> None:
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


def serve(out: Path, port: int = 8000) -> ThreadingHTTPServer:
    """A server for the built page on 127.0.0.1 (port 0: any free port), running on a thread;
    its address is server.server_address, and server.shutdown() stops it."""
    server = ThreadingHTTPServer(("127.0.0.1", port), partial(Handler, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--build-only", action="store_true", help="build the page, serve nothing")
    args = parser.parse_args(argv)
    try:
        out = build(args.out)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    print(f"built {relative(out)}")
    if args.build_only:
        return 0
    try:
        server = serve(out, args.port)
    except OSError as err:
        print(f"error: cannot serve on port {args.port}: {err}", file=sys.stderr)
        return 3
    print(f"open http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops the server)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
