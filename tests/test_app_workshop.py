"""Workshop mode: a participant can read, write or train nothing but what the teacher configured."""

from __future__ import annotations

import shutil

import pytest

from test_app_helpers import (app_model, assert_clean, charts, open_app, open_link,  # noqa: F401
                              warnings_text)
from promptsets.paths import DEMO_CLUSTERS


@pytest.fixture
def workshop(app_model, monkeypatch) -> str:
    monkeypatch.setenv("LENSLAB_WORKSHOP", "1")
    for name in ("LENSLAB_LENSES", "LENSLAB_CLUSTERS", "LENSLAB_COMPARE"):
        monkeypatch.delenv(name, raising=False)
    return app_model


def text_inputs(at) -> set[str]:
    return {w.key for w in [*at.text_input, *at.sidebar.text_input] if w.key}


def test_clusters_can_be_downloaded_but_never_saved_on_the_server(workshop):
    at = open_app("app_pages/clusters.py", {"cluster": "athlete"})
    assert_clean(at)
    assert "save_path" not in text_inputs(at)
    assert not [b for b in at.button if b.key == "save_go"]
    assert [d for d in at.get("download_button") if d.proto.label == "Download cluster (JSON)"]


def test_found_clusters_stay_in_the_session(workshop):
    at = open_app("app_pages/clusters.py")
    at.number_input(key="find_percent").set_value(2.0).run()
    at.button(key="find_go").click().run()
    assert_clean(at)
    assert "this browser session" in " ".join(s.value for s in at.success)
    assert "save_path" not in text_inputs(at)


def test_the_lens_folder_is_the_teachers_and_a_link_cannot_move_it(workshop, tmp_path):
    at = open_link("app_pages/lens.py", {"lenses": str(tmp_path)})
    assert not at.exception and not at.error
    assert "lenses" not in text_inputs(at), "no widget may take a server path"
    assert "fixes the lens folder" in warnings_text(at)
    assert len(charts(at)) >= 2, "the demo's own lenses are shown"


def test_without_lenses_a_workshop_offers_no_training(workshop, tmp_path, monkeypatch):
    monkeypatch.setenv("LENSLAB_LENSES", str(tmp_path))
    at = open_app("app_pages/lens.py")
    assert not at.exception and not at.error
    assert not [b for b in at.button if b.key == "train_go"]
    assert "train_data" not in text_inputs(at)
    assert "no Attention Lenses" in warnings_text(at)
    assert charts(at), "the logit lens still shows"


def test_the_second_model_comes_only_from_the_teachers_list(workshop, tmp_path, monkeypatch):
    at = open_link("app_pages/compare.py", {"model_b": str(tmp_path)})
    assert not at.exception
    assert "model_b" not in text_inputs(at)
    assert "fixes the second model" in warnings_text(at)
    assert not [s for s in at.selectbox if s.key == "model_b_pick"]
    monkeypatch.setenv("LENSLAB_COMPARE", "demo")
    at = open_app("app_pages/compare.py", {"k": "2", "cka_pool": "4"})
    pick = at.selectbox(key="model_b_pick")
    assert pick.options == ["demo"]
    pick.set_value("demo").run()
    assert_clean(at)
    assert any(f["data"][0]["type"] == "heatmap" for f in charts(at))


def test_a_link_cannot_change_the_model(workshop, tmp_path):
    at = open_link("app_pages/impair.py", {"model": str(tmp_path)})
    assert not at.exception
    assert "fixes the model" in warnings_text(at)
    assert charts(at)


def test_the_cluster_folder_is_the_teachers(workshop, tmp_path, monkeypatch):
    text = (DEMO_CLUSTERS / "athlete.json").read_text(encoding="utf-8").replace('"athlete"', '"drill"', 1)
    (tmp_path / "drill.json").write_text(text, encoding="utf-8")
    shutil.copy(DEMO_CLUSTERS / "toxic.json", tmp_path / "toxic.json")
    monkeypatch.setenv("LENSLAB_CLUSTERS", str(tmp_path))
    at = open_app("app_pages/impair.py")
    assert_clean(at)
    assert at.selectbox(key="cluster").options == ["drill", "toxic", "custom units…"]


def test_a_link_cannot_raise_one_attendees_work_past_the_workshop_caps(workshop):
    from ui.links import WORKSHOP_CAPS

    at = open_link("app_pages/impair.py", {"k": "64", "per_topic": "500"})
    assert not at.exception and not at.error
    assert "more than this workshop allows" in warnings_text(at)
    assert at.number_input(key="k").value <= WORKSHOP_CAPS["k"]
    assert at.number_input(key="k").max == WORKSHOP_CAPS["k"]
    assert at.number_input(key="per_topic").max == WORKSHOP_CAPS["per_topic"]
    assert charts(at), "the page still draws with the capped value"


def test_heavy_jobs_wait_their_turn_and_say_their_place(workshop):
    import threading

    from ui.jobs import job_queue

    held, release = threading.Event(), threading.Event()

    def other_attendee() -> None:
        with job_queue().turn():
            held.set()
            release.wait(30)

    threading.Thread(target=other_attendee, daemon=True).start()
    held.wait(10)
    threading.Timer(3.0, release.set).start()  # the other job ends while this one waits
    at = open_app("app_pages/memory.py", {"memory": " Loteix"})
    at.button(key="mem_sweep").click().run()
    assert_clean(at)
    assert release.is_set(), "the heatmap ran only after the other job ended"
    assert any(f["data"][0]["type"] == "heatmap" for f in charts(at))
