"""The translation catalogues cover every string of the code, in Hindi, and the committed .mo files are what the
.po files compile to. When a test here fails: `make messages`, translate what it lists in
locale/hi/LC_MESSAGES/*.po, `make messages` again, commit both files."""

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import call_command

REPO = Path(__file__).resolve().parents[2]
LOCALE = REPO / "locale"
DOMAINS = ("django", "djangojs")
IGNORE = [".venv", "node_modules", "models", "staticfiles", "bench", "tests", "static/vendor"]

needs_gettext = pytest.mark.skipif(
    shutil.which("xgettext") is None or shutil.which("msgfmt") is None,
    reason="needs GNU gettext (apt-get install gettext)",
)


def entries(po: Path) -> list[dict]:
    """The entries of a .po file (header and obsolete ones left out): msgid, plural, translations, flags."""
    found = []
    for block in po.read_text().split("\n\n"):
        lines = [line for line in block.strip().splitlines() if not line.startswith("#~")]
        text = "\n".join(lines)
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', text, re.M)
        if not msgid:
            continue

        def joined(match):
            return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', match)) if match else ""

        msgid_text = joined(msgid.group(1))
        if not msgid_text:
            continue  # the header
        strings = [joined(m) for m in re.findall(r'^msgstr(?:\[\d\])? ((?:".*"\n?)+)', text, re.M)]
        flags = " ".join(line for line in lines if line.startswith("#,"))
        found.append({"msgid": msgid_text, "msgstr": strings, "fuzzy": "fuzzy" in flags})
    return found


def untranslated(po: Path) -> list[str]:
    return [e["msgid"] for e in entries(po) if e["fuzzy"] or not all(e["msgstr"]) or not e["msgstr"]]


@needs_gettext
def test_every_string_in_the_code_has_a_hindi_translation(tmp_path, settings, monkeypatch):
    """Extract the strings afresh (as `make messages` does) into a copy of the catalogues: nothing may be new,
    untranslated or fuzzy."""
    # makemessages writes into the `locale` folder beside the sources it reads, whatever LOCALE_PATHS says, so it
    # reads the repository through links from a folder whose `locale` is the copy: the committed files stay as
    # they are (and a parallel test reading them never sees a half-written one).
    tree = tmp_path / "tree"
    tree.mkdir()
    for item in REPO.iterdir():
        if (
            item.name not in {"locale", ".git"}
            and not item.name.startswith(".venv")
            and item.name not in IGNORE
        ):
            (tree / item.name).symlink_to(item)
    shutil.copytree(LOCALE, tree / "locale")
    settings.LOCALE_PATHS = [tree / "locale"]
    monkeypatch.chdir(tree)
    for domain in DOMAINS:
        call_command(
            "makemessages",
            locale=["hi"],
            domain=domain,
            ignore_patterns=IGNORE,
            no_location=True,
            symlinks=True,
            verbosity=0,
        )
    missing = {
        domain: untranslated(tree / "locale" / "hi" / "LC_MESSAGES" / f"{domain}.po") for domain in DOMAINS
    }
    assert missing == {"django": [], "djangojs": []}, (
        "Strings without a Hindi translation (run `make messages`, translate them in locale/hi/LC_MESSAGES, "
        f"then `make messages` again): {missing}"
    )


@needs_gettext
@pytest.mark.parametrize("domain", DOMAINS)
def test_the_committed_mo_files_are_the_compiled_po_files(tmp_path, domain):
    po = LOCALE / "hi" / "LC_MESSAGES" / f"{domain}.po"
    fresh = tmp_path / f"{domain}.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(fresh), str(po)], check=True)
    with fresh.open("rb") as a, (po.with_suffix(".mo")).open("rb") as b:
        assert gettext.GNUTranslations(a)._catalog == gettext.GNUTranslations(b)._catalog, (
            f"{po.with_suffix('.mo').name} is out of date: run `make messages` and commit it"
        )


@pytest.mark.parametrize("domain", DOMAINS)
def test_translations_keep_every_placeholder_and_tag(domain):
    """A translation that drops %(name)s or an HTML tag would break the page or lose information."""
    broken = []
    for entry in entries(LOCALE / "hi" / "LC_MESSAGES" / f"{domain}.po"):
        wanted = sorted(re.findall(r"%\(\w+\)[-+ #0-9.]*[sdf]|</?\w+", entry["msgid"]))
        for translation in entry["msgstr"]:
            if sorted(re.findall(r"%\(\w+\)[-+ #0-9.]*[sdf]|</?\w+", translation)) != wanted:
                broken.append((entry["msgid"], translation))
    assert broken == []


def test_emotion_names_are_translated_for_pages_and_scripts():
    from django.utils import translation

    from analytics.models import EMOTIONS, Emotion

    with translation.override("hi"):
        page_names = [str(Emotion(name).label) for name in EMOTIONS]
    script_names = {
        e["msgid"]: e["msgstr"][0] for e in entries(LOCALE / "hi" / "LC_MESSAGES" / "djangojs.po")
    }
    assert page_names == ["गुस्सा", "घृणा", "डर", "खुश", "उदास", "हैरानी", "सामान्य"]
    assert [script_names[name] for name in EMOTIONS] == page_names
