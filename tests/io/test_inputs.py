"""Images handed to `memorynet predict`: sizes checked from headers, files that are not what they claim refused."""

import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from memorynet.io.inputs import read_images, read_npy, read_png


def _png_header(width, height):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


@pytest.mark.parametrize("content, message", [
    (_png_header(20000, 20000) + b"\0" * 100, "20000 x 20000 image, over the"),
    (b"hello, I am text", "not a PNG image \\(it holds text\\)"),
    (b"\xff\xd8\xff\xe0" + b"\0" * 40, "it holds a JPEG image"),
    (b"GIF89a" + b"\0" * 40, "it holds a GIF image"),
    (_png_header(8, 8) + b"garbage", "not a readable image"),
])
def test_png_files_are_checked_before_decoding(tmp_path, content, message):
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        read_png(path)


def test_npy_files_are_checked_before_reading(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros(3))
    (tmp_path / "a.npz").rename(tmp_path / "zip.npy")
    with pytest.raises(ValueError, match="zip archive"):
        read_npy(tmp_path / "zip.npy")
    np.save(tmp_path / "small.npy", np.zeros((2, 1, 4, 4), np.uint8))
    with open(tmp_path / "huge.npy", "wb") as fh:  # a header claiming 10^12 images, 32 bytes of data
        np.lib.format.write_array_header_1_0(fh, {"descr": "|u1", "fortran_order": False,
                                                  "shape": (10**12, 1, 4, 4)})
        fh.write(bytes(32))
    with pytest.raises(ValueError, match="header declares shape"):
        read_npy(tmp_path / "huge.npy")
    (tmp_path / "garbage.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{garbage header}")
    with pytest.raises(ValueError, match="damaged .npy header") as caught:
        read_npy(tmp_path / "garbage.npy")
    assert "allow_pickle" not in str(caught.value)
    np.save(tmp_path / "objects.npy", np.array([object()]), allow_pickle=True)
    with pytest.raises(ValueError, match="expected a numeric array"):
        read_npy(tmp_path / "objects.npy")
    np.testing.assert_array_equal(next(read_images([str(tmp_path / "small.npy")]))[1], np.zeros((2, 1, 4, 4)))


def test_the_command_line_gives_one_line_for_each(tmp_path):
    model = tmp_path / "m.mnet"
    run = lambda *a: subprocess.run([sys.executable, "-m", "memorynet", *a], capture_output=True,  # noqa: E731
                                    text=True, timeout=300)
    assert run("train", "--no-progress", "--max-neurons", "100", "--save", str(model)).returncode == 0
    (tmp_path / "big.png").write_bytes(_png_header(20000, 20000))
    (tmp_path / "text.png").write_text("hi")
    for name in ("big.png", "text.png"):
        out = run("predict", "--model", str(model), str(tmp_path / name))
        assert out.returncode == 2 and "Traceback" not in out.stderr and len(out.stderr.splitlines()) == 1
    out = run("train", "--no-progress", "--save", str(tmp_path) + "/")
    assert out.returncode == 2 and "--save needs a file path" in out.stderr
    out = run("stream", "--no-progress", "--limit", "0", "--checkpoint", str(tmp_path / "c.mnet"))
    assert out.returncode == 2 and "--limit must be at least 1" in out.stderr
