"""The live server's engine follows the inference settings (FERMONITOR_FLIP_TTA)."""

from analytics.live import pipeline


def test_the_live_pipeline_passes_the_flip_tta_setting_to_its_engine(settings, monkeypatch):
    monkeypatch.setattr(pipeline, "_engine", None)
    settings.FERMONITOR_FLIP_TTA = False
    assert pipeline.engine().flip_tta is False
    monkeypatch.setattr(pipeline, "_engine", None)
    settings.FERMONITOR_FLIP_TTA = None  # unset: the model card decides
    assert pipeline.engine().flip_tta is True
