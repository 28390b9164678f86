"""The breaks of issue 11, made on purpose one at a time: each must fail a test of what a viewer gets.

    python tests/breaks.py [WORD ...]     # all of them, or those whose name has a WORD

Each break edits one line of the source, runs the test file that should catch it, prints CAUGHT (with the tests that
failed) or MISSED, and puts the line back (also when interrupted). Run it on a clean working tree.
"""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEDIA = "tests/test_video_output.py"
M = [
 ("music never ducked", "storyreel/stages/video.py", '"[music][key]sidechaincompress=threshold=0.02:ratio=8:attack=20:release=400[ducked];\\n"', '"[music]anull[ducked];[key]anullsink;\\n"'),
 ("narration at half its start", "storyreel/stages/video.py", "start = int(round(slot.start * AUDIO_RATE))", "start = int(round(slot.start * 0.5 * AUDIO_RATE))"),
 ("no crossfade", "storyreel/render/timeline.py", "weight = _ease((t - (s.start - half)) / self.crossfade)", "weight = 1.0 if t >= s.start else 0.0"),
 ("no motion", "storyreel/render/motion.py", "m = view(motion, progress, plane.shape[1], plane.shape[0], w, h)", "m = view(motion, 0.0, plane.shape[1], plane.shape[0], w, h)"),
 ("offsets rounded", "storyreel/render/motion.py", "m = view(motion, progress, plane.shape[1], plane.shape[0], w, h)", "m = view(motion, progress, plane.shape[1], plane.shape[0], w, h); m[:, 2] = np.round(m[:, 2])"),
 ("colour planes swapped", "storyreel/render/motion.py", "return np.ascontiguousarray(ycc[:, :, 0]), cb, cr", "return np.ascontiguousarray(ycc[:, :, 0]), cr, cb"),
 ("captions timed from scene 1", "storyreel/render/timeline.py", "start = slot.start + g[0].start", "start = tl.slots[0].start + g[0].start"),
 ("captions 1% above bottom", "storyreel/render/captions.py", "margin_v = round(height * 0.28) if height > width", "margin_v = round(height * 0.01) if height > width"),
 ("no faststart", "storyreel/stages/video.py", '"-movflags", "+faststart", ', ""),
 ("pick ignored", "storyreel/stages/images.py", 'if picked is not None and picked[1] == "user":', "if False:"),
 ("reuse off", "storyreel/stages/video.py", "if previous is not None and not force and", "if False and previous is not None and not force and"),
 ("word events guessed", "storyreel/tts/espeak.py", "words = timings_from_starts(text, starts,", "words = timings_from_starts(text, [None] * len(starts),"),
 ("word times halved", "storyreel/tts/espeak.py", "        return Speech(wav_bytes(samples, rate), rate, duration, words)", "        words = tuple(type(w)(w.text, w.start / 2, w.end / 2) for w in words)\n        return Speech(wav_bytes(samples, rate), rate, duration, words)"),
]
M = [(*m, MEDIA) for m in M] + [
 ("CLIP report removed", "storyreel/pipeline.py", "        if p.truncated:", "        if False and p.truncated:",
  "tests/test_prompts.py"),
]
only = sys.argv[1:]
for name, rel, old, new, tests in M:
    if only and not any(o in name for o in only):
        continue
    path = ROOT / rel
    text = path.read_text()
    assert text.count(old) == 1, (name, text.count(old))
    path.write_text(text.replace(old, new))
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", tests],
                           cwd=ROOT, capture_output=True, text=True, timeout=900)
        failed = sorted(set(re.findall(r"FAILED tests/\S+::(\w+)", r.stdout)))
        errors = re.findall(r"ERROR tests/\S+", r.stdout)
        print(f"{name:32} {'CAUGHT' if failed or errors else 'MISSED'} {failed or errors}", flush=True)
    finally:
        path.write_text(text)
