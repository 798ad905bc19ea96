"""Checks a dubbed video against its source: python check_dub.py OUT VIDEO FRAMES.

OUT must have FRAMES ±1 frames at 25 fps, an AAC audio stream as long as the video ±1 frame,
frame i must equal source frame pingpong(i) (within codec noise) far from the face (the top rows
and the side strips of the frame) and everywhere when the source frame has no face, and the
mouth region of the source's face (Haar detection on the source frame, as cals tracks) must
differ. Codec noise: a plain x264 re-encode changes these regions by ~1.5 on average (up to 3.5
in a frame of testsrc2); neighbouring frames of testsrc2 differ by 7.5 or more there. Prints one
`ok ...` line or exits non-zero."""
import json, subprocess, sys
import cv2
import numpy as np

out, video, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])

def frames(path):
    capture = cv2.VideoCapture(path)
    result = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return np.array(result).astype(np.float32), capture.get(cv2.CAP_PROP_FPS)
        result.append(frame)

dubbed, fps = frames(out)
source, _ = frames(video)
problems = []
if abs(len(dubbed) - expected) > 1:
    problems.append(f"{len(dubbed)} frames, expected {expected}")
if abs(fps - 25) > 1e-3:
    problems.append(f"{fps} fps")
streams = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", out],
                                    capture_output=True, check=True).stdout)["streams"]
audio = [s for s in streams if s["codec_type"] == "audio"]
if len(audio) != 1 or audio[0]["codec_name"] != "aac":
    problems.append(f"audio streams {[(s['codec_type'], s['codec_name']) for s in streams]}")
elif abs(float(audio[0]["duration"]) - expected / 25) > 1.5 / 25:
    problems.append(f"audio lasts {audio[0]['duration']} s, expected {expected / 25:.2f} s")

cascade = cv2.CascadeClassifier("/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml")
n = len(source)
far, mouth, faceless = [], [], []
for i, frame in enumerate(dubbed):
    k = i % (2 * (n - 1))
    original = source[k if k < n else 2 * (n - 1) - k]
    diff = np.abs(frame - original).mean(axis=2)
    h, w = diff.shape
    far.append(max(diff[: h // 6].mean(), diff[:, : w // 8].mean(), diff[:, -w // 8:].mean()))
    faces = cascade.detectMultiScale(cv2.cvtColor(original.astype(np.uint8), cv2.COLOR_BGR2GRAY), 1.1, 5, minSize=(32, 32))
    if len(faces):
        x, y, fw, fh = max(faces, key=lambda f: f[2] * f[3])
        mouth.append(diff[y + fh * 6 // 10: y + fh * 95 // 100, x + fw // 4: x + fw * 3 // 4].mean())
    else:
        faceless.append(diff.mean())
if max(far) > 5.5:
    problems.append(f"pixels far from the face changed: mean |diff| up to {max(far):.2f} per frame")
if faceless and max(faceless) > 5.5:
    problems.append(f"frames without a face changed: mean |diff| up to {max(faceless):.2f}")
if not mouth or np.mean(mouth) < 4:
    problems.append(f"mouth region unchanged: mean |diff| {np.mean(mouth) if mouth else 'no face found'}")
if problems:
    sys.exit("; ".join(problems))
print(f"ok {len(dubbed)} frames, far-from-face |diff| max {max(far):.2f}, mouth |diff| mean {np.mean(mouth):.2f}, "
      f"{len(faceless)} frames without a face: |diff| max {max(faceless, default=0):.2f}")
