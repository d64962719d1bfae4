"""Tower's media pipeline: pure functions and classes with no Django imports.

Everything here is testable on its own: frames are numpy arrays (H, W, 3, uint8, RGB), video goes through
ffmpeg over pipes, and results are plain dataclasses that the Django side stores.
"""
