"""Record a session's source items to a JSON Lines file and play it back offline (docs/recording.md)."""

from app.recording.format import RecordingError
from app.recording.reader import Recording, read_recording
from app.recording.recorder import Recorder

__all__ = ["Recorder", "Recording", "RecordingError", "read_recording"]
