"""The live inference pool hands queued frames to its threads in batches, each answer reaching its own frame."""

import asyncio
import threading

from analytics.live import pipeline


async def test_queued_frames_are_analysed_in_batches_and_each_gets_its_own_result(
    face_jpeg, empty_jpeg, monkeypatch
):
    # The first frame holds the only worker until every other frame is queued, as when frames arrive faster
    # than one analysis.
    release, original = threading.Event(), pipeline._analyze

    def held(frame, emotions):
        if frame == b"first":
            release.wait(30)
            return None
        return original(frame, emotions)

    monkeypatch.setattr(pipeline, "_analyze", held)
    pool = pipeline.InferencePool(workers=1)
    try:
        first = pool.submit(b"first", True)
        await asyncio.sleep(0.2)
        frames = [face_jpeg, empty_jpeg, b"not a jpeg", face_jpeg, empty_jpeg, face_jpeg]
        futures = [pool.submit(frame, True) for frame in frames]
        release.set()
        await first
        results = await asyncio.wait_for(asyncio.gather(*futures, return_exceptions=True), 60)
    finally:
        pool.stop()

    from inference import FrameError

    assert [len(r.faces) if not isinstance(r, Exception) else "error" for r in results] == [
        1,
        0,
        "error",
        1,
        0,
        1,
    ]
    assert isinstance(results[2], FrameError)
    assert all(r.faces[0].emotion for r in (results[0], results[3], results[5]))
    # Bit for bit what one frame at a time gives.
    alone = pipeline.engine().analyze(face_jpeg, emotions=True)
    assert results[0].faces[0].probabilities == alone.faces[0].probabilities
    assert pool.frames == 7 and pool.batches < 7, "queued frames went to the worker together"


async def test_a_failure_in_one_frame_of_a_batch_is_that_frame_s_alone(face_jpeg, monkeypatch):
    engine = pipeline.engine()
    original = engine.analyze

    def analyze(frame, emotions=True):
        if frame == b"boom":
            raise RuntimeError("the detector crashed on this frame")
        return original(frame, emotions=emotions)

    monkeypatch.setattr(engine, "analyze", analyze)
    results = await asyncio.to_thread(pipeline._analyze_batch, [face_jpeg, b"boom", face_jpeg], True)
    assert isinstance(results[1], RuntimeError)
    assert len(results[0].faces) == 1 and len(results[2].faces) == 1
